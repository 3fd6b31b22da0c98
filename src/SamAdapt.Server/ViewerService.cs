using System.Diagnostics;
using SamAdapt.Imaging;
using SamAdapt.Imaging.Dicom;
using SamAdapt.Imaging.Dicom.Seg;
using SamAdapt.Imaging.Nifti;
using SamAdapt.Server.Models;
using SamAdapt.Server.Security;
using SamAdapt.Server.Sessions;

namespace SamAdapt.Server;

/// <summary>A file or folder of the data root as the page lists it.</summary>
public sealed record FileEntry(string Name, string Path, string Kind);
/// <summary>One image series of a DICOM folder of the data root, as the page's series chooser lists it.</summary>
public sealed record SeriesEntry(string Id, string Modality, string Description, int Columns, int Rows, int Slices, string? Problem);

/// <summary>What the page learns about an opened volume.</summary>
/// <summary>What the page learns about an opened volume; <c>Affine</c> is the voxel → RAS mm matrix (row-major 4×4) of the
/// NIfTI it is served as, so the page maps a viewer position back to voxel (i, j, k) exactly.</summary>
public sealed record VolumeInfo(string Name, int[] Shape, double[] Spacing, bool Dicom, double[] Range, double[] Affine);

/// <summary>A pending mask on one slice: <c>Mask</c> is base64 of one byte (0/1) per pixel, row-major (rows j, columns i).</summary>
public sealed record SliceMask(int Slice, string Mask, int Voxels);

/// <summary>The answer to a prompt: the masks, whether the embedding had to be computed, and the server time.</summary>
public sealed record PromptResult(IReadOnlyList<SliceMask> Slices, int Embedded, double ServerMs);

/// <summary>
/// The viewer's behaviour behind the HTTP API (docs/serve.md): models (loaded once; their calls serialised by a
/// <see cref="ModelGate"/>), sessions, files of the data root, prompts, edits, automatic prediction and saving. Endpoints
/// (<see cref="Api.ViewerApi"/>) only translate HTTP to these calls.
/// </summary>
public sealed class ViewerService : IDisposable
{
    private static readonly string[] OpenableExtensions = [".nii", ".nii.gz", ".png", ".jpg", ".jpeg", ".dcm"];

    public ViewerService(ServeSettings settings, IInteractiveSegmenter? interactive, IReadOnlyList<AutomaticModel> automatic)
    {
        Settings = settings;
        Interactive = interactive;
        InteractiveGate = new ModelGate(interactive?.Name ?? "none");
        Automatic = automatic;
        Root = settings.DataRoot is null ? null : new ConfinedPath(settings.DataRoot);
        TempRoot = Path.Combine(Path.GetTempPath(), "samadapt-serve-" + Environment.ProcessId);
        RemoveStaleTempRoots();
        Directory.CreateDirectory(TempRoot);
        Sessions = new SessionStore(settings.MaxSessions, TempRoot, Release);
    }

    public ServeSettings Settings { get; }
    public IInteractiveSegmenter? Interactive { get; }
    public ModelGate InteractiveGate { get; }
    public IReadOnlyList<AutomaticModel> Automatic { get; }
    public ConfinedPath? Root { get; }
    public SessionStore Sessions { get; }
    public string TempRoot { get; }

    /// <summary>Upload folders of servers that were killed (their process no longer runs) are removed.</summary>
    private static void RemoveStaleTempRoots()
    {
        foreach (var d in Directory.EnumerateDirectories(Path.GetTempPath(), "samadapt-serve-*"))
        {
            if (!int.TryParse(Path.GetFileName(d)["samadapt-serve-".Length..], out var pid) || pid == Environment.ProcessId) continue;
            bool alive;
            try { using var p = System.Diagnostics.Process.GetProcessById(pid); alive = !p.HasExited; }
            catch (ArgumentException) { alive = false; }
            if (alive) continue;
            try { Directory.Delete(d, true); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
    }

    private void Release(Session s)
    {
        _ = InteractiveGate.RunAsync(() => { s.DropEmbeddings(); return 0; });
        s.Dispose();
    }

    // ------------------------------------------------------------------ files and opening

    public IReadOnlyList<FileEntry> ListFiles(string? dir)
    {
        var root = Root ?? throw new ApiError(404, "the server was started without --data-root: upload a volume instead");
        var full = root.Resolve(dir);
        if (!Directory.Exists(full)) throw new ApiError(404, $"'{dir}' is not a folder of the data root");
        var result = new List<FileEntry>();
        foreach (var e in new DirectoryInfo(full).EnumerateFileSystemInfos().OrderBy(e => e.Name, StringComparer.Ordinal))
        {
            if (e.Name.StartsWith('.')) continue;
            string real;
            try { real = root.Resolve(root.Relative(e.FullName)); }
            catch (PathOutsideRootException) { continue; } // a link leading outside is not shown
            if (Directory.Exists(real)) result.Add(new FileEntry(e.Name, root.Relative(e.FullName), "dir"));
            else if (OpenableExtensions.Any(x => e.Name.EndsWith(x, StringComparison.OrdinalIgnoreCase)))
                result.Add(new FileEntry(e.Name, root.Relative(e.FullName), "file"));
        }
        return result;
    }

    /// <summary>The image series of a DICOM folder of the data root (the page lists them to choose from); empty for a folder
    /// without DICOM files.</summary>
    public IReadOnlyList<SeriesEntry> ListSeries(string? path)
    {
        var root = Root ?? throw new ApiError(404, "the server was started without --data-root: upload a volume instead");
        var full = root.Resolve(path);
        if (!Directory.Exists(full)) throw new ApiError(404, $"'{path}' is not a folder of the data root");
        static bool IsDicomFile(string f) =>
            f.EndsWith(".dcm", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".dicom", StringComparison.OrdinalIgnoreCase) || DicomFormat.HasDicmPreamble(f);
        if (!Directory.EnumerateFiles(full).Any(IsDicomFile)) return []; // an ordinary folder: nothing to choose
        try
        {
            return DicomSeriesReader.ListSeries(full)
                .Select(s => new SeriesEntry(s.Id, s.Modality, s.Description, s.Columns, s.Rows, s.SliceCount, s.Problem)).ToList();
        }
        catch (Exception e) when (e is IOException or InvalidDataException)
        {
            throw new ApiError(422, $"{path}: {Strip(e.Message, full)}");
        }
    }

    /// <summary>Opens a file or DICOM folder of the data root in <paramref name="session"/>.</summary>
    public VolumeInfo OpenFromRoot(Session session, string path, string? series)
    {
        var root = Root ?? throw new ApiError(404, "the server was started without --data-root: upload a volume instead");
        var full = root.Resolve(path);
        if (!File.Exists(full) && !Directory.Exists(full)) throw new ApiError(404, $"'{path}' does not exist in the data root");
        return Open(session, full, Path.GetFileName(full), series);
    }

    /// <summary>Opens an uploaded set of files: one NIfTI/PNG/JPEG file, or the files of one DICOM series.</summary>
    public async Task<VolumeInfo> UploadAsync(Session session, IReadOnlyList<(string Name, Stream Content)> files)
    {
        if (files.Count == 0) throw new ApiError(400, "upload: no file in the request");
        var dir = Path.Combine(session.UploadDir, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        var saved = new List<string>();
        foreach (var (name, content) in files)
        {
            var safe = SafeFileName(name);
            var target = Path.Combine(dir, safe);
            if (saved.Contains(target)) throw new ApiError(400, $"upload: two files named '{safe}'");
            await using (var f = File.Create(target)) await content.CopyToAsync(f).ConfigureAwait(false);
            saved.Add(target);
        }
        bool dicom = saved.All(p => p.EndsWith(".dcm", StringComparison.OrdinalIgnoreCase) || DicomFormat.HasDicmPreamble(p));
        if (saved.Count > 1 && !dicom) throw new ApiError(400, "upload: several files are accepted only as the slices of one DICOM series (.dcm)");
        foreach (var p in saved)
        {
            if (dicom ? !DicomFormat.HasDicmPreamble(p) : !LooksLikeImage(p))
                throw new ApiError(415, $"upload: {Path.GetFileName(p)} is not a NIfTI, PNG, JPEG or DICOM file (accepted: {string.Join(", ", OpenableExtensions)})");
        }
        return Open(session, dicom ? dir : saved[0], dicom ? Path.GetFileName(files[0].Name) + (saved.Count > 1 ? $" (+{saved.Count - 1})" : "") : Path.GetFileName(saved[0]), null);
    }

    private VolumeInfo Open(Session session, string fullPath, string name, string? series)
    {
        bool dicom = InputVolume.IsDicom(fullPath);
        Volume image;
        try { image = InputVolume.Read(fullPath, dicom ? series : null); }
        catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or NotSupportedException or FormatException or SamAdapt.Common.ResourceLimitException)
        {
            throw new ApiError(422, $"{name}: {Strip(e.Message, fullPath)}");
        }
        var volume = new OpenVolume(image, name, dicom ? fullPath : null, series);
        session.Open(volume);
        _ = InteractiveGate.RunAsync(() => { session.DropEmbeddings(); return 0; });
        return Info(volume);
    }

    public static VolumeInfo Info(OpenVolume v) =>
        new(v.Name, v.Shape, v.Image.Spacing, v.DicomFolder is not null, [v.Low, v.High], v.Image.Affine);

    /// <summary>Messages name files by the page's names, not the server's folders.</summary>
    private string Strip(string message, string fullPath)
    {
        var m = message.Replace(TempRoot, "upload");
        if (Root is not null) m = m.Replace(Root.Root + "/", "").Replace(Root.Root, "data root");
        return m;
    }

    private static string SafeFileName(string name)
    {
        var n = Path.GetFileName(name.Replace('\\', '/'));
        n = new string(n.Select(c => char.IsLetterOrDigit(c) || c is '.' or '-' or '_' ? c : '_').ToArray()).TrimStart('.');
        return n.Length == 0 ? "upload" : n;
    }

    private static bool LooksLikeImage(string path)
    {
        Span<byte> b = stackalloc byte[348];
        int n;
        using (var f = File.OpenRead(path)) n = f.ReadAtLeast(b, b.Length, throwOnEndOfStream: false);
        var head = b[..n];
        if (head.StartsWith((ReadOnlySpan<byte>)[0x1f, 0x8b])) return NiftiReader.IsNiftiPath(path); // gzip: only as .nii.gz
        if (head.StartsWith((ReadOnlySpan<byte>)[0x89, (byte)'P', (byte)'N', (byte)'G'])) return true;
        if (head.StartsWith((ReadOnlySpan<byte>)[0xff, 0xd8, 0xff])) return true;
        return n >= 348 && (head[344..347].SequenceEqual("n+1"u8) || head[344..347].SequenceEqual("ni1"u8)) && NiftiReader.IsNiftiPath(path);
    }

    // ------------------------------------------------------------------ NIfTI out

    /// <summary>The open image as NIfTI (.nii.gz) bytes, for the viewer.</summary>
    public byte[] ImageNifti(Session session)
    {
        var (v, _, _) = session.Require();
        return NiftiBytes(session, v.Image);
    }

    /// <summary>The edited labels as NIfTI (.nii.gz) bytes on the input's exact grid; <paramref name="pending"/> draws the pending mask as 1 instead.</summary>
    public byte[] LabelsNifti(Session session, bool pending = false)
    {
        var (v, edits, _) = session.Require();
        byte[] data;
        lock (session.Sync)
        {
            if (!pending) data = (byte[])edits.Labels.Clone();
            else
            {
                data = new byte[edits.Labels.Length];
                foreach (var (k, mask) in session.Pending)
                    for (int p = 0; p < mask.Length; p++) if (mask[p]) data[(long)k * v.PlaneSize + p] = 1;
            }
        }
        return NiftiBytes(session, LabelVolume(v, data));
    }

    /// <summary>The edited labels as raw bytes (one per voxel, i fastest): what the page copies into its overlay after undo or
    /// automatic prediction.</summary>
    public byte[] LabelsRaw(Session session)
    {
        var (_, edits, _) = session.Require();
        lock (session.Sync) return (byte[])edits.Labels.Clone();
    }

    private static Volume LabelVolume(OpenVolume v, byte[] data)
    {
        var labels = v.Image.With([.. v.Image.Shape.Take(3)], VoxelType.UInt8, data, (double[])v.Image.Affine.Clone(), keepScaling: false);
        labels.IntentCode = Volume.IntentLabel;
        labels.Description = "samadapt serve labels";
        return labels;
    }

    private static byte[] NiftiBytes(Session session, Volume v)
    {
        Directory.CreateDirectory(session.UploadDir);
        var tmp = Path.Combine(session.UploadDir, $"out-{Guid.NewGuid():N}.nii.gz");
        try
        {
            NiftiWriter.Write(v, tmp);
            return File.ReadAllBytes(tmp);
        }
        finally { File.Delete(tmp); }
    }

    // ------------------------------------------------------------------ prompts and edits

    /// <summary>Computes (or finds) the embedding of slice <paramref name="k"/>; returns whether it was computed now and the time.</summary>
    public async Task<(bool Computed, double Ms)> EmbedAsync(Session session, int k, CancellationToken cancel)
    {
        var model = Interactive ?? throw new ApiError(404, "no interactive model: start the server with --checkpoint SAM.pth");
        var (v, _, gen) = session.Require();
        CheckSlice(v, k);
        var sw = Stopwatch.StartNew();
        bool computed = await InteractiveGate.RunAsync(() =>
        {
            if (session.CachedEmbedding(k, gen) is not null) return false;
            session.CacheEmbedding(k, model.Embed(v.GreySlice(k), v.Shape[1], v.Shape[0]), gen);
            return true;
        }, cancel).ConfigureAwait(false);
        return (computed, sw.Elapsed.TotalMilliseconds);
    }

    /// <summary>Segments slice <paramref name="k"/> (or every slice of <paramref name="boxSlices"/> for a 3-D box) and makes the
    /// result the pending mask of those slices.</summary>
    public async Task<PromptResult> PromptAsync(Session session, int k, SlicePrompt prompt, (int From, int To)? boxSlices, CancellationToken cancel)
    {
        var model = Interactive ?? throw new ApiError(404, "no interactive model: start the server with --checkpoint SAM.pth");
        var (v, _, gen) = session.Require();
        CheckSlice(v, k);
        int w = v.Shape[0], h = v.Shape[1];
        foreach (var p in prompt.Points)
        {
            if (!double.IsFinite(p.X) || !double.IsFinite(p.Y) || p.X < 0 || p.Y < 0 || p.X > w || p.Y > h)
                throw new ApiError(400, $"point ({p.X}, {p.Y}) lies outside the {w}x{h} slice");
            if (p.Label is not (0 or 1)) throw new ApiError(400, $"point label {p.Label}: expected 1 (foreground) or 0 (background)");
        }
        if (prompt.Box is { } b && (b.Length != 4 || b.Any(x => !double.IsFinite(x)) || b[0] > b[2] || b[1] > b[3] || b[0] < 0 || b[1] < 0 || b[2] > w || b[3] > h))
            throw new ApiError(400, $"box [{string.Join(", ", b)}]: expected x0 ≤ x1 within 0..{w}, y0 ≤ y1 within 0..{h}");
        if (prompt.Points.Count == 0 && prompt.Box is null) throw new ApiError(400, "a prompt needs at least one point or a box");
        if (prompt.Points.Count > 64) throw new ApiError(400, $"{prompt.Points.Count} points: at most 64 per prompt");
        var slices = new List<int>();
        if (boxSlices is { } r)
        {
            if (prompt.Box is null) throw new ApiError(400, "a slice range applies to a box prompt (a 3-D box)");
            int from = Math.Min(r.From, r.To), to = Math.Max(r.From, r.To);
            CheckSlice(v, from);
            CheckSlice(v, to);
            if (to - from + 1 > 512) throw new ApiError(400, $"a 3-D box over {to - from + 1} slices: at most 512");
            for (int s = from; s <= to; s++) slices.Add(s);
        }
        else slices.Add(k);
        var sw = Stopwatch.StartNew();
        var (masks, embedded) = await InteractiveGate.RunAsync(() =>
        {
            int computed = 0;
            var result = new List<(int, bool[])>();
            foreach (var s in slices)
            {
                var e = session.CachedEmbedding(s, gen);
                bool fresh = e is null;
                e ??= model.Embed(v.GreySlice(s), h, w);
                try
                {
                    // a 3-D box carries only the box to the other slices; points belong to the slice they were put on
                    var p = s == k ? prompt : prompt with { Points = [] };
                    result.Add((s, model.Segment(e, p)));
                }
                finally
                {
                    if (fresh)
                    {
                        session.CacheEmbedding(s, e, gen); // disposed instead when the volume changed meanwhile
                        computed++;
                    }
                }
            }
            return (result, computed);
        }, cancel).ConfigureAwait(false);
        var ms = sw.Elapsed.TotalMilliseconds;
        var outSlices = new List<SliceMask>();
        lock (session.Sync)
        {
            if (session.Generation != gen) throw new ApiError(409, "the volume changed while the prompt ran");
            session.Pending.Clear();
            foreach (var (s, m) in masks)
            {
                session.Pending[s] = m;
                outSlices.Add(new SliceMask(s, Convert.ToBase64String(m.Select(x => x ? (byte)1 : (byte)0).ToArray()), m.Count(x => x)));
            }
        }
        return new PromptResult(outSlices, embedded, ms);
    }

    private static void CheckSlice(OpenVolume v, int k)
    {
        if (k < 0 || k >= v.SliceCount) throw new ApiError(400, $"slice {k}: expected 0..{v.SliceCount - 1}");
    }

    /// <summary>Writes the pending mask into the labels with <paramref name="value"/> (0 erases); one undo step. Returns voxels changed.</summary>
    public int ApplyPending(Session session, int value)
    {
        if (value is < 0 or > 255) throw new ApiError(400, $"label {value}: expected 0..255");
        var (v, edits, _) = session.Require();
        lock (session.Sync)
        {
            if (session.Pending.Count == 0) throw new ApiError(409, "nothing to accept: click or draw a box first");
            var voxels = session.Pending.SelectMany(kv => Enumerable.Range(0, kv.Value.Length).Where(p => kv.Value[p]).Select(p => (long)kv.Key * v.PlaneSize + p)).ToList();
            session.Pending.Clear();
            return edits.Apply(voxels, (byte)value);
        }
    }

    public bool Undo(Session session)
    {
        var (_, edits, _) = session.Require();
        lock (session.Sync) return edits.Undo();
    }

    public void ClearPending(Session session)
    {
        lock (session.Sync) session.Pending.Clear();
    }

    // ------------------------------------------------------------------ automatic prediction

    public AutomaticModel FindAutomatic(string? name)
    {
        if (Automatic.Count == 0) throw new ApiError(404, "no automatic model: start the server with --run RUN_DIR");
        if (name is null) return Automatic[0];
        return Automatic.FirstOrDefault(m => m.Name == name)
            ?? throw new ApiError(404, $"model '{name}' is not loaded (loaded: {string.Join(", ", Automatic.Select(m => m.Name))})");
    }

    /// <summary>Starts the automatic prediction of the open volume (progress in <see cref="Session.Auto"/>); returns at once.</summary>
    public Task StartAuto(Session session, string? modelName)
    {
        var model = FindAutomatic(modelName);
        var (v, edits, gen) = session.Require();
        lock (session.Sync)
        {
            if (session.Auto.State is "queued" or "running") throw new ApiError(409, "an automatic prediction is already running in this session");
            session.Auto = new AutoJobState("queued", 0, v.SliceCount, model.Name, null);
        }
        return Task.Run(async () =>
        {
            try
            {
                var labels = await model.Gate.RunAsync(() =>
                {
                    lock (session.Sync) session.Auto = session.Auto with { State = "running" };
                    return model.Predict(v.Image, new SyncProgress(p => { lock (session.Sync) if (session.Generation == gen) session.Auto = new AutoJobState("running", p.Done, p.Total, model.Name, null); }));
                }).ConfigureAwait(false);
                lock (session.Sync)
                {
                    if (session.Generation != gen) return;
                    session.Pending.Clear();
                    edits.ReplaceAll(labels);
                    session.Auto = new AutoJobState("done", session.Auto.Total, session.Auto.Total, model.Name, null);
                }
            }
            catch (Exception e)
            {
                lock (session.Sync) session.Auto = new AutoJobState("error", 0, 0, model.Name, e is ServerBusyException or ArgumentException or InvalidDataException or IOException ? e.Message : $"prediction failed ({e.GetType().Name}: {e.Message})");
            }
        });
    }

    private sealed class SyncProgress(Action<(int Done, int Total)> report) : IProgress<(int Done, int Total)>
    {
        public void Report((int Done, int Total) value) => report(value);
    }

    // ------------------------------------------------------------------ saving

    /// <summary>The labels in <paramref name="format"/> (nifti or dicom-seg): bytes and a file name.</summary>
    public (byte[] Bytes, string FileName) Export(Session session, string format)
    {
        var (v, edits, _) = session.Require();
        byte[] data;
        lock (session.Sync) data = (byte[])edits.Labels.Clone();
        var stem = Stem(v.Name);
        switch (format)
        {
            case "nifti":
                return (NiftiBytes(session, LabelVolume(v, data)), stem + "_labels.nii.gz");
            case "dicom-seg":
                if (v.DicomFolder is null) throw new ApiError(400, "DICOM SEG needs a DICOM series as input; this volume was not opened from DICOM");
                var labels = LabelVolume(v, data);
                var source = DicomSeriesReference.Read(v.DicomFolder, v.DicomSeries);
                var names = ClassNames();
                var segments = DicomSegWriter.SegmentsFor(labels, names);
                if (segments.Count == 0) throw new ApiError(409, "the label map is empty: nothing to write as DICOM SEG");
                return (DicomSegWriter.Encode(labels, source, segments, new DicomSegOptions
                {
                    Algorithm = SegmentAlgorithm.SemiAutomatic, AlgorithmName = "SamAdapt serve",
                }), stem + "_labels.seg.dcm");
            default:
                throw new ApiError(400, $"format '{format}': expected nifti or dicom-seg");
        }
    }

    /// <summary>Saves into the data root at <paramref name="path"/> (relative; .nii.gz/.nii for nifti, .dcm for dicom-seg), atomically.</summary>
    public string SaveToRoot(Session session, string path, string format)
    {
        var root = Root ?? throw new ApiError(404, "the server was started without --data-root: download the labels instead");
        var full = root.Resolve(path);
        bool nifti = format == "nifti";
        if (nifti ? !NiftiReader.IsNiftiPath(full) : !full.EndsWith(".dcm", StringComparison.OrdinalIgnoreCase))
            throw new ApiError(400, $"path '{path}': expected a {(nifti ? ".nii.gz or .nii" : ".dcm")} file name for {format}");
        if (!Directory.Exists(Path.GetDirectoryName(full))) throw new ApiError(404, $"path '{path}': its folder does not exist in the data root");
        if (Directory.Exists(full)) throw new ApiError(409, $"path '{path}' is a folder");
        var (v, _, _) = session.Require();
        if (v.DicomFolder is not null && (full == v.DicomFolder || full.StartsWith(v.DicomFolder + "/", StringComparison.Ordinal)))
            throw new ApiError(409, $"path '{path}': would write into the input series' folder");
        if (v.Image.Source is { Length: > 0 } src && Path.GetFullPath(src) == full)
            throw new ApiError(409, $"path '{path}' is the input volume; choose another name");
        if (nifti)
        {
            var (v2, edits, _) = session.Require();
            byte[] data;
            lock (session.Sync) data = (byte[])edits.Labels.Clone();
            NiftiWriter.Write(LabelVolume(v2, data), full); // atomic (AtomicFile)
        }
        else
        {
            var (bytes, _) = Export(session, format);
            SamAdapt.Common.AtomicFile.Write(full, s => s.Write(bytes));
        }
        return root.Relative(full);
    }

    /// <summary>Label value → name over the loaded automatic models (the first model naming a value wins).</summary>
    public Dictionary<int, string> ClassNames()
    {
        var d = new Dictionary<int, string>();
        foreach (var m in Automatic)
            foreach (var c in m.Classes) d.TryAdd(c.Value, c.Name);
        return d;
    }

    private static string Stem(string name)
    {
        var n = name;
        foreach (var ext in new[] { ".nii.gz", ".nii", ".png", ".jpg", ".jpeg", ".dcm" })
            if (n.EndsWith(ext, StringComparison.OrdinalIgnoreCase)) return SafeFileName(n[..^ext.Length]);
        return SafeFileName(n.Split(' ')[0]);
    }

    public void Dispose()
    {
        Sessions.Dispose();
        Interactive?.Dispose();
        foreach (var m in Automatic) m.Dispose();
        try { Directory.Delete(TempRoot, true); }
        catch (IOException) { }
    }
}
