using SamAdapt.Sam.Modeling;
using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Methods.Msa;

/// <summary>
/// A bottleneck adapter on a two-way transformer sub-layer's output (docs/methods/msa.md, "Decoder adapters"): <c>y + D_fc2(act(D_fc1(y)))</c>,
/// (…, D) in and out, attached with <see cref="TwoWayAttentionBlock.Attach{T}"/> (paper: after the token MLP and after the image→token
/// cross attention).
/// </summary>
public sealed class DecoderAdapter : UnaryModule
{
    public readonly Linear D_fc1, D_fc2;
    public readonly AdapterActivation Activation;

    public DecoderAdapter(int dim, int hidden, AdapterActivation activation)
    {
        D_fc1 = register_module("D_fc1", new Linear(dim, hidden));
        D_fc2 = register_module("D_fc2", new Linear(hidden, dim));
        Activation = activation;
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = DisposeScope.Begin();
        var h = D_fc1.forward(x);
        h = Activation == AdapterActivation.Relu ? F.relu(h) : F.gelu(h);
        return (x + D_fc2.forward(h)).MoveToOuterScope();
    }
}

/// <summary>
/// The paper's hyper-prompting adapter (HyP-Adpt), on the token self-attention output (B, N, D) whose last N − n_out tokens are the prompt
/// tokens: the prompt embedding e = their mean (B, D) is mapped by <c>hyper</c> (Linear D → h·h) to per-prompt weights w (B, h, h); the
/// tokens' down-projection is multiplied by w, normalised and activated, then projected up and added:
/// <c>x + D_fc2(act(norm(D_fc1(x) · w)))</c>. With no prompt tokens it is the identity.
/// </summary>
public sealed class HyperPromptAdapter : UnaryModule
{
    public readonly Linear D_fc1, D_fc2, hyper;
    public readonly LayerNorm norm;
    public readonly AdapterActivation Activation;
    private readonly int _outputTokens, _hidden;

    /// <param name="outputTokens">Tokens before the prompt tokens (IoU token + mask tokens).</param>
    public HyperPromptAdapter(int dim, int hidden, int outputTokens, AdapterActivation activation)
    {
        D_fc1 = register_module("D_fc1", new Linear(dim, hidden));
        hyper = register_module("hyper", new Linear(dim, (long)hidden * hidden));
        norm = register_module("norm", new LayerNorm(hidden));
        D_fc2 = register_module("D_fc2", new Linear(hidden, dim));
        Activation = activation;
        _outputTokens = outputTokens;
        _hidden = hidden;
    }

    public override Tensor forward(Tensor x)
    {
        long n = x.size(1);
        if (n <= _outputTokens) return x;
        using var scope = DisposeScope.Begin();
        var prompt = x.slice(1, _outputTokens, n).mean([1]);                 // (B, D)
        var w = hyper.forward(prompt).view(x.size(0), _hidden, _hidden);     // (B, h, h)
        var h = norm.forward(D_fc1.forward(x).matmul(w));                     // (B, N, h)
        h = Activation == AdapterActivation.Relu ? F.relu(h) : F.gelu(h);
        return (x + D_fc2.forward(h)).MoveToOuterScope();
    }
}
