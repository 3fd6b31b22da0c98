using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Sam.Modeling;

/// <summary>
/// Channel LayerNorm for (B, C, H, W) maps, SAM's <c>LayerNorm2d</c> (docs/sam.md §1.5). The op sequence is the reference's —
/// mean, subtract, square, mean, add eps, sqrt, divide, scale, shift — because the fused layer_norm kernel differs in the last bits.
/// Parameters: weight (C), bias (C).
/// </summary>
public sealed class LayerNorm2d : UnaryModule
{
    public readonly Tensor weight, bias;
    public readonly double eps;

    public LayerNorm2d(long numChannels, double eps = 1e-6)
    {
        this.eps = eps;
        weight = register_parameter("weight", torch.ones(numChannels));
        bias = register_parameter("bias", torch.zeros(numChannels));
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = DisposeScope.Begin();
        var u = x.mean(1, keepdim: true);
        var centered = x - u;
        var s = centered.pow(2).mean(1, keepdim: true);
        var normed = centered / (s + eps).sqrt();
        var w = weight.unsqueeze(1).unsqueeze(2);
        var b = bias.unsqueeze(1).unsqueeze(2);
        return (w * normed + b).MoveToOuterScope();
    }
}
