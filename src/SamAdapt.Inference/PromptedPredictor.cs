using SamAdapt.Sam.Contracts;
using SamAdapt.Torch;

namespace SamAdapt.Inference;

/// <summary>
/// Prompted prediction for any <see cref="IPromptableSegmenter"/> (SAM, MedSAM; MSA next): embed an image once, then answer
/// typed prompt batches against it. The embedding belongs to this predictor (disposed with it); calls on one predictor are
/// serialised, so a server keeps one predictor per image session.
/// </summary>
public sealed class PromptedPredictor(IPromptableSegmenter model) : IDisposable
{
    private readonly Lock _gate = new();
    private Tensor? _embedding;

    /// <summary>Embeds <paramref name="image"/> (1, 3, S, S), already normalised and padded, replacing any previous image.</summary>
    public void SetImage(Tensor image)
    {
        if (image.dim() != 4 || image.size(0) != 1 || image.size(2) != model.ImageSize || image.size(3) != model.ImageSize)
            throw new ArgumentException($"the image must be (1, 3, {model.ImageSize}, {model.ImageSize}), got [{string.Join(", ", image.shape)}]");
        lock (_gate)
        {
            using var scope = DisposeScope.Begin();
            using var _ = torch.inference_mode();
            var e = model.EmbedImage(image).DetachFromScope();
            _embedding?.Dispose();
            _embedding = e;
        }
    }

    /// <summary>Mask logits for <paramref name="prompts"/> against the current image (the caller owns the result tensors).</summary>
    public PromptedMasks Predict(PromptBatch prompts, bool multimask = false)
    {
        lock (_gate)
        {
            var e = _embedding ?? throw new InvalidOperationException("call SetImage before Predict");
            using var scope = DisposeScope.Begin();
            using var _ = torch.inference_mode();
            var r = model.PredictMasks(e, prompts, multimask);
            return new PromptedMasks(r.LowResLogits.DetachFromScope(), r.IouPredictions.DetachFromScope());
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _embedding?.Dispose();
            _embedding = null;
        }
    }
}
