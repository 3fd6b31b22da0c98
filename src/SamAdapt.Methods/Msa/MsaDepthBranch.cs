using SamAdapt.Sam.Modeling;
using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Methods.Msa;

/// <summary>
/// MSA's depth branch (the paper's space-depth transpose, docs/methods/msa.md), attached to a block in parallel to its attention:
/// for every token position the block's own norm1 and (frozen) attention run across the D slices of a stack, then the depth adapter
/// (members D_fc1, D_fc2: fc2(act(fc1 ·)), no skip); the result is added to the attention branch before the residual. The D axis is laid out as a
/// dh × dw grid (<see cref="ClosestFactors"/>) so the block's 2D relative positions apply (resampled to that grid).
/// <para>Input and output channels-last (B·D, H, W, C), sample-major, slice-minor; D from the <see cref="EncoderContext"/>.</para>
/// <para><see cref="ReferenceWindowing"/> reproduces the released code in windowed blocks: the branch runs on the zero-padded window
/// list, so each "depth" sequence is D consecutive windows at one intra-window position (mixing windows and slices, with padding tokens
/// that carry norm1's bias). Off (default) the branch always runs on the un-partitioned tokens, per token, as the paper describes.</para>
/// </summary>
public sealed class MsaDepthBranch : BlockHook
{
    public readonly Linear D_fc1, D_fc2;
    public readonly AdapterActivation Activation;

    /// <summary>Windowed blocks: reproduce the released code's window/slice mixing (see the class remarks).</summary>
    public bool ReferenceWindowing { get; set; }

    /// <summary>Called with the depth adapter's output in its native layout (sequences, dh, dw, C), e.g. to compare with a reference.</summary>
    public Action<Tensor>? Probe { get; set; }

    /// <param name="dim">Channels C.</param>
    /// <param name="hidden">Bottleneck width (C·ratio).</param>
    public MsaDepthBranch(int dim, int hidden, AdapterActivation activation)
    {
        D_fc1 = register_module("D_fc1", new Linear(dim, hidden));
        D_fc2 = register_module("D_fc2", new Linear(hidden, dim));
        Activation = activation;
    }

    /// <summary>
    /// The reference's factor pair of <paramref name="d"/>: start at (⌊√d⌋, ⌊√d⌋ + 1) and move b up while the product is short, a down
    /// while it is over, until a·b = d. Never square: 4 → (1, 4), 9 → (1, 9), 16 → (2, 8), 96 → (8, 12).
    /// </summary>
    public static (int H, int W) ClosestFactors(int d)
    {
        if (d < 1) throw new ArgumentOutOfRangeException(nameof(d), $"slices per stack must be ≥ 1, got {d}");
        if (d == 1) return (1, 1); // the reference's search would not end for 1
        int a = (int)Math.Sqrt(d), b = a + 1;
        while (a * b != d)
        {
            if (a * b < d) b++;
            else a--;
        }
        return (a, b);
    }

    public override Tensor forward(Tensor x, EncoderContext context)
    {
        var owner = Owner ?? throw new InvalidOperationException("the depth branch must be attached to a block (it runs the block's norm1 and attention)");
        if (x.dim() != 4) throw new ArgumentException($"the depth branch takes channels-last (B·D, H, W, C) maps, got [{string.Join(", ", x.shape)}]");
        using var scope = DisposeScope.Begin();
        int d = context.Depth;
        context.StacksIn(x.size(0));
        int ws = owner.window_size;
        if (ReferenceWindowing && ws > 0)
        {
            int height = (int)x.size(1), width = (int)x.size(2);
            var (windows, padHw) = Block.WindowPartition(x, ws); // (B·D·nW, ws, ws, C), zero padding
            var y = Sequences(windows, d, owner);
            return Block.WindowUnpartition(y, ws, padHw, (height, width)).MoveToOuterScope();
        }
        return Sequences(x, d, owner).MoveToOuterScope();
    }

    /// <summary>'(b d) h w c → (b h w) d c', norm1, attention over the (dh, dw) grid of d, the adapter, and back. (N, h, w, C) → same.</summary>
    private Tensor Sequences(Tensor x, int d, Block owner)
    {
        using var scope = DisposeScope.Begin();
        long n = x.size(0), h = x.size(1), w = x.size(2), c = x.size(3);
        long b = n / d;
        var (dh, dw) = ClosestFactors(d);
        var seq = x.view(b, d, h, w, c).permute(0, 2, 3, 1, 4).reshape(b * h * w, dh, dw, c); // (b·h·w, dh, dw, C)
        var a = D_fc1.forward(owner.attn.forward(owner.norm1.forward(seq)));
        var y = D_fc2.forward(Activation == AdapterActivation.Relu ? F.relu(a) : F.gelu(a));
        Probe?.Invoke(y);
        return y.view(b, h, w, d, c).permute(0, 3, 1, 2, 4).reshape(n, h, w, c).MoveToOuterScope();
    }
}
