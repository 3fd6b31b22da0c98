using SamAdapt.Sam.Modeling;
using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Methods.MaskSam;

/// <summary>
/// MaskSAM's depth-wise 3D convolution adapter (docs/methods/masksam.md, "Adapters"): D_fc1 (C → C/4, bias) → GELU → depth-wise
/// Conv3d 3×3×3 (T_DWconv, padding 1, bias) over (slices, h, w) → channel LayerNorm (norm, <see cref="ChannelLayerNorm"/>) → GELU, added to the D_fc1 output →
/// D_fc2 (C/4 → C). With <see cref="SkipConnect"/> the input is added back; the result is multiplied by <see cref="Scale"/>.
/// Channels-last input: (N·D, h, w, C) maps, slices of a stack consecutive; or, with <see cref="Queries"/> &gt; 0, token rows
/// (B·D·Q, h·w, C) ordered (b, d, q) whose convolution runs per query over (d, h, w).
/// As an encoder <see cref="BlockHook"/> it takes D from the <see cref="EncoderContext"/>.
/// </summary>
public sealed class DepthConvAdapter : BlockHook
{
    public readonly Linear D_fc1, D_fc2;
    public readonly Conv T_DWconv;
    public readonly ChannelLayerNorm norm;
    public bool SkipConnect { get; }
    public double Scale { get; }
    /// <summary>Queries per slice for token-row input (0: image maps).</summary>
    public int Queries { get; }
    /// <summary>Spatial size of token-row input.</summary>
    public (int H, int W) Size { get; }

    public DepthConvAdapter(int dim, bool skipConnect, double scale = 1.0, int queries = 0, (int H, int W) size = default)
    {
        int hidden = dim / 4;
        SkipConnect = skipConnect;
        Scale = scale;
        Queries = queries;
        Size = size;
        D_fc1 = register_module("D_fc1", new Linear(dim, hidden));
        D_fc2 = register_module("D_fc2", new Linear(hidden, dim));
        T_DWconv = register_module("T_DWconv", Conv.Conv3d(hidden, hidden, [3, 3, 3], padding: [1, 1, 1], groups: hidden));
        norm = register_module("norm", new ChannelLayerNorm(hidden));
    }

    public override Tensor forward(Tensor x, EncoderContext context) => Forward(x, context.Depth);

    /// <summary>The adapter with <paramref name="depth"/> consecutive rows forming one stack.</summary>
    public Tensor Forward(Tensor x, int depth)
    {
        using var scope = DisposeScope.Begin();
        var xs = F.gelu(D_fc1.forward(x));
        long c = xs.size(-1);
        Tensor xt;
        if (Queries == 0)
        {
            long n = xs.size(0), h = xs.size(1), w = xs.size(2);
            if (n % depth != 0) throw new ArgumentException($"{n} rows are not a whole number of {depth}-slice stacks");
            xt = xs.view(n / depth, depth, h, w, c).permute(0, 4, 1, 2, 3);                    // (B, c, D, h, w)
            xt = F.gelu(norm.forward(T_DWconv.forward(xt.contiguous())));
            xt = xt.permute(0, 2, 3, 4, 1).reshape(n, h, w, c);
        }
        else
        {
            long n = xs.size(0), q = Queries, h = Size.H, w = Size.W;
            long b = n / (depth * q);
            xt = xs.view(b, depth, q, h, w, c).permute(0, 2, 5, 1, 3, 4).reshape(b * q, c, depth, h, w); // (B·Q, c, D, h, w)
            xt = F.gelu(norm.forward(T_DWconv.forward(xt)));
            xt = xt.view(b, q, c, depth, h, w).permute(0, 3, 1, 4, 5, 2).reshape(n, h * w, c);
        }
        var y = D_fc2.forward(xs + xt);
        if (SkipConnect) y = x + y;
        if (Scale != 1.0) y = y * Scale;
        return y.MoveToOuterScope();
    }
}

/// <summary>
/// MaskSAM's depth-MLP adapter of the decoder tokens (docs/methods/masksam.md, "Adapters"): D_fc1 (C → C/4) → GELU, then per query
/// and channel an MLP across the D slices (T_fc1 D → 4D, GELU, T_fc2 4D → D) added back, then D_fc2 (C/4 → C); with
/// <see cref="SkipConnect"/> the input is added back, times <see cref="Scale"/>. Input rows (B·D·Q, N, C) ordered (b, d, q).
/// </summary>
public sealed class DepthMlpAdapter : Module
{
    public readonly Linear D_fc1, D_fc2, T_fc1, T_fc2;
    public bool SkipConnect { get; }
    public double Scale { get; }
    public int Depth { get; }
    public int Queries { get; }

    public DepthMlpAdapter(int dim, int depth, int queries, bool skipConnect, double scale = 1.0)
    {
        SkipConnect = skipConnect;
        Scale = scale;
        Depth = depth;
        Queries = queries;
        D_fc1 = register_module("D_fc1", new Linear(dim, dim / 4));
        D_fc2 = register_module("D_fc2", new Linear(dim / 4, dim));
        T_fc1 = register_module("T_fc1", new Linear(depth, depth * 4));
        T_fc2 = register_module("T_fc2", new Linear(depth * 4, depth));
    }

    public Tensor forward(Tensor x)
    {
        using var scope = DisposeScope.Begin();
        var xs = F.gelu(D_fc1.forward(x));                                   // (B·D·Q, N, c)
        long rows = xs.size(0), tokens = xs.size(1), c = xs.size(2), d = Depth, q = Queries, b = rows / (d * q);
        var xt = xs.view(b, d, q, tokens, c).permute(0, 2, 3, 4, 1);          // (B, Q, N, c, D)
        xt = T_fc2.forward(F.gelu(T_fc1.forward(xt.contiguous())));
        xt = xt.permute(0, 4, 1, 2, 3).reshape(rows, tokens, c);
        var y = D_fc2.forward(xs + xt);
        if (SkipConnect) y = x + y;
        if (Scale != 1.0) y = y * Scale;
        return y.MoveToOuterScope();
    }
}
