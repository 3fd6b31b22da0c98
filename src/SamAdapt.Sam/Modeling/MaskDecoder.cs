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
/// SAM's mask decoder (docs/sam-v1.md §3): a two-way transformer over [IoU token, mask tokens, prompt tokens] and the image
/// embedding, output upscaling ×4, hypernetwork MLPs per mask token and an IoU head.
/// Members: transformer, iou_token (1, D), mask_tokens (M+1, D), output_upscaling.{0,1,3}, output_hypernetworks_mlps.{i}, iou_prediction_head.
/// </summary>
public sealed class MaskDecoder : Module
{
    public readonly TwoWayTransformer transformer;
    public readonly Embedding iou_token, mask_tokens;
    public readonly Sequential output_upscaling;
    public readonly ModuleList<Mlp> output_hypernetworks_mlps;
    public readonly Mlp iou_prediction_head;
    public readonly int transformer_dim, num_multimask_outputs, num_mask_tokens;

    /// <summary>Image-batch pairing (upstream repeat by default; MedSAM's skip-when-equal on request).</summary>
    public ImageBatchMode BatchMode { get; set; } = ImageBatchMode.RepeatInterleave;

    public MaskDecoder(int transformerDim, TwoWayTransformer transformer, int numMultimaskOutputs = 3, int iouHeadDepth = 3, int iouHeadHiddenDim = 256)
    {
        transformer_dim = transformerDim;
        this.transformer = register_module("transformer", transformer);
        num_multimask_outputs = numMultimaskOutputs;
        num_mask_tokens = numMultimaskOutputs + 1;
        iou_token = register_module("iou_token", new Embedding(1, transformerDim));
        mask_tokens = register_module("mask_tokens", new Embedding(num_mask_tokens, transformerDim));
        output_upscaling = register_module("output_upscaling", new Sequential(
            ConvTranspose.ConvTranspose2d(transformerDim, transformerDim / 4, 2, stride: 2),
            new LayerNorm2d(transformerDim / 4),
            new GELU(),
            ConvTranspose.ConvTranspose2d(transformerDim / 4, transformerDim / 8, 2, stride: 2),
            new GELU()));
        output_hypernetworks_mlps = register_module("output_hypernetworks_mlps",
            new ModuleList<Mlp>(Enumerable.Range(0, num_mask_tokens).Select(_ => new Mlp(transformerDim, transformerDim, transformerDim / 8, 3))));
        iou_prediction_head = register_module("iou_prediction_head", new Mlp(transformerDim, iouHeadHiddenDim, num_mask_tokens, iouHeadDepth));
    }

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
        var outputTokens = torch.cat([iou_token.weight, mask_tokens.weight], 0);
        long b = sparsePromptEmbeddings.size(0);
        outputTokens = outputTokens.unsqueeze(0).expand(b, -1, -1);
        var tokens = torch.cat([outputTokens, sparsePromptEmbeddings], 1);

        bool skipRepeat = BatchMode == ImageBatchMode.SkipRepeatWhenBatchesMatch && imageEmbeddings.size(0) == tokens.size(0);
        var src = skipRepeat ? imageEmbeddings : imageEmbeddings.repeat_interleave(tokens.size(0), 0);
        src = src + densePromptEmbeddings;
        var posSrc = imagePe.repeat_interleave(tokens.size(0), 0);
        long bb = src.size(0), c = src.size(1), h = src.size(2), w = src.size(3);

        var (hs, srcOut) = transformer.forward(src, posSrc, tokens);
        var iouTokenOut = hs.select(1, 0);
        var maskTokensOut = hs.slice(1, 1, 1 + num_mask_tokens);

        var upscaled = output_upscaling.forward(srcOut.transpose(1, 2).view(bb, c, h, w));
        var hyperIn = torch.stack(Enumerable.Range(0, num_mask_tokens)
            .Select(i => output_hypernetworks_mlps[i].forward(maskTokensOut.select(1, i))).ToArray(), 1);
        long ub = upscaled.size(0), uc = upscaled.size(1), uh = upscaled.size(2), uw = upscaled.size(3);
        var masks = hyperIn.matmul(upscaled.view(ub, uc, uh * uw)).view(ub, -1, uh, uw);
        var iouPred = iou_prediction_head.forward(iouTokenOut);
        return (masks.MoveToOuterScope(), iouPred.MoveToOuterScope());
    }
}
