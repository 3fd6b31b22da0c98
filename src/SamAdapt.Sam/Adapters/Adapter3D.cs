using SamAdapt.Sam.Modeling;
using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Sam.Adapters;

/// <summary>
/// MA-SAM's 3D adapter (docs/methods.md §2.1(b)): LayerNorm(C, eps 1e-6) → Linear(C → c, no bias) → Conv3d(c, c, (3, 1, 1),
/// zero padding (1, 0, 0), bias) over the slice axis of each stack → GELU → Linear(c → C, no bias). Channels-last
/// (B·D, h, w, C) in and out; the residual add is done by <see cref="SamAdapt.Sam.Modeling.Block"/>. The convolution is dense over
/// channels and mixes only neighbouring slices of the same stack (edge slices see zeros). D comes from the shared
/// per-call <see cref="EncoderContext"/>. Members: norm, down, conv, up (parameters for C = 768, c = 384: 1,536 + 294,912 + 442,752 +
/// 294,912 = 1,034,112). Initialisation: PyTorch defaults (the up projection is not zeroed, so the adapter is active from step 0).
/// </summary>
public sealed class Adapter3D : BlockHook
{
    public readonly LayerNorm norm;
    public readonly Linear down, up;
    public readonly Conv conv;

    public Adapter3D(int dim, int bottleneck)
    {
        norm = register_module("norm", new LayerNorm(dim, 1e-6));
        down = register_module("down", new Linear(dim, bottleneck, hasBias: false));
        conv = register_module("conv", Conv.Conv3d(bottleneck, bottleneck, [3, 1, 1], padding: [1, 0, 0]));
        up = register_module("up", new Linear(bottleneck, dim, hasBias: false));
    }

    public override Tensor forward(Tensor x, EncoderContext context)
    {
        if (x.dim() != 4) throw new ArgumentException($"the 3D adapter takes channels-last (B·D, h, w, C) maps, got [{string.Join(", ", x.shape)}]");
        using var scope = DisposeScope.Begin();
        long n = x.size(0), h = x.size(1), w = x.size(2);
        long d = context.Depth, b = context.StacksIn(n);
        var t = down.forward(norm.forward(x));
        long c = t.size(3);
        t = t.view(b, d, h, w, c).permute(0, 4, 1, 2, 3);          // (B, c, D, h, w)
        t = conv.forward(t);
        t = t.permute(0, 2, 3, 4, 1).reshape(n, h, w, c);          // (B·D, h, w, c)
        return up.forward(F.gelu(t)).MoveToOuterScope();
    }
}
