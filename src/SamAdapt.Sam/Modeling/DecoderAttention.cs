using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Sam.Modeling;

/// <summary>
/// Attention of the two-way transformer (SAM's <c>transformer.Attention</c>, docs/sam.md §3.4): projections to
/// dim / downsample_rate channels, heads split from it, logits divided by √(head dim) <i>after</i> q·kᵀ.
/// Members: q_proj, k_proj, v_proj (internal, dim), out_proj (dim, internal).
/// </summary>
public sealed class DecoderAttention : Module
{
    public readonly Linear q_proj, k_proj, v_proj, out_proj;
    public readonly int num_heads, internal_dim;

    public DecoderAttention(int embeddingDim, int numHeads, int downsampleRate = 1)
    {
        internal_dim = embeddingDim / downsampleRate;
        num_heads = numHeads;
        if (internal_dim % numHeads != 0) throw new ArgumentException($"num_heads {numHeads} must divide the internal dim {internal_dim}");
        q_proj = register_module("q_proj", new Linear(embeddingDim, internal_dim));
        k_proj = register_module("k_proj", new Linear(embeddingDim, internal_dim));
        v_proj = register_module("v_proj", new Linear(embeddingDim, internal_dim));
        out_proj = register_module("out_proj", new Linear(internal_dim, embeddingDim));
    }

    private static Tensor SeparateHeads(Tensor x, int numHeads)
    {
        long b = x.size(0), n = x.size(1), c = x.size(2);
        return x.reshape(b, n, numHeads, c / numHeads).transpose(1, 2);
    }

    private static Tensor RecombineHeads(Tensor x)
    {
        long b = x.size(0), h = x.size(1), n = x.size(2), c = x.size(3);
        return x.transpose(1, 2).reshape(b, n, h * c);
    }

    /// <summary>Attends queries <paramref name="q"/> (B, Nq, D) to keys <paramref name="k"/> (B, Nk, D) with values <paramref name="v"/> (B, Nk, D).</summary>
    public Tensor forward(Tensor q, Tensor k, Tensor v)
    {
        using var scope = DisposeScope.Begin();
        var qh = SeparateHeads(q_proj.forward(q), num_heads);
        var kh = SeparateHeads(k_proj.forward(k), num_heads);
        var vh = SeparateHeads(v_proj.forward(v), num_heads);
        long cPerHead = qh.size(3);
        var attn = qh.matmul(kh.permute(0, 1, 3, 2));
        attn = attn / Math.Sqrt(cPerHead);
        attn = F.softmax(attn, -1);
        var o = RecombineHeads(attn.matmul(vh));
        return out_proj.forward(o).MoveToOuterScope();
    }
}
