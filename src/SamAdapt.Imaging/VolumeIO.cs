using SamAdapt.Imaging.Nifti;

namespace SamAdapt.Imaging;

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
/// One entry point for reading and writing volumes, dispatching on the path (extension, or folder for formats such
/// as DICOM series). Formats are tried in registration order; later registrations take precedence.
/// </summary>
public static class VolumeIO
{
    private static readonly List<IVolumeFormat> Formats = [new NiftiFormat()];
    private static readonly Lock Gate = new();

    /// <summary>Adds a format; it is consulted before those registered earlier.</summary>
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

    public static Volume Read(string path)
    {
        if (!File.Exists(path) && !Directory.Exists(path)) throw new FileNotFoundException($"{path}: no such file or folder", path);
        var f = RegisteredFormats.FirstOrDefault(x => x.CanRead(path))
            ?? throw new NotSupportedException($"{path}: unrecognised volume format (supported: {Supported()})");
        return f.Read(path);
    }

    public static void Write(Volume volume, string path)
    {
        var f = RegisteredFormats.FirstOrDefault(x => x.CanWrite(path))
            ?? throw new NotSupportedException($"{path}: cannot write this format (supported: {Supported()})");
        f.Write(volume, path);
    }

    private static string Supported() => string.Join("; ", RegisteredFormats.Select(f => $"{f.Name} ({f.Patterns})"));
}
