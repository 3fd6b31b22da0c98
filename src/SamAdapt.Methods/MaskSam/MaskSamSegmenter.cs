using SamAdapt.Sam.Contracts;
using SamAdapt.Torch;

namespace SamAdapt.Methods.MaskSam;

/// <summary>
/// MaskSAM behind the semantic output contract (docs/methods/masksam.md, "Inference"): a stack of D = T slices (B·D, 3, S, S) (channel 0
/// is the image) → the semantic map Σ_q p(class)·σ(mask) (with a pixel head, the mean of its normalised form and the head's softmax:
/// <see cref="MaskSamForward.Semantic"/>), returned as log-probabilities (B·D, K, S, S) so that the contract's softmax gives the
/// normalised class probabilities (volume prediction averages them over its sliding windows).
/// </summary>
public sealed class MaskSamSegmenter(MaskSamModel model) : ISemanticSegmenter, IDisposable
{
    public MaskSamModel Model { get; } = model;
    public int ImageSize => Model.Config.InputSize;
    public int NumOutputClasses => Model.Config.NumClasses;

    /// <summary>The map predicted from (<c>predict --masksam-output</c>); the pixel head alone needs a model with one.</summary>
    public MaskSamOutput Output
    {
        get;
        set => field = value == MaskSamOutput.PixelHead && !Model.Config.PixelHead
            ? throw new ArgumentException($"--masksam-output {MaskSamOutputNames.Choices.Name(value)}: the run's model has no pixel head (its output is the mask classification)")
            : value;
    }

    public Tensor ClassLogits(Tensor images, int depth)
    {
        int t = Model.Config.Frames, s = ImageSize;
        if (depth != t) throw new ArgumentException($"this MaskSAM model segments stacks of {t} slices, got {depth}");
        using var scope = DisposeScope.Begin();
        long b = images.size(0) / t;
        var input = images.view(b, t, images.size(1), s, s).select(2, 0).unsqueeze(1);            // (B, 1, T, S, S)
        var fwd = Model.forward(input);
        var sem = fwd.Semantic(t, Output);                                                          // (B, K, T, S, S)
        var logp = sem.permute(0, 2, 1, 3, 4).reshape(b * t, NumOutputClasses, s, s).clamp(min: 1e-6).log();
        return logp.MoveToOuterScope();
    }

    public void PrepareForInference() => Model.eval();

    public void Dispose() => Model.Dispose();
}
