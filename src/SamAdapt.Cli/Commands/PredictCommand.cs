using System.CommandLine;
using System.Globalization;
using SamAdapt.Inference;

namespace SamAdapt.Cli.Commands;

/// <summary>
/// `samadapt predict --run RUN_DIR --input VOLUME|FOLDER|DICOM_DIR --out FILE|FOLDER`: binds the options to
/// <see cref="PredictSettings"/> and calls <see cref="PredictionRunner"/> (the run's method rebuilds its model; slice-window
/// inference; NIfTI label maps on each input's exact grid and affine).
/// </summary>
public sealed class PredictCommand : ICliCommand
{
    public int Order => 60;

    public Command Build()
    {
        var run = new Option<string>("--run") { Description = "Run folder written by `samadapt train`", Required = true };
        var weights = new Option<string>("--weights") { Description = "best (best validation Dice; falls back to the final weights when the run had no validation) or last", DefaultValueFactory = _ => "best" };
        var input = new Option<string>("--input") { Description = $"A volume ({VolumeInput.InputFormats}) or a folder of NIfTI volumes or 2-D images (nnU-Net _0000 names allowed; a multi-channel run reads CASE_0001… beside CASE_0000)", Required = true };
        var output = new Option<string>("--out") { Description = "Output NIfTI file for one volume (PNG for a 2-D image), or a folder (one <case>.nii.gz per volume, <case>.png per 2-D image)", Required = true };
        var batch = new Option<int>("--batch") { Description = "Slice stacks per forward pass", DefaultValueFactory = _ => 1 };
        var probs = new Option<bool>("--probabilities") { Description = "Also write <case>_probabilities.nii.gz: float32 (X, Y, Z, K+1), background first" };
        var prompts = new Option<string?>("--prompts") { Description = "Prompt file (JSON: points and boxes per class, voxel or world coordinates; promptable methods such as msa, docs/methods/msa.md)" };
        var tta = new Option<string>("--tta")
        {
            Description = "Test-time augmentation of prompt-free prediction: none, or flip-slices (each stack also segmented with its slices in reverse " +
                          "order and the two probability maps averaged; for runs of several slices per stack; twice the forward passes)",
            DefaultValueFactory = _ => "none",
        };
        var maskSamOutput = new Option<string?>("--masksam-output")
        {
            Description = "masksam runs: the map to predict from: combined (the model's own: with a pixel head the mean of both maps), " +
                          "mask-classification (the reference's output alone) or pixel-head (the pixel head alone)",
        };
        var series = VolumeInput.SeriesOption();
        var seg = new Option<bool>("--dicom-seg")
        {
            Description = "Also write each label map as a DICOM Segmentation object (<case>.seg.dcm beside it) referencing the input DICOM series: " +
                          "one segment per class, named after the run's classes",
        };
        var runtime = new RuntimeOptions();
        var cmd = new Command("predict",
            "Segment volumes with a trained run (any semantic method: ma-sam, lora, full, ...): slice-window inference, label maps on the input's grid (NIfTI, intent label).");
        foreach (var o in new Option[] { run, weights, input, output, batch, probs, tta, maskSamOutput, series, seg, prompts }) cmd.Options.Add(o);
        runtime.AddTo(cmd);
        cmd.SetAction(pr =>
        {
            var rt = runtime.Bind(pr);
            WithUserErrors(() => rt.ApplyThreads());
            var s = new PredictSettings
            {
                Run = pr.GetValue(run)!, Input = pr.GetValue(input)!, Out = pr.GetValue(output)!,
                Weights = WithUserErrors(() => RunLoader.ParseWeights(pr.GetValue(weights)!)),
                Batch = pr.GetValue(batch), Probabilities = pr.GetValue(probs), Device = rt.Device ?? "cpu", Bf16 = rt.Bf16 ?? false,
                DicomSeg = pr.GetValue(seg), Series = pr.GetValue(series),
                Prompts = pr.GetValue(prompts), Tta = WithUserErrors(() => PredictionRunner.TtaChoices.Parse(pr.GetValue(tta)!)),
                MaskSamOutput = pr.GetValue(maskSamOutput) is { } mo ? WithUserErrors(() => Methods.MaskSam.MaskSamOutputNames.Choices.Parse(mo)) : null,
            };
            return Run(s, pr.GetValue(series), pr.InvocationConfiguration.Output, pr.InvocationConfiguration.Error);
        });
        return cmd;
    }

    /// <summary>Predicts with progress on <paramref name="stderr"/> and one line per volume on <paramref name="stdout"/>.</summary>
    public static int Run(PredictSettings s, string? series, TextWriter stdout, TextWriter stderr)
    {
        int last = -1;
        WithUserErrors(() => PredictionRunner.Run(s, path => VolumeInput.Read(path, series), stderr,
            progress: (i, job, done, total) =>
            {
                int pct = 100 * done / total;
                if (pct / 10 != last / 10 || done == total)
                {
                    last = pct;
                    stderr.Write($"\r{job.Id}: {pct,3}% ({done}/{total} slices)");
                }
            },
            done: c =>
            {
                stderr.WriteLine();
                last = -1;
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{c.Id}: {string.Join("×", c.Shape)} → {c.Output} ({c.Seconds:F1} s)"));
            }));
        return 0;
    }

    /// <summary>The probability-map path that goes with a label-map path.</summary>
    public static string ProbabilityPath(string labelPath) => PredictionJobs.ProbabilityPath(labelPath);

    private static void WithUserErrors(Action a) => WithUserErrors(() => { a(); return 0; });

    /// <summary>The library's input errors as <see cref="CliException"/> (one line, exit 2).</summary>
    private static T WithUserErrors<T>(Func<T> f)
    {
        try { return f(); }
        catch (Exception e) when (e is ArgumentException or InvalidDataException or FileNotFoundException or DirectoryNotFoundException)
        { throw new CliException(e.Message); }
    }
}
