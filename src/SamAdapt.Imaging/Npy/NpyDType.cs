namespace SamAdapt.Imaging.Npy;

/// <summary>The NumPy element types this reader and writer support (all fixed-size numeric types plus bool).</summary>
public enum NpyDType
{
    /// <summary><c>|b1</c>: one byte per element, 0 = false, anything else = true (stored as written).</summary>
    Bool,
    /// <summary><c>|i1</c></summary>
    Int8,
    /// <summary><c>|u1</c></summary>
    UInt8,
    /// <summary><c>&lt;i2</c></summary>
    Int16,
    /// <summary><c>&lt;u2</c></summary>
    UInt16,
    /// <summary><c>&lt;i4</c></summary>
    Int32,
    /// <summary><c>&lt;u4</c></summary>
    UInt32,
    /// <summary><c>&lt;i8</c></summary>
    Int64,
    /// <summary><c>&lt;u8</c></summary>
    UInt64,
    /// <summary><c>&lt;f2</c> (IEEE half, <see cref="Half"/>)</summary>
    Float16,
    /// <summary><c>&lt;f4</c></summary>
    Float32,
    /// <summary><c>&lt;f8</c></summary>
    Float64,
}

public static class NpyDTypeExtensions
{
    /// <summary>Bytes per element.</summary>
    public static int ItemSize(this NpyDType t) => t switch
    {
        NpyDType.Bool or NpyDType.Int8 or NpyDType.UInt8 => 1,
        NpyDType.Int16 or NpyDType.UInt16 or NpyDType.Float16 => 2,
        NpyDType.Int32 or NpyDType.UInt32 or NpyDType.Float32 => 4,
        NpyDType.Int64 or NpyDType.UInt64 or NpyDType.Float64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "unknown dtype"),
    };

    /// <summary>The little-endian NumPy descriptor written to headers: <c>|u1</c>, <c>&lt;f4</c>, <c>|b1</c>, ...</summary>
    public static string Descr(this NpyDType t) => t switch
    {
        NpyDType.Bool => "|b1",
        NpyDType.Int8 => "|i1",
        NpyDType.UInt8 => "|u1",
        NpyDType.Int16 => "<i2",
        NpyDType.UInt16 => "<u2",
        NpyDType.Int32 => "<i4",
        NpyDType.UInt32 => "<u4",
        NpyDType.Int64 => "<i8",
        NpyDType.UInt64 => "<u8",
        NpyDType.Float16 => "<f2",
        NpyDType.Float32 => "<f4",
        NpyDType.Float64 => "<f8",
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "unknown dtype"),
    };

    /// <summary>NumPy's name: bool, int8, uint8, ..., float16, float32, float64.</summary>
    public static string NumpyName(this NpyDType t) => t switch
    {
        NpyDType.Bool => "bool",
        _ => t.ToString().ToLowerInvariant(),
    };

    /// <summary>The CLR element type whose layout matches one element.</summary>
    public static Type ClrType(this NpyDType t) => t switch
    {
        NpyDType.Bool => typeof(bool),
        NpyDType.Int8 => typeof(sbyte),
        NpyDType.UInt8 => typeof(byte),
        NpyDType.Int16 => typeof(short),
        NpyDType.UInt16 => typeof(ushort),
        NpyDType.Int32 => typeof(int),
        NpyDType.UInt32 => typeof(uint),
        NpyDType.Int64 => typeof(long),
        NpyDType.UInt64 => typeof(ulong),
        NpyDType.Float16 => typeof(Half),
        NpyDType.Float32 => typeof(float),
        NpyDType.Float64 => typeof(double),
        _ => throw new ArgumentOutOfRangeException(nameof(t), t, "unknown dtype"),
    };

    /// <summary>The dtype whose elements are CLR type <typeparamref name="T"/>.</summary>
    public static NpyDType FromClrType<T>() where T : unmanaged => FromClrType(typeof(T));

    public static NpyDType FromClrType(Type t)
    {
        if (t == typeof(bool)) return NpyDType.Bool;
        if (t == typeof(sbyte)) return NpyDType.Int8;
        if (t == typeof(byte)) return NpyDType.UInt8;
        if (t == typeof(short)) return NpyDType.Int16;
        if (t == typeof(ushort)) return NpyDType.UInt16;
        if (t == typeof(int)) return NpyDType.Int32;
        if (t == typeof(uint)) return NpyDType.UInt32;
        if (t == typeof(long)) return NpyDType.Int64;
        if (t == typeof(ulong)) return NpyDType.UInt64;
        if (t == typeof(Half)) return NpyDType.Float16;
        if (t == typeof(float)) return NpyDType.Float32;
        if (t == typeof(double)) return NpyDType.Float64;
        throw new NotSupportedException($"no .npy dtype corresponds to CLR type {t.FullName}");
    }

    /// <summary>
    /// Parses a NumPy descriptor such as <c>&lt;f4</c>, <c>&gt;i8</c>, <c>|u1</c>, <c>=u2</c>. Returns the dtype and
    /// whether the stored bytes are big-endian. Throws <see cref="NpyFormatException"/> naming the descriptor when it
    /// is not supported (object, string, complex, datetime, void/structured, ...).
    /// </summary>
    public static (NpyDType Type, bool BigEndian) ParseDescr(string descr)
    {
        if (descr.Length < 2) throw new NpyFormatException($"unsupported dtype '{descr}'");
        char order = descr[0];
        string code = descr;
        bool big = false;
        if (order is '<' or '>' or '|' or '=')
        {
            code = descr[1..];
            big = order == '>';
            // '=' means native; every platform this runs on is little-endian (checked in NpyFile).
        }
        if (code.StartsWith('O')) throw new NpyFormatException($"object arrays (dtype '{descr}') cannot be read: they hold pickled Python objects");
        NpyDType? t = code switch
        {
            "b1" or "?" => NpyDType.Bool,
            "i1" or "b" => NpyDType.Int8,
            "u1" or "B" => NpyDType.UInt8,
            "i2" => NpyDType.Int16,
            "u2" => NpyDType.UInt16,
            "i4" => NpyDType.Int32,
            "u4" => NpyDType.UInt32,
            "i8" => NpyDType.Int64,
            "u8" => NpyDType.UInt64,
            "f2" or "e" => NpyDType.Float16,
            "f4" => NpyDType.Float32,
            "f8" => NpyDType.Float64,
            _ => null,
        };
        if (t is null) throw new NpyFormatException($"unsupported dtype '{descr}' (supported: |b1 |i1 |u1 i2 u2 i4 u4 i8 u8 f2 f4 f8, either byte order)");
        if (t.Value.ItemSize() == 1) big = false;
        return (t.Value, big);
    }
}
