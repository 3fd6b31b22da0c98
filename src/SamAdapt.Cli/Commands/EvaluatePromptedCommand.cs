using System.CommandLine;
using SamAdapt.Inference;
using SamAdapt.Inference.Prompted;

namespace SamAdapt.Cli.Commands;

/// <summary>
/// `samadapt evaluate-prompted --run RUN --dataset DIR [--protocol 1pt,3pt,box0.5,box0.75,iterative:N] --out report.json`: a promptable run
/// (msa) on a labelled dataset with prompts simulated from the ground truth (docs/methods/msa.md, "Prompted evaluation"). Parsing only.
/// </summary>
public sealed class EvaluatePromptedCommand : ICliCommand
{
    public int Order => 71;

    public Command Build()
    {
        var run = new Option<string>("--run") { Description = "Run folder of a promptable method (msa)", Required = true };
        var dataset = new Option<string>("--dataset") { Description = "nnU-Net/MSD dataset folder whose labelled cases are evaluated", Required = true };
        var protocol = new Option<string>("--protocol") { Description = "Prompt settings: Npt (N random positive clicks), boxIOU (a box at that IoU with the target), iterative:N", DefaultValueFactory = _ => "1pt,3pt,box0.5,box0.75,iterative:5" };
        var seed = new Option<int>("--seed") { Description = "Seed of the prompt simulation", DefaultValueFactory = _ => 1234 };
        var weights = new Option<string>("--weights") { Description = "best or last", DefaultValueFactory = _ => "best" };
        var output = new Option<string>("--out") { Description = "JSON report to write", Required = true };
        var csv = new Option<string?>("--csv") { Description = "Also write a CSV (setting, class, dice)" };
        var md = new Option<string?>("--markdown") { Description = "Also write a Markdown table (the paper's form)" };
        var device = new Option<string>("--device") { Description = "cpu or cuda", DefaultValueFactory = _ => "cpu" };
        var cmd = new Command("evaluate-prompted", "Evaluate a promptable run with simulated prompts: Dice per class per prompt setting, NoC@85/90 for iterative clicks.");
        foreach (var o in new Option[] { run, dataset, protocol, seed, weights, output, csv, md, device }) cmd.Options.Add(o);
        cmd.SetAction(pr =>
        {
            try
            {
                var report = PromptedDatasetEvaluation.Run(new EvaluatePromptedSettings
                {
                    Run = pr.GetValue(run)!, Dataset = pr.GetValue(dataset)!, Protocol = pr.GetValue(protocol)!, Seed = pr.GetValue(seed),
                    Out = pr.GetValue(output)!, Csv = pr.GetValue(csv), Markdown = pr.GetValue(md), Device = pr.GetValue(device)!,
                    Weights = RunLoader.ParseWeights(pr.GetValue(weights)!),
                }, pr.InvocationConfiguration.Error);
                pr.InvocationConfiguration.Output.Write(report.ToMarkdown());
                return 0;
            }
            catch (Exception e) when (e is ArgumentException or InvalidDataException or FileNotFoundException or DirectoryNotFoundException)
            { throw new CliException(e.Message); }
        });
        return cmd;
    }
}
