using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace SamAdapt.Torch.Native;

/// <summary>
/// A cached handle to one ATen operator (schema name + overload), called boxed through the c10 dispatcher.
/// Declare each as a static readonly field; the schema is looked up once, on first use.
/// </summary>
internal sealed class Op(string name, string overload = "")
{
    private IntPtr _handle;

    public string Name { get; } = name;
    public string Overload { get; } = overload;

    public IntPtr Handle
    {
        get
        {
            var h = _handle;
            if (h != IntPtr.Zero) return h;
            h = TorchNative.sa_op_find(Name, Overload);
            if (h == IntPtr.Zero)
            {
                TorchNative.Check();
                throw new TorchException($"operator {Name}.{Overload} not found");
            }
            _handle = h;
            return h;
        }
    }

    public string Schema => Marshal.PtrToStringUTF8(TorchNative.sa_op_schema(Handle)) ?? "";

    private const int MaxOuts = 16;

    /// <summary>Calls the op and returns its single tensor result.</summary>
    public unsafe Tensor Call(ref OpArgs a)
    {
        SaValue* outs = stackalloc SaValue[MaxOuts];
        int n = Invoke(ref a, outs, MaxOuts);
        if (n < 1 || outs[0].Kind != ValueKind.Tensor)
        {
            FreeOuts(outs, n);
            throw new TorchException($"{Name}.{Overload} returned no tensor");
        }
        for (int i = 1; i < n; i++) if (outs[i].Kind == ValueKind.Tensor) TorchNative.sa_tensor_free(outs[i].P);
        return new Tensor(outs[0].P);
    }

    /// <summary>Calls the op and returns every tensor it produced (tuples and lists flattened).</summary>
    public unsafe Tensor[] CallMany(ref OpArgs a, int capacity = MaxOuts)
    {
        var buf = new SaValue[capacity];
        fixed (SaValue* outs = buf)
        {
            int n = Invoke(ref a, outs, capacity);
            var r = new List<Tensor>(n);
            for (int i = 0; i < n; i++) if (outs[i].Kind == ValueKind.Tensor) r.Add(new Tensor(outs[i].P));
            return r.ToArray();
        }
    }

    /// <summary>Calls an op that returns nothing of interest (an in-place op returning self): discards outputs.</summary>
    public unsafe void CallVoid(ref OpArgs a)
    {
        SaValue* outs = stackalloc SaValue[MaxOuts];
        int n = Invoke(ref a, outs, MaxOuts);
        FreeOuts(outs, n);
    }

    /// <summary>Calls an op returning a number.</summary>
    public unsafe double CallScalar(ref OpArgs a)
    {
        SaValue* outs = stackalloc SaValue[MaxOuts];
        int n = Invoke(ref a, outs, MaxOuts);
        if (n < 1) throw new TorchException($"{Name} returned nothing");
        var v = outs[0];
        FreeOuts(outs, n);
        return v.Kind switch
        {
            ValueKind.Double => v.D,
            ValueKind.Int or ValueKind.Bool => v.I,
            _ => throw new TorchException($"{Name} returned a {v.Kind}, not a number"),
        };
    }

    private static unsafe void FreeOuts(SaValue* outs, int n)
    {
        for (int i = 0; i < n; i++) if (outs[i].Kind == ValueKind.Tensor) TorchNative.sa_tensor_free(outs[i].P);
    }

    private unsafe int Invoke(ref OpArgs a, SaValue* outs, int max)
    {
        if (a.HasDisposedArgument)
        {
            a.Release();
            throw Tensor.DisposedError();
        }
        int n;
        fixed (SaValue* args = a.Values)
            n = TorchNative.sa_op_call(Handle, args, a.Count, outs, max);
        a.Release();
        if (n < 0) TorchNative.Check();
        return n;
    }

    // ---- constant strings passed to ops (einsum equations, modes): pinned once, kept for the process ----
    private static readonly ConcurrentDictionary<string, IntPtr> Strings = new();

    public static IntPtr PinnedUtf8(string s) => Strings.GetOrAdd(s, static k =>
    {
        var bytes = Encoding.UTF8.GetBytes(k + "\0");
        var p = Marshal.AllocHGlobal(bytes.Length);
        Marshal.Copy(bytes, 0, p, bytes.Length);
        return p;
    });
}

/// <summary>
/// Builds an operator's argument list on the stack. Tensors are kept reachable (so no finalizer can release them)
/// until the call returns. Usage: <c>var a = new OpArgs(stackalloc SaValue[4], stackalloc long[8]); a.Add(x); ...; op.Call(ref a);</c>
/// </summary>
internal unsafe ref struct OpArgs
{
    [ThreadStatic] private static Tensor?[]? _keep;
    [ThreadStatic] private static int _keepCount;

    public Span<SaValue> Values;
    private Span<long> _longs;
    private int _nLongs;
    private readonly int _keepStart;
    private List<GCHandle>? _pins;
    public int Count;

    public OpArgs(Span<SaValue> values, Span<long> longs)
    {
        Values = values;
        _longs = longs;
        _keepStart = _keepCount;
        _keep ??= new Tensor?[64];
    }

    private void Push(SaValue v)
    {
        if (Count >= Values.Length) throw new InvalidOperationException("OpArgs: too many arguments for the buffer");
        Values[Count++] = v;
    }

    private static void Keep(Tensor t)
    {
        var k = _keep!;
        if (_keepCount == k.Length) Array.Resize(ref _keep, k.Length * 2);
        _keep![_keepCount++] = t;
    }

    /// <summary>Set when a disposed tensor was added: the call then releases what was kept and throws (no slot leaks).</summary>
    public bool HasDisposedArgument;

    /// <summary>The tensor's handle, kept alive until <see cref="Release"/>; a disposed tensor is recorded instead of
    /// throwing here, so that tensors already kept by this argument list are always released.</summary>
    private IntPtr KeepHandle(Tensor t)
    {
        var h = t.RawHandle;
        if (h == IntPtr.Zero) { HasDisposedArgument = true; return IntPtr.Zero; }
        Keep(t);
        return h;
    }

    public void Add(Tensor t) => Push(new SaValue { Kind = ValueKind.Tensor, P = KeepHandle(t) });

    public void AddOptional(Tensor? t)
    {
        if (t is null) Push(new SaValue { Kind = ValueKind.None });
        else Add(t);
    }

    public void Add(long v) => Push(new SaValue { Kind = ValueKind.Int, I = v });
    public void Add(double v) => Push(new SaValue { Kind = ValueKind.Double, D = v });
    public void Add(bool v) => Push(new SaValue { Kind = ValueKind.Bool, I = v ? 1 : 0 });
    public void AddNone() => Push(new SaValue { Kind = ValueKind.None });
    public void Add(DType t) => Add((long)(int)t);
    public void AddOptional(DType? t) { if (t is null) AddNone(); else Add(t.Value); }
    public void AddOptional(double? v) { if (v is null) AddNone(); else Add(v.Value); }
    public void AddOptional(long? v) { if (v is null) AddNone(); else Add(v.Value); }
    public void Add(string s) => Push(new SaValue { Kind = ValueKind.String, P = Op.PinnedUtf8(s) });
    public void AddOptional(string? s) { if (s is null) AddNone(); else Add(s); }
    public void Add(Device d) => Push(new SaValue { Kind = ValueKind.Device, I = (int)d.Type, Len = d.Index });

    /// <summary>A number as an ATen Scalar (int stays int, so integer tensors keep their dtype).</summary>
    public void AddScalar(double v)
    {
        if (v == Math.Floor(v) && Math.Abs(v) < 9e15 && !(v == 0 && double.IsNegative(v))) Add((long)v);
        else Add(v);
    }

    public void Add(ReadOnlySpan<long> list)
    {
        long* p;
        if (_nLongs + list.Length <= _longs.Length)
        {
            var dst = _longs.Slice(_nLongs, list.Length);
            list.CopyTo(dst);
            p = (long*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(dst));
            _nLongs += list.Length;
        }
        else
        {
            var arr = list.ToArray();
            var h = GCHandle.Alloc(arr, GCHandleType.Pinned);
            (_pins ??= new()).Add(h);
            p = (long*)h.AddrOfPinnedObject();
        }
        Push(new SaValue { Kind = ValueKind.IntList, Len = list.Length, P = (IntPtr)p });
    }

    public void Add(ReadOnlySpan<Tensor> list) => AddTensorList(list, ValueKind.TensorList);

    /// <summary>A Tensor?[] argument (e.g. aten::index).</summary>
    public void AddOptionalTensors(ReadOnlySpan<Tensor?> list)
    {
        var handles = new IntPtr[list.Length];
        for (int i = 0; i < list.Length; i++)
        {
            if (list[i] is { } t) handles[i] = KeepHandle(t);
        }
        PushHandles(handles, ValueKind.OptTensorList);
    }

    private void AddTensorList(ReadOnlySpan<Tensor> list, ValueKind kind)
    {
        var handles = new IntPtr[list.Length];
        for (int i = 0; i < list.Length; i++) handles[i] = KeepHandle(list[i]);
        PushHandles(handles, kind);
    }

    private void PushHandles(IntPtr[] handles, ValueKind kind)
    {
        var h = GCHandle.Alloc(handles, GCHandleType.Pinned);
        (_pins ??= new()).Add(h);
        Push(new SaValue { Kind = kind, Len = handles.Length, P = h.AddrOfPinnedObject() });
    }

    /// <summary>Called after the native call: unpins buffers and lets the kept tensors go.</summary>
    public void Release()
    {
        if (_pins != null) { foreach (var h in _pins) h.Free(); _pins = null; }
        var k = _keep!;
        for (int i = _keepStart; i < _keepCount; i++) k[i] = null;
        _keepCount = _keepStart;
    }
}
