using System.CommandLine;
using System.Globalization;
using SamAdapt.Imaging.Datasets;
using Spectre.Console;

namespace SamAdapt.Cli.Commands;

/// <summary>`samadapt dataset check DATASET_DIR`: validates an nnU-Net v2 raw or MSD dataset folder, prints a per-case
/// table and the problems, exits 1 when there are problems (2 for unusable input, like every verb).</summary>
public sealed class DatasetCommand : ICliCommand
{
    public int Order => 30;

    public Command Build()
    {
        var dataset = new Command("dataset", "Inspect segmentation datasets (nnU-Net v2 raw, Medical Segmentation Decathlon, or a folder of 2-D images with masks)");
        var check = new Command("check",
            "Validate a dataset folder: missing files, image/label geometry, channel counts, label values, numTraining. " +
            "Prints one row per case; exits 2 (bad input, docs/reliability.md) when problems are found.");
        var dir = new Argument<string>("DATASET_DIR") { Description = "Folder holding dataset.json, imagesTr/, labelsTr/ (and imagesTs/), or images/ and masks/ (2-D images; optional classes.json)" };
        check.Arguments.Add(dir);
        check.SetAction((ParseResult pr) => Check(pr.GetValue(dir)!, pr.InvocationConfiguration.Output));
        dataset.Subcommands.Add(check);
        return dataset;
    }

    private static int Check(string root, TextWriter output)
    {
        var check = DatasetCheck.Run(root);
        var (ds, report) = (check.Dataset, check.Report);
        var console = InfoCommand.PlainConsole(output);
        console.Profile.Width = 160;

        // plain lines (not Spectre) so long messages are not re-wrapped at the console width
        output.WriteLine(
            $"{ds.Name}  format {ds.Format}  channels: {string.Join(", ", ds.ChannelNames)}  " +
            $"labels: {Abbreviate(ds.Labels.Select(l => $"{l.Name}={string.Join("+", l.Values)}").ToList(), ", ")}  files: {ds.FileEnding}");

        var table = new Table().Border(TableBorder.Simple);
        table.AddColumn("case");
        table.AddColumn("split");
        table.AddColumn("shape");
        table.AddColumn("spacing (mm)");
        table.AddColumn("labels present");
        table.AddColumn("status");
        foreach (var c in report.Cases)
        {
            table.AddRow(
                Markup.Escape(c.CaseId),
                c.IsTest ? "test" : "train",
                c.Shape is null ? "-" : string.Join("×", c.Shape),
                c.Spacing is null ? "-" : string.Join(" × ", c.Spacing.Select(s => s.ToString("0.###", CultureInfo.InvariantCulture))),
                c.LabelsPresent is null ? "-" : Abbreviate(c.LabelsPresent.Select(x => x.ToString(CultureInfo.InvariantCulture)).ToList(), ","),
                c.Ok ? "[green]ok[/]" : $"[red]{Markup.Escape(c.Status)}[/]");
        }
        console.Write(table);

        var problems = check.Problems;
        int train = ds.TrainingCases.Count, test = ds.TestCases.Count;
        if (problems.Count == 0)
        {
            output.WriteLine($"OK: {train} training and {test} test case(s), no problems.");
            return 0;
        }
        output.WriteLine($"{problems.Count} problem(s) in {train} training and {test} test case(s):");
        foreach (var p in problems) output.WriteLine("  " + p);
        throw new CliException(check.Failure(root)!);
    }

    /// <summary>All items when there are at most 16, else the first 8, "…", the last 3 and the count.</summary>
    private static string Abbreviate(IReadOnlyList<string> items, string sep) =>
        items.Count <= 16 ? string.Join(sep, items)
            : string.Join(sep, items.Take(8)) + sep + "…" + sep + string.Join(sep, items.TakeLast(3)) + $" ({items.Count})";
}
