using System.Runtime.InteropServices;
using SamAdapt.Torch.Native;

namespace SamAdapt.Torch;

/// <summary>
/// A handle to a libtorch tensor. Owns one native reference, released by <see cref="Dispose"/> — directly, or by the
/// <see cref="DisposeScope"/> that was open when the tensor was created. A finalizer is the last resort for tensors
/// created outside any scope. The API mirrors PyTorch's names so model code ports line by line.
/// </summary>
public sealed partial class Tensor : IDisposable
{
    private IntPtr _handle;
    private long[]? _shape;
    private DType? _dtype;
    private static long _live;

    internal DisposeScope? Scope;
    internal int ScopeSlot;

    internal Tensor(IntPtr handle)
    {
        if (handle == IntPtr.Zero) throw new ArgumentException("null tensor handle");
        _handle = handle;
        Interlocked.Increment(ref _live);
        DisposeScope.Register(this);
    }

    ~Tensor() => Free();

    /// <summary>Managed tensor objects alive (not disposed). For leak hunting and tests.</summary>
    public static long LiveCount => Interlocked.Read(ref _live);

    /// <summary>Native tensor handles alive in the bridge (includes ones held by parameters, optimizers, ...).</summary>
    public static long NativeHandleCount => TorchNative.sa_live_tensor_handles();

    internal IntPtr Handle => _handle != IntPtr.Zero ? _handle : throw DisposedError();

    /// <summary>The handle, or zero once disposed (no exception).</summary>
    internal IntPtr RawHandle => _handle;

    internal static ObjectDisposedException DisposedError() =>
        new(nameof(Tensor), "the tensor was disposed (explicitly or by its DisposeScope); move results out of a scope with MoveToOuterScope()");

    public bool IsDisposed => _handle == IntPtr.Zero;

    public void Dispose()
    {
        if (Scope != null) Scope.Unregister(this);
        Free();
        GC.SuppressFinalize(this);
    }

    private void Free()
    {
        var h = Interlocked.Exchange(ref _handle, IntPtr.Zero);
        if (h == IntPtr.Zero) return;
        TorchNative.sa_tensor_free(h);
        Interlocked.Decrement(ref _live);
    }

    /// <summary>Moves this tensor from its scope to the enclosing one (or out of all scopes). Returns this.</summary>
    public Tensor MoveToOuterScope()
    {
        Scope?.MoveToOuter(this);
        return this;
    }

    /// <summary>Removes this tensor from every scope: the caller now owns it. Returns this.</summary>
    public Tensor DetachFromScope()
    {
        Scope?.Unregister(this);
        return this;
    }

    /// <summary>Replaces this tensor's data with <paramref name="source"/>'s (PyTorch's <c>t.data = source</c>): the object,
    /// its native identity and requires_grad stay, so optimizers and modules holding it see the new values.</summary>
    public void set_data(Tensor source)
    {
        TorchNative.Check(TorchNative.sa_tensor_set_data(Handle, source.Handle));
        GC.KeepAlive(source);
        InvalidateMeta();
    }

    /// <summary>A new handle to the same tensor (same storage, same autograd identity).</summary>
    public Tensor alias() => new(TorchNative.CheckHandle(TorchNative.sa_tensor_alias(Handle)));

    // ---------------- metadata ----------------

    private unsafe TensorMeta Meta()
    {
        TensorMeta m;
        TorchNative.Check(TorchNative.sa_tensor_meta_get(Handle, &m));
        return m;
    }

    // the cached values are only served while the tensor is alive: a disposed tensor throws like every other member
    public DType dtype => _dtype is { } d && _handle != IntPtr.Zero ? d : (_dtype = (DType)Meta().DType).Value;

    public unsafe long[] shape
    {
        get
        {
            if (_shape != null && _handle != IntPtr.Zero) return _shape;
            var n = Meta().NDim;
            var s = new long[n];
            fixed (long* p = s) TorchNative.Check(TorchNative.sa_tensor_sizes(Handle, p, null));
            return _shape = s;
        }
    }

    public unsafe long[] stride()
    {
        var s = new long[dim()];
        fixed (long* p = s) TorchNative.Check(TorchNative.sa_tensor_sizes(Handle, null, p));
        return s;
    }

    public int dim() => shape.Length;
    public long size(int d) => shape[d < 0 ? d + shape.Length : d];
    public long numel() { long n = 1; foreach (var d in shape) n *= d; return n; }
    public bool requires_grad => Meta().RequiresGrad != 0;
    public bool is_contiguous() => Meta().IsContiguous != 0;
    public bool is_leaf => Meta().IsLeaf != 0;
    public long storage_offset() => Meta().StorageOffset;

    public Device device
    {
        get { var m = Meta(); return new Device((DeviceType)m.DeviceType, m.DeviceIndex); }
    }

    /// <summary>Invalidates cached shape/dtype after an in-place op that may change them.</summary>
    internal void InvalidateMeta() { _shape = null; _dtype = null; }

    public override string ToString() =>
        IsDisposed ? "Tensor(disposed)" : $"Tensor(shape=[{string.Join(", ", shape)}], dtype={dtype.TorchName()}, device={device})";

    // ---------------- host memory ----------------

    /// <summary>Copies host data into a new tensor of the given shape (element count must match).</summary>
    public static unsafe Tensor FromArray<T>(ReadOnlySpan<T> data, long[] shape, Device? device = null, bool requiresGrad = false)
        where T : unmanaged
    {
        var dt = DTypeOf<T>();
        long n = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new ArgumentException($"negative dimension in shape [{string.Join(", ", shape)}]", nameof(shape));
            n *= d;
        }
        if (n != data.Length)
            throw new ArgumentException($"shape [{string.Join(", ", shape)}] holds {n} elements, data has {data.Length}", nameof(data));
        return FromBytes(MemoryMarshal.AsBytes(data), dt, shape, device, requiresGrad);
    }

    /// <summary>Creates a tensor from raw little-endian C-order bytes.</summary>
    public static unsafe Tensor FromBytes(ReadOnlySpan<byte> bytes, DType dtype, long[] shape, Device? device = null, bool requiresGrad = false)
    {
        long n = 1;
        foreach (var d in shape) n *= d;
        if (n * dtype.ElementSize() != bytes.Length)
            throw new ArgumentException($"{bytes.Length} bytes do not fill shape [{string.Join(", ", shape)}] of {dtype.TorchName()}");
        var dev = device ?? Device.CPU;
        fixed (byte* p = bytes)
        fixed (long* s = shape)
            return new Tensor(TorchNative.CheckHandle(TorchNative.sa_tensor_from_host(p, s, shape.Length, (int)dtype,
                (int)dev.Type, dev.Index, requiresGrad ? 1 : 0)));
    }

    /// <summary>Copies the tensor (any device, any strides) to a new host array of its dtype's CLR type.</summary>
    public unsafe T[] ToArray<T>() where T : unmanaged
    {
        if (DTypeOf<T>() != dtype)
            throw new InvalidOperationException($"tensor has dtype {dtype.TorchName()}, not {DTypeOf<T>().TorchName()}; convert with .to(DType) first");
        var n = numel();
        var r = new T[n];
        fixed (T* p = r) TorchNative.Check(TorchNative.sa_tensor_to_host(Handle, p, n * sizeof(T)));
        return r;
    }

    /// <summary>Raw little-endian C-order bytes of the tensor.</summary>
    public unsafe byte[] ToBytes()
    {
        var nb = numel() * dtype.ElementSize();
        var r = new byte[nb];
        fixed (byte* p = r) TorchNative.Check(TorchNative.sa_tensor_to_host(Handle, p, nb));
        return r;
    }

    /// <summary>The single value of a one-element tensor.</summary>
    public unsafe double item()
    {
        double v;
        TorchNative.Check(TorchNative.sa_tensor_item(Handle, &v));
        return v;
    }

    public float ItemFloat() => (float)item();
    public long ItemLong() => (long)item();

    public static DType DTypeOf<T>() where T : unmanaged =>
        typeof(T) == typeof(float) ? DType.Float32 :
        typeof(T) == typeof(double) ? DType.Float64 :
        typeof(T) == typeof(long) ? DType.Int64 :
        typeof(T) == typeof(int) ? DType.Int32 :
        typeof(T) == typeof(short) ? DType.Int16 :
        typeof(T) == typeof(byte) ? DType.UInt8 :
        typeof(T) == typeof(sbyte) ? DType.Int8 :
        typeof(T) == typeof(bool) ? DType.Bool :
        typeof(T) == typeof(Half) ? DType.Float16 :
        throw new NotSupportedException($"no tensor dtype for {typeof(T).Name}");

    // ---------------- autograd ----------------

    public Tensor requires_grad_(bool requiresGrad = true)
    {
        TorchNative.Check(TorchNative.sa_tensor_set_requires_grad(Handle, requiresGrad ? 1 : 0));
        return this;
    }

    /// <summary>Back-propagates from this tensor (a scalar unless <paramref name="gradient"/> is given).</summary>
    public void backward(Tensor? gradient = null, bool retainGraph = false, bool createGraph = false)
    {
        TorchNative.Check(TorchNative.sa_tensor_backward(Handle, gradient?.Handle ?? IntPtr.Zero, retainGraph ? 1 : 0, createGraph ? 1 : 0));
        GC.KeepAlive(gradient);
    }

    /// <summary>The accumulated gradient (a new handle, owned by the caller/scope), or null.</summary>
    public Tensor? grad
    {
        get
        {
            var g = TorchNative.sa_tensor_grad(Handle);
            if (g == IntPtr.Zero) { TorchNative.Check(); return null; }
            return new Tensor(g);
        }
        set
        {
            TorchNative.Check(TorchNative.sa_tensor_set_grad(Handle, value?.Handle ?? IntPtr.Zero));
            GC.KeepAlive(value);
        }
    }
}
