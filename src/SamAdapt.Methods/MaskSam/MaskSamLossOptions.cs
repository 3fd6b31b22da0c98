namespace SamAdapt.Methods.MaskSam;

/// <summary>
/// Weights and sampling of MaskSAM's matcher and set criterion (docs/methods/masksam.md, "Losses"). The defaults are the reference's
/// AMOS recipe; the same weights serve as matching costs and as loss weights.
/// </summary>
public sealed record MaskSamLossOptions
{
    public double ClassWeight { get; init; } = 0.2;
    public double MaskWeight { get; init; } = 1.2;
    public double DiceWeight { get; init; } = 1.2;
    /// <summary>Weight of the auxiliary-mask BCE and of its Dice.</summary>
    public double AuxMaskWeight { get; init; } = 0.5;
    public double AuxBoxWeight { get; init; } = 0.5;
    public double AuxGiouWeight { get; init; } = 0.2;
    /// <summary>Class weight of "no object" in the classification loss.</summary>
    public double NoObjectWeight { get; init; } = 0.1;
    /// <summary>Points per mask for matching and for the mask losses (the reference uses H·W/2 of its patch).</summary>
    public int NumPoints { get; init; } = 12544;
    public double OversampleRatio { get; init; } = 2.0;
    public double ImportanceSampleRatio { get; init; } = 0.75;
    /// <summary>
    /// Reference behaviour: the auxiliary masks, already sigmoid probabilities, are fed to BCE-with-logits and to a Dice that applies
    /// the sigmoid again. Off (default): the losses see the auxiliary logits.
    /// </summary>
    public bool AuxDoubleSigmoid { get; init; }
    /// <summary>
    /// Weight of an extra semantic loss (not in the reference; 0 = off): cross-entropy and foreground Dice of the normalised semantic
    /// map Σ_q p(class)·σ(mask) against the label slices, the quantity that prediction argmaxes.
    /// </summary>
    public double SemanticWeight { get; init; }
    /// <summary>Weight of the pixel head's cross-entropy + Dice when the model has one (<see cref="MaskSamConfig.PixelHead"/>).</summary>
    public double PixelWeight { get; init; } = 1.0;

    public void Validate()
    {
        if (NumPoints < 1) throw new ArgumentOutOfRangeException(nameof(NumPoints), "the number of points must be ≥ 1");
        if (OversampleRatio < 1) throw new ArgumentOutOfRangeException(nameof(OversampleRatio), "the oversample ratio must be ≥ 1");
        if (ImportanceSampleRatio is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(ImportanceSampleRatio), "the importance ratio must be in [0, 1]");
        if (SemanticWeight < 0) throw new ArgumentOutOfRangeException(nameof(SemanticWeight), "the semantic-loss weight must be ≥ 0");
        if (PixelWeight < 0) throw new ArgumentOutOfRangeException(nameof(PixelWeight), "the pixel-head loss weight must be ≥ 0");
        if (NoObjectWeight < 0) throw new ArgumentOutOfRangeException(nameof(NoObjectWeight), "the no-object weight must be ≥ 0");
    }
}
