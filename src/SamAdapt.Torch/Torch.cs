using System.Runtime.InteropServices;
using SamAdapt.Torch.Native;

namespace SamAdapt.Torch;

/// <summary>Tensor factories, multi-tensor ops and runtime controls, named as in PyTorch (<c>torch.zeros</c>, <c>torch.cat</c>, ...).</summary>
public static class torch
{
    private static readonly Op OpZeros = new("aten::zeros"), OpOnes = new("aten::ones"), OpFull = new("aten::full"),
        OpEmpty = new("aten::empty", "memory_format"), OpArange = new("aten::arange", "start_step"), OpRand = new("aten::rand"),
        OpRandn = new("aten::randn"), OpRandint = new("aten::randint", "low"), OpLinspace = new("aten::linspace"),
        OpEye = new("aten::eye"), OpRandperm = new("aten::randperm"), OpZerosLike = new("aten::zeros_like"),
        OpOnesLike = new("aten::ones_like"), OpFullLike = new("aten::full_like"), OpRandnLike = new("aten::randn_like"),
        OpRandLike = new("aten::rand_like"), OpCat = new("aten::cat"), OpStack = new("aten::stack"),
        OpWhere = new("aten::where", "self"), OpEinsum = new("aten::einsum"), OpAllclose = new("aten::allclose"),
        OpEqual = new("aten::equal"), OpBernoulliP = new("aten::bernoulli", "p"), OpScalarTensor = new("aten::scalar_tensor");

    private static void AddOptions(ref OpArgs a, DType? dtype, Device? device)
    {
        a.AddOptional(dtype ?? DType.Float32); // dtype
        a.AddNone();                            // layout
        a.Add(device ?? Device.CPU);            // device
        a.AddNone();                            // pin_memory
    }

    private static Tensor Factory(Op op, long[] shape, DType? dtype, Device? device, bool requiresGrad)
    {
        var a = new OpArgs(stackalloc SaValue[5], stackalloc long[8]);
        a.Add(shape);
        AddOptions(ref a, dtype, device);
        var t = op.Call(ref a);
        return requiresGrad ? t.requires_grad_() : t;
    }

    public static Tensor zeros(long[] shape, DType? dtype = null, Device? device = null, bool requiresGrad = false) => Factory(OpZeros, shape, dtype, device, requiresGrad);
    public static Tensor ones(long[] shape, DType? dtype = null, Device? device = null, bool requiresGrad = false) => Factory(OpOnes, shape, dtype, device, requiresGrad);
    public static Tensor rand(long[] shape, DType? dtype = null, Device? device = null, bool requiresGrad = false) => Factory(OpRand, shape, dtype, device, requiresGrad);
    public static Tensor randn(long[] shape, DType? dtype = null, Device? device = null, bool requiresGrad = false) => Factory(OpRandn, shape, dtype, device, requiresGrad);
    public static Tensor zeros(params long[] shape) => zeros(shape, null);
    public static Tensor ones(params long[] shape) => ones(shape, null);
    public static Tensor rand(params long[] shape) => rand(shape, null);
    public static Tensor randn(params long[] shape) => randn(shape, null);

    public static Tensor empty(long[] shape, DType? dtype = null, Device? device = null)
    {
        var a = new OpArgs(stackalloc SaValue[6], stackalloc long[8]);
        a.Add(shape);
        AddOptions(ref a, dtype, device);
        a.AddNone();
        return OpEmpty.Call(ref a);
    }

    public static Tensor full(long[] shape, double value, DType? dtype = null, Device? device = null)
    {
        var a = new OpArgs(stackalloc SaValue[6], stackalloc long[8]);
        a.Add(shape); a.Add(value);
        AddOptions(ref a, dtype, device);
        return OpFull.Call(ref a);
    }

    /// <summary>A 0-dim tensor holding one value.</summary>
    public static Tensor scalar_tensor(double value, DType? dtype = null, Device? device = null)
    {
        var a = new OpArgs(stackalloc SaValue[5], default);
        a.Add(value);
        AddOptions(ref a, dtype, device);
        return OpScalarTensor.Call(ref a);
    }

    public static Tensor arange(double start, double end, double step = 1, DType? dtype = null, Device? device = null)
    {
        var a = new OpArgs(stackalloc SaValue[7], default);
        a.AddScalar(start); a.AddScalar(end); a.AddScalar(step);
        AddOptions(ref a, dtype ?? (start == Math.Floor(start) && end == Math.Floor(end) && step == Math.Floor(step) ? DType.Int64 : DType.Float32), device);
        return OpArange.Call(ref a);
    }

    public static Tensor arange(long end, DType? dtype = null, Device? device = null) => arange(0, end, 1, dtype, device);

    public static Tensor linspace(double start, double end, long steps, DType? dtype = null, Device? device = null)
    {
        var a = new OpArgs(stackalloc SaValue[7], default);
        a.Add(start); a.Add(end); a.Add(steps);
        AddOptions(ref a, dtype, device);
        return OpLinspace.Call(ref a);
    }

    public static Tensor eye(long n, DType? dtype = null, Device? device = null)
    {
        var a = new OpArgs(stackalloc SaValue[5], default);
        a.Add(n);
        AddOptions(ref a, dtype, device);
        return OpEye.Call(ref a);
    }

    public static Tensor randint(long low, long high, long[] shape, DType? dtype = null, Device? device = null)
    {
        var a = new OpArgs(stackalloc SaValue[7], stackalloc long[8]);
        a.Add(low); a.Add(high); a.Add(shape);
        AddOptions(ref a, dtype ?? DType.Int64, device);
        return OpRandint.Call(ref a);
    }

    public static Tensor randperm(long n, Device? device = null)
    {
        var a = new OpArgs(stackalloc SaValue[5], default);
        a.Add(n);
        AddOptions(ref a, DType.Int64, device);
        return OpRandperm.Call(ref a);
    }

    private static Tensor Like(Op op, Tensor t, DType? dtype)
    {
        var a = new OpArgs(stackalloc SaValue[6], default);
        a.Add(t); a.AddOptional(dtype); a.AddNone(); a.AddNone(); a.AddNone(); a.AddNone();
        return op.Call(ref a);
    }

    public static Tensor zeros_like(Tensor t, DType? dtype = null) => Like(OpZerosLike, t, dtype);
    public static Tensor ones_like(Tensor t, DType? dtype = null) => Like(OpOnesLike, t, dtype);
    public static Tensor randn_like(Tensor t, DType? dtype = null) => Like(OpRandnLike, t, dtype);
    public static Tensor rand_like(Tensor t, DType? dtype = null) => Like(OpRandLike, t, dtype);

    public static Tensor full_like(Tensor t, double value, DType? dtype = null)
    {
        var a = new OpArgs(stackalloc SaValue[7], default);
        a.Add(t); a.Add(value); a.AddOptional(dtype); a.AddNone(); a.AddNone(); a.AddNone(); a.AddNone();
        return OpFullLike.Call(ref a);
    }

    public static Tensor bernoulli(Tensor t, double p)
    {
        var a = new OpArgs(stackalloc SaValue[2], default);
        a.Add(t); a.Add(p);
        return OpBernoulliP.Call(ref a);
    }

    public static Tensor tensor(float[] data, params long[] shape) => Tensor.FromArray<float>(data, shape.Length == 0 ? [data.Length] : shape);
    public static Tensor tensor(double[] data, params long[] shape) => Tensor.FromArray<double>(data, shape.Length == 0 ? [data.Length] : shape);
    public static Tensor tensor(long[] data, params long[] shape) => Tensor.FromArray<long>(data, shape.Length == 0 ? [data.Length] : shape);
    public static Tensor tensor(int[] data, params long[] shape) => Tensor.FromArray<int>(data, shape.Length == 0 ? [data.Length] : shape);
    public static Tensor tensor(bool[] data, params long[] shape) => Tensor.FromArray<bool>(data, shape.Length == 0 ? [data.Length] : shape);

    public static Tensor cat(Tensor[] tensors, long dim = 0)
    {
        var a = new OpArgs(stackalloc SaValue[2], default);
        a.Add(tensors); a.Add(dim);
        return OpCat.Call(ref a);
    }

    public static Tensor stack(Tensor[] tensors, long dim = 0)
    {
        var a = new OpArgs(stackalloc SaValue[2], default);
        a.Add(tensors); a.Add(dim);
        return OpStack.Call(ref a);
    }

    public static Tensor where(Tensor condition, Tensor x, Tensor y)
    {
        var a = new OpArgs(stackalloc SaValue[3], default);
        a.Add(condition); a.Add(x); a.Add(y);
        return OpWhere.Call(ref a);
    }

    public static Tensor einsum(string equation, params Tensor[] operands)
    {
        var a = new OpArgs(stackalloc SaValue[2], default);
        a.Add(equation); a.Add(operands);
        return OpEinsum.Call(ref a);
    }

    public static Tensor matmul(Tensor a, Tensor b) => a.matmul(b);

    public static bool allclose(Tensor a, Tensor b, double rtol = 1e-5, double atol = 1e-8, bool equalNan = false)
    {
        var x = new OpArgs(stackalloc SaValue[5], default);
        x.Add(a); x.Add(b); x.Add(rtol); x.Add(atol); x.Add(equalNan);
        return OpAllclose.CallScalar(ref x) != 0;
    }

    public static bool equal(Tensor a, Tensor b)
    {
        var x = new OpArgs(stackalloc SaValue[2], default);
        x.Add(a); x.Add(b);
        return OpEqual.CallScalar(ref x) != 0;
    }

    // ---------------- runtime ----------------

    public static void manual_seed(ulong seed) => TorchNative.sa_manual_seed(seed);

    /// <summary>The CPU default generator's state (a uint8 tensor) — save it to resume a run bit-exactly.</summary>
    public static Tensor get_rng_state(Device? device = null)
    {
        var d = device ?? Device.CPU;
        return new Tensor(TorchNative.CheckHandle(TorchNative.sa_rng_get_state((int)d.Type, d.Index)));
    }

    /// <summary>Restores a state from <see cref="get_rng_state"/>.</summary>
    public static void set_rng_state(Tensor state, Device? device = null)
    {
        var d = device ?? Device.CPU;
        TorchNative.Check(TorchNative.sa_rng_set_state((int)d.Type, d.Index, state.Handle));
        GC.KeepAlive(state);
    }
    public static void set_num_threads(int n) => TorchNative.sa_set_num_threads(n);
    public static int get_num_threads() => TorchNative.sa_get_num_threads();

    /// <summary>The libtorch version the bridge was built against (e.g. "1.13.1").</summary>
    public static string version => Marshal.PtrToStringUTF8(TorchNative.sa_torch_version()) ?? "?";

    /// <summary>libtorch's build configuration (at::show_config()).</summary>
    public static string config => Marshal.PtrToStringUTF8(TorchNative.CheckHandle(TorchNative.sa_torch_config())) ?? "";

    /// <summary>Disables gradient recording until disposed (torch.no_grad()).</summary>
    public static IDisposable no_grad() => new GradModeGuard(false);

    /// <summary>Enables gradient recording until disposed (torch.enable_grad()).</summary>
    public static IDisposable enable_grad() => new GradModeGuard(true);

    public static bool is_grad_enabled() => TorchNative.sa_grad_enabled() != 0;

    /// <summary>Inference mode (faster than no_grad; tensors created inside can never join autograd).</summary>
    public static IDisposable inference_mode() => new InferenceModeGuard();

    /// <summary>Mixed precision: ops that benefit run in <paramref name="dtype"/> (bf16 by default) on that device's type until disposed.</summary>
    public static IDisposable autocast(DeviceType deviceType = DeviceType.CUDA, DType dtype = DType.BFloat16, bool enabled = true) =>
        new AutocastGuard(deviceType, dtype, enabled);

    public static bool is_autocast_enabled(DeviceType deviceType = DeviceType.CUDA) =>
        TorchNative.Check(TorchNative.sa_autocast_enabled((int)deviceType)) != 0;

    /// <summary>The dtype autocast uses on that device type (PyTorch's defaults: bfloat16 on CPU, float16 on CUDA).</summary>
    public static DType get_autocast_dtype(DeviceType deviceType = DeviceType.CUDA) =>
        (DType)TorchNative.Check(TorchNative.sa_autocast_dtype((int)deviceType));

    /// <summary>TF32 for CUDA matmuls and cuDNN convolutions (PyTorch defaults: matmul off, cuDNN on).</summary>
    public static void set_tf32(bool matmul, bool cudnn) => TorchNative.Check(TorchNative.sa_set_tf32(matmul ? 1 : 0, cudnn ? 1 : 0));

    public static void use_deterministic_algorithms(bool enabled) => TorchNative.Check(TorchNative.sa_set_deterministic(enabled ? 1 : 0));

    private sealed class GradModeGuard : IDisposable
    {
        private readonly bool _previous;
        private bool _done;
        public GradModeGuard(bool enabled)
        {
            _previous = TorchNative.sa_grad_enabled() != 0;
            TorchNative.sa_set_grad_enabled(enabled ? 1 : 0);
        }
        public void Dispose()
        {
            if (_done) return;
            _done = true;
            TorchNative.sa_set_grad_enabled(_previous ? 1 : 0);
        }
    }

    private sealed class InferenceModeGuard : IDisposable
    {
        private IntPtr _guard = TorchNative.CheckHandle(TorchNative.sa_inference_mode_enter());
        public void Dispose()
        {
            var g = Interlocked.Exchange(ref _guard, IntPtr.Zero);
            if (g != IntPtr.Zero) TorchNative.sa_inference_mode_exit(g);
        }
    }

    private sealed class AutocastGuard : IDisposable
    {
        private readonly DeviceType _device;
        private readonly bool _previous;
        private readonly int _previousDtype;
        private bool _done;
        public AutocastGuard(DeviceType device, DType dtype, bool enabled)
        {
            _device = device;
            _previous = TorchNative.Check(TorchNative.sa_autocast_enabled((int)device)) != 0;
            _previousDtype = TorchNative.Check(TorchNative.sa_autocast_dtype((int)device));
            TorchNative.Check(TorchNative.sa_autocast_set((int)device, enabled ? 1 : 0, (int)dtype));
        }
        public void Dispose()
        {
            if (_done) return;
            _done = true;
            // restore both the flag and the dtype of the enclosing state (nested autocast regions may differ in dtype)
            TorchNative.Check(TorchNative.sa_autocast_set((int)_device, _previous ? 1 : 0, _previousDtype));
        }
    }

    /// <summary>CUDA queries (all safe on CPU-only builds: they report no devices).</summary>
    public static class cuda
    {
        public static bool is_available() => TorchNative.sa_cuda_is_available() != 0;
        public static int device_count() => TorchNative.sa_cuda_device_count();
        public static void synchronize(int device = -1) => TorchNative.Check(TorchNative.sa_cuda_synchronize(device));
        public static void empty_cache() => TorchNative.Check(TorchNative.sa_cuda_empty_cache());
        public static void reset_peak_memory_stats(int device = 0) => TorchNative.Check(TorchNative.sa_cuda_reset_peak(device));

        public static unsafe (long allocated, long reserved, long peakAllocated) memory_stats(int device = 0)
        {
            long a, r, p;
            TorchNative.Check(TorchNative.sa_cuda_memory_stats(device, &a, &r, &p));
            return (a, r, p);
        }

        public static unsafe string get_device_name(int device = 0)
        {
            byte* buf = stackalloc byte[256];
            TorchNative.Check(TorchNative.sa_cuda_device_name(device, buf, 256));
            return Marshal.PtrToStringUTF8((IntPtr)buf) ?? "";
        }
    }
}
