using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Sam.Modeling;

/// <summary>
/// Two-layer feed-forward block <c>lin2(act(lin1(x)))</c> (SAM's <c>MLPBlock</c>): exact GELU in the image encoder, ReLU in the
/// two-way transformer. Parameters: lin1 (mlpDim, dim), lin2 (dim, mlpDim).
/// </summary>
public sealed class MlpBlock : UnaryModule
{
    public readonly Linear lin1, lin2;
    private readonly bool _relu;

    public MlpBlock(long embeddingDim, long mlpDim, bool relu = false)
    {
        lin1 = register_module("lin1", new Linear(embeddingDim, mlpDim));
        lin2 = register_module("lin2", new Linear(mlpDim, embeddingDim));
        _relu = relu;
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = DisposeScope.Begin();
        var h = lin1.forward(x);
        h = _relu ? F.relu(h) : F.gelu(h);
        return lin2.forward(h).MoveToOuterScope();
    }
}
