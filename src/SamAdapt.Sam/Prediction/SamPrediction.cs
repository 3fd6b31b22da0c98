namespace SamAdapt.Sam.Prediction;

/// <summary>
/// Which pre/post-processing a <see cref="SamPredictor"/> applies around the (unchanged) SAM v1 model.
/// </summary>
public enum SamPreset
{
    /// <summary>
    /// The reference <c>SamPredictor</c> (docs/sam.md §4): PIL bilinear resize of the longest side to S, mean/std normalisation,
    /// bottom-right zero padding; coordinates scaled by (newW/w, newH/h); logits bilinear to S², crop, bilinear to H×W; mask = logit &gt; 0.
    /// </summary>
    Sam,
    /// <summary>
    /// MedSAM's inference pipeline (docs/sam.md §7.1): grey → 3 channels, non-aspect-preserving cubic resize to S×S (skimage
    /// <c>resize(order=3, anti_aliasing=True, preserve_range=True)</c> then uint8 truncation — see <see cref="MedSamPreprocess"/>), min-max
    /// to [0, 1], no mean/std, no padding; prompts scaled by (S/W, S/H); sigmoid of the low-res logits, bilinear straight to H×W,
    /// mask = probability &gt; 0.5. Box prompts are MedSAM's native prompt; points are accepted and scaled the same way.
    /// </summary>
    MedSam,
}

/// <summary>
/// A prompt set for <see cref="SamPredictor.Predict(SamPrompt, bool, bool)"/>, in pixel coordinates of the original image
/// (x to the right, y down; the reference convention, where a pixel's integer coordinate is its top-left corner and the prompt encoder
/// adds 0.5).
/// </summary>
public sealed record SamPrompt
{
    /// <summary>Point coordinates, interleaved x0, y0, x1, y1, … (float64, as the reference's <c>astype(float)</c>).</summary>
    public double[]? PointCoords { get; init; }
    /// <summary>One label per point: 1 = foreground, 0 = background.</summary>
    public int[]? PointLabels { get; init; }
    /// <summary>One XYXY box (x0, y0, x1, y1).</summary>
    public double[]? Box { get; init; }
    /// <summary>
    /// Low-resolution mask logits (1 × S/4 × S/4, row-major) from a previous prediction's <see cref="SamPrediction.LowResLogits"/>,
    /// for refinement.
    /// </summary>
    public float[]? MaskInput { get; init; }

    /// <summary>A single point.</summary>
    public static SamPrompt Point(double x, double y, int label = 1) => new() { PointCoords = [x, y], PointLabels = [label] };

    /// <summary>A single box.</summary>
    public static SamPrompt FromBox(double x0, double y0, double x1, double y1) => new() { Box = [x0, y0, x1, y1] };

    /// <summary>Number of points.</summary>
    public int PointCount => PointCoords is null ? 0 : PointCoords.Length / 2;

    /// <summary>True when at least one of points, box or mask input is given.</summary>
    public bool IsEmpty => PointCoords is null && Box is null && MaskInput is null;
}

/// <summary>
/// The result of one prompt set (the reference's <c>predict</c> return values, as flat row-major arrays).
/// </summary>
public sealed class SamPrediction
{
    public SamPrediction(int count, int height, int width, bool[] masks, float[]? logits, float[] iouPredictions,
        float[] lowResLogits, int lowResHeight, int lowResWidth, float threshold)
    {
        Count = count;
        Height = height;
        Width = width;
        Masks = masks;
        Logits = logits;
        IouPredictions = iouPredictions;
        LowResLogits = lowResLogits;
        LowResHeight = lowResHeight;
        LowResWidth = lowResWidth;
        Threshold = threshold;
    }

    /// <summary>C: 3 with multimask output (tokens 1..3), else 1 (token 0).</summary>
    public int Count { get; }
    /// <summary>Original image height H.</summary>
    public int Height { get; }
    /// <summary>Original image width W.</summary>
    public int Width { get; }

    /// <summary>C×H×W binary masks: <see cref="Logits"/> &gt; <see cref="Threshold"/> (computed also when logits were not requested).</summary>
    public bool[] Masks { get; }

    /// <summary>
    /// C×H×W float32 values at the original size, present when <c>returnLogits</c> was requested. <see cref="SamPreset.Sam"/>: the
    /// logits exactly as the reference's <c>predict(..., return_logits=True)</c> returns them. <see cref="SamPreset.MedSam"/>:
    /// MedSAM's upsampled sigmoid probabilities (its pipeline interpolates probabilities, not logits).
    /// </summary>
    public float[]? Logits { get; }

    /// <summary>C predicted mask IoUs.</summary>
    public float[] IouPredictions { get; }

    /// <summary>C×h×w low-resolution logits (h = w = S/4, 256 at 1024) — feed one back as <see cref="SamPrompt.MaskInput"/>.</summary>
    public float[] LowResLogits { get; }
    public int LowResHeight { get; }
    public int LowResWidth { get; }

    /// <summary>The threshold that produced <see cref="Masks"/> from <see cref="Logits"/>: 0 (SAM) or 0.5 (MedSAM probabilities).</summary>
    public float Threshold { get; }

    /// <summary>Index of the mask with the highest predicted IoU (first on ties).</summary>
    public int BestIndex
    {
        get
        {
            int best = 0;
            for (int i = 1; i < IouPredictions.Length; i++) if (IouPredictions[i] > IouPredictions[best]) best = i;
            return best;
        }
    }

    /// <summary>Mask <paramref name="i"/> (H×W) as a copy.</summary>
    public bool[] Mask(int i) => Masks.AsSpan(Plane(i), Height * Width).ToArray();

    /// <summary>Low-res logits of mask <paramref name="i"/> (h×w) as a copy — a ready-made <see cref="SamPrompt.MaskInput"/>.</summary>
    public float[] LowResLogit(int i) => LowResLogits.AsSpan(i * LowResHeight * LowResWidth, LowResHeight * LowResWidth).ToArray();

    private int Plane(int i)
    {
        if (i < 0 || i >= Count) throw new ArgumentOutOfRangeException(nameof(i), i, $"mask index must be within [0, {Count - 1}]");
        return i * Height * Width;
    }
}
