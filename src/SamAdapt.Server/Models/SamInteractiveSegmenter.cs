using SamAdapt.Inference;
using SamAdapt.Sam;
using SamAdapt.Sam.Contracts;
using SamAdapt.Sam.Modeling;
using SamAdapt.Sam.Prediction;
using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Server.Models;

/// <summary>
/// SAM or MedSAM from a checkpoint as an <see cref="IInteractiveSegmenter"/>: the predictor's pre-processing (docs/sam.md §4
/// for SAM, §7.1 for MedSAM), one <see cref="PromptedPredictor"/> per cached slice (the promptable contract,
/// <see cref="IPromptableSegmenter"/>: it holds the slice's embedding), and the predictor's post-processing; so a mask equals what <see cref="SamPredictor"/> returns for the same slice and prompt. One
/// point alone asks for the three candidate masks and keeps the one with the highest predicted IoU (SAM's advice for an
/// ambiguous single click); otherwise one mask.
/// </summary>
public sealed class SamInteractiveSegmenter : IInteractiveSegmenter
{
    private readonly SamModel _model;
    private readonly SamPredictor _pre;

    public SamInteractiveSegmenter(SamModel model, SamPreset preset, string name)
    {
        _model = model;
        _pre = new SamPredictor(model, preset, ownsModel: true);
        Name = name;
    }

    /// <summary>Loads a checkpoint (<paramref name="config"/>: auto, a preset name or a config .json) onto <paramref name="device"/>.</summary>
    public static SamInteractiveSegmenter Load(string checkpoint, string config, SamPreset preset, Device device)
    {
        var (cfg, _) = SamAdapt.Inference.Segmentation.PromptedSegmentation.ResolveConfig(config, checkpoint);
        var model = SamCheckpoint.Load(checkpoint, cfg, device: device);
        return new SamInteractiveSegmenter(model, preset, $"{(preset == SamPreset.MedSam ? "MedSAM" : "SAM")} {cfg.ModelType} ({Path.GetFileName(checkpoint)})");
    }

    public string Name { get; }

    public ISliceEmbedding Embed(byte[] grey, int height, int width)
    {
        using var scope = DisposeScope.Begin();
        using var _ = torch.inference_mode();
        var (input, _, inputSize) = _pre.Preprocess(grey, height, width, channels: 1); // (1, 3, S, S)
        var predictor = new PromptedPredictor(_model);
        predictor.SetImage(input); // embedding (1, C, S/16, S/16), owned by the predictor
        return new Embedding(predictor, height, width, inputSize);
    }

    public bool[] Segment(ISliceEmbedding embedding, SlicePrompt prompt)
    {
        var e = (Embedding)embedding;
        if (prompt.Points.Count == 0 && prompt.Box is null) throw new ArgumentException("a prompt needs at least one point or a box");
        using var scope = DisposeScope.Begin();
        using var _ = torch.inference_mode();
        var device = _pre.Device;
        Tensor? coords = null, labels = null, boxes = null;
        if (prompt.Points.Count > 0)
        {
            var xy = prompt.Points.SelectMany(p => new[] { p.X, p.Y }).ToArray();
            coords = Tensor.FromArray<float>(ToInputFrame(xy, e), [1, prompt.Points.Count, 2], device);
            labels = Tensor.FromArray<int>(prompt.Points.Select(p => p.Label).ToArray(), [1, prompt.Points.Count], device);
        }
        if (prompt.Box is { } b) boxes = Tensor.FromArray<float>(ToInputFrame(b, e), [1, 4], device);
        bool multimask = prompt.Points.Count == 1 && prompt.Box is null;
        var r = e.Predictor.Predict(new PromptBatch(coords, labels, boxes), multimask); // (1, C, S/4, S/4), (1, C)
        using var lowResLogits = r.LowResLogits; // the caller owns them
        using var iouPredictions = r.IouPredictions;
        var best = multimask ? (int)r.IouPredictions.select(0, 0).argmax().ItemLong() : 0;
        var low = r.LowResLogits.narrow(1, best, 1);
        Tensor values = _pre.Preset == SamPreset.Sam
            ? SamPostprocess.MasksToOriginal(low, e.InputSize, (e.Height, e.Width), _model.ImageSize)
            : F.interpolate(low.sigmoid(), [e.Height, e.Width], InterpolationMode.Bilinear, alignCorners: false);
        return values.gt(_pre.MaskThreshold).cpu().contiguous().view(-1).ToArray<bool>(); // (H·W)
    }

    /// <summary>Original-slice pixels → the model input frame (the predictor's rule for the preset).</summary>
    private float[] ToInputFrame(double[] xy, Embedding e)
    {
        if (_pre.Preset == SamPreset.Sam) return _pre.Transform.ApplyCoordsFloat32(xy, e.Height, e.Width);
        var r = new float[xy.Length];
        for (int i = 0; i < xy.Length; i += 2)
        {
            r[i] = (float)(xy[i] / e.Width * _model.ImageSize);
            r[i + 1] = (float)(xy[i + 1] / e.Height * _model.ImageSize);
        }
        return r;
    }

    public void Dispose() => _pre.Dispose();

    private sealed class Embedding(PromptedPredictor predictor, int height, int width, (int H, int W) inputSize) : ISliceEmbedding
    {
        public PromptedPredictor Predictor { get; } = predictor;
        public int Height { get; } = height;
        public int Width { get; } = width;
        public (int H, int W) InputSize { get; } = inputSize;
        public void Dispose() => Predictor.Dispose();
    }
}
