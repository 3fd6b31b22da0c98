using System.CommandLine;
using SamAdapt.Methods;

namespace SamAdapt.Cli.Commands;

/// <summary>
/// `samadapt import METHOD --trained FILE.pth --base SAM.pth --out RUN_DIR [--classes a,b,…]`: a model released by a method's
/// reference code plus the SAM checkpoint it was trained on, written as a run folder that `samadapt predict --run` uses. METHOD
/// is looked up in <see cref="MethodRegistry"/> (<see cref="IImportableMethod"/>; ma-sam: docs/methods/ma-sam.md); an unknown
/// name is an error listing the known methods.
/// </summary>
public sealed class ImportCommand : ICliCommand
{
    public int Order => 55;

    public Command Build()
    {
        var method = new Argument<string>("METHOD")
        {
            Description = "Method whose reference release to import: " + string.Join(", ", MethodRegistry.ImportableNames) +
                          " (ma-sam: a model saved by cchen-cc/MA-SAM — FacT, 3D adapters, progressive decoder; msa: a model saved by the Medical SAM Adapter code)",
        };
        var trained = new Option<string>("--trained", "--state-dict") { Description = "The reference's saved parameters (ma-sam: trained_params.pth / a released epoch_N.pth; msa: its checkpoint's state dict, .pth or .safetensors; GPU-saved files load on CPU)", Required = true };
        var baseCkpt = new Option<string>("--base") { Description = "The SAM checkpoint the model was trained on (.pth or .safetensors): the frozen encoder comes from it", Required = true };
        var output = new Option<string>("--out") { Description = "Run folder to create (config.yaml + adapter.safetensors)", Required = true };
        var classes = new Option<string?>("--classes") { Description = "Foreground class names, comma-separated, in the model's output order (default class_1 … class_K)" };
        var size = new Option<int>("--image-size") { Description = "Input size the model was trained at", DefaultValueFactory = _ => 512 };
        var slices = new Option<int>("--slices") { Description = "Slices per stack the model was trained with", DefaultValueFactory = _ => 5 };
        var samConfig = new Option<string?>("--sam-config") { Description = "SAM configuration JSON, for a base whose architecture cannot be read from its shapes" };
        var intensity = new Option<string>("--intensity") { Description = "Intensity transform predict applies (the reference's BTCV CT window by default)", DefaultValueFactory = _ => "ma-sam" };
        var cmd = new Command("import", "Turn a model released by a method's reference code into a run folder for `samadapt predict`.");
        cmd.Arguments.Add(method);
        foreach (var o in new Option[] { trained, baseCkpt, output, classes, size, slices, samConfig, intensity }) cmd.Options.Add(o);
        cmd.SetAction(pr => Run(pr.GetValue(method)!, new ImportSettings
        {
            Trained = pr.GetValue(trained)!, Base = pr.GetValue(baseCkpt)!, OutDir = pr.GetValue(output)!, ImageSize = pr.GetValue(size),
            Slices = pr.GetValue(slices), SamConfigFile = pr.GetValue(samConfig), Intensity = pr.GetValue(intensity)!,
            Classes = pr.GetValue(classes)?.Split(',', StringSplitOptions.TrimEntries),
        }, pr.InvocationConfiguration.Output));
        return cmd;
    }

    /// <summary>Looks <paramref name="methodName"/> up (<see cref="MethodRegistry.GetImportable"/>), imports, says where the run folder is.</summary>
    public static int Run(string methodName, ImportSettings settings, TextWriter stdout)
    {
        var r = MethodRegistry.GetImportable(methodName).Import(settings, stdout);
        stdout.WriteLine($"run folder {r.RunDir}: classes {string.Join(", ", r.ClassNames.Skip(1))}; segment with `samadapt predict --run {r.RunDir} --input VOLUME --out OUT`");
        return 0;
    }
}
