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
        var qs = q * scale;
        var kt = k.transpose(1, 2);
        long perEntry = n * nk;
        long entries = Math.Clamp(maxLogits / Math.Max(perEntry, 1), 1, bp);
        long rows = perEntry <= maxLogits ? n : Math.Clamp(maxLogits / Math.Max(nk, 1), 1, n);

        var byEntries = new List<Tensor>();
        for (long b0 = 0; b0 < bp; b0 += entries)
        {
            long nb = Math.Min(entries, bp - b0);
            var byRows = new List<Tensor>();
            for (long r0 = 0; r0 < n; r0 += rows)
            {
                long nr = Math.Min(rows, n - r0);
                byRows.Add(Block(Part(qs, b0, nb, r0, nr, n), Part(kt, b0, nb, 0, 0, 0), Part(v, b0, nb, 0, 0, 0),
                    relH is null ? null : Part(relH, b0, nb, r0, nr, n), relW is null ? null : Part(relW, b0, nb, r0, nr, n), kh, kw));
            }
            byEntries.Add(byRows.Count == 1 ? byRows[0] : torch.cat([.. byRows], 1));
        }
        var result = byEntries.Count == 1 ? byEntries[0] : torch.cat([.. byEntries], 0);
        return result.MoveToOuterScope();
    }

    // entries [b0, b0 + nb) and, when rows < all, rows [r0, r0 + nr) of a (B', N, ·) tensor; the whole tensor when it is all of it
    private static Tensor Part(Tensor t, long b0, long nb, long r0, long nr, long n)
    {
        var x = nb == t.size(0) ? t : t.narrow(0, b0, nb);
        return nr == 0 || nr == n ? x : x.narrow(1, r0, nr);
    }

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
