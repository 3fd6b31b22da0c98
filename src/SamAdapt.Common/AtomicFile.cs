namespace SamAdapt.Common;

/// <summary>Writes a file through a temporary file in the same folder (".NAME.GUID.tmp", flushed to disk), renamed over the
/// target only on success: readers see the old file or the complete new one, never a partial one — also when the
/// process is killed mid-write (the temporary file may then be left behind).</summary>
public static class AtomicFile
{
    public static void Write(string path, Action<Stream> write)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full) ?? throw new ArgumentException($"'{path}' has no folder", nameof(path));
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"cannot write '{path}': folder '{dir}' does not exist");
        var temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var fs = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                write(fs);
                fs.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    /// <summary>Two files that belong together (.hdr/.img): both are completed before either is renamed.</summary>
    public static void WritePair(string path1, Action<Stream> write1, string path2, Action<Stream> write2)
    {
        string t1 = TempPath(path1), t2 = TempPath(path2);
        try
        {
            foreach (var (t, w) in new[] { (t1, write1), (t2, write2) })
            {
                using var fs = new FileStream(t, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
                w(fs);
                fs.Flush(flushToDisk: true);
            }
            File.Move(t2, Path.GetFullPath(path2), overwrite: true);
            File.Move(t1, Path.GetFullPath(path1), overwrite: true);
        }
        catch
        {
            TryDelete(t1);
            TryDelete(t2);
            throw;
        }
    }

    private static string TempPath(string path)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full) ?? throw new ArgumentException($"'{path}' has no folder", nameof(path));
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"cannot write '{path}': folder '{dir}' does not exist");
        return Path.Combine(dir, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
    }

    private static void TryDelete(string p)
    {
        try { if (File.Exists(p)) File.Delete(p); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
