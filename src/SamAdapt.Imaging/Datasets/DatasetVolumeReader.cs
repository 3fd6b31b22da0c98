using SamAdapt.Imaging.Images2D;
using SamAdapt.Imaging.Nifti;

namespace SamAdapt.Imaging.Datasets;

/// <summary>What dataset validation needs to know about an image without reading its voxels.</summary>
public sealed record VolumeHeader(int[] Shape, VoxelType Type, double[] Affine, double Slope = 1, double Intercept = 0)
{
    public double[] Spacing => Geometry.SpacingFromAffine(Affine);

    public static VolumeHeader Of(Volume v) => new(v.Shape, v.Type, v.Affine, v.Slope, v.Intercept);
}

/// <summary>
/// How <see cref="DatasetValidator"/> reads dataset files. Images are checked from their header only; label maps are
/// read in full. Another reader can be plugged in with <see cref="FromDelegates"/>.
/// </summary>
public interface IDatasetVolumeReader
{
    VolumeHeader ReadHeader(string path);
    Volume Read(string path);
}

/// <summary>The default reader: NIfTI through <see cref="NiftiReader"/> (header-only <see cref="NiftiReader.ReadInfo"/> for
/// images, so the same affine, shape and type rules apply as everywhere else), PNG/JPEG/BMP through <see cref="ImageFile"/>
/// (2-D images as [W, H, 1] volumes).</summary>
public sealed class DatasetVolumeReader : IDatasetVolumeReader
{
    public static DatasetVolumeReader Default { get; } = new();

    public VolumeHeader ReadHeader(string path)
    {
        if (NiftiReader.IsNiftiPath(path))
        {
            var info = NiftiReader.ReadInfo(path, verifyData: true); // a dataset check must find truncated data before training does
            return new VolumeHeader(info.Shape, info.Type, info.Affine, info.Slope, info.Intercept);
        }
        if (ImageFile.IsImageFile(path))
        {
            var (w, h, c, bits) = ImageFile.ReadInfo(path);
            var type = c switch
            {
                1 or 2 => bits == 16 ? VoxelType.UInt16 : VoxelType.UInt8,
                3 => bits == 16 ? VoxelType.UInt16 : VoxelType.Rgb24,
                _ => bits == 16 ? VoxelType.UInt16 : VoxelType.Rgba32,
            };
            int[] shape = bits == 16 && c >= 3 ? [w, h, 1, 1, c] : [w, h, 1];
            return new VolumeHeader(shape, type, Image2D.AffineFor(h));
        }
        throw new NotSupportedException($"{path}: unsupported file type (expected .nii, .nii.gz, .png, .jpg or .bmp)");
    }

    public Volume Read(string path)
    {
        if (NiftiReader.IsNiftiPath(path)) return NiftiReader.Read(path);
        if (ImageFile.IsImageFile(path)) return ImageFile.ReadVolume(path);
        throw new NotSupportedException($"{path}: unsupported file type (expected .nii, .nii.gz, .png, .jpg or .bmp)");
    }

    /// <summary>A reader made of two functions (e.g. the full NIfTI reader's header and volume readers).</summary>
    public static IDatasetVolumeReader FromDelegates(Func<string, VolumeHeader> readHeader, Func<string, Volume> read) =>
        new DelegateReader(readHeader, read);

    private sealed class DelegateReader(Func<string, VolumeHeader> header, Func<string, Volume> read) : IDatasetVolumeReader
    {
        public VolumeHeader ReadHeader(string path) => header(path);
        public Volume Read(string path) => read(path);
    }
}
