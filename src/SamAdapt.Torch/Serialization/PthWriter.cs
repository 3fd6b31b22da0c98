using SamAdapt.Common;

namespace SamAdapt.Torch.Serialization;

/// <summary>
/// Writes PyTorch <c>torch.save</c> zip files that <c>torch.load</c> reads: pickle protocol 2 in
/// <c>&lt;name&gt;/data.pkl</c>, one storage record <c>&lt;name&gt;/data/&lt;n&gt;</c> per tensor, <c>version</c> and
/// <c>byteorder</c>; all records uncompressed with 64-byte aligned data; Zip64 when the file needs it.
/// </summary>
public static class PthWriter
{
    /// <summary>
    /// Saves <paramref name="obj"/> to <paramref name="path"/>, replacing it atomically (a temporary file in the same
    /// folder is renamed over it, so a failure leaves no partial file).
    /// </summary>
    /// <param name="path">Target file; its name without extension becomes the archive folder, as in torch.save.</param>
    /// <param name="obj">
    /// A graph of dictionaries (<see cref="System.Collections.IDictionary"/>, e.g. <c>Dictionary&lt;string, HostTensor&gt;</c>
    /// or <see cref="PickleDict"/>), lists, <see cref="PickleTuple"/>s, strings, integers, floating-point numbers, bool,
    /// null, byte[] and <see cref="HostTensor"/> leaves. A dictionary whose values are all tensors (a state dict) is written
    /// as <c>collections.OrderedDict</c>, as <c>Module.state_dict()</c> returns; a <see cref="PickleDict"/> follows its
    /// <see cref="PickleDict.IsOrderedDict"/>. The same <see cref="HostTensor"/> instance referenced twice shares one storage.
    /// </param>
    /// <exception cref="NotSupportedException">The graph holds a value that cannot be pickled.</exception>
    public static void Save(string path, object? obj) => Save(path, obj, forceZip64: false);

    internal static void Save(string path, object? obj, bool forceZip64)
    {
        ArgumentNullException.ThrowIfNull(path);
        var storages = new List<HostTensor>();
        var pkl = new PickleWriter(t =>
        {
            storages.Add(t);
            return (storages.Count - 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }).Write(obj);
        var prefix = ArchiveName(path);
        AtomicFile.Write(path, stream =>
        {
            var zip = new ZipWriter(stream, alignment: 64, forceZip64);
            zip.Add(prefix + "/data.pkl", pkl);
            zip.Add(prefix + "/byteorder", "little"u8);
            for (int i = 0; i < storages.Count; i++) zip.Add($"{prefix}/data/{i}", storages[i].Data);
            zip.Add(prefix + "/version", "3\n"u8);
            zip.Finish();
        });
    }

    /// <summary>torch.save names the archive folder after the file (without extension).</summary>
    internal static string ArchiveName(string path)
    {
        var name = Path.GetFileNameWithoutExtension(path);
        return string.IsNullOrEmpty(name) || name.Contains('\\') ? "archive" : name;
    }
}
