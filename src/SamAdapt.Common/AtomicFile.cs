using System.Diagnostics;

namespace SamAdapt.Common;

/// <summary>Writes a file through a temporary file in the same folder (".NAME.PID.GUID.tmp", flushed to disk), renamed over
/// the target only on success: readers see the old file or the complete new one, never a partial one — also when the
/// process is killed mid-write. A temporary file left behind by a killed process (its PID no longer running) is removed
/// by the next write of the same target (<see cref="RemoveStaleTemps"/>).
/// <para>Inside <see cref="BeginSet"/> the renames are deferred to <see cref="OutputSet.Commit"/>: outputs that belong
/// together (a report and its CSV, labels and probabilities) appear all or none (docs/reliability.md).</para></summary>
public static class AtomicFile
{
    private static readonly AsyncLocal<OutputSet?> Current = new();

    public static void Write(string path, Action<Stream> write)
    {
        var full = Path.GetFullPath(path);
        var temp = TempPath(full);
        try
        {
            WriteTemp(temp, write);
            if (Current.Value is { } set) set.Add(temp, full);
            else File.Move(temp, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            throw Rename(e, temp, full);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>Two files that belong together (.hdr/.img): both are completed before either is renamed.</summary>
    public static void WritePair(string path1, Action<Stream> write1, string path2, Action<Stream> write2)
    {
        using var set = BeginSet();
        Write(path1, write1);
        Write(path2, write2);
        set.Commit();
    }

    /// <summary>Starts a set of outputs on this logical thread: every <see cref="Write"/> until <see cref="OutputSet.Commit"/>
    /// completes its temporary file; Commit renames them all, Dispose without Commit deletes them (nothing written).
    /// Sets nest: an inner set commits into the outer one.</summary>
    public static OutputSet BeginSet()
    {
        var set = new OutputSet(Current.Value);
        Current.Value = set;
        return set;
    }

    /// <summary>Deletes ".NAME.PID.*.tmp" files of <paramref name="path"/> whose writing process is no longer running
    /// (left by a kill); returns how many. Temporary files of live processes are kept.</summary>
    public static int RemoveStaleTemps(string path)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full);
        if (dir is null || !Directory.Exists(dir)) return 0;
        int n = 0;
        try
        {
            foreach (var f in Directory.EnumerateFiles(dir, $".{Path.GetFileName(full)}.*.tmp"))
                if (IsStale(f) && TryDelete(f)) n++;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return n;
    }

    /// <summary>Deletes every stale temporary file (see <see cref="RemoveStaleTemps"/>) in <paramref name="dir"/>.</summary>
    public static int RemoveStaleTempsIn(string dir)
    {
        if (!Directory.Exists(dir)) return 0;
        int n = 0;
        try
        {
            foreach (var f in Directory.EnumerateFiles(dir, ".*.tmp"))
                if (IsStale(f) && TryDelete(f)) n++;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return n;
    }

    /// <summary>A temporary file is stale when the PID in its name is not a running process (or the name has no PID: older format).</summary>
    private static bool IsStale(string tempFile)
    {
        var parts = Path.GetFileName(tempFile).Split('.');
        // "", NAME…, PID, GUID, "tmp"
        if (parts.Length < 5 || !int.TryParse(parts[^3], out var pid)) return true;
        if (pid == Environment.ProcessId) return false;
        try
        {
            using var p = Process.GetProcessById(pid);
            return p.HasExited;
        }
        catch (ArgumentException) { return true; }
        catch (InvalidOperationException) { return true; }
    }

    private static void WriteTemp(string temp, Action<Stream> write)
    {
        using var fs = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
        write(fs);
        fs.Flush(flushToDisk: true);
    }

    private static string TempPath(string full)
    {
        var dir = Path.GetDirectoryName(full) ?? throw new ArgumentException($"'{full}' has no folder", nameof(full));
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"cannot write '{full}': folder '{dir}' does not exist");
        RemoveStaleTemps(full);
        return Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
    }

    /// <summary>An I/O error (disk full, permission) reported against the output the user named, not the temporary file.</summary>
    private static IOException Rename(Exception e, string temp, string full) =>
        new($"cannot write '{full}': {e.Message.Replace($"'{temp}'", "the file").Replace(temp, "the file")}", e);

    internal static bool TryDelete(string p)
    {
        try { if (File.Exists(p)) File.Delete(p); return true; }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }

    /// <summary>Outputs written together: see <see cref="BeginSet"/>.</summary>
    public sealed class OutputSet : IDisposable
    {
        private readonly OutputSet? _outer;
        private readonly List<(string Temp, string Final)> _files = new();
        private bool _done;

        internal OutputSet(OutputSet? outer) => _outer = outer;

        /// <summary>The final paths written so far in this set.</summary>
        public IReadOnlyList<string> Paths { get { lock (_files) return _files.Select(f => f.Final).ToList(); } }

        internal void Add(string temp, string final)
        {
            lock (_files) AddLocked(temp, final);
        }

        private void AddLocked(string temp, string final)
        {
            var i = _files.FindIndex(f => f.Final == final);
            if (i >= 0) { TryDelete(_files[i].Temp); _files.RemoveAt(i); }
            _files.Add((temp, final));
        }

        /// <summary>Renames every completed file onto its final name (or hands them to the enclosing set).</summary>
        public void Commit()
        {
            if (_done) throw new InvalidOperationException("the output set was already committed or disposed");
            _done = true;
            Current.Value = _outer;
            if (_outer is not null)
            {
                foreach (var (t, f) in _files) _outer.Add(t, f);
                return;
            }
            for (int i = 0; i < _files.Count; i++)
            {
                var (temp, final) = _files[i];
                try { File.Move(temp, final, overwrite: true); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    for (int j = i; j < _files.Count; j++) TryDelete(_files[j].Temp);
                    throw Rename(e, temp, final);
                }
            }
        }

        /// <summary>Without a <see cref="Commit"/>: deletes the temporary files (no output of the set appears).</summary>
        public void Dispose()
        {
            if (_done) return;
            _done = true;
            Current.Value = _outer;
            foreach (var (t, _) in _files) TryDelete(t);
        }
    }
}
