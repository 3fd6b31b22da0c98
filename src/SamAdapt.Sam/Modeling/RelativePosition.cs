using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Sam.Modeling;

/// <summary>
/// Decomposed relative positional embeddings of the image encoder (MViTv2, docs/sam.md §1.4): <see cref="GetRelPos"/> and
/// <see cref="AddDecomposedRelPos"/>, with the reference's einsum equations and addition order.
/// </summary>
public static class RelativePosition
{
    /// <summary>
    /// Relative positional embeddings for a query/key size pair: a (qSize, kSize, C) table gathered from <paramref name="relPos"/>
    /// (L, C). A table whose length differs from 2·max(q, k) − 1 is first resampled with linear interpolation (align_corners=False).
    /// </summary>
    public static Tensor GetRelPos(int qSize, int kSize, Tensor relPos)
    {
        using var scope = DisposeScope.Begin();
        int maxRelDist = 2 * Math.Max(qSize, kSize) - 1;
        Tensor resized;
        if (relPos.size(0) != maxRelDist)
        {
            var r = F.interpolate(relPos.reshape(1, relPos.size(0), -1).permute(0, 2, 1), [maxRelDist], InterpolationMode.Linear, alignCorners: false);
            resized = r.reshape(-1, maxRelDist).permute(1, 0);
        }
        else resized = relPos;

        // coordinates as the reference computes them: float32 tensors scaled by Python floats, truncated with .long()
        float qScale = (float)Math.Max((double)kSize / qSize, 1.0);
        float kScale = (float)Math.Max((double)qSize / kSize, 1.0);
        float offset = (float)((kSize - 1) * Math.Max((double)qSize / kSize, 1.0));
        var idx = new long[qSize * kSize];
        for (int i = 0; i < qSize; i++)
        {
            float qc = i * qScale;
            for (int j = 0; j < kSize; j++)
            {
                float kc = j * kScale;
                idx[i * kSize + j] = (long)((qc - kc) + offset);
            }
        }
        var index = torch.tensor(idx).to(relPos.device);
        return resized.index_select(0, index).view(qSize, kSize, -1).MoveToOuterScope();
    }

    /// <summary>
    /// The decomposed relative position terms alone, as an additive attention mask (B', qh·qw, kh·kw): <c>rel_h + rel_w</c>
    /// from the unscaled queries <paramref name="q"/> (B', qh·qw, C). For the fused attention kernel of libtorch 2.x.
    /// </summary>
    public static Tensor DecomposedRelPosBias(Tensor q, Tensor relPosH, Tensor relPosW, (int H, int W) qSize, (int H, int W) kSize)
    {
        using var scope = DisposeScope.Begin();
        var (relH, relW) = RelPosTerms(q, relPosH, relPosW, qSize, kSize);
        var sum = relH.unsqueeze(4) + relW.unsqueeze(3); // may inherit einsum's strides: reshape, not view
        return sum.reshape(q.size(0), qSize.H * qSize.W, kSize.H * kSize.W).MoveToOuterScope();
    }

    /// <summary>
    /// The decomposed relative position terms per query, for <see cref="ChunkedAttention"/>: rel_h (B', qh·qw, kh) and rel_w
    /// (B', qh·qw, kw) from the unscaled queries <paramref name="q"/> (B', qh·qw, C).
    /// </summary>
    public static (Tensor RelH, Tensor RelW) DecomposedRelPosTerms(Tensor q, Tensor relPosH, Tensor relPosW, (int H, int W) qSize, (int H, int W) kSize)
    {
        using var scope = DisposeScope.Begin();
        var (relH, relW) = RelPosTerms(q, relPosH, relPosW, qSize, kSize);
        long n = (long)qSize.H * qSize.W;
        return (relH.reshape(q.size(0), n, kSize.H).MoveToOuterScope(), relW.reshape(q.size(0), n, kSize.W).MoveToOuterScope());
    }

    /// <summary>SAM's decomposed terms from the unscaled queries <paramref name="q"/> (B', qh·qw, C):
    /// rel_h (B', qh, qw, kh) and rel_w (B', qh, qw, kw). Tensors of the caller's scope.</summary>
    private static (Tensor RelH, Tensor RelW) RelPosTerms(Tensor q, Tensor relPosH, Tensor relPosW, (int H, int W) qSize, (int H, int W) kSize)
    {
        var (qh, qw) = qSize;
        var (kh, kw) = kSize;
        var rh = GetRelPos(qh, kh, relPosH);
        var rw = GetRelPos(qw, kw, relPosW);
        var rq = q.reshape(q.size(0), qh, qw, q.size(2));
        return (torch.einsum("bhwc,hkc->bhwk", rq, rh), torch.einsum("bhwc,wkc->bhwk", rq, rw));
    }

    /// <summary>
    /// Adds the decomposed relative position terms to attention logits <paramref name="attn"/> (B', qh·qw, kh·kw) using the unscaled
    /// queries <paramref name="q"/> (B', qh·qw, C): <c>(attn + rel_h) + rel_w</c>.
    /// </summary>
    public static Tensor AddDecomposedRelPos(Tensor attn, Tensor q, Tensor relPosH, Tensor relPosW, (int H, int W) qSize, (int H, int W) kSize)
    {
        using var scope = DisposeScope.Begin();
        var (qh, qw) = qSize;
        var (kh, kw) = kSize;
        var (relH, relW) = RelPosTerms(q, relPosH, relPosW, qSize, kSize);
        var sum = attn.view(q.size(0), qh, qw, kh, kw) + relH.unsqueeze(4) + relW.unsqueeze(3);
        return sum.view(q.size(0), qh * qw, kh * kw).MoveToOuterScope();
    }
}
