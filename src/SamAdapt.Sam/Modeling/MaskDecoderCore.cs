using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Sam.Modeling;

/// <summary>
/// What SAM's <see cref="MaskDecoder"/> and the multi-class decoder (<see cref="Adapters.MultiClassMaskDecoder"/>) share
/// (docs/sam.md, "Mask decoder"): members transformer, iou_token (1, d), mask_tokens (M, d), output_upscaling,
/// output_hypernetworks_mlps.{0..M−1} (d → d → d → c), iou_prediction_head (M outputs), registered in this order (SAM's keys),
/// and the decoding itself: two-way transformer over [IoU token, mask tokens, prompt tokens] and the image, up-sampling, one
/// hypernetwork per mask token, the IoU head. Subclasses decide the up-sampling stack and how images pair with prompts.
/// </summary>
public abstract class MaskDecoderCore : Module
{
    public readonly TwoWayTransformer transformer;
    public readonly Embedding iou_token, mask_tokens;
    public readonly Sequential output_upscaling;
    public readonly ModuleList<Mlp> output_hypernetworks_mlps;
    public readonly Mlp iou_prediction_head;
    public readonly int transformer_dim, num_mask_tokens;

    /// <param name="upscaling">The up-sampling stack (its output channels = <paramref name="upscaledChannels"/>).</param>
    protected MaskDecoderCore(int transformerDim, TwoWayTransformer transformer, int numMaskTokens, Sequential upscaling, int upscaledChannels,
        int iouHeadDepth, int iouHeadHiddenDim)
    {
        transformer_dim = transformerDim;
        num_mask_tokens = numMaskTokens;
        this.transformer = register_module("transformer", transformer);
        iou_token = register_module("iou_token", new Embedding(1, transformerDim));
        mask_tokens = register_module("mask_tokens", new Embedding(numMaskTokens, transformerDim));
        output_upscaling = register_module("output_upscaling", upscaling);
        output_hypernetworks_mlps = register_module("output_hypernetworks_mlps",
            new ModuleList<Mlp>(Enumerable.Range(0, numMaskTokens).Select(_ => new Mlp(transformerDim, transformerDim, upscaledChannels, 3))));
        iou_prediction_head = register_module("iou_prediction_head", new Mlp(transformerDim, iouHeadHiddenDim, numMaskTokens, iouHeadDepth));
    }

    /// <summary>[IoU token, mask tokens] for <paramref name="n"/> rows: (n, 1 + M, d).</summary>
    protected Tensor OutputTokens(long n) => torch.cat([iou_token.weight, mask_tokens.weight], 0).unsqueeze(0).expand(n, -1, -1);

    /// <summary>
    /// Decodes paired rows: <paramref name="src"/> image embeddings plus dense prompts (N, d, h, w), <paramref name="posSrc"/> their
    /// positional encoding (N, d, h, w), <paramref name="tokens"/> (N, 1 + M + P, d). Returns masks (N, M, f·h, f·w) and IoU (N, M).
    /// </summary>
    protected (Tensor Masks, Tensor IouPredictions) Decode(Tensor src, Tensor posSrc, Tensor tokens)
    {
        using var scope = DisposeScope.Begin();
        long n = src.size(0), c = src.size(1), h = src.size(2), w = src.size(3);
        var (hs, srcOut) = transformer.forward(src, posSrc, tokens);
        var iouTokenOut = hs.select(1, 0);
        var maskTokensOut = hs.slice(1, 1, 1 + num_mask_tokens);
        var upscaled = output_upscaling.forward(srcOut.transpose(1, 2).reshape(n, c, h, w));
        var hyperIn = torch.stack(Enumerable.Range(0, num_mask_tokens)
            .Select(i => output_hypernetworks_mlps[i].forward(maskTokensOut.select(1, i))).ToArray(), 1);
        long uc = upscaled.size(1), uh = upscaled.size(2), uw = upscaled.size(3);
        var masks = hyperIn.matmul(upscaled.view(n, uc, uh * uw)).view(n, -1, uh, uw);
        var iou = iou_prediction_head.forward(iouTokenOut);
        return (masks.MoveToOuterScope(), iou.MoveToOuterScope());
    }
}
