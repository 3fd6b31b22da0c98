using SamAdapt.Torch;

namespace SamAdapt.Sam.Contracts;

/// <summary>
/// A typed batch of prompts for one image, in the model's input frame (pixels of the resized, padded S×S input):
/// points (B, N, 2) with labels (B, N) (1 foreground, 0 background, −1 padding), boxes (B, 4) as x0, y0, x1, y1, and
/// low-resolution mask prompts (B, 1, S/4, S/4). Each part may be null; at least one must be given.
/// </summary>
public sealed record PromptBatch(Tensor? PointCoords = null, Tensor? PointLabels = null, Tensor? Boxes = null, Tensor? MaskInputs = null)
{
    /// <summary>Rows B of the batch (from whichever part is given).</summary>
    public long Count => PointCoords?.size(0) ?? Boxes?.size(0) ?? MaskInputs?.size(0)
        ?? throw new ArgumentException("an empty prompt batch: give points, boxes or masks");

    /// <summary>Throws <see cref="ArgumentException"/> naming the part whose shape is wrong.</summary>
    public void Validate()
    {
        long b = Count;
        if ((PointCoords is null) != (PointLabels is null)) throw new ArgumentException("point prompts need both coordinates and labels");
        if (PointCoords is not null && (PointCoords.dim() != 3 || PointCoords.size(0) != b || PointCoords.size(2) != 2))
            throw new ArgumentException($"point coordinates must be (B, N, 2), got [{string.Join(", ", PointCoords.shape)}]");
        if (PointLabels is not null && PointCoords is not null && (PointLabels.dim() != 2 || PointLabels.size(0) != b || PointLabels.size(1) != PointCoords.size(1)))
            throw new ArgumentException($"point labels must be (B, N), got [{string.Join(", ", PointLabels.shape)}]");
        if (Boxes is not null && (Boxes.dim() != 2 || Boxes.size(0) != b || Boxes.size(1) != 4))
            throw new ArgumentException($"boxes must be (B, 4), got [{string.Join(", ", Boxes.shape)}]");
        if (MaskInputs is not null && (MaskInputs.dim() != 4 || MaskInputs.size(0) != b || MaskInputs.size(1) != 1))
            throw new ArgumentException($"mask prompts must be (B, 1, h, w), got [{string.Join(", ", MaskInputs.shape)}]");
    }
}

/// <summary>Mask logits (B, C, S/4, S/4) at the decoder's resolution and the predicted IoU of each mask (B, C).</summary>
public sealed record PromptedMasks(Tensor LowResLogits, Tensor IouPredictions);

/// <summary>
/// The promptable output contract (docs/architecture.md, "Output contracts"): a model that turns an image embedding and a
/// typed prompt batch into mask logits (SAM, MedSAM; MSA next). SamAdapt.Inference.PromptedPredictor is the inference-side user.
/// </summary>
public interface IPromptableSegmenter
{
    /// <summary>Model input size S (square).</summary>
    int ImageSize { get; }

    /// <summary>Image embeddings (1, C, S/16, S/16) of a normalised, padded image (1, 3, S, S).</summary>
    Tensor EmbedImage(Tensor image);

    /// <summary>Masks for each prompt row against <paramref name="imageEmbedding"/>; <paramref name="multimask"/> returns the
    /// model's several candidates per prompt instead of one.</summary>
    PromptedMasks PredictMasks(Tensor imageEmbedding, PromptBatch prompts, bool multimask);
}
