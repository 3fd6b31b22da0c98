using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Sam.Modeling;

/// <summary>
/// Pre-norm transformer block of the image encoder (docs/sam-v1.md §1.2): windowed attention (window_size &gt; 0, zero padding
/// after norm1, no mask) or global attention (window_size = 0), then an exact-GELU MLP. Channels-last (B, H, W, E) in and out.
/// Members: norm1, attn, norm2, mlp (LayerNorms with eps 1e-6).
/// <para>Extension point (MA-SAM, docs/methods.md §2.1(b)): <see cref="AttachAdapters"/> registers <c>adapter_1</c> and
/// <c>adapter_2</c>; the forward becomes <c>x = x + adapter_1(x)</c>; <c>x = x + attn(norm1(x))</c>; <c>x = x + adapter_2(x)</c>;
/// <c>x = x + mlp(norm2(x))</c>. Without adapters the forward is SAM's, bit for bit.</para>
/// </summary>
public sealed class Block : UnaryModule
{
    public readonly LayerNorm norm1, norm2;
    public readonly Attention attn;
    public readonly MlpBlock mlp;
    public readonly int window_size;

    /// <summary>Adapter applied (residually) before attention, or null.</summary>
    public UnaryModule? adapter_1 { get; private set; }
    /// <summary>Adapter applied (residually) after attention, before the MLP, or null.</summary>
    public UnaryModule? adapter_2 { get; private set; }

    public Block(int dim, int numHeads, double mlpRatio, int windowSize, (int H, int W) inputSize, double normEps = 1e-6)
    {
        window_size = windowSize;
        norm1 = register_module("norm1", new LayerNorm(dim, normEps));
        attn = register_module("attn", new Attention(dim, numHeads, true, true, windowSize == 0 ? inputSize : (windowSize, windowSize)));
        norm2 = register_module("norm2", new LayerNorm(dim, normEps));
        mlp = register_module("mlp", new MlpBlock(dim, (long)(dim * mlpRatio)));
    }

    /// <summary>
    /// Attaches the two residual adapters as members <c>adapter_1</c> (before norm1/attention) and <c>adapter_2</c> (before
    /// norm2/MLP); each maps (B, H, W, E) to (B, H, W, E). Either may be null. Can be called once.
    /// </summary>
    public void AttachAdapters(UnaryModule? beforeAttention, UnaryModule? beforeMlp)
    {
        if (adapter_1 is not null || adapter_2 is not null) throw new InvalidOperationException("adapters are already attached to this block");
        if (beforeAttention is not null) adapter_1 = register_module("adapter_1", beforeAttention);
        if (beforeMlp is not null) adapter_2 = register_module("adapter_2", beforeMlp);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = DisposeScope.Begin();
        if (adapter_1 is not null) x = x + adapter_1.forward(x);
        var shortcut = x;
        var h = norm1.forward(x);
        if (window_size > 0)
        {
            int height = (int)h.size(1), width = (int)h.size(2);
            var (windows, padHw) = WindowPartition(h, window_size);
            h = attn.forward(windows);
            h = WindowUnpartition(h, window_size, padHw, (height, width));
        }
        else h = attn.forward(h);
        var y = shortcut + h;
        scope.DisposeEverythingBut(y);
        if (adapter_2 is not null) y = y + adapter_2.forward(y);
        y = y + mlp.forward(norm2.forward(y));
        return y.MoveToOuterScope();
    }

    /// <summary>
    /// Splits (B, H, W, C) into non-overlapping (B·nWindows, ws, ws, C) windows ordered (b, row, col), padding the bottom and right
    /// with zeros to multiples of ws. Returns the windows and the padded size (Hp, Wp).
    /// </summary>
    public static (Tensor Windows, (int Hp, int Wp) Padded) WindowPartition(Tensor x, int windowSize)
    {
        using var scope = DisposeScope.Begin();
        long b = x.size(0), c = x.size(3);
        int h = (int)x.size(1), w = (int)x.size(2);
        int padH = (windowSize - h % windowSize) % windowSize;
        int padW = (windowSize - w % windowSize) % windowSize;
        if (padH > 0 || padW > 0) x = F.pad(x, [0, 0, 0, padW, 0, padH]);
        int hp = h + padH, wp = w + padW;
        var windows = x.view(b, hp / windowSize, windowSize, wp / windowSize, windowSize, c)
            .permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, windowSize, windowSize, c);
        return (windows.MoveToOuterScope(), (hp, wp));
    }

    /// <summary>Inverse of <see cref="WindowPartition"/>: reassembles (B, Hp, Wp, C) and crops the padding to (B, H, W, C).</summary>
    public static Tensor WindowUnpartition(Tensor windows, int windowSize, (int Hp, int Wp) padded, (int H, int W) size)
    {
        using var scope = DisposeScope.Begin();
        var (hp, wp) = padded;
        var (h, w) = size;
        long b = windows.size(0) / ((long)hp * wp / windowSize / windowSize);
        var x = windows.view(b, hp / windowSize, wp / windowSize, windowSize, windowSize, -1)
            .permute(0, 1, 3, 2, 4, 5).contiguous().view(b, hp, wp, -1);
        if (hp > h || wp > w) x = x.slice(1, 0, h).slice(2, 0, w).contiguous();
        return x.MoveToOuterScope();
    }
}
