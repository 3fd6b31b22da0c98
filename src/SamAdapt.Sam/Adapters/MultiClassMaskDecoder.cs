using SamAdapt.Sam.Modeling;
using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Sam.Adapters;

/// <summary>
/// The prompt-free multi-class mask decoder of SAMed and MA-SAM (docs/methods.md §1, §2.1(d)): SAM's two-way transformer over
/// [IoU token, K + 1 mask tokens, sparse prompt tokens (none)], one hypernetwork MLP per mask token, all K + 1 masks returned
/// (background first), and either
/// <list type="bullet">
/// <item><see cref="DecoderUpscaling.Progressive"/> (MA-SAM): <c>output_upscaling</c> = ConvT(d→d/4, k2s2) [0], LayerNorm2d [1], GELU [2],
/// ConvT(d/4→d/8) [3], LayerNorm2d [4], GELU [5], ConvT(d/8→d/16) [6], LayerNorm2d [7], GELU [8], ConvT(d/16→d/32) [9], GELU [10]
/// (×16: masks at the input resolution; hypernetworks output d/32 channels; d = 256 gives 256→64→32→16→8), or</item>
/// <item><see cref="DecoderUpscaling.Sam"/> (SAMed): SAM's ConvT(d→d/4) [0], LayerNorm2d [1], GELU [2], ConvT(d/4→d/8) [3], GELU [4]
/// (×4: low-resolution masks; hypernetworks output d/8).</item>
/// </list>
/// Members and state-dict keys (under <c>mask_decoder.</c>): transformer, iou_token, mask_tokens (K+1, d), output_upscaling.{…},
/// output_hypernetworks_mlps.{0..K}, iou_prediction_head (outputs K + 1). From a SAM checkpoint, <c>transformer.*</c>,
/// <c>iou_token.*</c> and <c>output_upscaling.0/.1/.3</c> load (same shapes as SAM's); <c>mask_tokens</c>, the hypernetwork MLPs,
/// the IoU head and (progressive) <c>output_upscaling.4/.6/.7/.9</c> keep their random initialisation.
/// </summary>
public sealed class MultiClassMaskDecoder : MaskDecoderCore
{
    public readonly int num_classes;
    public readonly DecoderUpscaling upscaling;

    /// <summary>Up-sampling factor of <see cref="MaskDecoderCore.output_upscaling"/> (16 progressive, 4 SAM-style).</summary>
    public int UpscaleFactor => upscaling == DecoderUpscaling.Progressive ? 16 : 4;

    /// <summary><paramref name="numClasses"/> foreground classes K (K + 1 outputs incl. background).</summary>
    public MultiClassMaskDecoder(SamConfig c, int numClasses, DecoderUpscaling upscaling)
        : base(Checked(c, numClasses, upscaling),
            new TwoWayTransformer(c.DecoderDepth, c.PromptEmbedDim, c.DecoderNumHeads, c.DecoderMlpDim, c.AttentionDownsampleRate),
            numClasses + 1, Upscaling(c.PromptEmbedDim, upscaling), c.PromptEmbedDim / (upscaling == DecoderUpscaling.Progressive ? 32 : 8),
            c.IouHeadDepth, c.IouHeadHiddenDim)
    {
        num_classes = numClasses;
        this.upscaling = upscaling;
    }

    private static int Checked(SamConfig c, int numClasses, DecoderUpscaling upscaling)
    {
        c.Validate();
        if (numClasses < 1) throw new ArgumentOutOfRangeException(nameof(numClasses), "at least one foreground class is needed");
        int d = c.PromptEmbedDim;
        if (upscaling == DecoderUpscaling.Progressive && d % 32 != 0)
            throw new ArgumentException($"the progressive decoder divides the decoder dim by 32; prompt embed dim {d} is not a multiple of 32");
        return d;
    }

    private static Sequential Upscaling(int d, DecoderUpscaling upscaling) => upscaling == DecoderUpscaling.Progressive
        ? new Sequential(
            ConvTranspose.ConvTranspose2d(d, d / 4, 2, stride: 2), new ChannelLayerNorm(d / 4), new GELU(),
            ConvTranspose.ConvTranspose2d(d / 4, d / 8, 2, stride: 2), new ChannelLayerNorm(d / 8), new GELU(),
            ConvTranspose.ConvTranspose2d(d / 8, d / 16, 2, stride: 2), new ChannelLayerNorm(d / 16), new GELU(),
            ConvTranspose.ConvTranspose2d(d / 16, d / 32, 2, stride: 2), new GELU())
        : MaskDecoder.SamUpscaling(d);

    /// <summary>
    /// State-dict keys (relative to this decoder) that take SAM checkpoint values: everything except mask_tokens, the hypernetwork MLPs,
    /// the IoU head and the up-sampling layers SAM does not have.
    /// </summary>
    public static bool LoadsFromSam(string key) =>
        !key.StartsWith("mask_tokens.", StringComparison.Ordinal) &&
        !key.StartsWith("output_hypernetworks_mlps.", StringComparison.Ordinal) &&
        !key.StartsWith("iou_prediction_head.", StringComparison.Ordinal) &&
        (!key.StartsWith("output_upscaling.", StringComparison.Ordinal) ||
         key.StartsWith("output_upscaling.0.", StringComparison.Ordinal) || key.StartsWith("output_upscaling.1.", StringComparison.Ordinal) ||
         key.StartsWith("output_upscaling.3.", StringComparison.Ordinal));

    /// <summary>
    /// Decodes. <paramref name="imageEmbeddings"/> (N, d, h, w); <paramref name="imagePe"/> (1, d, h, w); <paramref name="sparsePromptEmbeddings"/>
    /// (N, P, d) — (N, 0, d) prompt-free; <paramref name="densePromptEmbeddings"/> (1 or N, d, h, w). Image i pairs with prompt row i
    /// (no repeat). Returns mask logits (N, K + 1, f·h, f·w) with f = <see cref="UpscaleFactor"/>, and IoU predictions (N, K + 1).
    /// </summary>
    public (Tensor Masks, Tensor IouPredictions) forward(Tensor imageEmbeddings, Tensor imagePe, Tensor sparsePromptEmbeddings, Tensor densePromptEmbeddings)
    {
        using var scope = DisposeScope.Begin();
        long n = imageEmbeddings.size(0);
        if (sparsePromptEmbeddings.size(0) != n)
            throw new ArgumentException($"{sparsePromptEmbeddings.size(0)} prompt rows for {n} images; the multi-class decoder pairs them one to one");
        var outputTokens = OutputTokens(n);
        var tokens = sparsePromptEmbeddings.size(1) == 0 ? outputTokens : torch.cat([outputTokens, sparsePromptEmbeddings], 1);
        var src = imageEmbeddings + densePromptEmbeddings;
        var posSrc = imagePe.expand(n, -1, -1, -1);
        var (masks, iou) = Decode(src, posSrc, tokens);
        return (masks.MoveToOuterScope(), iou.MoveToOuterScope());
    }
}
