using System.Diagnostics;
using SamAdapt.Imaging;
using SamAdapt.Torch;

namespace SamAdapt.Inference;

/// <summary>Settings of a volume-prediction run (the predict verb binds its options here).</summary>
public sealed record PredictSettings
{
    /// <summary>--run: the run folder.</summary>
    public required string Run { get; init; }
    /// <summary>--input: a volume, a DICOM folder or a folder of NIfTI volumes.</summary>
    public required string Input { get; init; }
    /// <summary>--out: a NIfTI file or a folder.</summary>
    public required string Out { get; init; }
    public RunWeights Weights { get; init; } = RunWeights.Best;
    /// <summary>Slice stacks per forward pass.</summary>
    public int Batch { get; init; } = 1;
    /// <summary>Also write the class probabilities.</summary>
    public bool Probabilities { get; init; }
    public string Device { get; init; } = "cpu";
    public bool Bf16 { get; init; }
}

/// <summary>One finished volume: case id, input shape, output path, seconds.</summary>
public sealed record PredictedCase(string Id, int[] Shape, string Output, double Seconds);

/// <summary>
/// Predicts every volume of <see cref="PredictSettings.Input"/> with a run's model and writes label maps (and probabilities)
/// atomically on each input's grid: the predict verb's and the demo's library call.
/// </summary>
public static class PredictionRunner
{
    /// <param name="read">Reads an input volume (the CLI passes its DICOM-series-aware reader).</param>
    /// <param name="log">Notes and the model line.</param>
    /// <param name="progress">(job index, job, stacks done, stacks total).</param>
    /// <param name="done">Called after each volume.</param>
    public static IReadOnlyList<PredictedCase> Run(PredictSettings s, Func<string, Volume> read, TextWriter log,
        Action<int, PredictionJob, int, int>? progress = null, Action<PredictedCase>? done = null)
    {
        if (s.Batch < 1) throw new ArgumentException($"--batch must be at least 1, got {s.Batch}");
        var device = DeviceCheck.Resolve(s.Device);
        if (!File.Exists(s.Input) && !Directory.Exists(s.Input)) throw new FileNotFoundException($"--input: no such file or folder: {s.Input}");
        var jobs = PredictionJobs.Plan(s.Input, s.Out);
        using var run = RunLoader.Load(s.Run, s.Weights, device);
        if (run.Note is not null) log.WriteLine(run.Note);
        var predictor = new VolumePredictor(run.Model, device, s.Bf16, s.Batch);
        log.WriteLine($"model: {run.Model.Method}, {run.Model.ClassNames.Count - 1} classes, weights {run.WeightsFile}; {jobs.Count} volume(s)");
        var results = new List<PredictedCase>();
        foreach (var (i, job) in jobs.Index())
        {
            var sw = Stopwatch.StartNew();
            var image = read(job.Input);
            var p = progress is null ? null : new Progress(x => progress(i, job, x.Done, x.Total));
            var result = predictor.Predict(image, job.Id, s.Probabilities, p);
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(job.Output))!);
            VolumeIO.Write(result.Labels, job.Output);
            if (result.Probabilities is not null) VolumeIO.Write(result.Probabilities, PredictionJobs.ProbabilityPath(job.Output));
            var c = new PredictedCase(job.Id, image.Shape, job.Output, sw.Elapsed.TotalSeconds);
            results.Add(c);
            done?.Invoke(c);
        }
        return results;
    }

    private sealed class Progress(Action<(int Done, int Total)> report) : IProgress<(int Done, int Total)>
    {
        public void Report((int Done, int Total) value) => report(value);
    }
}
