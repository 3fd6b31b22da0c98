using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Sam.Adapters;

/// <summary>
/// SAMed's LoRA increment of the fused qkv projection (docs/methods.md §1): Δq = B_q(A_q(x)), Δv = B_v(A_v(x)), Δk = 0, with
/// A = Linear(C → r, no bias, Kaiming-uniform as PyTorch's default) and B = Linear(r → C, no bias, zero-initialised). Members:
/// linear_a_q, linear_b_q, linear_a_v, linear_b_v; attached as <c>image_encoder.blocks.{i}.attn.lora</c> (keys
/// <c>….attn.lora.linear_a_q.weight</c> …). Parameters per block: 2·(C·r + r·C).
/// </summary>
public sealed class LoraQkvDelta : Modeling.QkvDelta
{
    public readonly Linear linear_a_q, linear_b_q, linear_a_v, linear_b_v;

    public LoraQkvDelta(int dim, int rank)
    {
        linear_a_q = register_module("linear_a_q", new Linear(dim, rank, hasBias: false));
        linear_b_q = register_module("linear_b_q", new Linear(rank, dim, hasBias: false));
        linear_a_v = register_module("linear_a_v", new Linear(dim, rank, hasBias: false));
        linear_b_v = register_module("linear_b_v", new Linear(rank, dim, hasBias: false));
        using var _ = torch.no_grad();
        linear_b_q.weight.zero_();
        linear_b_v.weight.zero_();
    }

    /// <summary>Token-wise (Linear layers and element-wise dropout).</summary>
    public override bool PerToken => true;

    public override Tensor forward(Tensor x)
    {
        using var scope = DisposeScope.Begin();
        var dq = linear_b_q.forward(linear_a_q.forward(x));
        var dv = linear_b_v.forward(linear_a_v.forward(x));
        return PackQv(dq, dv).MoveToOuterScope();
    }
}
