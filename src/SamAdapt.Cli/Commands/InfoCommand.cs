using System.CommandLine;
using System.Globalization;
using SamAdapt.Imaging;
using SamAdapt.Imaging.Description;
using SamAdapt.Imaging.Dicom;
using Spectre.Console;

namespace SamAdapt.Cli.Commands;

/// <summary>`samadapt info FILE|DICOM_DIR [--json] [--series UID]` (<see cref="VolumeDescriber"/>): shape, dtype, spacing, affine, orientation, value range,
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
                    if (pr.GetValue(json)) output.WriteLine(VolumeDescriber.SeriesJson(list));
                    else RenderSeries(path, list, output);
                    return 0;
                }
            }
            var summary = VolumeDescriber.Summarize(VolumeInput.Read(path, seriesId), path);
            if (pr.GetValue(json)) output.WriteLine(VolumeDescriber.ToJson(summary));
            else RenderTable(summary, output);
            return 0;
        });
        return cmd;
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
        Row("labels", s.Labels == null ? (v.IsInteger ? $"more than {VolumeDescriber.MaxLabels} distinct values" : "— (not integer-valued)")
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
