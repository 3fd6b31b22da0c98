using SamAdapt.Sam.Modeling;
using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Methods.Msa;

/// <summary>Activation inside an MSA bottleneck adapter: GELU (the released code) or ReLU (the paper).</summary>
public enum AdapterActivation { Gelu, Relu }

/// <summary>
/// MSA's bottleneck adapter (docs/methods/msa.md): <c>D_fc2(act(D_fc1(x)))</c> with D_fc1 (C·ratio, C) and D_fc2 (C, C·ratio), both with
/// bias, PyTorch default initialisation; with <c>skip</c> the input is added (<c>x + …</c>). Channels-last (…, C) in and out.
/// Used as a block hook: after attention (Space_Adapter, with skip), parallel to the MLP scaled by s (MLP_Adapter, no skip).
/// </summary>
public sealed class MsaAdapter : BlockHook
{
    public readonly Linear D_fc1, D_fc2;
    public readonly AdapterActivation Activation;
    public readonly bool Skip;
    public readonly double Scale;

    /// <param name="dim">Channels C.</param>
    /// <param name="hidden">Bottleneck width (C·ratio).</param>
    /// <param name="skip">Add the input to the result.</param>
    /// <param name="scale">Factor on the bottleneck output (MLP_Adapter's s); 1 leaves it unscaled.</param>
    public MsaAdapter(int dim, int hidden, AdapterActivation activation, bool skip, double scale = 1.0)
    {
        D_fc1 = register_module("D_fc1", new Linear(dim, hidden));
        D_fc2 = register_module("D_fc2", new Linear(hidden, dim));
        Activation = activation;
        Skip = skip;
        Scale = scale;
    }

    /// <summary>The bottleneck alone, (…, C) → (…, C): fc2(act(fc1 x)).</summary>
    public Tensor Bottleneck(Tensor x)
    {
        using var scope = DisposeScope.Begin();
        var h = D_fc1.forward(x);
        h = Activation == AdapterActivation.Relu ? F.relu(h) : F.gelu(h);
        return D_fc2.forward(h).MoveToOuterScope();
    }

    public override Tensor forward(Tensor x, EncoderContext context)
    {
        using var scope = DisposeScope.Begin();
        var y = Bottleneck(x);
        if (Scale != 1.0) y = y * Scale;
        if (Skip) y = x + y;
        return y.MoveToOuterScope();
    }
}
