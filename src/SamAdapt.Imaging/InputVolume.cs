using SamAdapt.Common;
using SamAdapt.Imaging.Dicom;

namespace SamAdapt.Imaging;

/// <summary>Reads an input volume in any format <see cref="VolumeIO"/> knows, with a series id for DICOM folders.</summary>
public static class InputVolume
{
    public const string Formats = "NIfTI (.nii, .nii.gz, .hdr/.img), a DICOM folder or .dcm file, or a PNG/JPEG/BMP image";

    public static bool IsDicom(string path) => VolumeIO.ReaderFor(path) is DicomFormat;

    /// <summary>Reads <paramref name="path"/>; <paramref name="series"/> is only accepted for DICOM input.</summary>
    public static Volume Read(string path, string? series)
    {
        if (series != null && (File.Exists(path) || Directory.Exists(path)) && !IsDicom(path))
            throw new SettingsException($"--series applies to DICOM input only; {path} is not a DICOM folder or file");
        return VolumeIO.Read(path, new VolumeReadOptions { SeriesId = series });
    }
}
