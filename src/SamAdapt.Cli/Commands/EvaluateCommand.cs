using System.CommandLine;
using System.Globalization;
using SamAdapt.Evaluation;
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
        var gt = new Option<string>("--gt") { Description = "Ground-truth label map or folder (files matched to predictions by case id: the file name without .nii/.nii.gz/.png), or an image-folder dataset (images/ + masks/: per-class masks are composed)", Required = true };
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
        cmd.SetAction(pr => Run(new EvaluateSettings
        {
            Pred = pr.GetValue(pred)!, Gt = pr.GetValue(gt)!, Labels = pr.GetValue(labels), Metrics = pr.GetValue(metrics)!,
            NsdTolerance = pr.GetValue(tol), Hd95 = pr.GetValue(hd)!, Empty = pr.GetValue(empty)!, VoxelUnits = pr.GetValue(voxel),
            Names = pr.GetValue(names), IgnoreUnmatchedGt = pr.GetValue(ignoreGt), Threads = pr.GetValue(threads),
            Out = pr.GetValue(output)!, Csv = pr.GetValue(csv), Markdown = pr.GetValue(md),
        }, pr.InvocationConfiguration.Output, pr.InvocationConfiguration.Error));
        return cmd;
    }

    /// <summary>Runs <see cref="EvaluationRunner.Run"/>, then prints the per-class table and where the reports went.</summary>
    public static int Run(EvaluateSettings settings, TextWriter stdout, TextWriter stderr)
    {
        EvaluationReport report;
        try
        {
            report = SettingsErrors.Run(() => EvaluationRunner.Run(settings, stderr));
        }
        catch (GridMismatchException e)
        {
            stderr.WriteLine($"samadapt: error: {e.Message}");
            return 2;
        }
        RenderTable(report, stdout);
        stdout.WriteLine($"{report.Cases.Count} case(s); report written to {settings.Out}" +
            (settings.Csv is null ? "" : $", {settings.Csv}") + (settings.Markdown is null ? "" : $", {settings.Markdown}"));
        return 0;
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
}
