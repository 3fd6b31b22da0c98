using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Methods.MaskSam;

/// <summary>Activation after a MaskSAM convolution block.</summary>
public enum BlockActivation { LeakyRelu, Gelu, Sigmoid }

/// <summary>InstanceNorm3d over (B, C, D, H, W), optionally affine (weight/bias per channel). Members: weight, bias (affine only).</summary>
public sealed class InstanceNorm3d : UnaryModule
{
    public readonly Tensor? weight, bias;
    public readonly double eps;

    public InstanceNorm3d(long channels, bool affine = true, double eps = 1e-5)
    {
        this.eps = eps;
        if (affine)
        {
            weight = register_parameter("weight", torch.ones(channels));
            bias = register_parameter("bias", torch.zeros(channels));
        }
    }

    public override Tensor forward(Tensor x) => F.instance_norm(x, weight, bias, eps: eps);
}

/// <summary>nnU-Net's conv → InstanceNorm → activation (3D, stride 1, "same" padding). Members: conv, norm.</summary>
public sealed class ConvNormAct : UnaryModule
{
    public readonly Conv conv;
    public readonly InstanceNorm3d norm;
    public readonly BlockActivation activation;

    public ConvNormAct(long inC, long outC, long[] kernel, bool bias, BlockActivation activation)
    {
        this.activation = activation;
        conv = register_module("conv", Conv.Conv3d(inC, outC, kernel, padding: kernel.Select(k => (k - 1) / 2).ToArray(), bias: bias));
        norm = register_module("norm", new InstanceNorm3d(outC));
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = DisposeScope.Begin();
        var y = norm.forward(conv.forward(x));
        y = activation switch
        {
            BlockActivation.LeakyRelu => F.leaky_relu(y, 0.01),
            BlockActivation.Gelu => F.gelu(y),
            _ => y.sigmoid(),
        };
        return y.MoveToOuterScope();
    }
}

/// <summary>nnU-Net's StackedConvBlocks: <c>n</c> <see cref="ConvNormAct"/> (the first maps inC → outC). Members: convs.{i}.</summary>
public sealed class StackedConvBlocks : UnaryModule
{
    public readonly ModuleList<ConvNormAct> convs;

    public StackedConvBlocks(int n, long inC, long outC, long[] kernel, bool bias = true, BlockActivation activation = BlockActivation.LeakyRelu)
    {
        convs = register_module("convs", new ModuleList<ConvNormAct>());
        for (int i = 0; i < n; i++) convs.Add(new ConvNormAct(i == 0 ? inC : outC, outC, kernel, bias, activation));
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = DisposeScope.Begin();
        foreach (var c in convs) x = c.forward(x);
        return x.MoveToOuterScope();
    }
}

/// <summary>A module holding one learnable tensor (e.g. a temporal embedding). Member: weight.</summary>
public sealed class ParameterHolder : Module
{
    public readonly Tensor weight;

    public ParameterHolder(long[] shape) => weight = register_parameter("weight", torch.zeros(shape));
}
