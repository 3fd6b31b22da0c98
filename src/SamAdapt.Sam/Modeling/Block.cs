using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Sam.Modeling;

/// <summary>
/// Pre-norm transformer block of the image encoder (docs/sam.md, "Image encoder"): windowed attention (window_size &gt; 0, zero
/// padding after norm1, no mask) or global attention (window_size = 0), then an exact-GELU MLP. Channels-last (B, H, W, E) in and
/// out. Members: norm1, attn, norm2, mlp (LayerNorms with eps 1e-6).
/// <para>Extension points (docs/sam.md, "Extension points"): <see cref="Attach"/> registers a <see cref="BlockHook"/> under a name
/// (its keys become <c>blocks.{i}.{name}.*</c>) at one of four <see cref="BlockHookPoint"/>s: before attention, after attention,
/// before the MLP, parallel to the MLP, parallel to attention. Several hooks at one point run in attachment order. With nothing attached
/// (and <see cref="NormAfterWindowPartition"/> off) the forward is SAM's, bit for bit.</para>
/// </summary>
public sealed class Block : UnaryModule
{
    public readonly LayerNorm norm1, norm2;
    public readonly Attention attn;
    public readonly MlpBlock mlp;
    public readonly int window_size;

    private readonly List<BlockHook> _beforeAttention = [], _afterAttention = [], _beforeMlp = [], _parallelMlp = [], _parallelAttention = [];

    /// <summary>
    /// Windowed blocks only: partition (zero padding) first and apply norm1 to the windows, so padding tokens become norm1's bias and
    /// take part in attention as keys (the Medical SAM Adapter code's order, docs/methods/msa.md). Off (SAM): norm1, then zero padding.
    /// </summary>
    public bool NormAfterWindowPartition { get; set; }

    /// <summary>MA-SAM's adapter before attention (the hook named <c>adapter_1</c>), or null.</summary>
    public BlockHook? adapter_1 => Hook("adapter_1");
    /// <summary>MA-SAM's adapter before the MLP (the hook named <c>adapter_2</c>), or null.</summary>
    public BlockHook? adapter_2 => Hook("adapter_2");

    public Block(int dim, int numHeads, double mlpRatio, int windowSize, (int H, int W) inputSize, double normEps = 1e-6)
    {
        window_size = windowSize;
        norm1 = register_module("norm1", new LayerNorm(dim, normEps));
        attn = register_module("attn", new Attention(dim, numHeads, true, true, windowSize == 0 ? inputSize : (windowSize, windowSize)));
        norm2 = register_module("norm2", new LayerNorm(dim, normEps));
        mlp = register_module("mlp", new MlpBlock(dim, (long)(dim * mlpRatio)));
    }

    /// <summary>The attached hook called <paramref name="name"/>, or null.</summary>
    public BlockHook? Hook(string name) =>
        _beforeAttention.Concat(_afterAttention).Concat(_beforeMlp).Concat(_parallelMlp).Concat(_parallelAttention).FirstOrDefault(h => HookNames.TryGetValue(h, out var n) && n == name);

    private Dictionary<BlockHook, string> HookNames { get; } = new(ReferenceEqualityComparer.Instance);

    /// <summary>Attaches <paramref name="hook"/> as member <paramref name="name"/> at <paramref name="point"/>.</summary>
    public T Attach<T>(BlockHookPoint point, string name, T hook) where T : BlockHook
    {
        if (Hook(name) is not null) throw new InvalidOperationException($"a hook named '{name}' is already attached to this block");
        register_module(name, hook);
        HookNames[hook] = name;
        hook.Owner = this;
        (point switch
        {
            BlockHookPoint.BeforeAttention => _beforeAttention,
            BlockHookPoint.AfterAttention => _afterAttention,
            BlockHookPoint.BeforeMlp => _beforeMlp,
            BlockHookPoint.ParallelToAttention => _parallelAttention,
            _ => _parallelMlp,
        }).Add(hook);
        return hook;
    }

    /// <summary>
    /// MA-SAM's two residual adapters: <c>adapter_1</c> before norm1/attention and <c>adapter_2</c> before norm2/MLP (either may
    /// be null). Can be called once.
    /// </summary>
    public void AttachAdapters(BlockHook? beforeAttention, BlockHook? beforeMlp)
    {
        if (adapter_1 is not null || adapter_2 is not null) throw new InvalidOperationException("adapters are already attached to this block");
        if (beforeAttention is not null) Attach(BlockHookPoint.BeforeAttention, "adapter_1", beforeAttention);
        if (beforeMlp is not null) Attach(BlockHookPoint.BeforeMlp, "adapter_2", beforeMlp);
    }

    public override Tensor forward(Tensor x) => forward(x, EncoderContext.Single);

    /// <summary>The block on (B, H, W, E) with the per-call <paramref name="context"/> its hooks read.</summary>
    public Tensor forward(Tensor x, EncoderContext context)
    {
        using var scope = DisposeScope.Begin();
        foreach (var hook in _beforeAttention) x = x + hook.forward(x, context);
        var shortcut = x;
        Tensor h;
        if (window_size > 0 && NormAfterWindowPartition)
        {
            int height = (int)x.size(1), width = (int)x.size(2);
            var (windows, padHw) = WindowPartition(x, window_size);
            h = attn.forward(norm1.forward(windows));
            h = WindowUnpartition(h, window_size, padHw, (height, width));
        }
        else
        {
            h = norm1.forward(x);
            h = window_size > 0 ? attn.ForwardWindowed(h, window_size) : attn.forward(h);
        }
        foreach (var hook in _afterAttention) h = hook.forward(h, context);
        foreach (var hook in _parallelAttention) h = h + hook.forward(shortcut, context);
        // plain SAM at inference: the residual sums land in the branch outputs (fresh tensors; a + b = b + a exactly), which
        // saves allocating and first-touching two (B, H, W, E) tensors per block
        bool inPlace = HookNames.Count == 0 && !torch.is_grad_enabled();
        var y = inPlace ? h.add_(shortcut) : shortcut + h;
        scope.DisposeEverythingBut(y);
        foreach (var hook in _beforeMlp) y = y + hook.forward(y, context);
        if (inPlace) y = mlp.forward(norm2.forward(y)).add_(y);
        else if (_parallelMlp.Count == 0) y = y + mlp.forward(norm2.forward(y));
        else
        {
            var n = norm2.forward(y);
            var m = mlp.forward(n);
            foreach (var hook in _parallelMlp) m = m + hook.forward(n, context);
            y = y + m;
        }
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
