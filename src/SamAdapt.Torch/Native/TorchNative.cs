using SamAdapt.Common;
using System.Runtime.InteropServices;

namespace SamAdapt.Torch.Native;

[StructLayout(LayoutKind.Sequential)]
internal struct TensorMeta
{
    public int DType, NDim, DeviceType, DeviceIndex, RequiresGrad, IsContiguous, IsLeaf, HasGradFn;
    public long Numel, StorageOffset;
}

internal enum ValueKind : int
{
    None = 0, Tensor = 1, Int = 2, Double = 3, Bool = 4, IntList = 5, DoubleList = 6, TensorList = 7,
    String = 8, BoolList = 9, Device = 10, OptTensorList = 11,
}

/// <summary>One marshalled operator argument or result (matches sa_value).</summary>
[StructLayout(LayoutKind.Explicit, Size = 16)]
internal struct SaValue
{
    [FieldOffset(0)] public ValueKind Kind;
    [FieldOffset(4)] public int Len;
    [FieldOffset(8)] public long I;
    [FieldOffset(8)] public double D;
    [FieldOffset(8)] public IntPtr P;
}

/// <summary>P/Invoke declarations of native/include/samadapt_torch.h. Only <see cref="Check"/> turns errors into exceptions.</summary>
internal static unsafe partial class TorchNative
{
    private const string Lib = NativeLibraryLoader.TorchBridge;

    static TorchNative()
    {
        OpenMpEnvironment.Apply(); // before libtorch (and libgomp) load
        NativeLibraryLoader.EnsureRegistered(typeof(TorchNative).Assembly);
        ConfigureThreads();
    }

    /// <summary>
    /// Intra-op threads: $SAMADAPT_NUM_THREADS, else $OMP_NUM_THREADS (left to libtorch), else one per core. Debian's
    /// OpenMP build otherwise starts with a single thread on some machines.
    /// </summary>
    private static void ConfigureThreads()
    {
        var env = Environment.GetEnvironmentVariable("SAMADAPT_NUM_THREADS");
        if (int.TryParse(env, out var n) && n > 0) { sa_set_num_threads(n); return; }
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("OMP_NUM_THREADS"))) return;
        sa_set_num_threads(Environment.ProcessorCount);
    }

    /// <summary>Touches the library so that a missing bridge fails early with the loader's message.</summary>
    public static void EnsureLoaded() => NativeLibraryLoader.Load(NativeLibraryLoader.TorchBridge);

    [LibraryImport(Lib)] public static partial IntPtr sa_last_error();
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] public static partial void sa_set_error(string msg);
    [LibraryImport(Lib)] public static partial void sa_tensor_free(IntPtr t);
    [LibraryImport(Lib)] public static partial IntPtr sa_tensor_alias(IntPtr t);
    [LibraryImport(Lib)] public static partial int sa_tensor_set_data(IntPtr t, IntPtr src);
    [LibraryImport(Lib)] public static partial IntPtr sa_tensor_from_host(void* data, long* shape, int ndim, int dtype, int deviceType, int deviceIndex, int requiresGrad);
    [LibraryImport(Lib)] public static partial int sa_tensor_to_host(IntPtr t, void* dst, long nbytes);
    [LibraryImport(Lib)] public static partial int sa_tensor_meta_get(IntPtr t, TensorMeta* meta);
    [LibraryImport(Lib)] public static partial int sa_tensor_sizes(IntPtr t, long* sizes, long* strides);
    [LibraryImport(Lib)] public static partial int sa_tensor_item(IntPtr t, double* value);
    [LibraryImport(Lib)] public static partial long sa_live_tensor_handles();

    [LibraryImport(Lib)] public static partial int sa_tensor_set_requires_grad(IntPtr t, int requiresGrad);
    [LibraryImport(Lib)] public static partial int sa_tensor_backward(IntPtr t, IntPtr grad, int retainGraph, int createGraph);
    [LibraryImport(Lib)] public static partial IntPtr sa_tensor_grad(IntPtr t);
    [LibraryImport(Lib)] public static partial int sa_tensor_set_grad(IntPtr t, IntPtr grad);
    [LibraryImport(Lib)] public static partial int sa_autograd_grad(IntPtr* outputs, int nOut, IntPtr* inputs, int nIn, IntPtr* gradOutputs, IntPtr* grads, int retainGraph, int createGraph, int allowUnused);
    [LibraryImport(Lib)] public static partial int sa_grad_enabled();
    [LibraryImport(Lib)] public static partial void sa_set_grad_enabled(int enabled);
    [LibraryImport(Lib)] public static partial IntPtr sa_inference_mode_enter();
    [LibraryImport(Lib)] public static partial void sa_inference_mode_exit(IntPtr guard);
    [LibraryImport(Lib)] public static partial int sa_checkpoint(delegate* unmanaged<IntPtr, IntPtr*, int, IntPtr*, int, int> fn, delegate* unmanaged<IntPtr, void> release, IntPtr ctx, IntPtr* inputs, int nIn, IntPtr* outputs, int maxOut);

    [LibraryImport(Lib)] public static partial int sa_autocast_set(int deviceType, int enabled, int dtype);
    [LibraryImport(Lib)] public static partial int sa_autocast_enabled(int deviceType);
    [LibraryImport(Lib)] public static partial int sa_autocast_dtype(int deviceType);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] public static partial IntPtr sa_op_find(string name, string overload);
    [LibraryImport(Lib)] public static partial int sa_op_num_args(IntPtr op);
    [LibraryImport(Lib)] public static partial IntPtr sa_op_schema(IntPtr op);
    [LibraryImport(Lib)] public static partial int sa_op_call(IntPtr op, SaValue* args, int nargs, SaValue* outs, int maxOuts);

    [LibraryImport(Lib)] public static partial void sa_manual_seed(ulong seed);
    [LibraryImport(Lib)] public static partial IntPtr sa_rng_get_state(int deviceType, int deviceIndex);
    [LibraryImport(Lib)] public static partial int sa_rng_set_state(int deviceType, int deviceIndex, IntPtr state);
    [LibraryImport(Lib)] public static partial void sa_set_num_threads(int n);
    [LibraryImport(Lib)] public static partial int sa_get_num_threads();
    [LibraryImport(Lib)] public static partial int sa_cuda_is_available();
    [LibraryImport(Lib)] public static partial int sa_cuda_device_count();
    [LibraryImport(Lib)] public static partial int sa_cuda_synchronize(int device);
    [LibraryImport(Lib)] public static partial int sa_cuda_memory_stats(int device, long* allocated, long* reserved, long* peak);
    [LibraryImport(Lib)] public static partial int sa_cuda_reset_peak(int device);
    [LibraryImport(Lib)] public static partial int sa_cuda_empty_cache();
    [LibraryImport(Lib)] public static partial int sa_cuda_device_name(int device, byte* buf, int len);
    [LibraryImport(Lib)] public static partial int sa_set_tf32(int matmul, int cudnn);
    [LibraryImport(Lib)] public static partial int sa_set_deterministic(int enabled);
    [LibraryImport(Lib)] public static partial long sa_cpu_cache_bytes();
    [LibraryImport(Lib)] public static partial long sa_cpu_cache_limit();
    [LibraryImport(Lib)] public static partial void sa_cpu_cache_empty();
    [LibraryImport(Lib)] public static partial int sa_profiler_start();
    [LibraryImport(Lib)] public static partial int sa_profiler_stop();
    [LibraryImport(Lib)] public static partial IntPtr sa_profiler_report();
    [LibraryImport(Lib)] public static partial IntPtr sa_torch_version();
    [LibraryImport(Lib)] public static partial IntPtr sa_torch_config();

    /// <summary>Throws <see cref="TorchException"/> with libtorch's message if the last call on this thread failed.</summary>
    public static void Check()
    {
        var e = sa_last_error();
        if (e != IntPtr.Zero) throw new TorchException(Marshal.PtrToStringUTF8(e) ?? "unknown libtorch error");
    }

    public static int Check(int rc)
    {
        if (rc < 0) Check();
        return rc;
    }

    public static IntPtr CheckHandle(IntPtr h)
    {
        if (h == IntPtr.Zero) Check();
        return h;
    }
}
