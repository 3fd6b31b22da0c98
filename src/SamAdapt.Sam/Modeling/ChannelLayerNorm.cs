using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Sam.Modeling;

/// <summary>
/// Channel LayerNorm of channel-first maps of any rank (B, C, …): SAM's <c>LayerNorm2d</c> on (B, C, H, W) (docs/sam.md §1.5) and
/// MaskSAM's <c>LayerNorm3d</c> on (B, C, D, H, W) (docs/methods/masksam.md). The op sequence is the references' — mean, subtract,
/// square, mean, add eps, sqrt, divide, scale, shift — because the fused layer_norm kernel differs in the last bits.
/// Parameters: weight (C), bias (C).
/// </summary>
public sealed class ChannelLayerNorm : UnaryModule
{
    public readonly Tensor weight, bias;
    public readonly double eps;

    public ChannelLayerNorm(long numChannels, double eps = 1e-6)
    {
        this.eps = eps;
        weight = register_parameter("weight", torch.ones(numChannels));
        bias = register_parameter("bias", torch.zeros(numChannels));
    }

    public override Tensor forward(Tensor x)
    {
        if (x.dim() < 2) throw new ArgumentException($"ChannelLayerNorm takes (B, C, …) maps, got [{string.Join(", ", x.shape)}]");
        using var scope = DisposeScope.Begin();
        var u = x.mean(1, keepdim: true);
        var centered = x - u;
        var s = centered.pow(2).mean(1, keepdim: true);
        var normed = centered / (s + eps).sqrt();
        var shape = new long[x.dim() - 1];                                    // (C, 1, …): broadcast over the trailing axes
        Array.Fill(shape, 1L);
        shape[0] = -1;
        return (weight.view(shape) * normed + bias.view(shape)).MoveToOuterScope();
    }
}
