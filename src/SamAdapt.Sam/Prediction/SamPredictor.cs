using System.Globalization;
using SamAdapt.Sam.Modeling;
using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Sam.Prediction;

/// <summary>
/// The reference <c>SamPredictor</c> contract: <see cref="SetImage(byte[], int, int, int)"/> once (the image encoder runs and the
/// embedding is cached), then any number of <see cref="Predict(SamPrompt, bool, bool)"/> calls on that embedding — points with labels,
/// a box, a low-resolution mask input, multimask output, logits — and batched prompts on one image
/// (<see cref="PredictBatch"/>, <see cref="PredictBoxes"/>, <see cref="PredictTorch"/>).
/// <para>Pre/post-processing follows <see cref="Preset"/> (<see cref="SamPreset.Sam"/>: docs/sam.md §4; <see cref="SamPreset.MedSam"/>:
/// §7.1). The predictor runs on the model's device (move the model first, or use <see cref="FromCheckpoint"/>). Every call opens its own
/// dispose scope: only the cached embedding (and the cached dense positional encoding) outlive a call, so repeated predictions do not
/// accumulate tensors.</para>
/// <para>Prompts are validated before anything runs: coordinates must be finite and inside the image (0 ≤ x ≤ W, 0 ≤ y ≤ H — the
/// right/bottom edge is allowed so a whole-image box is valid), boxes need x0 ≤ x1 and y0 ≤ y1, labels must be 0 or 1, and a mask
/// input must be S/4 × S/4. Violations throw <see cref="ArgumentException"/> naming the prompt.</para>
/// </summary>
public sealed class SamPredictor : IDisposable
{
    private readonly bool _ownsModel;
    private Tensor? _features;
    private Tensor? _imagePe;

    /// <param name="model">A loaded SAM model (on the device the predictor should use).</param>
    /// <param name="preset">Pre/post-processing.</param>
    /// <param name="ownsModel">Dispose the model with the predictor.</param>
    public SamPredictor(SamModel model, SamPreset preset = SamPreset.Sam, bool ownsModel = false)
    {
        Model = model ?? throw new ArgumentNullException(nameof(model));
        Preset = preset;
        _ownsModel = ownsModel;
        Transform = new ResizeLongestSide(model.ImageSize);
    }

    /// <summary>Loads a checkpoint (see <see cref="SamCheckpoint.Load(string, SamConfig, bool, Device?)"/>) onto <paramref name="device"/> and wraps it (the predictor owns the model).</summary>
    public static SamPredictor FromCheckpoint(string checkpoint, SamConfig config, SamPreset preset = SamPreset.Sam, Device? device = null) =>
        new(SamCheckpoint.Load(checkpoint, config, device: device), preset, ownsModel: true);

    public SamModel Model { get; }
    public SamPreset Preset { get; }
    /// <summary>The SAM-preset coordinate/image transform (longest side → model input size).</summary>
    public ResizeLongestSide Transform { get; }
    /// <summary>The device the model (and so the predictor) runs on.</summary>
    public Device Device => Model.pixel_mean.device;
    /// <summary>Model input size S.</summary>
    public int ImageSize => Model.ImageSize;
    /// <summary>Side of the low-res logits and of a mask input: S/4 (256 at 1024).</summary>
    public int LowResSize => Model.prompt_encoder.mask_input_size.H;

    public bool IsImageSet => _features is not null;
    /// <summary>(H, W) of the image given to <see cref="SetImage(byte[], int, int, int)"/>.</summary>
    public (int H, int W) OriginalSize { get; private set; }
    /// <summary>(h, w) of the image inside the model input: the resized size (SAM) or (S, S) (MedSAM).</summary>
    public (int H, int W) InputSize { get; private set; }
    /// <summary>The resized 8-bit image (h×w×3) of the last <see cref="SetImage(byte[], int, int, int)"/>, before normalisation.</summary>
    public ResizedImage? ResizedImage { get; private set; }

    /// <summary>The cached image embedding (1, D, S/16, S/16). Owned by the predictor: do not dispose.</summary>
    public Tensor Features => _features ?? throw NoImage();

    /// <summary>Mask threshold of the preset: 0 on logits (SAM) or 0.5 on probabilities (MedSAM).</summary>
    public float MaskThreshold => Preset == SamPreset.MedSam ? 0.5f : SamModel.MaskThreshold;

    // ------------------------------------------------------------------ image

    /// <summary>
    /// Computes and caches the embedding of an H×W image: <paramref name="pixels"/> row-major, channels last, 3 channels (RGB) or 1 (grey,
    /// replicated to RGB).
    /// </summary>
    public void SetImage(byte[] pixels, int height, int width, int channels = 3)
    {
        var rgb = ToRgb(pixels, height, width, channels);
        using var scope = DisposeScope.Begin();
        using var ng = torch.no_grad();
        var (input, resized, inputSize) = PreprocessCore(rgb, height, width);
        SetInputTensorCore(input, (height, width), inputSize);
        ResizedImage = resized;
    }

    /// <summary>
    /// The model input (1, 3, S, S) float32 (on <see cref="Device"/>) that <see cref="SetImage(byte[], int, int, int)"/> feeds to the image
    /// encoder, with the resized 8-bit image and its size. The tensor belongs to the caller's dispose scope.
    /// </summary>
    public (Tensor Input, ResizedImage Resized, (int H, int W) InputSize) Preprocess(byte[] pixels, int height, int width, int channels = 3)
    {
        var rgb = ToRgb(pixels, height, width, channels);
        using var scope = DisposeScope.Begin();
        var (input, resized, inputSize) = PreprocessCore(rgb, height, width);
        return (input.MoveToOuterScope(), resized, inputSize);
    }

    private (Tensor Input, ResizedImage Resized, (int H, int W) InputSize) PreprocessCore(byte[] rgb, int height, int width)
    {
        if (Preset == SamPreset.Sam)
        {
            // PIL bilinear resize of the longest side → uint8 (1, 3, h, w) → (x − mean) / std in float32 → zero pad bottom/right
            var resized = Transform.ApplyImage(rgb, height, width, 3);
            var hwc = Tensor.FromArray<byte>(resized.Pixels, [resized.Height, resized.Width, 3]);
            var chw = hwc.permute(2, 0, 1).contiguous().unsqueeze(0).to(Device);
            return (Model.Preprocess(chw), resized, (resized.Height, resized.Width));
        }
        else
        {
            var (resized, normalized) = MedSamPreprocess.Apply(rgb, height, width, ImageSize);
            var hwc = Tensor.FromArray<float>(normalized, [ImageSize, ImageSize, 3]);
            var chw = hwc.permute(2, 0, 1).contiguous().unsqueeze(0).to(Device);
            return (chw, resized, (ImageSize, ImageSize));
        }
    }

    /// <summary>
    /// Runs the image encoder on an already preprocessed input (1, 3, S, S) (e.g. the Python-produced MedSAM 1024² tensor) and caches the
    /// embedding. <paramref name="originalSize"/> is the size masks are returned at; <paramref name="inputSize"/> the image's extent inside
    /// the input (for the SAM crop).
    /// </summary>
    public void SetInputTensor(Tensor input, (int H, int W) originalSize, (int H, int W) inputSize)
    {
        using var scope = DisposeScope.Begin();
        using var ng = torch.no_grad();
        SetInputTensorCore(input.to(Device), originalSize, inputSize);
        ResizedImage = null;
    }

    private void SetInputTensorCore(Tensor input, (int H, int W) originalSize, (int H, int W) inputSize)
    {
        if (input.dim() != 4 || input.size(0) != 1 || input.size(1) != 3 || input.size(2) != ImageSize || input.size(3) != ImageSize)
            throw new ArgumentException($"the model input must be (1, 3, {ImageSize}, {ImageSize}), got [{string.Join(", ", input.shape)}]");
        if (originalSize.H <= 0 || originalSize.W <= 0) throw new ArgumentException($"original size must be positive, got {originalSize.H}x{originalSize.W}");
        if (inputSize.H <= 0 || inputSize.W <= 0 || inputSize.H > ImageSize || inputSize.W > ImageSize)
            throw new ArgumentException($"input size {inputSize.H}x{inputSize.W} must lie within the {ImageSize}x{ImageSize} model input");
        ResetImage();
        var features = Model.image_encoder.forward(input);
        _features = features.DetachFromScope();
        OriginalSize = originalSize;
        InputSize = inputSize;
    }

    /// <summary>Drops the cached embedding.</summary>
    public void ResetImage()
    {
        _features?.Dispose();
        _features = null;
        ResizedImage = null;
        OriginalSize = default;
        InputSize = default;
    }

    // ------------------------------------------------------------------ prompts

    /// <summary>
    /// Predicts masks for one prompt set on the cached embedding (the reference <c>predict</c>). <paramref name="multimaskOutput"/>: 3 masks
    /// (tokens 1..3) instead of 1. <paramref name="returnLogits"/>: also return the values at the original size
    /// (<see cref="SamPrediction.Logits"/>). Masks, IoU predictions and low-res logits are always returned.
    /// </summary>
    public SamPrediction Predict(SamPrompt prompt, bool multimaskOutput = true, bool returnLogits = false) =>
        PredictBatch([prompt], multimaskOutput, returnLogits)[0];

    /// <summary>
    /// Many prompt sets on one image in one decoder batch (the reference's <c>predict_torch</c> with B prompts): every prompt needs the same
    /// structure (same number of points; all or none with a box; all or none with a mask input). Returns one prediction per prompt.
    /// </summary>
    public IReadOnlyList<SamPrediction> PredictBatch(IReadOnlyList<SamPrompt> prompts, bool multimaskOutput = true, bool returnLogits = false)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        if (prompts.Count == 0) throw new ArgumentException("no prompts given");
        if (!IsImageSet) throw NoImage();
        for (int i = 0; i < prompts.Count; i++) Validate(prompts[i], prompts.Count > 1 ? $"prompt {i}: " : "");
        var first = prompts[0];
        foreach (var p in prompts)
            if (p.PointCount != first.PointCount || (p.Box is null) != (first.Box is null) || (p.MaskInput is null) != (first.MaskInput is null))
                throw new ArgumentException("batched prompts must have the same structure (same number of points, all or none with a box, all or none with a mask input)");

        int b = prompts.Count, n = first.PointCount, s = LowResSize;
        using var scope = DisposeScope.Begin();
        using var ng = torch.no_grad();
        (Tensor, Tensor)? points = null;
        Tensor? boxes = null, masks = null;
        if (n > 0)
        {
            var coords = new float[b * n * 2];
            var labels = new int[b * n];
            for (int i = 0; i < b; i++)
            {
                TransformCoords(prompts[i].PointCoords!).CopyTo(coords, i * n * 2);
                prompts[i].PointLabels!.CopyTo(labels, i * n);
            }
            points = (Tensor.FromArray<float>(coords, [b, n, 2], Device), Tensor.FromArray<int>(labels, [b, n], Device));
        }
        if (first.Box is not null)
        {
            var bx = new float[b * 4];
            for (int i = 0; i < b; i++) TransformCoords(prompts[i].Box!).CopyTo(bx, i * 4);
            boxes = Tensor.FromArray<float>(bx, [b, 4], Device);
        }
        if (first.MaskInput is not null)
        {
            var m = new float[b * s * s];
            for (int i = 0; i < b; i++) prompts[i].MaskInput!.CopyTo(m, i * s * s);
            masks = Tensor.FromArray<float>(m, [b, 1, s, s], Device);
        }
        var (values, iou, low) = PredictTorch(points, boxes, masks, multimaskOutput, returnLogits: true);
        var binary = values.gt(MaskThreshold).cpu().contiguous();
        var valuesCpu = returnLogits ? values.cpu().contiguous() : null;
        var iouCpu = iou.cpu().contiguous();
        var lowCpu = low.cpu().contiguous();
        int c = (int)iou.size(1), h = OriginalSize.H, w = OriginalSize.W, lh = (int)low.size(2), lw = (int)low.size(3);
        var result = new SamPrediction[b];
        for (int i = 0; i < b; i++)
            result[i] = new SamPrediction(c, h, w, binary.select(0, i).ToArray<bool>(), valuesCpu?.select(0, i).ToArray<float>(),
                iouCpu.select(0, i).ToArray<float>(), lowCpu.select(0, i).ToArray<float>(), lh, lw, MaskThreshold);
        return result;
    }

    /// <summary>One box per prediction (XYXY, original pixels), in one decoder batch: MedSAM's and SAM's "many boxes, one image".</summary>
    public IReadOnlyList<SamPrediction> PredictBoxes(IReadOnlyList<double[]> boxes, bool multimaskOutput = false, bool returnLogits = false) =>
        PredictBatch(boxes.Select(bx => new SamPrompt { Box = bx }).ToArray(), multimaskOutput, returnLogits);

    /// <summary>
    /// The reference's <c>predict_torch</c>: prompts already in the model input frame, on <see cref="Device"/>. <paramref name="points"/>:
    /// coordinates (B, N, 2) float32 (float64 is also accepted: the automatic generator's path, divided in float64 inside the prompt encoder)
    /// and labels (B, N) int; <paramref name="boxes"/> (B, 4); <paramref name="maskInput"/> (B, 1, S/4, S/4). Returns masks (B, C, H, W) —
    /// bool, or with <paramref name="returnLogits"/> the float values (SAM logits / MedSAM probabilities) — IoU predictions (B, C) and low-res
    /// logits (B, C, S/4, S/4), in the caller's dispose scope.
    /// </summary>
    public (Tensor Masks, Tensor IouPredictions, Tensor LowResLogits) PredictTorch((Tensor Coords, Tensor Labels)? points, Tensor? boxes,
        Tensor? maskInput, bool multimaskOutput = true, bool returnLogits = false)
    {
        if (!IsImageSet) throw NoImage();
        if (points is null && boxes is null && maskInput is null) throw new ArgumentException("give at least one prompt (points, a box or a mask input)");
        using var scope = DisposeScope.Begin();
        using var ng = torch.no_grad();
        var (sparse, dense) = Model.prompt_encoder.forward(points, boxes, maskInput);
        var (low, iou) = Model.mask_decoder.forward(_features!, ImagePe(), sparse, dense, multimaskOutput);
        Tensor values = Preset == SamPreset.Sam
            ? SamPostprocess.MasksToOriginal(low, InputSize, OriginalSize, ImageSize)
            : F.interpolate(low.sigmoid(), [OriginalSize.H, OriginalSize.W], InterpolationMode.Bilinear, alignCorners: false);
        var masks = returnLogits ? values : values.gt(MaskThreshold);
        return (masks.MoveToOuterScope(), iou.MoveToOuterScope(), low.MoveToOuterScope());
    }

    /// <summary>
    /// Original-image coordinates (x, y interleaved; boxes are two corners) → the model input frame as float32: SAM scales by
    /// (newW/w, newH/h) in float64 (<see cref="ResizeLongestSide.ApplyCoords(ReadOnlySpan{double}, int, int)"/>); MedSAM computes
    /// <c>x / W · S</c>, <c>y / H · S</c> in float64. Both cast to float32 at the end.
    /// </summary>
    public float[] TransformCoords(ReadOnlySpan<double> xy)
    {
        if (!IsImageSet) throw NoImage();
        var (h, w) = OriginalSize;
        if (Preset == SamPreset.Sam) return Transform.ApplyCoordsFloat32(xy, h, w);
        if (xy.Length % 2 != 0) throw new ArgumentException("coordinates come in (x, y) pairs");
        var r = new float[xy.Length];
        for (int i = 0; i < xy.Length; i += 2)
        {
            r[i] = (float)(xy[i] / w * ImageSize);
            r[i + 1] = (float)(xy[i + 1] / h * ImageSize);
        }
        return r;
    }

    /// <summary>Checks a prompt against the current image (see the class remarks); throws <see cref="ArgumentException"/>.</summary>
    public void Validate(SamPrompt prompt, string context = "")
    {
        ArgumentNullException.ThrowIfNull(prompt);
        if (!IsImageSet) throw NoImage();
        ValidatePrompt(prompt, OriginalSize.H, OriginalSize.W, LowResSize, context);
    }

    /// <summary>Prompt checks against an H×W image without a predictor (used by the CLI before the model loads).</summary>
    public static void ValidatePrompt(SamPrompt prompt, int height, int width, int? lowResSize = null, string context = "")
    {
        static string F(double v) => v.ToString("G", CultureInfo.InvariantCulture);
        if (prompt.IsEmpty) throw new ArgumentException($"{context}give at least one prompt (a point, a box or a mask input)");
        if (prompt.PointCoords is { } pc)
        {
            if (pc.Length == 0 || pc.Length % 2 != 0) throw new ArgumentException($"{context}point coordinates come in (x, y) pairs; got {pc.Length} values");
            var labels = prompt.PointLabels ?? throw new ArgumentException($"{context}points need labels (1 = foreground, 0 = background)");
            if (labels.Length != pc.Length / 2) throw new ArgumentException($"{context}{pc.Length / 2} points but {labels.Length} labels");
            for (int i = 0; i < labels.Length; i++)
            {
                double x = pc[2 * i], y = pc[2 * i + 1];
                if (!double.IsFinite(x) || !double.IsFinite(y) || x < 0 || y < 0 || x > width || y > height)
                    throw new ArgumentException($"{context}point {i} ({F(x)}, {F(y)}) lies outside the {width}x{height} image (x in [0, {width}], y in [0, {height}])");
                if (labels[i] is not (0 or 1))
                    throw new ArgumentException($"{context}point {i} has label {labels[i]}; labels must be 1 (foreground) or 0 (background)");
            }
        }
        else if (prompt.PointLabels is not null) throw new ArgumentException($"{context}point labels given without point coordinates");
        if (prompt.Box is { } b)
        {
            if (b.Length != 4) throw new ArgumentException($"{context}a box has 4 values (x0, y0, x1, y1); got {b.Length}");
            for (int k = 0; k < 4; k++)
            {
                double lim = k % 2 == 0 ? width : height;
                if (!double.IsFinite(b[k]) || b[k] < 0 || b[k] > lim)
                    throw new ArgumentException($"{context}box ({string.Join(", ", b.Select(F))}) lies outside the {width}x{height} image (x in [0, {width}], y in [0, {height}])");
            }
            if (b[2] < b[0] || b[3] < b[1])
                throw new ArgumentException($"{context}box ({string.Join(", ", b.Select(F))}) has x1 < x0 or y1 < y0; boxes are x0,y0,x1,y1 with x0 <= x1 and y0 <= y1");
        }
        if (prompt.MaskInput is { } m && lowResSize is { } s && m.Length != s * s)
            throw new ArgumentException($"{context}mask input has {m.Length} values; it must be 1x{s}x{s} low-res logits");
    }

    private Tensor ImagePe()
    {
        if (_imagePe is null)
        {
            using var scope = DisposeScope.Begin();
            _imagePe = Model.prompt_encoder.get_dense_pe().DetachFromScope();
        }
        return _imagePe;
    }

    private static byte[] ToRgb(byte[] pixels, int height, int width, int channels)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        if (height <= 0 || width <= 0) throw new ArgumentException($"image size must be positive, got {height}x{width}");
        if (channels is not (1 or 3)) throw new ArgumentException($"images must have 3 channels (RGB) or 1 (grey), got {channels}");
        if (pixels.LongLength != (long)height * width * channels)
            throw new ArgumentException($"a {height}x{width}x{channels} image has {(long)height * width * channels} bytes, got {pixels.LongLength}");
        if (channels == 3) return pixels;
        var rgb = new byte[pixels.Length * 3];
        for (int i = 0; i < pixels.Length; i++) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = pixels[i];
        return rgb;
    }

    private static InvalidOperationException NoImage() => new("no image is set: call SetImage first");

    public void Dispose()
    {
        ResetImage();
        _imagePe?.Dispose();
        _imagePe = null;
        if (_ownsModel) Model.Dispose();
    }
}
