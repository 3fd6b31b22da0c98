using System.CommandLine;
using System.Globalization;
using SamAdapt.Evaluation;
using SamAdapt.Imaging;
using SamAdapt.Imaging.Datasets;
using Spectre.Console;

namespace SamAdapt.Cli.Commands;

/// <summary>
/// `samadapt evaluate --pred FILE|DIR --gt FILE|DIR --out REPORT.json [...]`: Dice, HD95 and NSD per case and label
/// (SamAdapt.Evaluation), a per-class table on stdout, and the JSON / CSV / Markdown reports written atomically.
/// </summary>
public sealed class EvaluateCommand : ICliCommand
{
    public int Order => 70;

    public Command Build()
    {
        var pred = new Option<string>("--pred") { Description = "Predicted label map (NIfTI) or a folder of them", Required = true };
        var gt = new Option<string>("--gt") { Description = "Ground-truth label map or folder; files are matched to predictions by case id (file name without .nii/.nii.gz)", Required = true };
        var labels = new Option<string?>("--labels") { Description = "Labels to evaluate, e.g. 1,2,3 (default: every non-zero label found in the ground truth)" };
        var metrics = new Option<string>("--metrics") { Description = "Metrics: dice, hd95, nsd (comma-separated)", DefaultValueFactory = _ => "dice,hd95,nsd" };
        var tol = new Option<double>("--nsd-tolerance") { Description = "NSD tolerance in mm", DefaultValueFactory = _ => 2.0 };
        var hd = new Option<string>("--hd95") { Description = "HD95 definition: monai (max of the two directed 95th percentiles) or pooled (medpy/TransUNet: one percentile over both directions)", DefaultValueFactory = _ => "monai" };
        var empty = new Option<string>("--empty") { Description = "Empty-mask policy: monai (GT empty → Dice NaN; one empty → HD95 inf) or transunet (pred>0 & GT empty → 1/0; pred empty → 0/0)", DefaultValueFactory = _ => "monai" };
        var voxel = new Option<bool>("--voxel-units") { Description = "Measure distances in voxels instead of mm (TransUNet's published HD95)" };
        var names = new Option<string?>("--names") { Description = "dataset.json (or its folder) whose label names label the table and reports" };
        var ignoreGt = new Option<bool>("--ignore-unmatched-gt") { Description = "Folder mode: allow ground-truth files without a prediction (skipped)" };
        var threads = new Option<int>("--threads") { Description = "Cases evaluated in parallel", DefaultValueFactory = _ => Math.Clamp(Environment.ProcessorCount, 1, 4) };
        var output = new Option<string>("--out") { Description = "JSON report to write", Required = true };
        var csv = new Option<string?>("--csv") { Description = "Also write a CSV (one row per case × label)" };
        var md = new Option<string?>("--markdown") { Description = "Also write a Markdown table (paper style)" };
        var cmd = new Command("evaluate",
            "Score predicted label maps against ground truth: Dice, HD95 and NSD per case and label (definitions in the README), " +
            "with means per label and over the foreground labels. Prediction and ground truth must share the grid.");
        foreach (var o in new Option[] { pred, gt, labels, metrics, tol, hd, empty, voxel, names, ignoreGt, threads, output, csv, md }) cmd.Options.Add(o);
        cmd.SetAction(pr =>
        {
            var a = new Args(pr.GetValue(pred)!, pr.GetValue(gt)!, pr.GetValue(labels), pr.GetValue(metrics)!, pr.GetValue(tol),
                pr.GetValue(hd)!, pr.GetValue(empty)!, pr.GetValue(voxel), pr.GetValue(names), pr.GetValue(ignoreGt), pr.GetValue(threads),
                pr.GetValue(output)!, pr.GetValue(csv), pr.GetValue(md));
            return Run(a, pr.InvocationConfiguration.Output, pr.InvocationConfiguration.Error);
        });
        return cmd;
    }

    public sealed record Args(string Pred, string Gt, string? Labels, string Metrics, double NsdTolerance, string Hd95, string Empty,
        bool VoxelUnits, string? Names, bool IgnoreUnmatchedGt, int Threads, string Out, string? Csv, string? Markdown);

    public static int Run(Args a, TextWriter stdout, TextWriter stderr)
    {
        bool predDir = Directory.Exists(a.Pred), gtDir = Directory.Exists(a.Gt);
        if (!predDir && !File.Exists(a.Pred)) throw new CliException($"--pred: no such file or folder: {a.Pred}");
        if (!gtDir && !File.Exists(a.Gt)) throw new CliException($"--gt: no such file or folder: {a.Gt}");
        if (predDir != gtDir)
            throw new CliException($"--pred and --gt must both be files or both be folders ({a.Pred} is a {(predDir ? "folder" : "file")}, {a.Gt} a {(gtDir ? "folder" : "file")})");
        if (a.Threads < 1) throw new CliException($"--threads must be at least 1, got {a.Threads}");
        foreach (var (path, opt) in new[] { (a.Out, "--out"), (a.Csv, "--csv"), (a.Markdown, "--markdown") })
            if (path is not null && Path.GetDirectoryName(Path.GetFullPath(path)) is { } dir && !Directory.Exists(dir))
                throw new CliException($"{opt}: output folder does not exist: {dir}");

        SamAdapt.Common.OutputGuard.Check([("--out", a.Out), ("--csv", a.Csv), ("--markdown", a.Markdown)],
            [("--pred", a.Pred), ("--gt", a.Gt), ("--names", a.Names)]);
        IReadOnlyList<CasePair> pairs = predDir
            ? CaseMatcher.Match(a.Pred, a.Gt, null, a.IgnoreUnmatchedGt)
            : [new CasePair(CaseMatcher.CaseIdOf(Path.GetFileName(a.Gt)) ?? Path.GetFileName(a.Gt), a.Pred, a.Gt)];

        var labelList = a.Labels is not null ? ParseLabels(a.Labels) : LabelsInGroundTruth(pairs, stderr, predDir);
        var options = new EvaluationOptions
        {
            Labels = labelList,
            LabelNames = a.Names is null ? null : LoadNames(a.Names),
            Metrics = EvaluationOptions.ParseMetrics(a.Metrics),
            NsdTolerance = a.NsdTolerance,
            HausdorffMode = EvaluationOptions.ParseHausdorffMode(a.Hd95),
            EmptyPolicy = EvaluationOptions.ParseEmptyPolicy(a.Empty),
            UseVoxelUnits = a.VoxelUnits,
            MaxDegreeOfParallelism = a.Threads,
            // one case with many labels can take minutes: show the labels done (folder mode shows the cases done)
            LabelProgress = predDir ? null : (done, total) =>
            {
                if (total >= 10 && (done % Math.Max(1, total / 10) == 0 || done == total))
                    lock (stderr) stderr.Write(done == total ? $"\r{done}/{total} labels\n" : $"\r{done}/{total} labels");
            },
        };
        var evaluator = new SegmentationEvaluator(options);

        EvaluationReport report;
        int done = 0;
        var progress = predDir ? new SyncProgress<CaseResult>(r =>
        {
            int k = Interlocked.Increment(ref done);
            lock (stderr) stderr.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[{k}/{pairs.Count}] {r.CaseId}"));
        }) : null;
        try
        {
            report = evaluator.EvaluateFiles(pairs, VolumeIO.Read, progress);
        }
        catch (GridMismatchException e)
        {
            stderr.WriteLine($"samadapt: error: {e.Message}");
            return 2;
        }

        using (var outputs = SamAdapt.Common.AtomicFile.BeginSet()) // the reports appear together or not at all
        {
            ReportWriter.WriteJson(report, a.Out);
            if (a.Csv is not null) ReportWriter.WriteCsv(report, a.Csv);
            if (a.Markdown is not null) ReportWriter.WriteMarkdown(report, a.Markdown);
            outputs.Commit();
        }
        RenderTable(report, stdout);
        stdout.WriteLine($"{report.Cases.Count} case(s); report written to {a.Out}" +
            (a.Csv is null ? "" : $", {a.Csv}") + (a.Markdown is null ? "" : $", {a.Markdown}"));
        return 0;
    }

    private static List<int> ParseLabels(string text)
    {
        var r = new List<int>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            r.Add(int.TryParse(part, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= 0
                ? v : throw new CliException($"--labels: '{part}' is not a label number (expected e.g. 1,2,3)"));
        if (r.Count == 0) throw new CliException("--labels: no label given");
        return r;
    }

    /// <summary>Every non-zero value found in the ground-truth files (read once more; fine for label maps).</summary>
    private static List<int> LabelsInGroundTruth(IReadOnlyList<CasePair> pairs, TextWriter stderr, bool verbose)
    {
        if (verbose) stderr.WriteLine($"collecting the labels of {pairs.Count} ground-truth file(s) (give --labels to skip this)");
        var set = new SortedSet<int>();
        var gate = new Lock();
        Parallel.ForEach(pairs, new ParallelOptions { MaxDegreeOfParallelism = 2 }, p =>
        {
            var m = LabelMap.FromVolume(VolumeIO.Read(p.GroundTruthPath));
            var local = new HashSet<int>();
            foreach (var v in m.Data) if (v != 0) local.Add(v);
            lock (gate) set.UnionWith(local);
        });
        if (set.Count == 0) throw new CliException("the ground truth holds no foreground label; give --labels explicitly");
        return [.. set];
    }

    private static Dictionary<int, string> LoadNames(string path)
    {
        var root = Directory.Exists(path) ? path
            : Path.GetFileName(path).Equals(SegmentationDataset.DatasetJson, StringComparison.OrdinalIgnoreCase) ? Path.GetDirectoryName(Path.GetFullPath(path))!
            : throw new CliException($"--names: expected a dataset.json or its folder, got {path}");
        var ds = SegmentationDataset.Load(root);
        var d = new Dictionary<int, string>();
        foreach (var l in ds.Labels.Where(l => !l.IsRegion)) d[l.Values[0]] = l.Name;
        return d;
    }

    /// <summary>The per-class table: one row per label, then the foreground mean.</summary>
    public static void RenderTable(EvaluationReport report, TextWriter output)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors,
            Out = new AnsiConsoleOutput(output), Interactive = InteractionSupport.No,
        });
        console.Profile.Width = 120;
        var o = report.Options;
        var metrics = new[] { MetricKind.Dice, MetricKind.Hd95, MetricKind.Nsd }.Where(m => (o.Metrics & m) != 0).ToList();
        var t = new Table().Border(TableBorder.Rounded).AddColumn("Label").AddColumn("Class");
        string unit = o.UseVoxelUnits ? "vox" : "mm";
        foreach (var m in metrics)
            t.AddColumn(new TableColumn(m switch
            {
                MetricKind.Dice => "Dice (%)",
                MetricKind.Hd95 => $"HD95 ({unit})",
                _ => string.Create(CultureInfo.InvariantCulture, $"NSD@{o.NsdTolerance:0.##}{unit} (%)"),
            }).RightAligned());
        foreach (var s in report.Labels)
            t.AddRow([new Text(s.Label.ToString(CultureInfo.InvariantCulture)), new Text(o.NameOf(s.Label)),
                .. metrics.Select(m => (Spectre.Console.Rendering.IRenderable)new Text(Cell(m, s.Get(m).Value)))]);
        t.AddRow([new Text(""), new Text("mean (foreground)"),
            .. metrics.Select(m => (Spectre.Console.Rendering.IRenderable)new Text(Cell(m, report.MeanForeground.Get(m).Value)))]);
        console.Write(t);
    }

    private static string Cell(MetricKind m, double v) =>
        double.IsNaN(v) ? "n/a" : double.IsPositiveInfinity(v) ? "inf"
        : (m == MetricKind.Hd95 ? v : 100 * v).ToString("0.00", CultureInfo.InvariantCulture);

    /// <summary>An IProgress that calls back synchronously on the reporting thread (Progress&lt;T&gt; posts to the thread pool).</summary>
    private sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
