using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Sam.Modeling;

/// <summary>How <see cref="MaskDecoder"/> pairs image embeddings with prompt batches.</summary>
public enum ImageBatchMode
{
    /// <summary>Upstream SAM: the image embedding is always <c>repeat_interleave</c>d by the number of prompts (one image, B prompts).</summary>
    RepeatInterleave,
    /// <summary>MedSAM's variant: when the image batch equals the prompt batch, image i pairs with prompt i (no repeat); otherwise repeat as upstream.</summary>
    SkipRepeatWhenBatchesMatch,
}

/// <summary>
/// SAM's mask decoder (docs/sam.md, "Mask decoder"): a two-way transformer over [IoU token, mask tokens, prompt tokens] and the image
/// embedding, output upscaling ×4, hypernetwork MLPs per mask token and an IoU head.
/// Members: transformer, iou_token (1, D), mask_tokens (M+1, D), output_upscaling.{0,1,3}, output_hypernetworks_mlps.{i}, iou_prediction_head.
/// </summary>
public sealed class MaskDecoder : MaskDecoderCore
{
    public readonly int num_multimask_outputs;

    /// <summary>Image-batch pairing (upstream repeat by default; MedSAM's skip-when-equal on request).</summary>
    public ImageBatchMode BatchMode { get; set; } = ImageBatchMode.RepeatInterleave;

    public MaskDecoder(int transformerDim, TwoWayTransformer transformer, int numMultimaskOutputs = 3, int iouHeadDepth = 3, int iouHeadHiddenDim = 256)
        : base(transformerDim, transformer, numMultimaskOutputs + 1, SamUpscaling(transformerDim), transformerDim / 8, iouHeadDepth, iouHeadHiddenDim)
    {
        num_multimask_outputs = numMultimaskOutputs;
    }

    /// <summary>SAM's ×4 up-sampling: ConvT(d→d/4) [0], LayerNorm2d [1], GELU [2], ConvT(d/4→d/8) [3], GELU [4].</summary>
    public static Sequential SamUpscaling(int d) => new(
        ConvTranspose.ConvTranspose2d(d, d / 4, 2, stride: 2),
        new ChannelLayerNorm(d / 4),
        new GELU(),
        ConvTranspose.ConvTranspose2d(d / 4, d / 8, 2, stride: 2),
        new GELU());

    public MaskDecoder(SamConfig c)
        : this(c.PromptEmbedDim,
            new TwoWayTransformer(c.DecoderDepth, c.PromptEmbedDim, c.DecoderNumHeads, c.DecoderMlpDim, c.AttentionDownsampleRate),
            c.NumMultimaskOutputs, c.IouHeadDepth, c.IouHeadHiddenDim) { }

    /// <summary>
    /// Predicts masks. <paramref name="imageEmbeddings"/> (1 or B, D, h, w) from the image encoder; <paramref name="imagePe"/> (1, D, h, w)
    /// from <see cref="PromptEncoder.get_dense_pe"/>; <paramref name="sparsePromptEmbeddings"/> (B, N, D) and <paramref name="densePromptEmbeddings"/>
    /// (B, D, h, w) from <see cref="PromptEncoder.forward"/>. Returns low-resolution mask logits (B, C, 4h, 4w) and IoU predictions (B, C)
    /// with C = <see cref="num_multimask_outputs"/> (tokens 1..M) when <paramref name="multimaskOutput"/>, else 1 (token 0).
    /// </summary>
    public (Tensor LowResMasks, Tensor IouPredictions) forward(Tensor imageEmbeddings, Tensor imagePe, Tensor sparsePromptEmbeddings,
        Tensor densePromptEmbeddings, bool multimaskOutput)
    {
        using var scope = DisposeScope.Begin();
        var (masks, iouPred) = PredictMasks(imageEmbeddings, imagePe, sparsePromptEmbeddings, densePromptEmbeddings);
        var (start, end) = multimaskOutput ? (1L, (long)num_mask_tokens) : (0L, 1L);
        return (masks.slice(1, start, end).MoveToOuterScope(), iouPred.slice(1, start, end).MoveToOuterScope());
    }

    /// <summary>All mask tokens' outputs: masks (B, M+1, 4h, 4w) and IoU predictions (B, M+1) (no multimask selection).</summary>
    public (Tensor Masks, Tensor IouPredictions) PredictMasks(Tensor imageEmbeddings, Tensor imagePe, Tensor sparsePromptEmbeddings, Tensor densePromptEmbeddings)
    {
        using var scope = DisposeScope.Begin();
        long b = sparsePromptEmbeddings.size(0);
        var tokens = torch.cat([OutputTokens(b), sparsePromptEmbeddings], 1);
        bool skipRepeat = BatchMode == ImageBatchMode.SkipRepeatWhenBatchesMatch && imageEmbeddings.size(0) == tokens.size(0);
        var src = skipRepeat ? imageEmbeddings : imageEmbeddings.repeat_interleave(tokens.size(0), 0);
        src = src + densePromptEmbeddings;
        var posSrc = imagePe.repeat_interleave(tokens.size(0), 0);
        var (masks, iou) = Decode(src, posSrc, tokens);
        return (masks.MoveToOuterScope(), iou.MoveToOuterScope());
    }
}
