using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Sam.Modeling;

/// <summary>
/// Multi-head self-attention of the image encoder with decomposed relative positions (docs/sam.md §1.3). Input and output
/// are channels-last (B, H, W, E). Parameters: rel_pos_h/rel_pos_w (2·S − 1, head_dim), qkv (3E, E), proj (E, E).
/// Queries are scaled <i>before</i> the q·kᵀ product, and the relative-position terms use the unscaled queries.
/// <para>Extension point: <see cref="AttachQkvDelta"/> adds a parameter-efficient increment (FacT, LoRA) to the fused qkv projection,
/// <c>qkv(x) + delta(x)</c>, where the delta module sees the same (windowed) input as <c>qkv</c>. Without one the forward is SAM's,
/// bit for bit.</para>
/// </summary>
public sealed class Attention : UnaryModule
{
    public readonly Linear qkv, proj;
    public readonly Tensor? rel_pos_h, rel_pos_w;
    public readonly int num_heads;
    public readonly double scale;

    /// <summary>
    /// Whether forward uses <see cref="F.scaled_dot_product_attention"/> (the fused kernel of libtorch ≥ 2.0) with the
    /// relative-position terms as its additive mask. Default: where the fused kernel exists. On libtorch 1.13 the default
    /// is false and the forward is the reference's, bit for bit; the fused form equals it up to float rounding.
    /// </summary>
    public bool UseFusedAttention { get; set; } = F.fused_attention_available;

    /// <summary>
    /// Largest block of attention logits computed at once, in elements (<see cref="ChunkedAttention"/>); long.MaxValue computes
    /// them all at once, as the reference does.
    /// </summary>
    public long MaxLogitsBlock { get; set; } = ChunkedAttention.DefaultMaxLogits;

    /// <summary>The attached qkv increment, or null (plain SAM).</summary>
    public QkvDelta? qkv_delta { get; private set; }

    /// <param name="dim">Channels E.</param>
    /// <param name="numHeads">Heads; head_dim = E / heads.</param>
    /// <param name="inputSize">Token grid (H, W) the relative tables are sized for (window or full grid).</param>
    public Attention(int dim, int numHeads, bool qkvBias = true, bool useRelPos = true, (int H, int W)? inputSize = null)
    {
        num_heads = numHeads;
        int headDim = dim / numHeads;
        scale = Math.Pow(headDim, -0.5);
        if (useRelPos)
        {
            var (h, w) = inputSize ?? throw new ArgumentException("input size must be given when using relative positional encoding");
            rel_pos_h = register_parameter("rel_pos_h", torch.zeros(2 * h - 1, headDim));
            rel_pos_w = register_parameter("rel_pos_w", torch.zeros(2 * w - 1, headDim));
        }
        qkv = register_module("qkv", new Linear(dim, dim * 3, qkvBias));
        proj = register_module("proj", new Linear(dim, dim));
    }

    /// <summary>
    /// Attaches a qkv increment, registered as member <paramref name="name"/> (its state-dict keys become <c>….attn.{name}.*</c>).
    /// At most one can be attached.
    /// </summary>
    public void AttachQkvDelta(string name, QkvDelta delta)
    {
        if (qkv_delta is not null) throw new InvalidOperationException("a qkv delta is already attached to this attention layer");
        qkv_delta = register_module(name, delta);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = DisposeScope.Begin();
        var fused = qkv.forward(x);
        if (qkv_delta is not null) fused = fused + qkv_delta.forward(x);
        return proj.forward(Core(fused)).MoveToOuterScope();
    }

    /// <summary>
    /// Windowed attention on the whole token grid: the result of <see cref="Block.WindowPartition"/> (zero padding to multiples
    /// of <paramref name="windowSize"/>), <see cref="forward"/> per window and <see cref="Block.WindowUnpartition"/>, without
    /// projecting the padding tokens: qkv runs on the H·W real tokens and every padding token gets the value of qkv on zeros
    /// (the bias), gathered into the windows with one index; proj runs after cropping. (B, H, W, E) → (B, H, W, E).
    /// A <see cref="QkvDelta"/> that is not <see cref="QkvDelta.PerToken"/> sees the windows, as in the plain form.
    /// </summary>
    public Tensor ForwardWindowed(Tensor x, int windowSize)
    {
        using var scope = DisposeScope.Begin();
        long b = x.size(0), e = x.size(3);
        int h = (int)x.size(1), w = (int)x.size(2);
        int padH = (windowSize - h % windowSize) % windowSize, padW = (windowSize - w % windowSize) % windowSize;
        if ((padH == 0 && padW == 0) || qkv_delta is { PerToken: false })
        {
            var (windows, padHw) = Block.WindowPartition(x, windowSize);
            var y = forward(windows);
            return Block.WindowUnpartition(y, windowSize, padHw, (h, w)).MoveToOuterScope();
        }
        int hp = h + padH, wp = w + padW;
        // (B, H·W + 1, 3E): the real tokens' qkv, then the padding tokens' one
        var fused = qkv.forward(x);
        var zero = torch.zeros([1, e], x.dtype, x.device);
        var padRow = qkv.forward(zero);
        if (qkv_delta is not null)
        {
            fused = fused + qkv_delta.forward(x);
            padRow = padRow + qkv_delta.forward(zero);
        }
        long c3 = fused.size(3);
        var table = torch.cat([fused.reshape(b, (long)h * w, c3), padRow.unsqueeze(0).expand(b, 1, c3)], 1);
        var windowsQkv = table.index_select(1, WindowIndex(h, w, windowSize, x.device))
            .view(b * (hp / windowSize) * (wp / windowSize), windowSize, windowSize, c3);
        var o = Block.WindowUnpartition(Core(windowsQkv), windowSize, (hp, wp), (h, w));
        return proj.forward(o).MoveToOuterScope();
    }

    // token index (into the (H·W + 1)-row table) of each position of each window, windows in WindowPartition's order; padding → H·W
    private static Tensor WindowIndex(int h, int w, int ws, Device device)
    {
        int hp = h + (ws - h % ws) % ws, wp = w + (ws - w % ws) % ws;
        var idx = new long[(long)hp * wp];
        int k = 0;
        for (int r = 0; r < hp / ws; r++)
            for (int c = 0; c < wp / ws; c++)
                for (int i = 0; i < ws; i++)
                    for (int j = 0; j < ws; j++)
                    {
                        int y = r * ws + i, xx = c * ws + j;
                        idx[k++] = y < h && xx < w ? (long)y * w + xx : (long)h * w;
                    }
        using var host = torch.tensor(idx);
        return host.to(device);
    }

    // attention before the output projection: fused qkv (B, H, W, 3E) → (B, H, W, E)
    private Tensor Core(Tensor fused)
    {
        using var scope = DisposeScope.Begin();
        long b = fused.size(0);
        int h = (int)fused.size(1), w = (int)fused.size(2);
        long n = (long)h * w;
        if (!UseFusedAttention && MaxLogitsBlock == ChunkedAttention.DefaultMaxLogits && ChunkedAttention.UsesNativeKernel(fused))
        {
            // inference on the CPU: one native pass on the fused projection — each head's q, k, v read in place, the
            // relative-position terms computed in its tasks, the output written in place (docs/sam.md, "Image encoder: attention
            // in blocks"); the steps below are its composite form
            var (tableH, tableW) = rel_pos_h is not null && rel_pos_w is not null
                ? (RelativePosition.GetRelPos(h, h, rel_pos_h), RelativePosition.GetRelPos(w, w, rel_pos_w)) : ((Tensor?)null, (Tensor?)null);
            return F.rel_pos_attention_qkv(fused, num_heads, tableH, tableW, scale).MoveToOuterScope();
        }
        var qkvOut = fused.reshape(b, n, 3, num_heads, -1).permute(2, 0, 3, 1, 4);
        var parts = qkvOut.reshape(3, b * num_heads, n, -1).unbind(0);
        Tensor q = parts[0], k = parts[1], v = parts[2];
        Tensor weighted;
        if (UseFusedAttention)
        {
            // q, k, v (B·heads, HW, head_dim); mask (B·heads, HW, HW) = the relative-position terms of the unscaled queries
            var bias = rel_pos_h is not null && rel_pos_w is not null
                ? RelativePosition.DecomposedRelPosBias(q, rel_pos_h, rel_pos_w, (h, w), (h, w)) : null;
            weighted = F.scaled_dot_product_attention(q, k, v, bias, scale: scale);
        }
        else
        {
            // the (B·heads, HW, HW) logits are the largest tensors of the encoder (805 MB per global block of vit_b at 1024):
            // computed a cache-sized block at a time (docs/sam.md, "Image encoder: attention in blocks")
            Tensor? relH = null, relW = null;
            if (rel_pos_h is not null && rel_pos_w is not null)
                (relH, relW) = RelativePosition.DecomposedRelPosTerms(q, rel_pos_h, rel_pos_w, (h, w), (h, w));
            weighted = ChunkedAttention.Forward(q, k, v, scale, relH, relW, MaxLogitsBlock);
        }
        return weighted.view(b, num_heads, h, w, -1).permute(0, 2, 3, 1, 4).reshape(b, h, w, -1).MoveToOuterScope();
    }
}

/// <summary>
/// An additive increment to an encoder attention's fused qkv projection: <see cref="UnaryModule.forward"/> maps the qkv input
/// (…, E) to a (…, 3E) tensor laid out [Δq, Δk, Δv] that is added to <c>qkv(x)</c>. Attach with <see cref="Attention.AttachQkvDelta"/>.
/// </summary>
public abstract class QkvDelta : UnaryModule
{
    /// <summary>
    /// True when the delta maps each token on its own (a function of that token's E channels only, e.g. a product of Linear
    /// layers with element-wise dropout): then <see cref="Attention.ForwardWindowed"/> applies it to the real tokens and to one
    /// zero token for the padding instead of to the padded windows. False (the default) keeps the windows as its input.
    /// </summary>
    public virtual bool PerToken => false;

    /// <summary>Packs q and v increments (…, E) into a (…, 3E) delta with zeros for k.</summary>
    protected static Tensor PackQv(Tensor dq, Tensor dv)
    {
        using var scope = DisposeScope.Begin();
        return torch.cat([dq, torch.zeros_like(dq), dv], -1).MoveToOuterScope();
    }
}
