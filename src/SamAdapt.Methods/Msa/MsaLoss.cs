using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Methods.Msa;

/// <summary>Which loss a prompt-trained run uses (docs/methods/msa.md, "Loss").</summary>
public enum MsaLossKind
{
    /// <summary>Soft Dice (squared denominators) + BCE, each a mean over the masks (default).</summary>
    DiceBce,
    /// <summary>The reference's 2D loss: BCE with logits, pos_weight 2, mean.</summary>
    Bce,
    /// <summary>The reference's 3D loss (MONAI 1.1 DiceCELoss with sigmoid and squared_pred over one channel, whose CE term is 0): Dice only.</summary>
    Dice,
}

/// <summary>The mask losses of MSA's training on logits (N, 1, h, w) against binary (or fractional) targets of the same shape.</summary>
public static class MsaLoss
{
    /// <summary>BCE with logits and a positive-class weight, mean over all pixels (PyTorch's BCEWithLogitsLoss(pos_weight)).</summary>
    public static Tensor Bce(Tensor logits, Tensor target, double posWeight = 2.0)
    {
        using var scope = DisposeScope.Begin();
        var pw = torch.full([1], posWeight, logits.dtype, logits.device);
        return F.binary_cross_entropy_with_logits(logits, target, posWeight: pw).MoveToOuterScope();
    }

    /// <summary>
    /// Mean over the N masks of 1 − (2Σp·t + 1e-5) / (Σp² + Σt² + 1e-5), p = sigmoid(logits): MONAI's DiceLoss(sigmoid, squared_pred)
    /// with its default smoothing.
    /// </summary>
    public static Tensor SquaredDice(Tensor logits, Tensor target)
    {
        using var scope = DisposeScope.Begin();
        return SquaredDicePerMask(logits, target).mean().MoveToOuterScope();
    }

    /// <summary>The squared-denominator Dice loss of each of the N masks (N), as <see cref="SquaredDice"/> averages it.</summary>
    private static Tensor SquaredDicePerMask(Tensor logits, Tensor target)
    {
        using var scope = DisposeScope.Begin();
        var p = logits.sigmoid().flatten(1);
        var t = target.flatten(1);
        var inter = (p * t).sum([1]);
        var den = (p * p).sum([1]) + (t * t).sum([1]);
        return (1.0 - (2.0 * inter + 1e-5) / (den + 1e-5)).MoveToOuterScope();
    }

    /// <summary>The loss of each mask (N): what <see cref="Compute"/> averages (for <see cref="MsaLossKind.Bce"/>, the mean over each mask's pixels).</summary>
    public static Tensor PerMask(MsaLossKind kind, Tensor logits, Tensor target)
    {
        using var scope = DisposeScope.Begin();
        var dice = SquaredDicePerMask(logits, target);
        Tensor Bce(double pw) => F.binary_cross_entropy_with_logits(logits, target, posWeight: torch.full([1], pw, logits.dtype, logits.device), reduction: Reduction.None)
            .flatten(1).mean([1]);
        var loss = kind switch
        {
            MsaLossKind.Bce => Bce(2.0),
            MsaLossKind.Dice => dice,
            _ => dice + Bce(1.0),
        };
        return loss.MoveToOuterScope();
    }

    public static Tensor Compute(MsaLossKind kind, Tensor logits, Tensor target)
    {
        using var scope = DisposeScope.Begin();
        var loss = kind switch
        {
            MsaLossKind.Bce => Bce(logits, target),
            MsaLossKind.Dice => SquaredDice(logits, target),
            _ => SquaredDice(logits, target) + Bce(logits, target, 1.0),
        };
        return loss.MoveToOuterScope();
    }
}
