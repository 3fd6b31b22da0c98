using SamAdapt.Common;
using SamAdapt.Imaging.Dicom;
using SamAdapt.Imaging.Images2D;
using SamAdapt.Imaging.Nifti;

namespace SamAdapt.Imaging;

/// <summary>Choices a reader may need beyond the path (ignored by formats they do not concern).</summary>
public sealed record VolumeReadOptions
{
    public static VolumeReadOptions Default { get; } = new();

    /// <summary>DICOM: the series to read (SeriesInstanceUID or the id <see cref="DicomSeriesReader.ListSeries"/> shows);
    /// required when a folder holds several.</summary>
    public string? SeriesId { get; init; }

    /// <summary>DICOM: sub-folders, gantry tilt, spacing tolerances.</summary>
    public DicomReadOptions? Dicom { get; init; }
}

/// <summary>A file format <see cref="VolumeIO"/> can dispatch to. Register new ones with <see cref="VolumeIO.Register"/>.</summary>
public interface IVolumeFormat
{
    /// <summary>Short name for messages, e.g. "NIfTI".</summary>
    string Name { get; }
    /// <summary>File name patterns for messages, e.g. ".nii, .nii.gz, .hdr/.img".</summary>
    string Patterns { get; }
    /// <summary>Whether <paramref name="path"/> (a file name or folder; it may not exist yet) is this format's to read.</summary>
    bool CanRead(string path);
    /// <summary>Whether this format writes to <paramref name="path"/> (decided by the name).</summary>
    bool CanWrite(string path);
    Volume Read(string path);
    /// <summary>Reads with options; formats without options of their own ignore them.</summary>
    Volume Read(string path, VolumeReadOptions options) => Read(path);
    /// <summary>Writes <paramref name="volume"/>; on any error nothing is left at <paramref name="path"/>.</summary>
    void Write(Volume volume, string path);
}

/// <summary>NIfTI-1/2 through <see cref="NiftiReader"/> and <see cref="NiftiWriter"/>.</summary>
public sealed class NiftiFormat : IVolumeFormat
{
    public string Name => "NIfTI";
    public string Patterns => ".nii, .nii.gz, .hdr/.img (optionally .gz)";
    public bool CanRead(string path) => NiftiReader.IsNiftiPath(path) && !Directory.Exists(path);
    public bool CanWrite(string path) => NiftiReader.IsNiftiPath(path);
    public Volume Read(string path) => NiftiReader.Read(path);
    public void Write(Volume volume, string path) => NiftiWriter.Write(volume, path);
}

/// <summary>
/// 2-D images through stb (<see cref="ImageFile"/>): PNG, JPEG and BMP read as [W, H, 1] volumes (convention in
/// <see cref="Image2D"/>); PNG written from 2-D volumes (masks and overlays, <see cref="ImageFile.WritePng(string, Volume)"/>).
/// A volume with more than one slice is refused — choose a slice first (<see cref="Volume"/> slicing, or
/// <c>samadapt convert --slice K</c>).
/// </summary>
public sealed class Image2DFormat : IVolumeFormat
{
    public string Name => "2-D image";
    public string Patterns => ".png, .jpg/.jpeg, .bmp (read); .png (write)";
    public bool CanRead(string path) => ImageFile.IsImageFile(path) && !Directory.Exists(path);
    public bool CanWrite(string path) => Path.GetExtension(path).Equals(".png", StringComparison.OrdinalIgnoreCase);
    public Volume Read(string path) => ImageFile.ReadVolume(path);

    public void Write(Volume volume, string path)
    {
        var s = volume.Shape;
        bool twoD = s.Length <= 2 || (s.Length == 3 && s[2] == 1)
                    || (s.Length == 5 && s[2] == 1 && s[3] == 1 && s[4] is 3 or 4 && volume.Type == VoxelType.UInt16);
        if (!twoD)
            throw new ArgumentException(
                $"{path}: PNG holds one 2-D image, but the volume has shape [{string.Join(", ", s)}]" +
                (s.Length >= 3 && s[2] > 1 ? $" ({s[2]} slices); choose one slice first (samadapt convert --slice K)" : ""));
        var bytes = ImageFile.EncodePng(volume, path);
        AtomicFile.Write(path, st => st.Write(bytes));
    }
}

/// <summary>
/// DICOM series through GDCM (<see cref="DicomSeriesReader"/>): a folder of single-frame files, or one .dcm file.
/// Folders holding several series need <see cref="VolumeReadOptions.SeriesId"/>. Read-only.
/// </summary>
public sealed class DicomFormat : IVolumeFormat
{
    public string Name => "DICOM";
    public string Patterns => "a folder of DICOM files, a .dcm file, or a file with the DICM preamble (read only)";

    public bool CanRead(string path)
    {
        if (Directory.Exists(path)) return true;
        var ext = Path.GetExtension(path).ToLowerInvariant();
        if (ext is ".dcm" or ".dicom") return true;
        return File.Exists(path) && HasDicmPreamble(path);
    }

    public bool CanWrite(string path) => false;
    public Volume Read(string path) => Read(path, VolumeReadOptions.Default);
    public Volume Read(string path, VolumeReadOptions options) => DicomSeriesReader.Read(path, options.SeriesId, options.Dicom);
    public void Write(Volume volume, string path) => throw new NotSupportedException($"{path}: writing DICOM is not supported");

    /// <summary>"DICM" at byte 128 (DICOM Part 10 files).</summary>
    public static bool HasDicmPreamble(string path)
    {
        try
        {
            using var f = File.OpenRead(path);
            if (f.Length < 132) return false;
            Span<byte> b = stackalloc byte[4];
            f.Position = 128;
            return f.ReadAtLeast(b, 4, throwOnEndOfStream: false) == 4 && b.SequenceEqual("DICM"u8);
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }
}

/// <summary>
/// One entry point for reading and writing volumes, dispatching on the path (extension, or folder for DICOM
/// series). Built in: NIfTI (read/write), PNG/JPEG/BMP (read) and PNG (write), DICOM folders and files (read).
/// Formats are tried in order; later registrations take precedence.
/// </summary>
public static class VolumeIO
{
    private static readonly List<IVolumeFormat> Formats = [new NiftiFormat(), new Image2DFormat(), new DicomFormat()];
    private static readonly Lock Gate = new();

    /// <summary>Adds a format; it is consulted before those registered earlier (replacing one of the same type).</summary>
    public static void Register(IVolumeFormat format)
    {
        lock (Gate)
        {
            Formats.RemoveAll(f => f.GetType() == format.GetType());
            Formats.Insert(0, format);
        }
    }

    public static IReadOnlyList<IVolumeFormat> RegisteredFormats
    {
        get { lock (Gate) return Formats.ToArray(); }
    }

    /// <summary>The format that would read <paramref name="path"/>, or null.</summary>
    public static IVolumeFormat? ReaderFor(string path) => RegisteredFormats.FirstOrDefault(x => x.CanRead(path));

    /// <summary>The format that would write <paramref name="path"/>, or null.</summary>
    public static IVolumeFormat? WriterFor(string path) => RegisteredFormats.FirstOrDefault(x => x.CanWrite(path));

    public static Volume Read(string path) => Read(path, VolumeReadOptions.Default);

    public static Volume Read(string path, VolumeReadOptions options)
    {
        if (!File.Exists(path) && !Directory.Exists(path)) throw new FileNotFoundException($"{path}: no such file or folder", path);
        var f = ReaderFor(path)
            ?? throw new NotSupportedException($"{path}: unrecognised volume format (supported: {Supported(read: true)})");
        return f.Read(path, options);
    }

    public static void Write(Volume volume, string path)
    {
        var f = WriterFor(path)
            ?? throw new NotSupportedException($"{path}: cannot write this format (supported: {Supported(read: false)})");
        f.Write(volume, path);
    }

    private static string Supported(bool read) => string.Join("; ", RegisteredFormats
        .Where(f => read || f is not DicomFormat)
        .Select(f => $"{f.Name} ({f.Patterns})"));
}
