using System.Diagnostics;
using SamAdapt.Imaging;
using SamAdapt.Methods.Msa;
using SamAdapt.Torch;

namespace SamAdapt.Inference.Prompted;

/// <summary><c>samadapt predict --prompts FILE</c> for a promptable run (docs/methods/msa.md, "Prompted prediction"): one volume, one label map.</summary>
public static class PromptedPrediction
{
    public static IReadOnlyList<PredictedCase> Run(PredictSettings s, LoadedRun run, IReadOnlyList<PredictionJob> jobs, Func<string, Volume> read, TextWriter log, Device device)
    {
        if (run.Model.Promptable is not MsaSam model)
            throw new ArgumentException($"--prompts: method {run.Model.Method} is not promptable; predict without --prompts");
        if (s.Prompts is null) throw new ArgumentException($"--prompts: method {run.Model.Method} segments what it is prompted for; give a prompt file");
        if (jobs.Count != 1) throw new ArgumentException($"--prompts: expected one input volume (the prompts are in its coordinates), found {jobs.Count}");
        if (s.Probabilities) throw new ArgumentException("--probabilities: not available with --prompts");
        var job = jobs[0];
        var cfg = MsaTaskConfig.Read(SamAdapt.Training.Engine.RunConfig.Load(Path.Combine(s.Run, SamAdapt.Training.Engine.RunConfig.FileName)));
        var sw = Stopwatch.StartNew();
        var channels = (run.Model.Input.IsGrey ? [job.Input] : job.Channels).Select(read).ToList();
        var image = channels[0];
        var prompts = VolumePromptFile.Read(s.Prompts, image.Affine);
        var unknown = prompts.Select(p => p.Value).Where(v => cfg.ClassValues.Count > 1 && !cfg.ClassValues.Skip(1).Contains(v)).ToList();
        if (unknown.Count > 0)
            log.WriteLine($"note: label value(s) {string.Join(", ", unknown)} are not among the run's classes ({string.Join(", ", cfg.ClassValues.Skip(1))}); the model is class-agnostic, they are written as given");
        var predictor = new PromptedVolumePredictor(model, Options(cfg) with { Input = run.Model.Input }, device, run.Model.InputProjection) { ClipToBox = cfg.ClipToBox };
        var labels = predictor.Predict(channels, job.Id, prompts);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(job.Output))!);
        VolumeIO.Write(labels, job.Output);
        log.WriteLine($"model: {run.Model.Method}, weights {run.WeightsFile}; {prompts.Count} prompted class(es)");
        return [new PredictedCase(job.Id, image.Shape, job.Output, sw.Elapsed.TotalSeconds)];
    }

    /// <summary>The preprocessing of an MSA run (no augmentation).</summary>
    public static SamAdapt.Training.Data.SampleOptions Options(MsaTaskConfig cfg) => new()
    {
        ImageSize = cfg.ImageSize, Slices = cfg.Slices, Intensity = Imaging.Preprocessing.IntensityTransform.Parse(cfg.Intensity),
        Augmentation = SamAdapt.Training.Augmentation.AugmentationPipeline.None,
        Input = cfg.InputProjection is "" ? SamAdapt.Training.Data.InputMapping.Grey : SamAdapt.Training.Data.InputMapping.Parse(cfg.InputProjection),
    };
}
