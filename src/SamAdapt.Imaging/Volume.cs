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
        long expected = type switch { VoxelType.Rgb24 => 3 * n, VoxelType.Rgba32 => 4 * n, _ => n };
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
    public string Description { get; set; } = "";
    /// <summary>Where it came from (file path or DICOM folder), for error messages.</summary>
    public string Source { get; set; } = "";

    public long VoxelCount
    {
        get { long n = 1; foreach (var d in Shape) n *= d; return n; }
    }

    public bool IsScaled => Slope != 1.0 || Intercept != 0.0;
    public bool IsInteger => Type is not (VoxelType.Float32 or VoxelType.Float64 or VoxelType.Rgb24 or VoxelType.Rgba32) && !IsScaledToFraction;
    private bool IsScaledToFraction => IsScaled && (Slope != Math.Round(Slope) || Intercept != Math.Round(Intercept));

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

    /// <summary>Raw value at flat index (not for RGB types).</summary>
    /// <remarks>Switches on <see cref="Type"/>, not on the array's runtime type: the CLR lets a short[] match
    /// `is ushort[]` (and sbyte[]/byte[], int[]/uint[], long[]/ulong[]), which would read signed data as unsigned.</remarks>
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
        _ => throw new InvalidOperationException($"GetRaw does not apply to {Type} voxels"),
    };

    /// <summary>Physical value (after slope/intercept) at flat index.</summary>
    public double Get(long index) => IsScaled ? GetRaw(index) * Slope + Intercept : GetRaw(index);

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
        if (!IsScaled && Type == VoxelType.Float32) { Array.Copy((float[])Data, r, n); return r; }
        for (long i = 0; i < n; i++) r[i] = (float)Get(i);
        return r;
    }
}

/// <summary>Small affine helpers shared by readers, writers and resamplers.</summary>
public static class Geometry
{
    public static double[] Identity() => [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];

    /// <summary>Column norms of the upper-left 3×3 block: the voxel spacing along i, j, k.</summary>
    public static double[] SpacingFromAffine(double[] a)
    {
        var s = new double[3];
        for (int c = 0; c < 3; c++)
            s[c] = Math.Sqrt(a[c] * a[c] + a[4 + c] * a[4 + c] + a[8 + c] * a[8 + c]);
        return s;
    }
}
