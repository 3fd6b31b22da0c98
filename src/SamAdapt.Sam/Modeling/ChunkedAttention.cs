using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Sam.Modeling;

/// <summary>
/// The image encoder's attention <c>softmax(q·scale·kᵀ + rel_h + rel_w)·v</c> computed a block of logits at a time, so that the
/// full (B', N, Nk) logits never exist at once: a global block of vit_b at 1024² has 12 × 4096 × 4096 of them (805 MB), which
/// the plain form writes and reads back four times (product, two relative-position additions, softmax) from main memory. Here
/// each block of at most <c>maxLogits</c> elements (a few MB, cache-sized) goes through the same four steps while it is still
/// in cache: blocks of whole batch entries when one entry fits (windowed attention), otherwise blocks of query rows of one
/// entry (global attention), the relative-position terms added in place to the block's logits.
/// <para>Same arithmetic as docs/sam.md §1.3–1.4 in the same order per element (<c>(q·scale·kᵀ + rel_h) + rel_w</c>, softmax
/// over keys, product with v); with one block it is the plain form bit for bit, with several the products may round
/// differently in the last bit (BLAS blocking). Differentiable: under autograd each block's softmax output is kept for
/// backward as the plain form keeps the whole one.</para>
/// </summary>
public static class ChunkedAttention
{
    /// <summary>Default logits block, in elements (4 MiB of float32: fits the 32 MiB L3 and, per row block, most of an L2).</summary>
    public const long DefaultMaxLogits = 1 << 20;

    /// <param name="q">Unscaled queries (B', N, d), N = qh·qw.</param>
    /// <param name="k">Keys (B', Nk, d), Nk = kh·kw.</param>
    /// <param name="v">Values (B', Nk, dv).</param>
    /// <param name="scale">Factor on the queries in the q·kᵀ product.</param>
    /// <param name="relH">rel_h terms (B', N, kh), or null (then <paramref name="relW"/> must be null too).</param>
    /// <param name="relW">rel_w terms (B', N, kw).</param>
    /// <param name="maxLogits">Largest logits block, in elements.</param>
    /// <returns>(B', N, dv).</returns>
    public static Tensor Forward(Tensor q, Tensor k, Tensor v, double scale, Tensor? relH, Tensor? relW, long maxLogits = DefaultMaxLogits)
    {
        if ((relH is null) != (relW is null)) throw new ArgumentException("rel_h and rel_w terms go together");
        using var scope = DisposeScope.Begin();
        long bp = q.size(0), n = q.size(1), nk = k.size(1);
        long kh = relH?.size(2) ?? 0, kw = relW?.size(2) ?? 0;
        if (relH is not null && kh * kw != nk) throw new ArgumentException($"relative-position terms cover {kh}×{kw} keys, the keys are {nk}");
        if (UsesNativeKernel(q))
        {
            // inference: the native kernel, one parallel pass over blocks of query rows (docs/sam.md, "Image encoder: attention in
            // blocks"); not in a checkpointed block, whose recomputation in backward (with gradients: the blocks below) must
            // reproduce the first pass bit for bit
            long blockRows = maxLogits == DefaultMaxLogits ? 0 : Math.Clamp(maxLogits / Math.Max(nk, 1), 1, Math.Max(n, 1));
            return F.rel_pos_attention(q, k, v, relH, relW, scale, blockRows).MoveToOuterScope();
        }
        var qs = q * scale;
        var kt = k.transpose(1, 2);
        long perEntry = n * nk;
        long entries = Math.Clamp(maxLogits / Math.Max(perEntry, 1), 1, bp);
        long rows = perEntry <= maxLogits ? n : Math.Clamp(maxLogits / Math.Max(nk, 1), 1, n);

        // split, not narrow: under autograd a narrow's backward writes its gradient into a zero tensor of the whole input,
        // once per block; a split's backward concatenates the blocks' gradients once
        var qByEntry = Split(qs, entries, 0);
        var kByEntry = Split(kt, entries, 0);
        var vByEntry = Split(v, entries, 0);
        var hByEntry = relH is null ? null : Split(relH, entries, 0);
        var wByEntry = relW is null ? null : Split(relW, entries, 0);
        var byEntries = new Tensor[qByEntry.Length];
        for (int e = 0; e < qByEntry.Length; e++)
        {
            var qRows = Split(qByEntry[e], rows, 1);
            var hRows = hByEntry is null ? null : Split(hByEntry[e], rows, 1);
            var wRows = wByEntry is null ? null : Split(wByEntry[e], rows, 1);
            var byRows = new Tensor[qRows.Length];
            for (int r = 0; r < qRows.Length; r++)
                byRows[r] = Block(qRows[r], kByEntry[e], vByEntry[e], hRows?[r], wRows?[r], kh, kw);
            byEntries[e] = byRows.Length == 1 ? byRows[0] : torch.cat(byRows, 1);
        }
        var result = byEntries.Length == 1 ? byEntries[0] : torch.cat(byEntries, 0);
        return result.MoveToOuterScope();
    }

    /// <summary>
    /// Whether attention on <paramref name="input"/> runs in the bridge's CPU kernel (docs/sam.md, "Image encoder: attention in
    /// blocks"): inference (no gradient recorded, not inside a checkpointed block, whose recomputation must match its first pass bit
    /// for bit) on a float32 CPU tensor.
    /// </summary>
    public static bool UsesNativeKernel(Tensor input) =>
        !torch.is_grad_enabled() && !Checkpoint.IsRunning && input.device.Type == DeviceType.CPU && input.dtype == DType.Float32;

    // pieces of at most `size` along `dim`; the tensor itself when it is one piece
    private static Tensor[] Split(Tensor t, long size, long dim) => size >= t.size((int)dim) ? [t] : t.split(size, dim);

    // one logits block: (nb, nr, Nk) = qs·kᵀ, + rel_h, + rel_w in place, softmax, · v → (nb, nr, dv); temporaries freed here
    private static Tensor Block(Tensor qs, Tensor kt, Tensor v, Tensor? relH, Tensor? relW, long kh, long kw)
    {
        using var scope = DisposeScope.Begin();
        var logits = qs.matmul(kt);
        if (relH is not null && relW is not null)
        {
            long nb = logits.size(0), nr = logits.size(1);
            var grid = logits.view(nb, nr, kh, kw);
            if (torch.is_grad_enabled())
            {
                // out of place under autograd (an in-place add on a view would be recorded as a strided copy)
                var biased = grid + relH.unsqueeze(3) + relW.unsqueeze(2);
                logits.Dispose();
                logits = biased.view(nb, nr, kh * kw);
            }
            else
            {
                grid.add_(relH.unsqueeze(3));
                grid.add_(relW.unsqueeze(2));
            }
        }
        var probs = F.softmax(logits, -1);
        logits.Dispose();
        return probs.matmul(v).MoveToOuterScope();
    }
}
