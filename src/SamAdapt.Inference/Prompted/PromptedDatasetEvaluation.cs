using System.Text;
using SamAdapt.Common;
using SamAdapt.Imaging;
using SamAdapt.Imaging.Datasets;
using SamAdapt.Methods.Msa;
using SamAdapt.Torch;
using SamAdapt.Training.Data;

namespace SamAdapt.Inference.Prompted;

/// <summary>What <c>samadapt evaluate-prompted</c> binds.</summary>
public sealed record EvaluatePromptedSettings
{
    public required string Run { get; init; }
    public required string Dataset { get; init; }
    public string Protocol { get; init; } = "1pt,3pt,box0.5,box0.75,iterative:5";
    public int Seed { get; init; } = 1234;
    public required string Out { get; init; }
    public string? Csv { get; init; }
    public string? Markdown { get; init; }
    public RunWeights Weights { get; init; } = RunWeights.Best;
    public string Device { get; init; } = "cpu";
}

/// <summary>
/// <c>samadapt evaluate-prompted</c> (docs/methods/msa.md, "Prompted evaluation"): every labelled case of a dataset, every foreground label of
/// its dataset.json, prompts simulated from the ground truth per slice (<see cref="PromptedEvaluator"/>), segmented by the run's MSA model
/// (each slice embedded in the stack centred on it), in the slice's own pixel frame mapped to the model's.
/// </summary>
public static class PromptedDatasetEvaluation
{
    public static PromptedReport Run(EvaluatePromptedSettings s, TextWriter log)
    {
        var settings = PromptSetting.ParseProtocol(s.Protocol);
        var device = DeviceCheck.Resolve(s.Device);
        OutputGuard.Check([("--out", s.Out), ("--csv", s.Csv), ("--markdown", s.Markdown)], [("--run", Path.Combine(s.Run, SamAdapt.Training.Engine.RunConfig.FileName))]);
        var ds = SegmentationDataset.Load(s.Dataset);
        var cases = ds.TrainingCases.Where(c => c.LabelPath is not null).ToList();
        if (cases.Count == 0) throw new ArgumentException($"--dataset {s.Dataset}: no labelled cases (labelsTr/) to evaluate");
        var labels = ds.Labels.Where(l => !l.IsRegion && l.Values[0] != 0).ToList();
        if (labels.Count == 0) throw new ArgumentException($"--dataset {s.Dataset}: dataset.json declares no foreground labels");
        using var run = RunLoader.Load(s.Run, s.Weights, device);
        if (run.Model.Promptable is not MsaSam model) throw new ArgumentException($"--run: method {run.Model.Method} is not promptable; use `samadapt evaluate` on its predictions");
        var cfg = MsaTaskConfig.Read(SamAdapt.Training.Engine.RunConfig.Load(Path.Combine(s.Run, SamAdapt.Training.Engine.RunConfig.FileName)));
        var pipeline = new SamplePipeline(PromptedPrediction.Options(cfg) with { Input = run.Model.Input }, null);
        int size = cfg.ImageSize, depth = cfg.Slices;
        model.eval();

        var prepared = new List<PreparedVolume>();
        var gt = new List<(int[][] Planes, int Rows, int Cols)>();
        foreach (var c in cases)
        {
            // every channel file for a multi-channel run; 2-D images (PNG, JPEG) as volumes of one slice
            var images = (run.Model.Input.IsGrey ? c.ImagePaths.Take(1) : c.ImagePaths).Select(SamplePipeline.ReadVolume).ToList();
            var label = SamAdapt.Imaging.Datasets.DatasetLabelReader.Read(c);
            var pv = pipeline.Prepare(c.Id, images);
            var values = new int[label.VoxelCount];
            for (long i = 0; i < values.LongLength; i++) values[i] = (int)label.Get(i);
            var shape3 = label.Shape.Length > 3 ? label.Shape[..3] : label.Shape;
            if (!shape3.SequenceEqual(pv.Shape)) throw new InvalidDataException($"{c.LabelPath}: shape [{string.Join(", ", shape3)}] differs from its image [{string.Join(", ", pv.Shape)}]");
            var planes = new int[pv.SliceCount][];
            for (int z = 0; z < pv.SliceCount; z++)
            {
                planes[z] = new int[pv.Rows * pv.Cols];
                pv.ExtractPlane<int>(values, z, planes[z]);
            }
            prepared.Add(pv);
            gt.Add((planes, pv.Rows, pv.Cols));
        }
        var cache = new Dictionary<(int, int), Tensor>();
        try
        {
            SlicePrediction Segment(int ci, int z, IReadOnlyList<Click> clicks, PromptBox? box, float[]? previous)
            {
                var pv = prepared[ci];
                using var _ = torch.inference_mode();
                if (!cache.TryGetValue((ci, z), out var emb))
                {
                    if (cache.Count > 64) { foreach (var t in cache.Values) t.Dispose(); cache.Clear(); }
                    using var es = DisposeScope.Begin();
                    var x = SamplePipeline.ModelTensor(pipeline.ModelInput(pv, z), depth, size, pipeline.Options.Input, run.Model.InputProjection, device);
                    emb = model.EmbedCentres(x, depth).contiguous().MoveToOuterScope().DetachFromScope();
                    cache[(ci, z)] = emb;
                }
                using var scope = DisposeScope.Begin();
                Tensor? coords = null, lab = null, b = null;
                if (clicks.Count > 0)
                {
                    var m = clicks.Select(c => PromptSimulator.ToModelFrame(c, pv.Rows, pv.Cols, size)).ToList();
                    coords = Tensor.FromArray<float>(m.SelectMany(c => new[] { c.X, c.Y }).ToArray(), [1, m.Count, 2], device);
                    lab = Tensor.FromArray<float>(m.Select(c => (float)c.Label).ToArray(), [1, m.Count], device);
                }
                if (box is { } bb) b = Tensor.FromArray<float>(PromptSimulator.ToModelFrame(bb, pv.Rows, pv.Cols, size).ToArray(), [1, 4], device);
                var maskIn = previous is null ? null : Tensor.FromArray<float>(previous, [1, 1, 4 * emb.size(2), 4 * emb.size(3)], device);
                var low = model.Decode(emb, coords, lab, b, maskIn).LowResLogits.to(DType.Float32);
                var native = PromptedVolumePredictor.SliceLogits(low, size, pv.Rows, pv.Cols, cfg.ClipToBox ? box : null);
                return new SlicePrediction(native.Select(v => v > 0).ToArray(), low.cpu().contiguous().ToArray<float>());
            }
            log.WriteLine($"model: {run.Model.Method}, weights {run.WeightsFile}; {cases.Count} case(s), labels {string.Join(", ", labels.Select(l => l.Name))}; protocol {s.Protocol}, seed {s.Seed}");
            var report = PromptedEvaluator.Evaluate(gt, labels.Select(l => l.Values[0]).ToList(), labels.Select(l => l.Name).ToList(), settings, Segment, s.Seed);
            AtomicFile.Write(s.Out, st => st.Write(Encoding.UTF8.GetBytes(report.ToJson())));
            if (s.Csv is not null) AtomicFile.Write(s.Csv, st => st.Write(Encoding.UTF8.GetBytes(report.ToCsv())));
            if (s.Markdown is not null) AtomicFile.Write(s.Markdown, st => st.Write(Encoding.UTF8.GetBytes(report.ToMarkdown())));
            return report;
        }
        finally
        {
            foreach (var t in cache.Values) t.Dispose();
        }
    }
}
