using System.Diagnostics;
using SamAdapt.Imaging;
using SamAdapt.Imaging.Dicom;
using SamAdapt.Imaging.Dicom.Seg;
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
    /// <summary>--dicom-seg: also write each label map as a DICOM SEG (<c>NAME.seg.dcm</c> beside it) referencing the input
    /// series; every input must be a DICOM series.</summary>
    public bool DicomSeg { get; init; }
    /// <summary>--series: the series of a DICOM folder holding several (also the SEG's reference).</summary>
    public string? Series { get; init; }
    /// <summary>--prompts: a prompt file (promptable methods, docs/methods/msa.md "Prompt file"); null: prompt-free semantic prediction.</summary>
    public string? Prompts { get; init; }
    /// <summary>--tta: test-time augmentation of semantic prediction, <see cref="TestTimeAugmentation"/>.</summary>
    public TestTimeAugmentation Tta { get; init; }
    /// <summary>--masksam-output: the map a MaskSAM run predicts from (null: the model's own output).</summary>
    public Methods.MaskSam.MaskSamOutput? MaskSamOutput { get; init; }
}

/// <summary>What <c>predict --tta</c> averages over.</summary>
public enum TestTimeAugmentation
{
    /// <summary>The stacks as they are.</summary>
    None,
    /// <summary>Each stack also with its slices in reverse order (the mirror along the slice axis; no in-plane flip).</summary>
    FlipSlices,
}

/// <summary>One finished volume: case id, input shape, output path, seconds.</summary>
public sealed record PredictedCase(string Id, int[] Shape, string Output, double Seconds);

/// <summary>
/// Predicts every volume of <see cref="PredictSettings.Input"/> with a run's model and writes label maps (and probabilities)
/// atomically on each input's grid: the predict verb's and the demo's library call.
/// </summary>
public static class PredictionRunner
{
    /// <summary>The <c>--tta</c> values, by name.</summary>
    public static SamAdapt.Common.OptionChoices<TestTimeAugmentation> TtaChoices { get; } =
        new("--tta", ("none", TestTimeAugmentation.None), ("flip-slices", TestTimeAugmentation.FlipSlices));

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
        foreach (var job in jobs)
            SamAdapt.Common.OutputGuard.Check(
                [("--out", job.Output), ("--out (probabilities)", s.Probabilities ? PredictionJobs.ProbabilityPath(job.Output) : null)],
                [("--input", job.Input), ("--run", Path.Combine(s.Run, SamAdapt.Training.Engine.RunConfig.FileName))]);
        if (s.DicomSeg)
            foreach (var job in jobs)
                if (!InputVolume.IsDicom(job.Input))
                    throw new ArgumentException($"--dicom-seg: expected a DICOM series as --input (the SEG references its slices), found {job.Input}");
        if (s.Bf16 && !device.IsCuda)
            throw new ArgumentException($"--bf16: expected --device cuda (bfloat16 autocast runs on CUDA), found --device {s.Device}");
        using var run = RunLoader.Load(s.Run, s.Weights, device);
        if (run.Note is not null) log.WriteLine(run.Note);
        if (s.MaskSamOutput is { } mo)
        {
            if (run.Model.Semantic is not Methods.MaskSam.MaskSamSegmenter maskSam)
                throw new ArgumentException($"--masksam-output: an option of masksam runs; this run is {run.Model.Method}");
            maskSam.Output = mo;
        }
        if (s.Prompts is not null || run.Model.Semantic is null)
        {
            if (s.Tta != TestTimeAugmentation.None)
                throw new ArgumentException($"--tta {TtaChoices.Name(s.Tta)}: test-time augmentation applies to prompt-free (semantic) prediction; drop it for prompted prediction");
            return Prompted.PromptedPrediction.Run(s, run, jobs, read, log, device);
        }
        var predictor = new VolumePredictor(run.Model, device, s.Bf16, s.Batch, mirrorSlices: s.Tta == TestTimeAugmentation.FlipSlices);
        log.WriteLine($"model: {run.Model.Method}, {run.Model.ClassNames.Count - 1} classes, weights {run.WeightsFile}; {jobs.Count} volume(s)");
        var results = new List<PredictedCase>();
        var failed = new List<string>();
        foreach (var (i, job) in jobs.Index())
        {
            var sw = Stopwatch.StartNew();
            Volume image;
            List<Volume> channels;
            // a grey run reads channel 0, as always; a multi-channel run every channel file of the case
            try { channels = (run.Model.Input.IsGrey ? [job.Input] : job.Channels).Select(read).ToList(); image = channels[0]; }
            catch (Exception e) when (jobs.Count > 1 && SamAdapt.Common.UserFacingErrors.IsUserFacing(SamAdapt.Common.UserFacingErrors.Unwrap(e)))
            {
                // a folder: one bad case does not stop the others; the run still fails at the end, naming the skipped cases
                log.WriteLine($"samadapt: error: {e.Message} (case {job.Id} skipped)");
                failed.Add(job.Id);
                continue;
            }
            var p = progress is null ? null : new Progress(x => progress(i, job, x.Done, x.Total));
            var result = predictor.Predict(channels, job.Id, s.Probabilities, p);
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(job.Output))!);
            using (var outputs = SamAdapt.Common.AtomicFile.BeginSet()) // labels and probabilities: both or neither
            {
                VolumeIO.Write(result.Labels, job.Output);
                if (result.Probabilities is not null) VolumeIO.Write(result.Probabilities, PredictionJobs.ProbabilityPath(job.Output));
                if (s.DicomSeg) WriteSeg(result.Labels, job, run.Model, s.Series);
                outputs.Commit();
            }
            var c = new PredictedCase(job.Id, image.Shape, job.Output, sw.Elapsed.TotalSeconds);
            results.Add(c);
            done?.Invoke(c);
        }
        if (failed.Count > 0)
            throw new InvalidDataException($"--input: {failed.Count} of {jobs.Count} case(s) could not be read ({string.Join(", ", failed)}); the others were written");
        return results;
    }

    /// <summary>The path of the DICOM SEG that goes with a label-map path: <c>NAME.seg.dcm</c>.</summary>
    public static string SegPath(string labelPath) =>
        Path.Combine(Path.GetDirectoryName(labelPath) ?? "", SamAdapt.Imaging.Datasets.CaseIds.Stem(Path.GetFileName(labelPath)) + ".seg.dcm");

    private static void WriteSeg(Volume labels, PredictionJob job, SamAdapt.Methods.TrainedModel model, string? series)
    {
        var source = DicomSeriesReference.Read(job.Input, series);
        var names = new Dictionary<int, string>();
        for (int c = 1; c < model.ClassValues.Count; c++)
            names[model.ClassValues[c]] = c < model.ClassNames.Count ? model.ClassNames[c] : $"class {c}";
        var segments = DicomSegWriter.SegmentsFor(labels, names);
        // nothing found: the SEG still describes the run's classes (with one empty frame)
        if (segments.Count == 0) segments = names.Select((kv, i) => new SegmentDefinition(kv.Key, kv.Value, SegmentPalette.Rgb(i + 1))).ToList();
        DicomSegWriter.Write(SegPath(job.Output), labels, source, segments,
            new DicomSegOptions { Algorithm = SegmentAlgorithm.Automatic, AlgorithmName = $"SamAdapt {model.Method}" });
    }

    private sealed class Progress(Action<(int Done, int Total)> report) : IProgress<(int Done, int Total)>
    {
        public void Report((int Done, int Total) value) => report(value);
    }
}
