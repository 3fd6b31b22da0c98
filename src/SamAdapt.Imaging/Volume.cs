using System.Globalization;

namespace SamAdapt.Imaging;

/// <summary>On-disk voxel representation, kept so that a read-then-write round trip is exact.</summary>
public enum VoxelType
{
    UInt8, Int8, UInt16, Int16, UInt32, Int32, UInt64, Int64, Float32, Float64,
    /// <summary>3 bytes per voxel (NIfTI RGB24). Data is byte[] of length 3·N, channel-minor.</summary>
    Rgb24,
    /// <summary>4 bytes per voxel (NIfTI RGBA32). Data is byte[] of length 4·N, channel-minor.</summary>
    Rgba32,
}

/// <summary>One NIfTI header extension block (code and payload, padding included), kept for inspection.</summary>
public sealed record VolumeExtension(int Code, byte[] Data);

/// <summary>
/// A voxel array with its geometry. Layout follows NIfTI: <see cref="Shape"/> lists dim[1..n] (i, j, k, t, ...),
/// and <see cref="Data"/> is a flat typed array with i varying fastest — which is exactly a C-order array of
/// shape (…, k, j, i), so it maps onto a tensor of shape Reverse(Shape) without copying.
/// Values are raw; the physical value is raw·Slope + Intercept (Slope 1 and Intercept 0 when unscaled).
/// <see cref="Affine"/> is the 4×4 voxel-index → RAS-millimetre matrix, row-major.
/// </summary>
public sealed class Volume
{
    public Volume(int[] shape, VoxelType type, Array data, double[] affine)
    {
        if (shape.Length is < 1 or > 7) throw new ArgumentException($"volume rank must be 1..7, found {shape.Length}", nameof(shape));
        if (affine.Length != 16) throw new ArgumentException($"affine must have 16 elements, found {affine.Length}", nameof(affine));
        long n = 1;
        foreach (var d in shape)
        {
            if (d < 1) throw new ArgumentException($"every dimension must be >= 1, found [{string.Join(",", shape)}]", nameof(shape));
            n *= d;
        }
        long expected = n * ChannelsOf(type);
        if (data.Length != expected)
            throw new ArgumentException($"data has {data.Length} elements, shape [{string.Join(",", shape)}] of {type} needs {expected}", nameof(data));
        var needed = ClrType(type);
        if (data.GetType().GetElementType() != needed)
            throw new ArgumentException($"{type} voxels need a {needed.Name}[] array, found {data.GetType().Name}", nameof(data));
        Shape = shape;
        Type = type;
        Data = data;
        Affine = affine;
    }

    public int[] Shape { get; }
    public VoxelType Type { get; }
    public Array Data { get; }
    public double[] Affine { get; set; }
    public double Slope { get; set; } = 1.0;
    public double Intercept { get; set; }
    /// <summary>Voxel size along each of the first three dimensions (mm unless <see cref="SpatialUnit"/> says otherwise).</summary>
    public double[] Spacing => Geometry.SpacingFromAffine(Affine);
    public string SpatialUnit { get; set; } = "mm";
    public string TimeUnit { get; set; } = "s";
    /// <summary>Time step (pixdim[4]) for 4D series; 0 if unknown.</summary>
    public double TimeStep { get; set; }
    /// <summary>NIfTI intent code (1002 = label map).</summary>
    public int IntentCode { get; set; }
    /// <summary>NIfTI intent_name (up to 15 characters).</summary>
    public string IntentName { get; set; } = "";
    public string Description { get; set; } = "";
    /// <summary>Where it came from (file path or DICOM folder), for error messages.</summary>
    public string Source { get; set; } = "";
    /// <summary>NIfTI qform_code of the source (0 = unknown/none); the NIfTI writer reuses it when positive.</summary>
    public int QFormCode { get; set; }
    /// <summary>NIfTI sform_code of the source (0 = unknown/none); the NIfTI writer reuses it when positive.</summary>
    public int SFormCode { get; set; }
    /// <summary>Header extensions found in the source file (not written back).</summary>
    public IReadOnlyList<VolumeExtension> Extensions { get; set; } = [];
    /// <summary>Non-fatal oddities the reader repaired (e.g. vox_offset below 352), one line each.</summary>
    public IReadOnlyList<string> Warnings { get; set; } = [];

    public const int IntentLabel = 1002;

    public long VoxelCount
    {
        get { long n = 1; foreach (var d in Shape) n *= d; return n; }
    }

    public bool IsRgb => Type is VoxelType.Rgb24 or VoxelType.Rgba32;
    public bool IsScaled => Slope != 1.0 || Intercept != 0.0;
    public bool IsInteger => Type is not (VoxelType.Float32 or VoxelType.Float64 or VoxelType.Rgb24 or VoxelType.Rgba32) && !IsScaledToFraction;
    private bool IsScaledToFraction => IsScaled && (Slope != Math.Round(Slope) || Intercept != Math.Round(Intercept));

    /// <summary>Array elements per voxel: 3 for RGB24, 4 for RGBA32, else 1.</summary>
    public static int ChannelsOf(VoxelType t) => t switch { VoxelType.Rgb24 => 3, VoxelType.Rgba32 => 4, _ => 1 };

    /// <summary>Bytes per voxel on disk.</summary>
    public static int BytesPerVoxel(VoxelType t) => t switch
    {
        VoxelType.UInt8 or VoxelType.Int8 => 1,
        VoxelType.UInt16 or VoxelType.Int16 => 2,
        VoxelType.UInt32 or VoxelType.Int32 or VoxelType.Float32 or VoxelType.Rgba32 => 4,
        VoxelType.UInt64 or VoxelType.Int64 or VoxelType.Float64 => 8,
        VoxelType.Rgb24 => 3,
        _ => throw new ArgumentOutOfRangeException(nameof(t)),
    };

    /// <summary>Lower-case numpy-style name: uint8, int16, float32, rgb24, ...</summary>
    public static string TypeName(VoxelType t) => t.ToString().ToLowerInvariant();

    /// <summary>Parses uint8|int8|uint16|int16|uint32|int32|uint64|int64|float32|float64|rgb24|rgba32 (case-insensitive).</summary>
    public static VoxelType ParseTypeName(string name)
    {
        foreach (var t in Enum.GetValues<VoxelType>())
            if (string.Equals(TypeName(t), name.Trim(), StringComparison.OrdinalIgnoreCase)) return t;
        throw new FormatException($"unknown voxel type '{name}' (expected one of {string.Join(", ", Enum.GetValues<VoxelType>().Select(TypeName))})");
    }

    public static Type ClrType(VoxelType t) => t switch
    {
        VoxelType.UInt8 or VoxelType.Rgb24 or VoxelType.Rgba32 => typeof(byte),
        VoxelType.Int8 => typeof(sbyte),
        VoxelType.UInt16 => typeof(ushort),
        VoxelType.Int16 => typeof(short),
        VoxelType.UInt32 => typeof(uint),
        VoxelType.Int32 => typeof(int),
        VoxelType.UInt64 => typeof(ulong),
        VoxelType.Int64 => typeof(long),
        VoxelType.Float32 => typeof(float),
        VoxelType.Float64 => typeof(double),
        _ => throw new ArgumentOutOfRangeException(nameof(t)),
    };

    /// <summary>A zero-filled data array for <paramref name="voxels"/> voxels of type <paramref name="t"/>.</summary>
    public static Array Allocate(VoxelType t, long voxels)
    {
        long n = checked(voxels * ChannelsOf(t));
        if (n > Array.MaxLength) throw new NotSupportedException($"volume of {voxels} voxels of {TypeName(t)} exceeds the .NET array limit");
        return Array.CreateInstance(ClrType(t), n);
    }

    /// <summary>Raw value at flat index (not for RGB types).</summary>
    /// <remarks>Dispatches on <see cref="Type"/>, not on the array's runtime type: the CLR lets a sbyte[] pass as a
    /// byte[] (and short[]/ushort[], int[]/uint[], long[]/ulong[] likewise), so type patterns would misread signed data.</remarks>
    public double GetRaw(long index) => Type switch
    {
        VoxelType.UInt8 => ((byte[])Data)[index],
        VoxelType.Int8 => ((sbyte[])Data)[index],
        VoxelType.UInt16 => ((ushort[])Data)[index],
        VoxelType.Int16 => ((short[])Data)[index],
        VoxelType.UInt32 => ((uint[])Data)[index],
        VoxelType.Int32 => ((int[])Data)[index],
        VoxelType.UInt64 => ((ulong[])Data)[index],
        VoxelType.Int64 => ((long[])Data)[index],
        VoxelType.Float32 => ((float[])Data)[index],
        VoxelType.Float64 => ((double[])Data)[index],
        _ => throw new InvalidOperationException($"GetRaw is not defined for {TypeName(Type)} voxels"),
    };

    /// <summary>Physical value (after slope/intercept) at flat index.</summary>
    public double Get(long index) => IsScaled ? GetRaw(index) * Slope + Intercept : GetRaw(index);

    /// <summary>Physical value at voxel (i, j, k) of the first 3D frame.</summary>
    public double Get(int i, int j, int k)
    {
        int nx = Shape[0], ny = Shape.Length > 1 ? Shape[1] : 1;
        return Get(i + (long)nx * (j + (long)ny * k));
    }

    /// <summary>All physical values as float32 (i fastest). RGB types are converted to luminance-free mean of channels.</summary>
    public float[] ToFloat32()
    {
        var n = VoxelCount;
        var r = new float[n];
        if (Type is VoxelType.Rgb24 or VoxelType.Rgba32)
        {
            var b = (byte[])Data; int c = Type == VoxelType.Rgb24 ? 3 : 4;
            for (long i = 0; i < n; i++) r[i] = (b[i * c] + b[i * c + 1] + b[i * c + 2]) / 3f;
            return r;
        }
        if (!IsScaled && Type == VoxelType.Float32) { Array.Copy(Data, r, n); return r; }
        for (long i = 0; i < n; i++) r[i] = (float)Get(i);
        return r;
    }

    /// <summary>All physical values as float64 (i fastest); RGB as channel mean.</summary>
    public double[] ToFloat64()
    {
        var n = VoxelCount;
        var r = new double[n];
        if (IsRgb)
        {
            var b = (byte[])Data; int c = ChannelsOf(Type);
            for (long i = 0; i < n; i++) r[i] = (b[i * c] + b[i * c + 1] + b[i * c + 2]) / 3.0;
            return r;
        }
        for (long i = 0; i < n; i++) r[i] = Get(i);
        return r;
    }

    /// <summary>
    /// A new volume with different voxels/geometry but this volume's metadata (units, intent, description, codes,
    /// source). Slope/intercept are copied only when <paramref name="type"/> equals this volume's type and
    /// <paramref name="keepScaling"/> is true.
    /// </summary>
    public Volume With(int[] shape, VoxelType type, Array data, double[] affine, bool keepScaling = true)
    {
        var v = new Volume(shape, type, data, affine)
        {
            SpatialUnit = SpatialUnit, TimeUnit = TimeUnit, TimeStep = TimeStep, IntentCode = IntentCode,
            IntentName = IntentName, Description = Description, Source = Source, QFormCode = QFormCode,
            SFormCode = SFormCode,
        };
        if (keepScaling && type == Type) { v.Slope = Slope; v.Intercept = Intercept; }
        return v;
    }

    /// <summary>Deep copy (data and affine arrays are cloned).</summary>
    public Volume Clone()
    {
        var v = With((int[])Shape.Clone(), Type, (Array)Data.Clone(), (double[])Affine.Clone());
        v.Extensions = Extensions; v.Warnings = Warnings;
        return v;
    }

    /// <summary>
    /// Converts the physical values to <paramref name="target"/> (uint8, int8, int16, uint16, int32, uint32, int64,
    /// uint64, float32 or float64), returning an unscaled volume (slope 1, intercept 0).
    /// Rounding rule for integer targets: round to nearest, ties away from zero (2.5 → 3, −2.5 → −3).
    /// Throws <see cref="InvalidDataException"/> if any value is NaN/∞ (integer targets) or falls outside the target's
    /// range after rounding (float32: |v| beyond float.MaxValue); the message names the offending value range.
    /// </summary>
    public Volume ConvertTo(VoxelType target)
    {
        if (target is VoxelType.Rgb24 or VoxelType.Rgba32 || IsRgb)
            throw new NotSupportedException($"{Source}: conversion from {TypeName(Type)} to {TypeName(target)} is not supported");
        if (target == Type && !IsScaled) return Clone();
        long n = VoxelCount;
        var (lo, hi) = TargetRange(target);
        bool isInt = target is not (VoxelType.Float32 or VoxelType.Float64);
        double min = double.PositiveInfinity, max = double.NegativeInfinity; long nonFinite = 0;
        for (long i = 0; i < n; i++)
        {
            double v = Get(i);
            if (!double.IsFinite(v)) { nonFinite++; continue; }
            if (isInt) v = Math.Round(v, MidpointRounding.AwayFromZero);
            if (v < min) min = v;
            if (v > max) max = v;
        }
        string name = string.IsNullOrEmpty(Source) ? "volume" : Source;
        if (isInt && nonFinite > 0)
            throw new InvalidDataException($"{name}: cannot convert to {TypeName(target)}: {nonFinite} voxel(s) are NaN or infinite");
        if (n > nonFinite && (min < lo || max > hi))
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                $"{name}: values [{min:R}, {max:R}] do not fit {TypeName(target)} [{lo:R}, {hi:R}]") +
                (isInt ? " (after rounding to nearest, ties away from zero)" : ""));
        var data = Allocate(target, n);
        for (long i = 0; i < n; i++)
        {
            double v = Get(i);
            if (isInt) v = Math.Round(v, MidpointRounding.AwayFromZero);
            switch (target)
            {
                case VoxelType.UInt8: ((byte[])data)[i] = (byte)v; break;
                case VoxelType.Int8: ((sbyte[])data)[i] = (sbyte)v; break;
                case VoxelType.UInt16: ((ushort[])data)[i] = (ushort)v; break;
                case VoxelType.Int16: ((short[])data)[i] = (short)v; break;
                case VoxelType.UInt32: ((uint[])data)[i] = (uint)v; break;
                case VoxelType.Int32: ((int[])data)[i] = (int)v; break;
                case VoxelType.UInt64: ((ulong[])data)[i] = (ulong)v; break;
                case VoxelType.Int64: ((long[])data)[i] = (long)v; break;
                case VoxelType.Float32: ((float[])data)[i] = (float)v; break;
                case VoxelType.Float64: ((double[])data)[i] = v; break;
            }
        }
        return With((int[])Shape.Clone(), target, data, (double[])Affine.Clone(), keepScaling: false);
    }

    /// <summary>
    /// This volume as a NIfTI label map: values stored as uint8 when they all lie in 0..255, else int16 (values are
    /// checked to be integers within int16), with intent_code 1002 (NIFTI_INTENT_LABEL). uint8/int16 input keeps its
    /// type. Throws <see cref="InvalidDataException"/> for non-integer or out-of-range values.
    /// </summary>
    public Volume ToLabelMap()
    {
        if (IsRgb) throw new NotSupportedException($"{Source}: an RGB volume cannot be a label map");
        double lo = double.PositiveInfinity, hi = double.NegativeInfinity;
        long n = VoxelCount;
        for (long i = 0; i < n; i++)
        {
            double x = Get(i);
            if (x != Math.Floor(x)) // also catches NaN and ±inf
                throw new InvalidDataException($"{(Source == "" ? "volume" : Source)}: voxel {i} has the non-integer value {x}; not a label map");
            if (x < lo) lo = x;
            if (x > hi) hi = x;
        }
        Volume r = !IsScaled && Type is VoxelType.UInt8 or VoxelType.Int16 ? Clone()
            : lo >= 0 && hi <= 255 ? ConvertTo(VoxelType.UInt8)
            : ConvertTo(VoxelType.Int16);
        r.IntentCode = IntentLabel;
        return r;
    }

    private static (double lo, double hi) TargetRange(VoxelType t) => t switch
    {
        VoxelType.UInt8 => (0, byte.MaxValue),
        VoxelType.Int8 => (sbyte.MinValue, sbyte.MaxValue),
        VoxelType.UInt16 => (0, ushort.MaxValue),
        VoxelType.Int16 => (short.MinValue, short.MaxValue),
        VoxelType.UInt32 => (0, uint.MaxValue),
        VoxelType.Int32 => (int.MinValue, int.MaxValue),
        // largest doubles strictly representable inside the 64-bit ranges
        VoxelType.UInt64 => (0, 18446744073709549568.0),
        VoxelType.Int64 => (-9223372036854775808.0, 9223372036854774784.0),
        VoxelType.Float32 => (-float.MaxValue, float.MaxValue),
        _ => (double.NegativeInfinity, double.PositiveInfinity),
    };
}
