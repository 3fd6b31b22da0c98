using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Training.Engine;

/// <summary>The loss and its two parts (scalar tensors; the parts are detached), and the Dice loss term of each class
/// (<c>1 − (2·Σ p·g + ε)/(Σ p² + Σ g² + ε)</c>, shape [C], detached; <see cref="Dice"/> is their mean).</summary>
public sealed record LossParts(Tensor Total, Tensor CrossEntropy, Tensor Dice, Tensor? DicePerClass = null);

/// <summary>
/// MA-SAM's segmentation loss (docs/methods.md §0):
/// <c>ce_weight·CE + dice_weight·(1 − mean_c (2·Σ p·g + ε)/(Σ p² + Σ g² + ε))</c>, ε = 1e-5, where p is the softmax
/// over the class axis (1) and g the one-hot target, each class — background included — summed over the whole
/// batch and all spatial positions. CE is the mean over non-ignored positions. Positions whose target equals
/// <see cref="IgnoreIndex"/> are left out of both terms (p and g are zero there). Computed in float32 whatever the
/// logits' dtype (so it is safe under bf16 autocast).
/// </summary>
public sealed class SegmentationLoss(double ceWeight = 0.2, double diceWeight = 0.8, long ignoreIndex = -100, double smooth = 1e-5)
{
    public double CeWeight { get; } = ceWeight;
    public double DiceWeight { get; } = diceWeight;
    public long IgnoreIndex { get; } = ignoreIndex;
    public double Smooth { get; } = smooth;

    public static SegmentationLoss FromOptions(TrainerOptions o) => new(o.CeWeight, o.DiceWeight);

    /// <summary>The weighted loss of logits [N, C, ...] against integer labels [N, ...] (values 0..C−1 or the ignore index).</summary>
    public Tensor Forward(Tensor logits, Tensor target) => Compute(logits, target).Total;

    /// <summary>The loss with its CE and Dice parts.</summary>
    public LossParts Compute(Tensor logits, Tensor target)
    {
        if (logits.dim() < 2) throw new ArgumentException($"logits must be [N, C, ...], got [{string.Join(", ", logits.shape)}]");
        var c = logits.size(1);
        var expected = logits.shape.Take(1).Concat(logits.shape.Skip(2)).ToArray();
        if (!target.shape.SequenceEqual(expected))
            throw new ArgumentException($"target shape [{string.Join(", ", target.shape)}] does not match logits [{string.Join(", ", logits.shape)}] (expected [{string.Join(", ", expected)}])");
        using var autocastOff = torch.autocast(logits.device.Type, DType.BFloat16, enabled: false);
        var x = logits.dtype == DType.Float32 ? logits : logits.to(DType.Float32);
        var t = target.dtype == DType.Int64 ? target : target.to(DType.Int64);

        var ce = F.cross_entropy(x, t, ignoreIndex: IgnoreIndex);

        var valid = t.ne(IgnoreIndex);                                   // [N, ...]
        var safeT = torch.where(valid, t, torch.zeros_like(t));
        var g = F.one_hot(safeT, c).to(DType.Float32);                   // [N, ..., C]
        var dims = Enumerable.Range(0, logits.dim()).Select(i => (long)i).ToArray();
        var moveC = dims.Take(1).Concat(dims.Skip(2)).Append(1).ToArray(); // [N, ..., C] layout of p
        var p = F.softmax(x, 1).permute(moveC);
        var validF = valid.unsqueeze(-1).to(DType.Float32);
        p = p.mul(validF);
        g = g.mul(validF);
        var sumDims = Enumerable.Range(0, logits.dim() - 1).Select(i => (long)i).ToArray(); // all but the class axis
        var intersect = p.mul(g).sum(sumDims);
        var pSq = p.mul(p).sum(sumDims);
        var gSq = g.mul(g).sum(sumDims);
        var dicePerClass = intersect.mul(2).add(Smooth).div(pSq.add(gSq).add(Smooth));
        var dice = dicePerClass.mean().rsub(1);
        var total = ce.mul(CeWeight).add(dice.mul(DiceWeight));
        return new LossParts(total, ce.detach(), dice.detach(), dicePerClass.detach().rsub(1));
    }
}
