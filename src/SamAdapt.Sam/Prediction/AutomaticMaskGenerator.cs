using SamAdapt.Sam.Automatic;
using SamAdapt.Torch;

namespace SamAdapt.Sam.Prediction;

/// <summary>
/// One mask of <see cref="AutomaticMaskGenerator.Generate"/> — the reference's annotation record. Boxes are XYWH as the reference writes
/// them: <c>[x0, y0, x1 − x0, y1 − y0]</c> where (x1, y1) is the inclusive max pixel of the mask (so a one-pixel mask has width 0).
/// </summary>
public sealed record SamMaskRecord
{
    /// <summary>H×W mask (row-major) when the output mode is <see cref="AmgOutputMode.BinaryMask"/>.</summary>
    public bool[]? Segmentation { get; init; }
    /// <summary>Column-major uncompressed RLE when the output mode is <see cref="AmgOutputMode.UncompressedRle"/>.</summary>
    public UncompressedRle? Rle { get; init; }
    public int Height { get; init; }
    public int Width { get; init; }
    /// <summary>Number of mask pixels.</summary>
    public long Area { get; init; }
    /// <summary>XYWH box (see the type remarks).</summary>
    public int[] Bbox { get; init; } = [];
    public float PredictedIou { get; init; }
    /// <summary>The grid point (x, y), original pixels, that produced the mask.</summary>
    public double[] PointCoords { get; init; } = [];
    public float StabilityScore { get; init; }
    /// <summary>XYWH crop the mask was generated in (the whole image when crop_n_layers = 0).</summary>
    public int[] CropBox { get; init; } = [];

    /// <summary>The mask as H×W booleans, whatever the output mode.</summary>
    public bool[] ToMask() => Segmentation ?? AmgUtils.RleToMask(Rle ?? throw new InvalidOperationException("record has no mask"));
}

/// <summary>
/// SAM's automatic "segment everything" mode (reference <c>SamAutomaticMaskGenerator</c>, docs/sam.md §4.4), with its defaults in
/// <see cref="AutomaticMaskGeneratorOptions"/>: per crop, the image is set on the predictor, a point grid is run through the decoder in
/// batches (one foreground point per prompt, multimask output, full-size logits; point coordinates stay float64 until the prompt encoder),
/// masks are kept when IoU &gt; pred_iou_thresh and stability ≥ stability_score_thresh (both filters only when the threshold is &gt; 0),
/// binarised at 0, boxed, dropped when touching an inner crop edge, uncropped, then box-NMSed (IoU &gt; box_nms_thresh suppressed, score =
/// predicted IoU). With several crops a second NMS (score 1/crop area) merges them; with min_mask_region_area &gt; 0 small holes and islands
/// are removed and a final NMS prefers unchanged masks. Records come out in NMS keep order (descending score).
/// Output modes: binary masks and uncompressed RLE (COCO compressed RLE is not implemented).
/// </summary>
public sealed class AutomaticMaskGenerator
{
    private readonly SamPredictor _predictor;
    private readonly double[][] _grids;

    public AutomaticMaskGenerator(SamPredictor predictor, AutomaticMaskGeneratorOptions? options = null)
    {
        _predictor = predictor ?? throw new ArgumentNullException(nameof(predictor));
        Options = options ?? new AutomaticMaskGeneratorOptions();
        Options.Validate();
        if (predictor.Preset != SamPreset.Sam) throw new NotSupportedException("the automatic mask generator uses SAM's pre/post-processing; use a predictor with the 'sam' preset");
        if (Options.OutputMode == AmgOutputMode.CocoRle) throw new NotSupportedException("COCO compressed RLE output is not implemented; use binary masks or uncompressed RLE");
        _grids = Options.PointGrids is { } g ? g.ToArray()
            : AmgUtils.BuildAllLayerPointGrids(Options.PointsPerSide!.Value, Options.CropNLayers, Options.CropNPointsDownscaleFactor);
    }

    public AutomaticMaskGeneratorOptions Options { get; }

    private sealed class Candidate
    {
        public required UncompressedRle Rle;
        public required IntBox Box;        // image frame, inclusive max
        public required float Iou;
        public required float Stability;
        public required double[] Point;    // image frame
        public required IntBox CropBox;
    }

    /// <summary>Generates masks for an H×W image (row-major, channels last, RGB or grey). The predictor's cached image is replaced.</summary>
    public IReadOnlyList<SamMaskRecord> Generate(byte[] pixels, int height, int width, int channels = 3)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        if (channels is not (1 or 3)) throw new ArgumentException($"images must have 3 channels (RGB) or 1 (grey), got {channels}");
        if (pixels.LongLength != (long)height * width * channels) throw new ArgumentException($"a {height}x{width}x{channels} image has {(long)height * width * channels} bytes, got {pixels.LongLength}");
        var (cropBoxes, layers) = AmgUtils.GenerateCropBoxes(height, width, Options.CropNLayers, Options.CropOverlapRatio);
        var all = new List<Candidate>();
        for (int i = 0; i < cropBoxes.Length; i++) all.AddRange(ProcessCrop(pixels, height, width, channels, cropBoxes[i], layers[i]));

        if (cropBoxes.Length > 1 && all.Count > 0)
        {
            var scores = all.Select(c => 1f / (float)c.CropBox.Area).ToArray();
            var keep = AmgUtils.BoxNms(all.Select(c => c.Box).ToList(), scores, Options.CropNmsThresh);
            all = keep.Select(k => all[k]).ToList();
        }
        if (Options.MinMaskRegionArea > 0 && all.Count > 0) all = RemoveSmallRegions(all, height, width, Options.MinMaskRegionArea, Math.Max(Options.BoxNmsThresh, Options.CropNmsThresh));

        return all.Select(c => new SamMaskRecord
        {
            Segmentation = Options.OutputMode == AmgOutputMode.BinaryMask ? AmgUtils.RleToMask(c.Rle) : null,
            Rle = Options.OutputMode == AmgOutputMode.UncompressedRle ? c.Rle : null,
            Height = height,
            Width = width,
            Area = c.Rle.Area,
            Bbox = [c.Box.X0, c.Box.Y0, c.Box.X1 - c.Box.X0, c.Box.Y1 - c.Box.Y0],
            PredictedIou = c.Iou,
            PointCoords = c.Point,
            StabilityScore = c.Stability,
            CropBox = [c.CropBox.X0, c.CropBox.Y0, c.CropBox.Width, c.CropBox.Height],
        }).ToList();
    }

    private List<Candidate> ProcessCrop(byte[] pixels, int height, int width, int channels, IntBox crop, int layer)
    {
        int ch = crop.Height, cw = crop.Width;
        var cropped = new byte[ch * cw * channels];
        for (int y = 0; y < ch; y++)
            Array.Copy(pixels, ((long)(y + crop.Y0) * width + crop.X0) * channels, cropped, (long)y * cw * channels, (long)cw * channels);
        _predictor.SetImage(cropped, ch, cw, channels);
        var points = AmgUtils.ScalePointGrid(_grids[layer], crop);
        var found = new List<Candidate>();
        var orig = new IntBox(0, 0, width, height);
        int nPoints = points.Length / 2;
        try
        {
            for (int start = 0; start < nPoints; start += Options.PointsPerBatch)
            {
                int b = Math.Min(Options.PointsPerBatch, nPoints - start);
                var batch = points.AsSpan(2 * start, 2 * b);
                found.AddRange(ProcessBatch(batch, (ch, cw), crop, orig));
            }
        }
        finally { _predictor.ResetImage(); }

        var keep = AmgUtils.BoxNms(found.Select(c => c.Box).ToList(), found.Select(c => c.Iou).ToArray(), Options.BoxNmsThresh);
        return keep.Select(k =>
        {
            var c = found[k];
            c.Box = AmgUtils.UncropBox(c.Box, crop);
            c.Point = AmgUtils.UncropPoints(c.Point, crop);
            return c;
        }).ToList();
    }

    private List<Candidate> ProcessBatch(ReadOnlySpan<double> points, (int H, int W) imSize, IntBox crop, IntBox orig)
    {
        int b = points.Length / 2;
        var transformed = _predictor.Transform.ApplyCoords(points, imSize.H, imSize.W);
        var result = new List<Candidate>();
        using var scope = DisposeScope.Begin();
        var coords = Tensor.FromArray<double>(transformed, [b, 1, 2], _predictor.Device);
        var labels = torch.ones([b, 1], DType.Int32, _predictor.Device);
        var (logits, iou, _) = _predictor.PredictTorch((coords, labels), null, null, multimaskOutput: true, returnLogits: true);
        int c = (int)iou.size(1), h = imSize.H, w = imSize.W;
        var iouFlat = iou.flatten().cpu().ToArray<float>();
        // IoU filter first (on the device), so only the surviving logits come to the host
        var keep = new List<long>();
        for (int i = 0; i < iouFlat.Length; i++)
            if (!(Options.PredIouThresh > 0.0) || iouFlat[i] > Options.PredIouThresh) keep.Add(i);
        if (keep.Count == 0) return result;
        var kept = logits.flatten(0, 1).index_select(0, Tensor.FromArray<long>(keep.ToArray(), [keep.Count], _predictor.Device)).cpu().contiguous().ToArray<float>();
        int plane = h * w;
        for (int k = 0; k < keep.Count; k++)
        {
            var lg = kept.AsSpan(k * plane, plane);
            float stability = AmgUtils.StabilityScore(lg, SamModelThreshold, Options.StabilityScoreOffset);
            if (Options.StabilityScoreThresh > 0.0 && !(stability >= Options.StabilityScoreThresh)) continue;
            var mask = AmgUtils.Binarize(lg, SamModelThreshold);
            var box = AmgUtils.MaskToBox(mask, h, w);
            if (AmgUtils.IsBoxNearCropEdge([box], crop, orig)[0]) continue;
            var full = AmgUtils.UncropMask(mask, crop, orig.Height, orig.Width);
            int idx = (int)keep[k], p = idx / c;
            result.Add(new Candidate
            {
                Rle = AmgUtils.MaskToRle(full, orig.Height, orig.Width),
                Box = box,
                Iou = iouFlat[idx],
                Stability = stability,
                Point = [points[2 * p], points[2 * p + 1]],
                CropBox = crop,
            });
        }
        return result;
    }

    private const float SamModelThreshold = Modeling.SamModel.MaskThreshold;

    /// <summary>The reference's <c>postprocess_small_regions</c>: holes then islands below the area are removed; NMS prefers unchanged masks.</summary>
    private static List<Candidate> RemoveSmallRegions(List<Candidate> data, int height, int width, int minArea, double nmsThresh)
    {
        var masks = new List<bool[]>(data.Count);
        var scores = new float[data.Count];
        var boxes = new IntBox[data.Count];
        for (int i = 0; i < data.Count; i++)
        {
            var m = AmgUtils.RleToMask(data[i].Rle);
            var (m1, changedHoles) = AmgUtils.RemoveSmallRegions(m, height, width, minArea, SmallRegionMode.Holes);
            var (m2, changedIslands) = AmgUtils.RemoveSmallRegions(m1, height, width, minArea, SmallRegionMode.Islands);
            masks.Add(m2);
            scores[i] = changedHoles || changedIslands ? 0f : 1f;
            boxes[i] = AmgUtils.MaskToBox(m2, height, width);
        }
        var keep = AmgUtils.BoxNms(boxes, scores, nmsThresh);
        var result = new List<Candidate>(keep.Length);
        foreach (var k in keep)
        {
            var c = data[k];
            if (scores[k] == 0f)
            {
                c.Rle = AmgUtils.MaskToRle(masks[k], height, width);
                c.Box = boxes[k];
            }
            result.Add(c);
        }
        return result;
    }
}
