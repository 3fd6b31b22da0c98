namespace SamAdapt.Methods.MaskSam;

/// <summary>
/// The map a MaskSAM model predicts from (<c>predict --masksam-output</c>, docs/methods/masksam.md "Pixel head"): with a pixel head the
/// default is the mean of the two maps; either alone can be asked for (the mask classification alone is the reference's output).
/// </summary>
public enum MaskSamOutput
{
    /// <summary>The model's own output: the mean of the two maps with a pixel head, else the mask classification.</summary>
    Combined,
    /// <summary>Σ_q p(class)·σ(mask) alone (<see cref="MaskSamModel.Semantic"/>).</summary>
    MaskClassification,
    /// <summary>The pixel head's softmax alone (needs a pixel head).</summary>
    PixelHead,
}

/// <summary>Names of <see cref="MaskSamOutput"/> on the command line.</summary>
public static class MaskSamOutputNames
{
    /// <summary>The <c>--masksam-output</c> values, by name.</summary>
    public static SamAdapt.Common.OptionChoices<MaskSamOutput> Choices { get; } = new("--masksam-output",
        ("combined", MaskSamOutput.Combined), ("mask-classification", MaskSamOutput.MaskClassification), ("pixel-head", MaskSamOutput.PixelHead));
}
