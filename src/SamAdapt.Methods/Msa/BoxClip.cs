namespace SamAdapt.Methods.Msa;

/// <summary>
/// The box rule of prompted prediction (docs/methods/msa.md, "Prompted prediction"): a box says the object lies inside it, so the logits of
/// pixels whose centre is outside the box (by more than half a pixel) are set to −∞. The decoder can otherwise spill onto similar tissue
/// next to the box (thin structures, neighbouring nuclei). On by default; <c>clip_to_box: false</c> in a run's config.yaml turns it off.
/// </summary>
public static class BoxClip
{
    /// <summary>Clips <paramref name="logits"/> (rows × cols, row-major, the slice's own pixel frame, in place) to <paramref name="box"/>
    /// (x = column, y = row, inclusive pixel coordinates of that frame).</summary>
    public static void Apply(Span<float> logits, int rows, int cols, PromptBox box)
    {
        if (logits.Length != rows * cols) throw new ArgumentException($"logits hold {logits.Length} values, expected {rows}×{cols}");
        for (int r = 0; r < rows; r++)
        {
            bool rowIn = r >= box.Y0 - 0.5f && r <= box.Y1 + 0.5f;
            for (int c = 0; c < cols; c++)
                if (!rowIn || c < box.X0 - 0.5f || c > box.X1 + 0.5f) logits[r * cols + c] = float.NegativeInfinity;
        }
    }
}
