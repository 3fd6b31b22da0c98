using SamAdapt.Torch;

namespace SamAdapt.Methods.MaskSam;

/// <summary>
/// The training heads of MaskSAM for N = B·T slices and Q queries (docs/methods/masksam.md, "Outputs"): class logits (N, Q, K + 1)
/// (last = no object), mask logits (N, Q, H, W), auxiliary mask probabilities (N, Q, H, W) and their logits, auxiliary boxes
/// (N, Q, 4) normalised xyxy; with <see cref="MaskSamConfig.PixelHead"/>, the pixel head's class logits (N, K, H, W), else null.
/// </summary>
public sealed record MaskSamPredictions(Tensor Logits, Tensor Masks, Tensor AuxMasks, Tensor AuxMaskLogits, Tensor AuxBoxes, Tensor? PixelLogits = null) : IDisposable
{
    public int Slices => (int)Logits.size(0);
    public int Queries => (int)Logits.size(1);

    /// <summary>What the losses treat as auxiliary-mask logits: the probabilities themselves under the reference's double sigmoid.</summary>
    public Tensor AuxLossLogits(bool doubleSigmoid) => doubleSigmoid ? AuxMasks : AuxMaskLogits;

    public void Dispose()
    {
        Logits.Dispose();
        Masks.Dispose();
        AuxMasks.Dispose();
        AuxMaskLogits.Dispose();
        AuxBoxes.Dispose();
        PixelLogits?.Dispose();
    }
}
