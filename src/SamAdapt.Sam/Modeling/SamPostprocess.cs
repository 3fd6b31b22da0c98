using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Sam.Modeling;

/// <summary>Mask post-processing of the reference predictor (docs/sam.md §4.3).</summary>
public static class SamPostprocess
{
    /// <summary>
    /// SAM's <c>postprocess_masks</c>: low-resolution logits (B, C, 4h, 4w) → bilinear (align_corners=False, no antialias) to
    /// <paramref name="imgSize"/>² → crop to the resized image <paramref name="inputSize"/> (top-left) → bilinear to
    /// <paramref name="originalSize"/>. Returns logits (B, C, H, W); threshold them at <see cref="SamModel.MaskThreshold"/> for masks.
    /// </summary>
    public static Tensor MasksToOriginal(Tensor lowResMasks, (int H, int W) inputSize, (int H, int W) originalSize, int imgSize)
    {
        using var scope = DisposeScope.Begin();
        var m = F.interpolate(lowResMasks, [imgSize, imgSize], InterpolationMode.Bilinear, alignCorners: false);
        m = m.slice(-2, 0, inputSize.H).slice(-1, 0, inputSize.W);
        m = F.interpolate(m, [originalSize.H, originalSize.W], InterpolationMode.Bilinear, alignCorners: false);
        return m.MoveToOuterScope();
    }
}
