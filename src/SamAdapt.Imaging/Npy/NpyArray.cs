using System.Runtime.InteropServices;

namespace SamAdapt.Imaging.Npy;

/// <summary>
/// An n-dimensional array as stored in a .npy file, normalised for use from C#:
/// <see cref="Data"/> is always <b>C order</b> (row-major, last axis fastest) and <b>little-endian</b>,
/// whatever the file held (Fortran-order files are transposed and big-endian files are byte-swapped on read).
/// A rank-0 array (shape <c>()</c>) holds exactly one element.
/// </summary>
public sealed class NpyArray
{
    /// <summary>Wraps existing bytes (C order, little-endian). The byte count must equal Count × item size.</summary>
    public NpyArray(NpyDType dtype, long[] shape, byte[] data)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(data);
        long count = CountOf(shape);
        long bytes = checked(count * dtype.ItemSize());
        if (data.LongLength != bytes)
            throw new ArgumentException($"shape ({string.Join(", ", shape)}) of {dtype.NumpyName()} needs {bytes} bytes, data has {data.LongLength}", nameof(data));
        DType = dtype;
        Shape = (long[])shape.Clone();
        Data = data;
    }

    /// <summary>Element type.</summary>
    public NpyDType DType { get; }

    /// <summary>Dimensions, outermost first. Empty for a rank-0 (scalar) array.</summary>
    public long[] Shape { get; }

    /// <summary>Raw element bytes, C order, little-endian.</summary>
    public byte[] Data { get; }

    public int Rank => Shape.Length;

    /// <summary>Number of elements (product of <see cref="Shape"/>; 1 for rank 0).</summary>
    public long Count => CountOf(Shape);

    /// <summary>The NumPy descriptor this array is written with (little-endian), e.g. <c>&lt;f4</c>.</summary>
    public string Descr => DType.Descr();

    /// <summary>Shape formatted like NumPy: <c>(100, 150, 3)</c>, <c>(4,)</c>, <c>()</c>.</summary>
    public string ShapeString => FormatShape(Shape);

    /// <summary>Creates an array by copying typed elements. <paramref name="shape"/> must match the element count.</summary>
    public static NpyArray FromSpan<T>(ReadOnlySpan<T> values, params long[] shape) where T : unmanaged
    {
        var dtype = NpyDTypeExtensions.FromClrType<T>();
        var bytes = MemoryMarshal.AsBytes(values).ToArray();
        if (CountOf(shape) != values.Length)
            throw new ArgumentException($"shape {FormatShape(shape)} has {CountOf(shape)} elements, {values.Length} given", nameof(shape));
        return new NpyArray(dtype, shape, bytes);
    }

    /// <summary>Creates an array by copying typed elements. <paramref name="shape"/> must match the element count.</summary>
    public static NpyArray FromArray<T>(T[] values, params long[] shape) where T : unmanaged =>
        FromSpan<T>(values.AsSpan(), shape);

    /// <summary>
    /// A typed view of <see cref="Data"/> (no copy). <typeparamref name="T"/> must be exactly the CLR type of
    /// <see cref="DType"/> (byte for uint8, float for float32, bool for bool, Half for float16, ...).
    /// </summary>
    public Span<T> AsSpan<T>() where T : unmanaged
    {
        if (typeof(T) != DType.ClrType())
            throw new InvalidOperationException($"array is {DType.NumpyName()} ({DType.ClrType().Name}); AsSpan<{typeof(T).Name}> would reinterpret its bytes — use ToArray/AsFloat32 to convert");
        return MemoryMarshal.Cast<byte, T>(Data.AsSpan());
    }

    /// <summary>A copy of the elements as <typeparamref name="T"/>, which must be the CLR type of <see cref="DType"/>.</summary>
    public T[] ToArray<T>() where T : unmanaged => AsSpan<T>().ToArray();

    /// <summary>
    /// The elements as float32. For a float32 array this is an exact copy; other dtypes are converted the way
    /// NumPy's <c>astype(np.float32)</c> converts them (round to nearest; bool → 0/1).
    /// </summary>
    public float[] AsFloat32()
    {
        var n = checked((int)Count);
        var r = new float[n];
        switch (DType)
        {
            case NpyDType.Float32: AsSpan<float>().CopyTo(r); break;
            case NpyDType.Float64: { var s = AsSpan<double>(); for (int i = 0; i < n; i++) r[i] = (float)s[i]; break; }
            case NpyDType.Float16: { var s = AsSpan<Half>(); for (int i = 0; i < n; i++) r[i] = (float)s[i]; break; }
            case NpyDType.Int64: { var s = AsSpan<long>(); for (int i = 0; i < n; i++) r[i] = s[i]; break; }
            case NpyDType.UInt64: { var s = AsSpan<ulong>(); for (int i = 0; i < n; i++) r[i] = s[i]; break; }
            default:
                {
                    // every remaining dtype converts to float64 exactly, so one rounding to float32 follows
                    var d = AsFloat64();
                    for (int i = 0; i < n; i++) r[i] = (float)d[i];
                    break;
                }
        }
        return r;
    }

    /// <summary>The elements as float64 (exact for every dtype except int64/uint64 beyond 2^53).</summary>
    public double[] AsFloat64()
    {
        var n = checked((int)Count);
        var r = new double[n];
        switch (DType)
        {
            case NpyDType.Bool: { var s = Data; for (int i = 0; i < n; i++) r[i] = s[i] != 0 ? 1 : 0; break; }
            case NpyDType.Int8: { var s = AsSpan<sbyte>(); for (int i = 0; i < n; i++) r[i] = s[i]; break; }
            case NpyDType.UInt8: { var s = AsSpan<byte>(); for (int i = 0; i < n; i++) r[i] = s[i]; break; }
            case NpyDType.Int16: { var s = AsSpan<short>(); for (int i = 0; i < n; i++) r[i] = s[i]; break; }
            case NpyDType.UInt16: { var s = AsSpan<ushort>(); for (int i = 0; i < n; i++) r[i] = s[i]; break; }
            case NpyDType.Int32: { var s = AsSpan<int>(); for (int i = 0; i < n; i++) r[i] = s[i]; break; }
            case NpyDType.UInt32: { var s = AsSpan<uint>(); for (int i = 0; i < n; i++) r[i] = s[i]; break; }
            case NpyDType.Int64: { var s = AsSpan<long>(); for (int i = 0; i < n; i++) r[i] = s[i]; break; }
            case NpyDType.UInt64: { var s = AsSpan<ulong>(); for (int i = 0; i < n; i++) r[i] = s[i]; break; }
            case NpyDType.Float16: { var s = AsSpan<Half>(); for (int i = 0; i < n; i++) r[i] = (double)s[i]; break; }
            case NpyDType.Float32: { var s = AsSpan<float>(); for (int i = 0; i < n; i++) r[i] = s[i]; break; }
            case NpyDType.Float64: AsSpan<double>().CopyTo(r); break;
            default: throw new InvalidOperationException($"unknown dtype {DType}");
        }
        return r;
    }

    /// <summary>
    /// The elements as int64. Integer and bool dtypes convert exactly (uint64 above long.MaxValue throws);
    /// floating-point dtypes throw — convert those explicitly.
    /// </summary>
    public long[] AsInt64()
    {
        var n = checked((int)Count);
        var r = new long[n];
        switch (DType)
        {
            case NpyDType.Bool: { var s = Data; for (int i = 0; i < n; i++) r[i] = s[i] != 0 ? 1 : 0; break; }
            case NpyDType.Int8: { var s = AsSpan<sbyte>(); for (int i = 0; i < n; i++) r[i] = s[i]; break; }
            case NpyDType.UInt8: { var s = AsSpan<byte>(); for (int i = 0; i < n; i++) r[i] = s[i]; break; }
            case NpyDType.Int16: { var s = AsSpan<short>(); for (int i = 0; i < n; i++) r[i] = s[i]; break; }
            case NpyDType.UInt16: { var s = AsSpan<ushort>(); for (int i = 0; i < n; i++) r[i] = s[i]; break; }
            case NpyDType.Int32: { var s = AsSpan<int>(); for (int i = 0; i < n; i++) r[i] = s[i]; break; }
            case NpyDType.UInt32: { var s = AsSpan<uint>(); for (int i = 0; i < n; i++) r[i] = s[i]; break; }
            case NpyDType.Int64: AsSpan<long>().CopyTo(r); break;
            case NpyDType.UInt64: { var s = AsSpan<ulong>(); for (int i = 0; i < n; i++) r[i] = checked((long)s[i]); break; }
            default: throw new InvalidOperationException($"AsInt64 needs an integer or bool array, this one is {DType.NumpyName()}");
        }
        return r;
    }

    /// <summary>Shape as int[] (throws if a dimension exceeds int.MaxValue).</summary>
    public int[] ShapeAsInt32()
    {
        var r = new int[Shape.Length];
        for (int i = 0; i < r.Length; i++) r[i] = checked((int)Shape[i]);
        return r;
    }

    /// <summary>Throws <see cref="InvalidDataException"/> unless dtype and shape are as expected (a -1 in <paramref name="shape"/> matches any size).</summary>
    public NpyArray Expect(NpyDType dtype, params long[] shape)
    {
        bool ok = DType == dtype && shape.Length == Shape.Length;
        for (int i = 0; ok && i < shape.Length; i++) ok = shape[i] < 0 || shape[i] == Shape[i];
        if (!ok) throw new InvalidDataException($"expected {dtype.NumpyName()} {FormatShape(shape)}, found {DType.NumpyName()} {ShapeString}");
        return this;
    }

    public override string ToString() => $"NpyArray({DType.NumpyName()}, {ShapeString})";

    internal static long CountOf(long[] shape)
    {
        long n = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new ArgumentException($"negative dimension in shape {FormatShape(shape)}", nameof(shape));
            n = checked(n * d);
        }
        return n;
    }

    internal static string FormatShape(long[] shape) => shape.Length switch
    {
        0 => "()",
        1 => $"({shape[0]},)",
        _ => "(" + string.Join(", ", shape) + ")",
    };
}
