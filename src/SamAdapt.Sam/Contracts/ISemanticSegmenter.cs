using SamAdapt.Torch;

namespace SamAdapt.Sam.Contracts;

/// <summary>
/// The semantic output contract (docs/architecture.md, "Output contracts"): a model that segments slice stacks prompt-free
/// into a fixed set of classes (MA-SAM, SAMed LoRA, full fine-tuning; MaskSAM next). Volume prediction
/// (SamAdapt.Inference.VolumePredictor) needs nothing else from a model.
/// </summary>
public interface ISemanticSegmenter
{
    /// <summary>Model input size S (square).</summary>
    int ImageSize { get; }

    /// <summary>Classes K + 1 of the output, background first.</summary>
    int NumOutputClasses { get; }

    /// <summary>
    /// Class logits (B·D, K + 1, S, S) at the input resolution for <paramref name="images"/> (B·D, 3, S, S), sample-major and
    /// slice-minor, intensities in [0, 1]; <paramref name="depth"/> is D. Softmax over dim 1 gives the class probabilities.
    /// Thread-safe for concurrent calls on one model: every per-call value travels with the call.
    /// </summary>
    Tensor ClassLogits(Tensor images, int depth);

    /// <summary>Switches the model to inference behaviour (dropout off).</summary>
    void PrepareForInference();
}
