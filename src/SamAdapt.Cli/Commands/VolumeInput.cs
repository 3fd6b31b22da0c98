using System.CommandLine;
using SamAdapt.Imaging;

namespace SamAdapt.Cli.Commands;

/// <summary>How verbs read an input volume: any format <see cref="VolumeIO"/> knows, with `--series` for DICOM folders.</summary>
internal static class VolumeInput
{
    public const string InputFormats = InputVolume.Formats;

    public static Option<string> SeriesOption() => new("--series")
    {
        Description = "For a DICOM folder holding several series: the SeriesInstanceUID (or the id `samadapt info DIR` lists) to read",
    };

    public static bool IsDicom(string path) => InputVolume.IsDicom(path);

    /// <summary>Reads <paramref name="path"/>; <paramref name="series"/> is only accepted for DICOM input (<see cref="InputVolume.Read"/>).</summary>
    public static Volume Read(string path, string? series) => SettingsErrors.Run(() => InputVolume.Read(path, series));
}
