using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using SamAdapt.Imaging;
using Spectre.Console;

namespace SamAdapt.Cli.Commands;

/// <summary>What `samadapt info` reports about a volume.</summary>
public sealed record VolumeSummary(
    string File, int[] Shape, string DType, double[] Spacing, double[][] Affine, string Orientation,
    double? Min, double? Max, double[]? Labels, Volume Volume);

/// <summary>`samadapt info FILE [--json]`: shape, dtype, spacing, affine, orientation, value range, labels.</summary>
public sealed class InfoCommand : ICliCommand
{
    public int Order => 0;

    public Command Build()
    {
        var file = new Argument<string>("FILE") { Description = "Volume to describe (.nii, .nii.gz, .hdr/.img)" };
        var json = new Option<bool>("--json")
        {
            Description = "Print JSON with keys shape, dtype, spacing, affine (4×4, row-major), orientation, min, max " +
                          "(of scaled values) and labels (sorted distinct values of integer volumes with ≤ 1000 of them, else null)",
        };
        var cmd = new Command("info", "Describe a volume: shape, voxel type, spacing (mm), affine, orientation code, value range and labels");
        cmd.Arguments.Add(file);
        cmd.Options.Add(json);
        cmd.SetAction(pr =>
        {
            var path = pr.GetValue(file)!;
            var summary = Summarize(VolumeIO.Read(path), path);
            var output = pr.InvocationConfiguration.Output;
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

    private static void Number(Utf8JsonWriter w, double? x)
    {
        if (x is not { } v || !double.IsFinite(v)) { w.WriteNullValue(); return; }
        if (v == Math.Floor(v) && Math.Abs(v) < 9e15) w.WriteNumberValue((long)v);
        else w.WriteNumberValue(v);
    }

    public static void RenderTable(VolumeSummary s, TextWriter output)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors,
            Out = new AnsiConsoleOutput(output), Interactive = InteractionSupport.No,
        });
        console.Profile.Width = 120;
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
        Row("qform/sform code", $"{v.QFormCode} / {v.SFormCode}");
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
