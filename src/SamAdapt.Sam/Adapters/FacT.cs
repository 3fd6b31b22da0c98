using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Sam.Adapters;

/// <summary>
/// FacT's factors shared by all encoder blocks (docs/methods.md §2.1(a)): <c>FacTu</c> = Linear(C → r, no bias, PyTorch default init)
/// and <c>FacTv</c> = Linear(r → C, no bias, zero-initialised so that ΔW = 0 at the start). Registered on the image encoder as
/// <c>image_encoder.fact</c> (keys <c>image_encoder.fact.FacTu.weight</c>, <c>image_encoder.fact.FacTv.weight</c>). Not called by
/// itself: each block's <see cref="FactQkvDelta"/> uses it.
/// </summary>
public sealed class FacT : Module
{
    public readonly Linear FacTu, FacTv;
    public readonly int rank;

    public FacT(int dim, int rank)
    {
        this.rank = rank;
        FacTu = register_module("FacTu", new Linear(dim, rank, hasBias: false));
        FacTv = register_module("FacTv", new Linear(rank, dim, hasBias: false));
        using var _ = torch.no_grad();
        FacTv.weight.zero_();
    }
}

/// <summary>
/// Per-block FacT increment of the fused qkv projection: Δq = s·FacTv(Dropout(q_FacTs(FacTu(x)))), Δv = s·FacTv(Dropout(v_FacTs(FacTu(x)))),
/// Δk = 0, with separate dropouts (p = <c>dropout</c>, default 0.1; inactive in eval mode). Members: q_FacTs, v_FacTs (Linear(r → r,
/// no bias)), dp_q, dp_v; attached as <c>image_encoder.blocks.{i}.attn.fact</c> (keys <c>….attn.fact.q_FacTs.weight</c>,
/// <c>….attn.fact.v_FacTs.weight</c>). The shared <see cref="FacT"/> is referenced, not registered here.
/// </summary>
public sealed class FactQkvDelta : Modeling.QkvDelta
{
    public readonly Linear q_FacTs, v_FacTs;
    public readonly Dropout dp_q, dp_v;
    public readonly double scale;
    private readonly FacT _shared;

    public FactQkvDelta(FacT shared, double scale = 1.0, double dropout = 0.1)
    {
        _shared = shared;
        this.scale = scale;
        q_FacTs = register_module("q_FacTs", new Linear(shared.rank, shared.rank, hasBias: false));
        v_FacTs = register_module("v_FacTs", new Linear(shared.rank, shared.rank, hasBias: false));
        dp_q = register_module("dp_q", new Dropout(dropout));
        dp_v = register_module("dp_v", new Dropout(dropout));
    }

    /// <summary>Token-wise (Linear layers and element-wise dropout).</summary>
    public override bool PerToken => true;

    public override Tensor forward(Tensor x)
    {
        using var scope = DisposeScope.Begin();
        var u = _shared.FacTu.forward(x);
        var dq = _shared.FacTv.forward(dp_q.forward(q_FacTs.forward(u)));
        var dv = _shared.FacTv.forward(dp_v.forward(v_FacTs.forward(u)));
        if (scale != 1.0) { dq = dq * scale; dv = dv * scale; }
        return PackQv(dq, dv).MoveToOuterScope();
    }
}
