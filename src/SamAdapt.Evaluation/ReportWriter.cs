using SamAdapt.Common;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace SamAdapt.Evaluation;

/// <summary>
/// Writes an <see cref="EvaluationReport"/> as JSON, CSV or a Markdown table. Files are written atomically (a
/// temporary file in the same folder, then a rename over the target).
/// <para>Non-finite numbers: NaN is written as the string <c>"NaN"</c> and +∞ as <c>"Infinity"</c> (−∞ as
/// <c>"-Infinity"</c>), in JSON and CSV alike. These are the names .NET's <c>JsonNumberHandling.AllowNamedFloatingPointLiterals</c>
/// reads back, and Python's <c>float()</c> parses them, while the JSON stays valid. Finite numbers use the shortest
/// round-trip form. Metrics that were not requested are omitted (JSON) or left empty (CSV).</para>
/// </summary>
public static class ReportWriter
{
    private static readonly (MetricKind Kind, string Key)[] AllMetrics =
        [(MetricKind.Dice, "dice"), (MetricKind.Hd95, "hd95"), (MetricKind.Nsd, "nsd")];

    private static IEnumerable<(MetricKind Kind, string Key)> Selected(EvaluationReport r) =>
        AllMetrics.Where(m => (r.Options.Metrics & m.Kind) != 0);

    private static string Key(int label) => label.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// <c>{"cases": {ID: {LABEL: {"dice", "hd95", "nsd"}}}, "mean": {LABEL: {…}}, "mean_foreground": {…},
    /// "counts": {LABEL: {"dice": n, "hd95": n, "nsd": n, "hd95_infinite": n}}, "settings": {…}}</c>.
    /// LABEL is the label number as a string; names are in settings.label_names.
    /// </summary>
    public static string ToJson(EvaluationReport report)
    {
        var metrics = Selected(report).ToList();
        var o = report.Options;
        Dictionary<string, double> Values(Func<MetricKind, double> get) => metrics.ToDictionary(m => m.Key, m => get(m.Kind));
        var dto = new ReportDto(
            Cases: report.Cases.ToDictionary(c => c.CaseId, c => c.Labels.ToDictionary(l => Key(l.Label), l => Values(l.Get))),
            Mean: report.Labels.ToDictionary(s => Key(s.Label), s => Values(k => s.Get(k).Value)),
            MeanForeground: Values(k => report.MeanForeground.Get(k).Value),
            Counts: report.Labels.ToDictionary(s => Key(s.Label), s =>
            {
                var d = metrics.ToDictionary(m => m.Key, m => s.Get(m.Kind).Count);
                if ((o.Metrics & MetricKind.Hd95) != 0) d["hd95_infinite"] = s.Hd95.InfiniteCount;
                return d;
            }),
            Settings: new ReportSettingsDto(
                Labels: [.. o.Labels],
                LabelNames: o.Labels.ToDictionary(Key, o.NameOf),
                Metrics: [.. metrics.Select(m => m.Key)],
                NsdTolerance: o.NsdTolerance,
                DistanceUnit: o.UseVoxelUnits ? "voxel" : "mm",
                Hd95Mode: EvaluationOptions.Text(o.HausdorffMode),
                EmptyPolicy: EvaluationOptions.Text(o.EmptyPolicy),
                PercentileMethod: "numpy-linear",
                Surface: "6-neighbourhood; outside the volume is background",
                MeanRule: "per label: mean over cases excluding NaN, +Infinity kept; mean_foreground: mean of per-label means over labels != 0, excluding NaN",
                NonFiniteEncoding: "strings \"NaN\" and \"Infinity\"",
                CaseCount: report.Cases.Count));
        return JsonSerializer.Serialize(dto, ReportJsonContext.Default.ReportDto) + "\n";
    }

    private static string NonFinite(double v) => double.IsNaN(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity";

    private static string Csv(double v) => double.IsFinite(v) ? v.ToString("R", CultureInfo.InvariantCulture) : NonFinite(v);

    /// <summary>
    /// One row per case × label: <c>case,label,name,pred_voxels,gt_voxels,dice,hd95,nsd</c> (unrequested metrics empty),
    /// RFC 4180 quoting, invariant culture.
    /// </summary>
    public static string ToCsv(EvaluationReport report)
    {
        var sb = new StringBuilder();
        var o = report.Options;
        sb.Append("case,label,name,pred_voxels,gt_voxels,dice,hd95,nsd\n");
        foreach (var c in report.Cases)
            foreach (var l in c.Labels)
            {
                sb.Append(CsvField(c.CaseId)).Append(',').Append(Key(l.Label)).Append(',').Append(CsvField(o.NameOf(l.Label))).Append(',')
                  .Append(l.PredVoxels.ToString(CultureInfo.InvariantCulture)).Append(',').Append(l.GtVoxels.ToString(CultureInfo.InvariantCulture));
                foreach (var (kind, _) in AllMetrics)
                {
                    sb.Append(',');
                    if ((o.Metrics & kind) != 0) sb.Append(Csv(l.Get(kind)));
                }
                sb.Append('\n');
            }
        return sb.ToString();
    }

    private static string CsvField(string s) =>
        s.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;

    /// <summary>
    /// A paper-style table: one row per label (name), columns Dice (%), HD95 (mm or voxels) and NSD (%) as requested,
    /// two decimals, then a bold "Mean" row over the foreground labels. Undefined means show "n/a", +∞ shows "∞".
    /// A footnote states the settings and the number of cases.
    /// </summary>
    public static string ToMarkdown(EvaluationReport report)
    {
        var o = report.Options;
        var metrics = Selected(report).ToList();
        string Header(MetricKind k) => k switch
        {
            MetricKind.Dice => "Dice (%)",
            MetricKind.Hd95 => o.UseVoxelUnits ? "HD95 (voxels)" : "HD95 (mm)",
            _ => $"NSD@{o.NsdTolerance.ToString("0.##", CultureInfo.InvariantCulture)}{(o.UseVoxelUnits ? "vox" : "mm")} (%)",
        };
        string Cell(MetricKind k, double v) =>
            double.IsNaN(v) ? "n/a" : double.IsPositiveInfinity(v) ? "∞"
            : (k == MetricKind.Hd95 ? v : 100 * v).ToString("0.00", CultureInfo.InvariantCulture);
        var sb = new StringBuilder();
        sb.Append("| Class |");
        foreach (var (k, _) in metrics) sb.Append(' ').Append(Header(k)).Append(" |");
        sb.Append('\n').Append("|---|");
        foreach (var _ in metrics) sb.Append("---:|");
        sb.Append('\n');
        foreach (var s in report.Labels)
        {
            sb.Append("| ").Append(MdEscape(o.NameOf(s.Label))).Append(" |");
            foreach (var (k, _) in metrics) sb.Append(' ').Append(Cell(k, s.Get(k).Value)).Append(" |");
            sb.Append('\n');
        }
        sb.Append("| **Mean** |");
        foreach (var (k, _) in metrics) sb.Append(" **").Append(Cell(k, report.MeanForeground.Get(k).Value)).Append("** |");
        sb.Append('\n').Append('\n');
        sb.Append(CultureInfo.InvariantCulture, $"{report.Cases.Count} case(s); HD95 mode {EvaluationOptions.Text(o.HausdorffMode)}, empty-mask policy {EvaluationOptions.Text(o.EmptyPolicy)}; mean over foreground labels.");
        var inf = report.Labels.Where(s => s.Hd95.InfiniteCount > 0).ToList();
        if ((o.Metrics & MetricKind.Hd95) != 0 && inf.Count > 0)
            sb.Append(" HD95 is ∞ where a case has exactly one empty mask (").Append(string.Join(", ", inf.Select(s => $"{MdEscape(o.NameOf(s.Label))}: {s.Hd95.InfiniteCount}"))).Append(").");
        sb.Append('\n');
        return sb.ToString();
    }

    private static string MdEscape(string s) => s.Replace("|", "\\|");

    public static void WriteJson(EvaluationReport report, string path) => WriteAtomic(path, ToJson(report));
    public static void WriteCsv(EvaluationReport report, string path) => WriteAtomic(path, ToCsv(report));
    public static void WriteMarkdown(EvaluationReport report, string path) => WriteAtomic(path, ToMarkdown(report));

    /// <summary>Writes summary.json, metrics.csv and summary.md into <paramref name="directory"/> (created if needed).</summary>
    public static void WriteAll(EvaluationReport report, string directory)
    {
        Directory.CreateDirectory(directory);
        WriteJson(report, Path.Combine(directory, "summary.json"));
        WriteCsv(report, Path.Combine(directory, "metrics.csv"));
        WriteMarkdown(report, Path.Combine(directory, "summary.md"));
    }

    /// <summary>Writes UTF-8 text (no BOM) to a temporary file beside <paramref name="path"/>, then renames it over the target.</summary>
    public static void WriteAtomic(string path, string text) =>
        AtomicFile.Write(path, fs => fs.Write(new UTF8Encoding(false).GetBytes(text)));
}
