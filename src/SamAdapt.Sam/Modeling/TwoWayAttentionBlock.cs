using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Sam.Modeling;

/// <summary>
/// One layer of the two-way transformer (docs/sam.md, "Mask decoder"), post-norm: token self-attention (no residual and no PE in the
/// first layer), token→image cross attention, ReLU MLP, image→token cross attention. LayerNorms use eps 1e-5.
/// Members: self_attn, norm1, cross_attn_token_to_image, norm2, mlp, norm3, norm4, cross_attn_image_to_token.
/// <para>Extension point (docs/sam.md, "Extension points"): <see cref="Attach"/> registers a hook on the output of one of the four
/// sub-layers (<see cref="TwoWayHookPoint"/>), applied before its residual add and norm; several run in attachment order. With none
/// attached the forward is SAM's, bit for bit.</para>
/// </summary>
public sealed class TwoWayAttentionBlock : Module
{
    public readonly DecoderAttention self_attn, cross_attn_token_to_image, cross_attn_image_to_token;
    public readonly LayerNorm norm1, norm2, norm3, norm4;
    public readonly MlpBlock mlp;
    public readonly bool skip_first_layer_pe;

    private readonly Dictionary<TwoWayHookPoint, List<UnaryModule>> _hooks = [];

    /// <summary>
    /// The Medical SAM Adapter code's token self-attention (docs/methods/msa.md, "Reference behaviours"): the prompt PE is added to the
    /// tokens themselves (so it also feeds v and stays in the residual), and the first layer keeps its residual add. Off (default): SAM's.
    /// </summary>
    public bool TokenPeInSelfAttentionResidual { get; set; }

    /// <summary>Attaches <paramref name="hook"/> (…, D) → (…, D) as member <paramref name="name"/> on the output of <paramref name="point"/>.</summary>
    public T Attach<T>(TwoWayHookPoint point, string name, T hook) where T : UnaryModule
    {
        register_module(name, hook);
        if (!_hooks.TryGetValue(point, out var list)) _hooks[point] = list = [];
        list.Add(hook);
        return hook;
    }

    private Tensor Hooked(TwoWayHookPoint point, Tensor output)
    {
        if (_hooks.TryGetValue(point, out var list))
            foreach (var h in list) output = h.forward(output);
        return output;
    }

    public TwoWayAttentionBlock(int embeddingDim, int numHeads, int mlpDim = 2048, int attentionDownsampleRate = 2, bool skipFirstLayerPe = false)
    {
        self_attn = register_module("self_attn", new DecoderAttention(embeddingDim, numHeads));
        norm1 = register_module("norm1", new LayerNorm(embeddingDim));
        cross_attn_token_to_image = register_module("cross_attn_token_to_image", new DecoderAttention(embeddingDim, numHeads, attentionDownsampleRate));
        norm2 = register_module("norm2", new LayerNorm(embeddingDim));
        mlp = register_module("mlp", new MlpBlock(embeddingDim, mlpDim, relu: true));
        norm3 = register_module("norm3", new LayerNorm(embeddingDim));
        norm4 = register_module("norm4", new LayerNorm(embeddingDim));
        cross_attn_image_to_token = register_module("cross_attn_image_to_token", new DecoderAttention(embeddingDim, numHeads, attentionDownsampleRate));
        skip_first_layer_pe = skipFirstLayerPe;
    }

    /// <summary>Updates (queries (B, Nq, D), keys (B, Nk, D)); <paramref name="queryPe"/> is the original token tensor.</summary>
    public (Tensor Queries, Tensor Keys) forward(Tensor queries, Tensor keys, Tensor queryPe, Tensor keyPe)
    {
        using var scope = DisposeScope.Begin();
        // self attention
        if (TokenPeInSelfAttentionResidual)
        {
            if (!skip_first_layer_pe) queries = queries + queryPe;
            queries = queries + Hooked(TwoWayHookPoint.SelfAttention, self_attn.forward(queries, queries, queries));
        }
        else if (skip_first_layer_pe) queries = Hooked(TwoWayHookPoint.SelfAttention, self_attn.forward(queries, queries, queries));
        else
        {
            var q0 = queries + queryPe;
            queries = queries + Hooked(TwoWayHookPoint.SelfAttention, self_attn.forward(q0, q0, queries));
        }
        queries = norm1.forward(queries);
        scope.DisposeEverythingBut(queries);

        // cross attention, tokens attending to the image
        var q = queries + queryPe;
        var k = keys + keyPe;
        queries = norm2.forward(queries + Hooked(TwoWayHookPoint.TokenToImage, cross_attn_token_to_image.forward(q, k, keys)));
        scope.DisposeEverythingBut(queries);

        // MLP
        queries = norm3.forward(queries + Hooked(TwoWayHookPoint.Mlp, mlp.forward(queries)));
        scope.DisposeEverythingBut(queries);

        // cross attention, image attending to the tokens
        q = queries + queryPe;
        k = keys + keyPe;
        keys = norm4.forward(keys + Hooked(TwoWayHookPoint.ImageToToken, cross_attn_image_to_token.forward(k, q, queries)));

        return (queries.MoveToOuterScope(), keys.MoveToOuterScope());
    }
}

/// <summary>The sub-layers of a <see cref="TwoWayAttentionBlock"/> whose output a hook can transform.</summary>
public enum TwoWayHookPoint
{
    /// <summary>Token self-attention (queries).</summary>
    SelfAttention,
    /// <summary>Cross attention, tokens attending to the image (queries).</summary>
    TokenToImage,
    /// <summary>The token MLP (queries).</summary>
    Mlp,
    /// <summary>Cross attention, image attending to the tokens (keys).</summary>
    ImageToToken,
}
