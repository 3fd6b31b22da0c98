using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Sam.Modeling;

/// <summary>
/// The mask decoder's two-way transformer (docs/sam.md §3.2): <c>depth</c> <see cref="TwoWayAttentionBlock"/>s, then a final
/// token→image attention and LayerNorm (eps 1e-5). Members: layers.{i}, final_attn_token_to_image, norm_final_attn.
/// </summary>
public sealed class TwoWayTransformer : Module
{
    public readonly ModuleList<TwoWayAttentionBlock> layers;
    public readonly DecoderAttention final_attn_token_to_image;
    public readonly LayerNorm norm_final_attn;

    public TwoWayTransformer(int depth, int embeddingDim, int numHeads, int mlpDim, int attentionDownsampleRate = 2)
    {
        layers = register_module("layers", new ModuleList<TwoWayAttentionBlock>());
        for (int i = 0; i < depth; i++)
            layers.Add(new TwoWayAttentionBlock(embeddingDim, numHeads, mlpDim, attentionDownsampleRate, skipFirstLayerPe: i == 0));
        final_attn_token_to_image = register_module("final_attn_token_to_image", new DecoderAttention(embeddingDim, numHeads, attentionDownsampleRate));
        norm_final_attn = register_module("norm_final_attn", new LayerNorm(embeddingDim));
    }

    /// <summary>
    /// <paramref name="imageEmbedding"/> and <paramref name="imagePe"/> (B, D, h, w), <paramref name="pointEmbedding"/> (B, N, D).
    /// Returns the processed tokens (B, N, D) and image keys (B, h·w, D).
    /// </summary>
    public (Tensor Queries, Tensor Keys) forward(Tensor imageEmbedding, Tensor imagePe, Tensor pointEmbedding)
    {
        using var scope = DisposeScope.Begin();
        var image = imageEmbedding.flatten(2).permute(0, 2, 1);
        var pe = imagePe.flatten(2).permute(0, 2, 1);
        Tensor queries = pointEmbedding, keys = image;
        foreach (var layer in layers)
            (queries, keys) = layer.forward(queries, keys, pointEmbedding, pe);
        var q = queries + pointEmbedding;
        var k = keys + pe;
        var attnOut = final_attn_token_to_image.forward(q, k, keys);
        queries = norm_final_attn.forward(queries + attnOut);
        return (queries.MoveToOuterScope(), keys.MoveToOuterScope());
    }
}
