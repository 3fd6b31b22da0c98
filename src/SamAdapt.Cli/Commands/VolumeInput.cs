using System.CommandLine;
using SamAdapt.Imaging;
using SamAdapt.Imaging.Dicom;

namespace SamAdapt.Cli.Commands;

/// <summary>How verbs read an input volume: any format <see cref="VolumeIO"/> knows, with `--series` for DICOM folders.</summary>
internal static class VolumeInput
{
    public const string InputFormats = "NIfTI (.nii, .nii.gz, .hdr/.img), a DICOM folder or .dcm file, or a PNG/JPEG/BMP image";

    public static Option<string> SeriesOption() => new("--series")
    {
        Description = "For a DICOM folder holding several series: the SeriesInstanceUID (or the id `samadapt info DIR` lists) to read",
    };

    public static bool IsDicom(string path) => VolumeIO.ReaderFor(path) is DicomFormat;

    /// <summary>Reads <paramref name="path"/>; <paramref name="series"/> is only accepted for DICOM input.</summary>
    public static Volume Read(string path, string? series)
    {
        if (series != null && (File.Exists(path) || Directory.Exists(path)) && !IsDicom(path))
            throw new CliException($"--series applies to DICOM input only; {path} is not a DICOM folder or file");
        return VolumeIO.Read(path, new VolumeReadOptions { SeriesId = series });
    }
}
