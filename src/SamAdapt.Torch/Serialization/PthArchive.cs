using System.IO.Compression;

namespace SamAdapt.Torch.Serialization;

/// <summary>Read access to the records of a <c>torch.save</c> zip file, looked up by name under the archive folder.</summary>
internal sealed class PthArchive : IDisposable
{
    /// <summary>The pickled long 0x1950a86a20f9469cfc6c (little-endian) that starts legacy torch.save files.</summary>
    private static readonly byte[] LegacyMagic = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

    private readonly FileStream _stream;
    private readonly ZipArchive _zip;
    private readonly Dictionary<string, ZipArchiveEntry> _entries = new(StringComparer.Ordinal);

    private PthArchive(string path, FileStream stream, ZipArchive zip)
    {
        Path = path;
        _stream = stream;
        _zip = zip;
        var first = zip.Entries.Count > 0 ? zip.Entries[0].FullName : throw new InvalidDataException($"corrupt zip: '{path}' has no records");
        int slash = first.IndexOf('/');
        if (slash <= 0) throw new InvalidDataException($"corrupt zip: '{path}': first record '{first}' is not inside an archive folder, as torch.save writes");
        Prefix = first[..slash];
        foreach (var e in zip.Entries) _entries[e.FullName] = e;
    }

    /// <summary>The file.</summary>
    public string Path { get; }

    /// <summary>The archive folder (the part of the first record name before the first '/').</summary>
    public string Prefix { get; }

    /// <summary>Opens a file, checking that it is a zip (and not the legacy format).</summary>
    public static PthArchive Open(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"checkpoint file not found: '{path}'", path);
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        try
        {
            Span<byte> head = stackalloc byte[32];
            int n = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
            head = head[..n];
            if (n < 4 || !head.StartsWith("PK\x03\x04"u8))
            {
                if (head.IndexOf(LegacyMagic) >= 0)
                    throw new NotSupportedException(
                        $"'{path}' uses the legacy torch.save format (magic 0x1950a86a20f9469cfc6c), which is not supported; re-save it with torch>=1.6 (torch.save(torch.load(f), g))");
                throw new InvalidDataException(
                    $"corrupt zip: '{path}' is not a zip archive: it starts with [{Convert.ToHexString(head[..Math.Min(n, 4)])}], expected [504B0304] (\"PK\\3\\4\")");
            }
            stream.Position = 0;
            ZipArchive zip;
            try { zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true); }
            catch (InvalidDataException e) { throw new InvalidDataException($"corrupt zip: '{path}': {e.Message}", e); }
            return new PthArchive(path, stream, zip);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Whether <c>&lt;prefix&gt;/<paramref name="name"/></c> exists.</summary>
    public bool HasRecord(string name) => _entries.ContainsKey(Prefix + "/" + name);

    /// <summary>Reads <c>&lt;prefix&gt;/<paramref name="name"/></c>.</summary>
    /// <param name="name">Record name below the archive folder.</param>
    /// <param name="what">What the record holds, for messages.</param>
    /// <param name="expectedLength">If not null, the exact length the record must have.</param>
    public byte[] ReadRecord(string name, string what, long? expectedLength = null)
    {
        var full = Prefix + "/" + name;
        if (!_entries.TryGetValue(full, out var entry))
            throw new InvalidDataException(
                $"'{Path}' has no record '{full}' ({what}); it has: {string.Join(", ", _entries.Keys.Take(8))}{(_entries.Count > 8 ? ", ..." : "")}");
        if (expectedLength is long exp && entry.Length != exp)
            throw new InvalidDataException($"record '{full}' in '{Path}' has {entry.Length} bytes, expected {exp} ({what})");
        if (entry.Length > Array.MaxLength)
            throw new NotSupportedException($"record '{full}' in '{Path}' is {entry.Length} bytes; records over {Array.MaxLength} bytes are not supported");
        var buffer = new byte[entry.Length];
        try
        {
            using var s = entry.Open();
            s.ReadExactly(buffer);
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or IOException and not FileNotFoundException)
        {
            throw new InvalidDataException($"corrupt zip: cannot read record '{full}' of '{Path}': {e.Message}", e);
        }
        return buffer;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _zip.Dispose();
        _stream.Dispose();
    }
}
