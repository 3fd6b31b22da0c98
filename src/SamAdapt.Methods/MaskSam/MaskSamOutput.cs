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
    public static IReadOnlyDictionary<string, MaskSamOutput> ByName { get; } = new Dictionary<string, MaskSamOutput>(StringComparer.OrdinalIgnoreCase)
    {
        ["combined"] = MaskSamOutput.Combined, ["mask-classification"] = MaskSamOutput.MaskClassification, ["pixel-head"] = MaskSamOutput.PixelHead,
    };

    public static string Name(MaskSamOutput o) => ByName.First(kv => kv.Value == o).Key;

    /// <summary>Parses a <c>--masksam-output</c> value.</summary>
    public static MaskSamOutput Parse(string text) => ByName.TryGetValue(text.Trim(), out var o) ? o
        : throw new ArgumentException($"--masksam-output: expected one of {string.Join(", ", ByName.Keys)}, found '{text}'");
}
