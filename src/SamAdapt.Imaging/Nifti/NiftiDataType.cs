namespace SamAdapt.Imaging.Nifti;

/// <summary>NIfTI datatype codes (nifti1.h DT_*) and their mapping onto <see cref="VoxelType"/>.</summary>
public static class NiftiDataType
{
    public const short Binary = 1, UInt8 = 2, Int16 = 4, Int32 = 8, Float32 = 16, Complex64 = 32, Float64 = 64,
        Rgb24 = 128, Int8 = 256, UInt16 = 512, UInt32 = 768, Int64 = 1024, UInt64 = 1280, Float128 = 1536,
        Complex128 = 1792, Complex256 = 2048, Rgba32 = 2304;

    /// <summary>Human name of any datatype code, known or not (for messages).</summary>
    public static string Name(int code) => code switch
    {
        0 => "unknown", Binary => "binary (1 bit)", UInt8 => "uint8", Int16 => "int16", Int32 => "int32",
        Float32 => "float32", Complex64 => "complex64", Float64 => "float64", Rgb24 => "rgb24", Int8 => "int8",
        UInt16 => "uint16", UInt32 => "uint32", Int64 => "int64", UInt64 => "uint64", Float128 => "float128",
        Complex128 => "complex128", Complex256 => "complex256", Rgba32 => "rgba32",
        _ => "unrecognised",
    };

    /// <summary>The voxel type for a datatype code, or null when the code is not supported (float128, complex, binary, unknown).</summary>
    public static VoxelType? ToVoxelType(int code) => code switch
    {
        UInt8 => VoxelType.UInt8, Int8 => VoxelType.Int8, Int16 => VoxelType.Int16, UInt16 => VoxelType.UInt16,
        Int32 => VoxelType.Int32, UInt32 => VoxelType.UInt32, Int64 => VoxelType.Int64, UInt64 => VoxelType.UInt64,
        Float32 => VoxelType.Float32, Float64 => VoxelType.Float64, Rgb24 => VoxelType.Rgb24, Rgba32 => VoxelType.Rgba32,
        _ => null,
    };

    public static short FromVoxelType(VoxelType t) => t switch
    {
        VoxelType.UInt8 => UInt8, VoxelType.Int8 => Int8, VoxelType.Int16 => Int16, VoxelType.UInt16 => UInt16,
        VoxelType.Int32 => Int32, VoxelType.UInt32 => UInt32, VoxelType.Int64 => Int64, VoxelType.UInt64 => UInt64,
        VoxelType.Float32 => Float32, VoxelType.Float64 => Float64, VoxelType.Rgb24 => Rgb24, VoxelType.Rgba32 => Rgba32,
        _ => throw new ArgumentOutOfRangeException(nameof(t)),
    };

    /// <summary>Bits per voxel as bitpix should state.</summary>
    public static int BitPix(VoxelType t) => Volume.BytesPerVoxel(t) * 8;
}
