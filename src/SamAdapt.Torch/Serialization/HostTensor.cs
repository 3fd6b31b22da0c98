using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

[assembly: InternalsVisibleTo("SamAdapt.Torch.Tests")]

namespace SamAdapt.Torch.Serialization;

/// <summary>
/// A tensor in host memory: element type, shape and a contiguous, C-order, little-endian byte buffer of exactly
/// <see cref="Numel"/> × element-size bytes. This is what checkpoint files are read into and written from.
/// </summary>
public sealed class HostTensor
{
    private byte[] _data;

    /// <summary>Wraps <paramref name="data"/> (not copied) as a tensor of the given type and shape.</summary>
    /// <exception cref="ArgumentException">A dimension is negative, or the buffer length is not numel × element size.</exception>
    public HostTensor(DType dtype, long[] shape, byte[] data, bool requiresGrad = false)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(data);
        DType = dtype;
        Shape = (long[])shape.Clone();
        long expected = checked(NumelOf(Shape) * dtype.ElementSize());
        if (data.LongLength != expected)
            throw new ArgumentException(
                $"a {dtype.TorchName()} tensor of shape {FormatShape(Shape)} needs {expected} bytes, but the buffer has {data.LongLength}",
                nameof(data));
        _data = data;
        RequiresGrad = requiresGrad;
    }

    /// <summary>Creates a tensor whose data is filled in later by a loader (see <see cref="SetData"/>).</summary>
    internal HostTensor(DType dtype, long[] shape)
    {
        DType = dtype;
        Shape = shape;
        _data = [];
    }

    /// <summary>Element type.</summary>
    public DType DType { get; }

    /// <summary>Dimensions (empty for a rank-0 scalar). Treat as read-only.</summary>
    public long[] Shape { get; }

    /// <summary>Contiguous C-order little-endian element bytes. Treat as owned by this tensor.</summary>
    public byte[] Data => _data;

    /// <summary>The <c>requires_grad</c> flag as stored in (or to be written to) a checkpoint.</summary>
    public bool RequiresGrad { get; set; }

    /// <summary>
    /// Where this tensor came from when it was read from a <c>.pth</c> file (storage key, offset, strides); null otherwise.
    /// </summary>
    public TensorStorageInfo? Storage { get; internal set; }

    /// <summary>Number of dimensions.</summary>
    public int Rank => Shape.Length;

    /// <summary>Number of elements (1 for a rank-0 tensor, 0 if any dimension is 0).</summary>
    public long Numel => NumelOf(Shape);

    /// <summary>Size of <see cref="Data"/> in bytes.</summary>
    public long ByteLength => _data.LongLength;

    /// <summary>
    /// Views the data as elements of type <typeparamref name="T"/>, whose size must equal the element size
    /// (e.g. <see cref="float"/> for Float32, <see cref="Half"/> or <see cref="ushort"/> for Float16/BFloat16).
    /// </summary>
    public Span<T> AsSpan<T>() where T : unmanaged
    {
        if (Unsafe.SizeOf<T>() != DType.ElementSize())
            throw new InvalidOperationException(
                $"cannot view a {DType.TorchName()} tensor ({DType.ElementSize()}-byte elements) as {typeof(T).Name} ({Unsafe.SizeOf<T>()} bytes)");
        return MemoryMarshal.Cast<byte, T>(_data.AsSpan());
    }

    /// <summary>A 1-D tensor holding a copy of <paramref name="data"/>; the dtype follows <typeparamref name="T"/>.</summary>
    public static HostTensor FromArray<T>(T[] data) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(data);
        return FromArray(data, [data.LongLength]);
    }

    /// <summary>
    /// A tensor of the given shape holding a copy of <paramref name="data"/> (C order). An empty shape means rank 0
    /// (then <paramref name="data"/> must have exactly one element). Supported element types: float, double, Half,
    /// long, int, short, sbyte, byte, bool.
    /// </summary>
    public static HostTensor FromArray<T>(T[] data, params long[] shape) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(shape);
        var dtype = DTypeOf<T>();
        if (NumelOf(shape) != data.LongLength)
            throw new ArgumentException($"shape {FormatShape(shape)} has {NumelOf(shape)} elements but the array has {data.LongLength}", nameof(shape));
        var bytes = MemoryMarshal.AsBytes(data.AsSpan()).ToArray();
        return new HostTensor(dtype, shape, bytes);
    }

    /// <summary>A rank-0 tensor holding <paramref name="value"/>.</summary>
    public static HostTensor Scalar<T>(T value) where T : unmanaged => FromArray([value], Array.Empty<long>());

    /// <summary>A tensor of the given dtype and shape with all bytes zero.</summary>
    public static HostTensor Zeros(DType dtype, params long[] shape) =>
        new(dtype, shape, new byte[checked(NumelOf(shape) * dtype.ElementSize())]);

    /// <summary>Converts every element to <see cref="float"/> (bool → 0/1; int64/float64 may lose precision).</summary>
    public float[] ToFloat32Array()
    {
        var result = new float[Numel];
        ReadOnlySpan<byte> d = _data;
        switch (DType)
        {
            case DType.Float32: MemoryMarshal.Cast<byte, float>(d).CopyTo(result); break;
            case DType.Float64: Convert(MemoryMarshal.Cast<byte, double>(d), result, static v => (float)v); break;
            case DType.Float16: Convert(MemoryMarshal.Cast<byte, Half>(d), result, static v => (float)v); break;
            case DType.BFloat16: Convert(MemoryMarshal.Cast<byte, ushort>(d), result, static v => BitConverter.Int32BitsToSingle(v << 16)); break;
            case DType.Int64: Convert(MemoryMarshal.Cast<byte, long>(d), result, static v => v); break;
            case DType.Int32: Convert(MemoryMarshal.Cast<byte, int>(d), result, static v => v); break;
            case DType.Int16: Convert(MemoryMarshal.Cast<byte, short>(d), result, static v => v); break;
            case DType.Int8: Convert(MemoryMarshal.Cast<byte, sbyte>(d), result, static v => v); break;
            case DType.UInt8: Convert(d, result, static v => v); break;
            case DType.Bool: Convert(d, result, static v => v != 0 ? 1f : 0f); break;
            default: throw new NotSupportedException($"ToFloat32Array does not support {DType}");
        }
        return result;
    }

    /// <inheritdoc/>
    public override string ToString() => $"HostTensor({DType.TorchName()}, {FormatShape(Shape)})";

    internal void SetData(byte[] data)
    {
        if (data.LongLength != Numel * DType.ElementSize())
            throw new InvalidOperationException($"internal error: {data.LongLength} bytes for {this}");
        _data = data;
    }

    internal static long NumelOf(ReadOnlySpan<long> shape)
    {
        long n = 1;
        foreach (var s in shape)
        {
            if (s < 0) throw new ArgumentException($"negative dimension {s} in shape {FormatShape(shape)}");
            if (s != 0 && n > long.MaxValue / s)
                throw new InvalidDataException($"field shape: expected at most {long.MaxValue} elements, found {FormatShape(shape)}");
            n *= s;
        }
        return n;
    }

    internal static string FormatShape(ReadOnlySpan<long> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";

    /// <summary>The dtype that corresponds to a .NET element type.</summary>
    internal static DType DTypeOf<T>() where T : unmanaged =>
        typeof(T) == typeof(float) ? DType.Float32
        : typeof(T) == typeof(double) ? DType.Float64
        : typeof(T) == typeof(Half) ? DType.Float16
        : typeof(T) == typeof(long) ? DType.Int64
        : typeof(T) == typeof(int) ? DType.Int32
        : typeof(T) == typeof(short) ? DType.Int16
        : typeof(T) == typeof(sbyte) ? DType.Int8
        : typeof(T) == typeof(byte) ? DType.UInt8
        : typeof(T) == typeof(bool) ? DType.Bool
        : throw new NotSupportedException($"no tensor dtype for element type {typeof(T).Name} (use the constructor with raw bytes, e.g. for bfloat16)");

    private static void Convert<TIn>(ReadOnlySpan<TIn> src, float[] dst, Func<TIn, float> f)
    {
        for (int i = 0; i < src.Length; i++) dst[i] = f(src[i]);
    }
}
