using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using SamAdapt.Imaging;
using SamAdapt.Imaging.Dicom;
using Spectre.Console;

namespace SamAdapt.Cli.Commands;

/// <summary>What `samadapt info` reports about a volume.</summary>
public sealed record VolumeSummary(
    string File, int[] Shape, string DType, double[] Spacing, double[][] Affine, string Orientation,
    double? Min, double? Max, double[]? Labels, Volume Volume);

/// <summary>`samadapt info FILE|DICOM_DIR [--json] [--series UID]`: shape, dtype, spacing, affine, orientation, value range,
/// labels. A DICOM folder holding several series is listed instead (pick one with --series).</summary>
public sealed class InfoCommand : ICliCommand
{
    public int Order => 0;

    public Command Build()
    {
        var file = new Argument<string>("FILE") { Description = "Volume to describe: " + VolumeInput.InputFormats };
        var series = VolumeInput.SeriesOption();
        var json = new Option<bool>("--json")
        {
            Description = "Print JSON with keys shape, dtype, spacing, affine (4×4, row-major), orientation, min, max " +
                          "(of scaled values) and labels (sorted distinct values of integer volumes with ≤ 1000 of them, else null)",
        };
        var cmd = new Command("info", "Describe a volume: shape, voxel type, spacing (mm), affine, orientation code, value range and labels");
        cmd.Arguments.Add(file);
        cmd.Options.Add(json);
        cmd.Options.Add(series);
        cmd.SetAction(pr =>
        {
            var path = pr.GetValue(file)!;
            var seriesId = pr.GetValue(series);
            var output = pr.InvocationConfiguration.Output;
            if (seriesId == null && Directory.Exists(path) && VolumeInput.IsDicom(path))
            {
                var list = DicomSeriesReader.ListSeries(path);
                if (list.Count > 1)
                {
                    if (pr.GetValue(json)) output.WriteLine(SeriesJson(list));
                    else RenderSeries(path, list, output);
                    return 0;
                }
            }
            var summary = Summarize(VolumeInput.Read(path, seriesId), path);
            if (pr.GetValue(json)) output.WriteLine(ToJson(summary));
            else RenderTable(summary, output);
            return 0;
        });
        return cmd;
    }

    public const int MaxLabels = 1000;

    public static VolumeSummary Summarize(Volume v, string file)
    {
        double min = double.PositiveInfinity, max = double.NegativeInfinity;
        if (v.IsRgb)
        {
            foreach (var b in (byte[])v.Data) { if (b < min) min = b; if (b > max) max = b; }
        }
        else
        {
            long n = v.VoxelCount;
            for (long i = 0; i < n; i++)
            {
                double x = v.Get(i);
                if (double.IsNaN(x)) continue;
                if (x < min) min = x;
                if (x > max) max = x;
            }
        }
        bool any = min <= max;
        double[]? labels = null;
        if (v.IsInteger)
        {
            var set = new HashSet<double>();
            long n = v.VoxelCount;
            for (long i = 0; i < n && set.Count <= MaxLabels; i++) set.Add(v.Get(i));
            if (set.Count <= MaxLabels) labels = set.Order().ToArray();
        }
        var affine = Enumerable.Range(0, 4).Select(r => v.Affine.Skip(r * 4).Take(4).ToArray()).ToArray();
        return new VolumeSummary(file, (int[])v.Shape.Clone(), Volume.TypeName(v.Type), v.Spacing, affine,
            Orientation.AxisCodes(v.Affine), any ? min : null, any ? max : null, labels, v);
    }

    public static string ToJson(VolumeSummary s)
    {
        var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteStartArray("shape"); foreach (var d in s.Shape) w.WriteNumberValue(d); w.WriteEndArray();
            w.WriteString("dtype", s.DType);
            w.WriteStartArray("spacing"); foreach (var d in s.Spacing) Number(w, d); w.WriteEndArray();
            w.WriteStartArray("affine");
            foreach (var row in s.Affine) { w.WriteStartArray(); foreach (var x in row) Number(w, x); w.WriteEndArray(); }
            w.WriteEndArray();
            w.WriteString("orientation", s.Orientation);
            w.WritePropertyName("min"); Number(w, s.Min);
            w.WritePropertyName("max"); Number(w, s.Max);
            w.WritePropertyName("labels");
            if (s.Labels == null) w.WriteNullValue();
            else { w.WriteStartArray(); foreach (var l in s.Labels) Number(w, l); w.WriteEndArray(); }
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    /// <summary>`--json` for a folder of several DICOM series: {"series": [{id, series_instance_uid, modality, description,
    /// columns, rows, files, problem}]}.</summary>
    public static string SeriesJson(IReadOnlyList<DicomSeriesInfo> list)
    {
        var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteStartArray("series");
            foreach (var s in list)
            {
                w.WriteStartObject();
                w.WriteString("id", s.Id);
                w.WriteString("series_instance_uid", s.SeriesInstanceUid);
                w.WriteString("modality", s.Modality);
                w.WriteString("description", s.Description);
                w.WriteNumber("columns", s.Columns);
                w.WriteNumber("rows", s.Rows);
                w.WriteNumber("files", s.SliceCount);
                if (s.Problem is null) w.WriteNull("problem"); else w.WriteString("problem", s.Problem);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    private static void RenderSeries(string folder, IReadOnlyList<DicomSeriesInfo> list, TextWriter output)
    {
        var console = PlainConsole(output);
        var t = new Table().Border(TableBorder.Rounded).AddColumn("series id").AddColumn("modality").AddColumn("description")
            .AddColumn("columns × rows").AddColumn("files").AddColumn("note");
        t.Title = new TableTitle(Markup.Escape($"{folder}: {list.Count} DICOM series"));
        foreach (var s in list)
            t.AddRow(new Text(s.Id), new Text(s.Modality), new Text(s.Description), new Text($"{s.Columns} × {s.Rows}"),
                new Text(s.SliceCount.ToString(CultureInfo.InvariantCulture)), new Text(s.Problem ?? ""));
        console.Write(t);
        output.WriteLine("Describe or convert one of them with --series ID.");
    }

    internal static IAnsiConsole PlainConsole(TextWriter output)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors,
            Out = new AnsiConsoleOutput(output), Interactive = InteractionSupport.No,
        });
        console.Profile.Width = 120;
        return console;
    }

    private static void Number(Utf8JsonWriter w, double? x)
    {
        if (x is not { } v || !double.IsFinite(v)) { w.WriteNullValue(); return; }
        if (v == Math.Floor(v) && Math.Abs(v) < 9e15) w.WriteNumberValue((long)v);
        else w.WriteNumberValue(v);
    }

    public static void RenderTable(VolumeSummary s, TextWriter output)
    {
        var console = PlainConsole(output);
        var v = s.Volume;
        var t = new Table().Border(TableBorder.Rounded).AddColumn("Field").AddColumn("Value");
        t.Title = new TableTitle(Markup.Escape(s.File));
        void Row(string k, string val) => t.AddRow(new Text(k), new Text(val));
        Row("shape", string.Join(" × ", s.Shape));
        Row("dtype", s.DType + (v.IsScaled ? F($" (scaled: value = raw × {v.Slope:G9} + {v.Intercept:G9})") : ""));
        Row("spacing", string.Join(" × ", s.Spacing.Select(x => F($"{x:G6}"))) + " mm" + (v.Shape.Length >= 4 && v.TimeStep > 0 ? F($", t step {v.TimeStep:G6} {v.TimeUnit}") : ""));
        Row("orientation", s.Orientation);
        Row("affine", string.Join("\n", s.Affine.Select(r => string.Join("  ", r.Select(x => F($"{x,12:F5}"))))));
        Row("range", s.Min is null ? "(all NaN)" : F($"{s.Min:G9} … {s.Max:G9}"));
        Row("labels", s.Labels == null ? (v.IsInteger ? $"more than {MaxLabels} distinct values" : "— (not integer-valued)")
            : $"{s.Labels.Length}: " + Abbreviate(s.Labels));
        if (v.QFormCode > 0 || v.SFormCode > 0) Row("qform/sform code", $"{v.QFormCode} / {v.SFormCode}");
        if (v.IntentCode != 0) Row("intent", v.IntentCode + (v.IntentCode == Volume.IntentLabel ? " (label map)" : "") + (v.IntentName != "" ? $" \"{v.IntentName}\"" : ""));
        if (v.Description != "") Row("description", v.Description);
        if (v.Extensions.Count > 0) Row("extensions", string.Join(", ", v.Extensions.Select(e => $"code {e.Code} ({e.Data.Length} bytes)")));
        foreach (var w in v.Warnings) Row("warning", w);
        console.Write(t);
    }

    private static string Abbreviate(double[] labels)
    {
        var parts = labels.Select(x => x.ToString("G9", CultureInfo.InvariantCulture)).ToArray();
        return parts.Length <= 40 ? string.Join(" ", parts) : string.Join(" ", parts.Take(20)) + " … " + string.Join(" ", parts.TakeLast(5));
    }

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
