using SamAdapt.Sam.Modeling;
using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Methods.MaskSam;

/// <summary>The adapters of one two-way block. Members (reference names): Space_Queries_Adapter, Cross_Space_Adapter1, MLP_Queries_Adapter, Cross_Space_Adapter2.</summary>
public sealed class TwoWayBlockAdapters : Module
{
    public readonly DepthMlpAdapter Space_Queries_Adapter, Cross_Space_Adapter1, MLP_Queries_Adapter;
    public readonly DepthConvAdapter Cross_Space_Adapter2;

    public TwoWayBlockAdapters(int dim, int frames, int queries, int grid)
    {
        Space_Queries_Adapter = register_module("Space_Queries_Adapter", new DepthMlpAdapter(dim, frames, queries, skipConnect: true));
        Cross_Space_Adapter1 = register_module("Cross_Space_Adapter1", new DepthMlpAdapter(dim, frames, queries, skipConnect: true));
        MLP_Queries_Adapter = register_module("MLP_Queries_Adapter", new DepthMlpAdapter(dim, frames, queries, skipConnect: false, scale: 0.5));
        Cross_Space_Adapter2 = register_module("Cross_Space_Adapter2", new DepthConvAdapter(dim, skipConnect: true, queries: queries, size: (grid, grid)));
    }
}

/// <summary>
/// MaskSAM's additions to SAM's mask decoder (docs/methods/masksam.md, "Mask decoder"): depth adapters in each two-way block
/// (<see cref="TwoWayBlockAdapters"/>) and after the final token→image attention (Space_Adapter), a class token
/// (classifier_token_Adapter, added to the auxiliary class token) and its head classifier_embed_Adapter (D → K + 1).
/// <see cref="Forward"/> runs SAM's decoder modules with these inserted; rows are (b, t, q).
/// </summary>
public sealed class MaskSamDecoder : Module
{
    public readonly ModuleList<TwoWayBlockAdapters> layers;
    public readonly DepthMlpAdapter Space_Adapter;
    public readonly Embedding classifier_token_Adapter;
    public readonly Linear classifier_embed_Adapter;
    private readonly int _frames, _queries;

    public MaskSamDecoder(MaskSamConfig c)
    {
        int d = c.Sam.PromptEmbedDim;
        _frames = c.Frames;
        _queries = c.NumQueries;
        layers = register_module("layers", new ModuleList<TwoWayBlockAdapters>());
        for (int i = 0; i < c.Sam.DecoderDepth; i++) layers.Add(new TwoWayBlockAdapters(d, c.Frames, c.NumQueries, c.TokenGrid));
        Space_Adapter = register_module("Space_Adapter", new DepthMlpAdapter(d, c.Frames, c.NumQueries, skipConnect: true));
        classifier_token_Adapter = register_module("classifier_token_Adapter", new Embedding(1, d));
        classifier_embed_Adapter = register_module("classifier_embed_Adapter", new Linear(d, c.NumClasses + 1));
    }

    /// <summary>
    /// <paramref name="imageEmbeddings"/> (B·T, D, g, g); <paramref name="densePe"/> (B·T, D, g, g); <paramref name="sparse"/> (N, 2, D),
    /// <paramref name="dense"/> (N, D, g, g) and <paramref name="auxClassTokens"/> (N, 1, D) for N = B·T·Q rows. Returns the first mask
    /// token's low-res logits (N, 1, 4g, 4g) and the class logits (N, K + 1).
    /// </summary>
    public (Tensor LowResMasks, Tensor ClassLogits) Forward(MaskDecoder dec, Tensor imageEmbeddings, Tensor densePe, Tensor sparse, Tensor dense,
        Tensor auxClassTokens)
    {
        using var scope = DisposeScope.Begin();
        long n = sparse.size(0);
        var output = torch.cat([dec.iou_token.weight, dec.mask_tokens.weight], 0).unsqueeze(0).expand(n, -1, -1);
        var cls = classifier_token_Adapter.weight.unsqueeze(0).expand(n, -1, -1) + auxClassTokens;
        var tokens = torch.cat([output, sparse, cls], 1);
        long rep = n / imageEmbeddings.size(0);
        var src = imageEmbeddings.repeat_interleave(rep, 0) + dense;
        var pos = densePe.repeat_interleave(n / densePe.size(0), 0);
        long c = src.size(1), h = src.size(2), w = src.size(3);
        var (hs, keys) = Transformer(dec.transformer, src, pos, tokens);
        var classLogits = classifier_embed_Adapter.forward(hs.select(1, hs.size(1) - 1));
        var up = dec.output_upscaling.forward(keys.transpose(1, 2).reshape(n, c, h, w));
        var hyper = dec.output_hypernetworks_mlps[0].forward(hs.select(1, 1)).unsqueeze(1);       // (N, 1, c')
        long uc = up.size(1), uh = up.size(2), uw = up.size(3);
        var masks = hyper.matmul(up.view(n, uc, uh * uw)).view(n, 1, uh, uw);
        return (masks.MoveToOuterScope(), classLogits.MoveToOuterScope());
    }

    private (Tensor Queries, Tensor Keys) Transformer(TwoWayTransformer t, Tensor image, Tensor imagePe, Tensor pointEmbedding)
    {
        using var scope = DisposeScope.Begin();
        var keys = image.flatten(2).permute(0, 2, 1);
        var kpe = imagePe.flatten(2).permute(0, 2, 1);
        var queries = pointEmbedding;
        for (int i = 0; i < t.layers.Count; i++)
        {
            var l = t.layers[i];
            var a = layers[i];
            if (l.skip_first_layer_pe) queries = a.Space_Queries_Adapter.forward(l.self_attn.forward(queries, queries, queries));
            else
            {
                var q0 = queries + pointEmbedding;
                queries = queries + a.Space_Queries_Adapter.forward(l.self_attn.forward(q0, q0, queries));
            }
            queries = l.norm1.forward(queries);
            var q = queries + pointEmbedding;
            var k = keys + kpe;
            queries = l.norm2.forward(queries + a.Cross_Space_Adapter1.forward(l.cross_attn_token_to_image.forward(q, k, keys)));
            queries = l.norm3.forward(queries + l.mlp.forward(queries) + a.MLP_Queries_Adapter.forward(queries));
            q = queries + pointEmbedding;
            k = keys + kpe;
            keys = l.norm4.forward(keys + a.Cross_Space_Adapter2.Forward(l.cross_attn_image_to_token.forward(k, q, queries), _frames));
        }
        var qf = queries + pointEmbedding;
        var kf = keys + kpe;
        queries = t.norm_final_attn.forward(queries + Space_Adapter.forward(t.final_attn_token_to_image.forward(qf, kf, keys)));
        return (queries.MoveToOuterScope(), keys.MoveToOuterScope());
    }
}
