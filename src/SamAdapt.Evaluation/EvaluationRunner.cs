using System.Globalization;
using SamAdapt.Common;
using SamAdapt.Imaging;
using SamAdapt.Imaging.Datasets;

namespace SamAdapt.Evaluation;

/// <summary>
/// One evaluation run from <see cref="EvaluateSettings"/>: checks the inputs and outputs, pairs predictions with
/// ground truth, collects the labels, runs <see cref="SegmentationEvaluator"/> and writes the JSON / CSV / Markdown
/// reports as a set (all appear or none). Bad settings throw <see cref="ArgumentException"/>, missing inputs
/// <see cref="FileNotFoundException"/>, grids that differ <see cref="GridMismatchException"/>.
/// </summary>
public static class EvaluationRunner
{
    /// <summary>Runs the evaluation and writes the reports; progress lines go to <paramref name="log"/>.</summary>
    public static EvaluationReport Run(EvaluateSettings s, TextWriter log)
    {
        bool predDir = Directory.Exists(s.Pred), gtDir = Directory.Exists(s.Gt);
        if (!predDir && !File.Exists(s.Pred)) throw new SettingsException($"--pred: no such file or folder: {s.Pred}");
        if (!gtDir && !File.Exists(s.Gt)) throw new SettingsException($"--gt: no such file or folder: {s.Gt}");
        if (predDir != gtDir)
            throw new SettingsException($"--pred and --gt must both be files or both be folders ({s.Pred} is a {(predDir ? "folder" : "file")}, {s.Gt} a {(gtDir ? "folder" : "file")})");
        if (s.Threads < 1) throw new SettingsException($"--threads must be at least 1, got {s.Threads}");
        foreach (var (path, opt) in new[] { (s.Out, "--out"), (s.Csv, "--csv"), (s.Markdown, "--markdown") })
            if (path is not null && Path.GetDirectoryName(Path.GetFullPath(path)) is { } dir && !Directory.Exists(dir))
                throw new SettingsException($"{opt}: output folder does not exist: {dir}");

        OutputGuard.Check([("--out", s.Out), ("--csv", s.Csv), ("--markdown", s.Markdown)],
            [("--pred", s.Pred), ("--gt", s.Gt), ("--names", s.Names)]);
        // --gt may be an image-folder dataset (images/ + masks/): its label maps are read as training reads them, per-class
        // binary masks composed into one label map
        var gtDataset = predDir && gtDir && ImageFolderDataset.Detect(s.Gt) ? ImageFolderDataset.Load(s.Gt) : null;
        var gtCases = gtDataset is null ? null : LabelledCases(gtDataset, s.Gt);
        IReadOnlyList<CasePair> pairs = gtCases is not null
            ? CaseMatcher.Match(s.Pred, gtCases.Values.ToDictionary(c => c.Id, c => c.LabelPath!), s.Gt, null, s.IgnoreUnmatchedGt)
            : predDir
            ? CaseMatcher.Match(s.Pred, s.Gt, null, s.IgnoreUnmatchedGt)
            : [new CasePair(CaseMatcher.CaseIdOf(Path.GetFileName(s.Gt)) ?? Path.GetFileName(s.Gt), s.Pred, s.Gt)];
        Func<string, Volume> load = gtCases is null ? VolumeIO.Read
            : path => gtCases.TryGetValue(path, out var c) ? DatasetLabelReader.Read(c) : VolumeIO.Read(path);

        var labelList = s.Labels is not null ? ParseLabels(s.Labels) : LabelsInGroundTruth(pairs, load, log, predDir);
        var options = new EvaluationOptions
        {
            Labels = labelList,
            LabelNames = s.Names is not null ? LoadNames(s.Names) : gtDataset is not null ? NamesOf(gtDataset) : null,
            Metrics = EvaluationOptions.ParseMetrics(s.Metrics),
            NsdTolerance = s.NsdTolerance,
            HausdorffMode = EvaluationOptions.ParseHausdorffMode(s.Hd95),
            EmptyPolicy = EvaluationOptions.ParseEmptyPolicy(s.Empty),
            UseVoxelUnits = s.VoxelUnits,
            MaxDegreeOfParallelism = s.Threads,
            // one case with many labels can take minutes: show the labels done (folder mode shows the cases done)
            LabelProgress = predDir ? null : (done, total) =>
            {
                if (total >= 10 && (done % Math.Max(1, total / 10) == 0 || done == total))
                    lock (log) log.Write(done == total ? $"\r{done}/{total} labels\n" : $"\r{done}/{total} labels");
            },
        };
        var evaluator = new SegmentationEvaluator(options);

        int done = 0;
        var progress = predDir ? new SyncProgress<CaseResult>(r =>
        {
            int k = Interlocked.Increment(ref done);
            lock (log) log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[{k}/{pairs.Count}] {r.CaseId}"));
        }) : null;
        var report = evaluator.EvaluateFiles(pairs, load, progress);
        WriteReports(report, s.Out, s.Csv, s.Markdown);
        return report;
    }

    /// <summary>Writes the JSON report and, when given, the CSV and Markdown ones as a set: they appear together or not at all.</summary>
    public static void WriteReports(EvaluationReport report, string json, string? csv = null, string? markdown = null)
    {
        using var outputs = AtomicFile.BeginSet();
        ReportWriter.WriteJson(report, json);
        if (csv is not null) ReportWriter.WriteCsv(report, csv);
        if (markdown is not null) ReportWriter.WriteMarkdown(report, markdown);
        outputs.Commit();
    }

    /// <summary>The labelled cases of an image-folder dataset, by the path that stands for each case's label map (its label
    /// image, or its first per-class mask).</summary>
    private static Dictionary<string, DatasetCase> LabelledCases(SegmentationDataset ds, string root)
    {
        var cases = ds.TrainingCases.Concat(ds.TestCases).Where(c => c.LabelPath is not null).ToList();
        if (cases.Count == 0) throw new SettingsException($"--gt: the image-folder dataset {root} has no image with a mask");
        return cases.ToDictionary(c => c.LabelPath!, c => c, StringComparer.Ordinal);
    }

    /// <summary>"1,2,3" → [1, 2, 3]; anything but non-negative integers is an error naming --labels.</summary>
    public static List<int> ParseLabels(string text)
    {
        var r = new List<int>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            r.Add(int.TryParse(part, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= 0
                ? v : throw new SettingsException($"--labels: '{part}' is not a label number (expected e.g. 1,2,3)"));
        if (r.Count == 0) throw new SettingsException("--labels: no label given");
        return r;
    }

    /// <summary>Every non-zero value found in the ground-truth files (read once more; fine for label maps).</summary>
    private static List<int> LabelsInGroundTruth(IReadOnlyList<CasePair> pairs, Func<string, Volume> load, TextWriter log, bool verbose)
    {
        if (verbose) log.WriteLine($"collecting the labels of {pairs.Count} ground-truth file(s) (give --labels to skip this)");
        var set = new SortedSet<int>();
        var gate = new Lock();
        Parallel.ForEach(pairs, new ParallelOptions { MaxDegreeOfParallelism = 2 }, p =>
        {
            var m = LabelMap.FromVolume(load(p.GroundTruthPath));
            var local = new HashSet<int>();
            foreach (var v in m.Data) if (v != 0) local.Add(v);
            lock (gate) set.UnionWith(local);
        });
        if (set.Count == 0) throw new SettingsException("the ground truth holds no foreground label; give --labels explicitly");
        return [.. set];
    }

    /// <summary>Label names from a dataset.json (or its folder): label value → name, regions skipped.</summary>
    public static Dictionary<int, string> LoadNames(string path)
    {
        var root = Directory.Exists(path) ? path
            : Path.GetFileName(path).Equals(SegmentationDataset.DatasetJson, StringComparison.OrdinalIgnoreCase) ? Path.GetDirectoryName(Path.GetFullPath(path))!
            : throw new SettingsException($"--names: expected a dataset.json or its folder, got {path}");
        return NamesOf(SegmentationDataset.Load(root));
    }

    private static Dictionary<int, string> NamesOf(SegmentationDataset ds)
    {
        var d = new Dictionary<int, string>();
        foreach (var l in ds.Labels.Where(l => !l.IsRegion)) d[l.Values[0]] = l.Name;
        return d;
    }

    /// <summary>An IProgress that calls back synchronously on the reporting thread (Progress&lt;T&gt; posts to the thread pool).</summary>
    private sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
