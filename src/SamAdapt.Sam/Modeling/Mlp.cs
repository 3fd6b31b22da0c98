using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Sam.Modeling;

/// <summary>
/// The mask decoder's multi-layer perceptron (SAM's <c>MLP</c>): <c>numLayers</c> Linear layers named <c>layers.0 … layers.{n-1}</c>,
/// ReLU between them, optional sigmoid at the end. Used for the hypernetworks (dim → dim → dim/8) and the IoU head.
/// </summary>
public sealed class Mlp : UnaryModule
{
    public readonly ModuleList<Linear> layers;
    private readonly bool _sigmoidOutput;

    public Mlp(long inputDim, long hiddenDim, long outputDim, int numLayers, bool sigmoidOutput = false)
    {
        if (numLayers < 1) throw new ArgumentOutOfRangeException(nameof(numLayers), "an MLP needs at least one layer");
        layers = register_module("layers", new ModuleList<Linear>());
        for (int i = 0; i < numLayers; i++)
        {
            long n = i == 0 ? inputDim : hiddenDim;
            long k = i == numLayers - 1 ? outputDim : hiddenDim;
            layers.Add(new Linear(n, k));
        }
        _sigmoidOutput = sigmoidOutput;
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = DisposeScope.Begin();
        var h = x;
        for (int i = 0; i < layers.Count; i++)
        {
            h = layers[i].forward(h);
            if (i < layers.Count - 1) h = F.relu(h);
        }
        if (_sigmoidOutput) h = h.sigmoid();
        if (ReferenceEquals(h, x)) h = x.alias();
        return h.MoveToOuterScope();
    }
}
