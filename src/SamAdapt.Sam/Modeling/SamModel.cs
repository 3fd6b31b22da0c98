using SamAdapt.Sam.Contracts;
using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Sam.Modeling;

/// <summary>
/// The SAM v1 model: <c>image_encoder.*</c>, <c>prompt_encoder.*</c>, <c>mask_decoder.*</c>, plus the non-persistent buffers
/// pixel_mean / pixel_std (3, 1, 1). Built from a <see cref="SamConfig"/> with PyTorch-style random initialisation; load weights
/// with <see cref="SamCheckpoint"/>. The model is in eval mode after construction (SAM has no dropout).
/// </summary>
public sealed class SamModel : Module, IPromptableSegmenter
{
    public readonly ImageEncoderViT image_encoder;
    public readonly PromptEncoder prompt_encoder;
    public readonly MaskDecoder mask_decoder;
    public readonly Tensor pixel_mean, pixel_std;
    public readonly SamConfig Config;

    /// <summary>Threshold on mask logits (0.0).</summary>
    public const float MaskThreshold = 0.0f;

    public SamModel(SamConfig config)
    {
        config.Validate();
        Config = config;
        image_encoder = register_module("image_encoder", new ImageEncoderViT(config));
        prompt_encoder = register_module("prompt_encoder", new PromptEncoder(config));
        mask_decoder = register_module("mask_decoder", new MaskDecoder(config));
        pixel_mean = register_buffer("pixel_mean", Tensor.FromArray<float>(config.PixelMean, [3, 1, 1]), persistent: false);
        pixel_std = register_buffer("pixel_std", Tensor.FromArray<float>(config.PixelStd, [3, 1, 1]), persistent: false);
        eval();
    }

    /// <summary>Input side S of the image encoder.</summary>
    public int ImageSize => Config.ImageSize;

    /// <summary>
    /// SAM's <c>preprocess</c>: (B, 3, h, w) or (3, h, w) resized pixels (uint8 or float) → <c>(x − mean) / std</c> in float32, padded
    /// with zeros at the bottom/right to S×S. Returns (B, 3, S, S).
    /// </summary>
    public Tensor Preprocess(Tensor x)
    {
        using var scope = DisposeScope.Begin();
        if (x.dim() == 3) x = x.unsqueeze(0);
        if (x.dim() != 4 || x.size(1) != 3) throw new ArgumentException($"preprocess takes (B, 3, h, w) images, got [{string.Join(", ", x.shape)}]");
        long h = x.size(2), w = x.size(3);
        if (h > ImageSize || w > ImageSize) throw new ArgumentException($"image {h}×{w} exceeds the model input {ImageSize}×{ImageSize}; resize it first (ResizeLongestSide)");
        var y = (x - pixel_mean) / pixel_std;
        y = F.pad(y, [0, ImageSize - w, 0, ImageSize - h]);
        return y.MoveToOuterScope();
    }

    /// <summary>Image embeddings (B, C, S/16, S/16) of preprocessed images (B, 3, S, S) (<see cref="Preprocess"/>).</summary>
    public Tensor EmbedImage(Tensor image) => image_encoder.forward(image);

    /// <summary>The promptable contract: prompt encoder and mask decoder for a typed prompt batch against one image embedding.</summary>
    public PromptedMasks PredictMasks(Tensor imageEmbedding, PromptBatch prompts, bool multimask) =>
        Decode(prompt_encoder, mask_decoder, imageEmbedding, prompts, multimask);

    /// <summary>SAM's prompt path for any model that holds SAM's prompt encoder and mask decoder: encode the prompt batch, decode it
    /// against the image embedding (B, C, h, w) → masks (B, M, 4h, 4w) and IoU predictions (B, M).</summary>
    public static PromptedMasks Decode(PromptEncoder promptEncoder, MaskDecoder maskDecoder, Tensor imageEmbedding, PromptBatch prompts, bool multimask)
    {
        prompts.Validate();
        using var scope = DisposeScope.Begin();
        (Tensor, Tensor)? points = prompts.PointCoords is { } c ? (c, prompts.PointLabels!) : null;
        var (sparse, dense) = promptEncoder.forward(points, prompts.Boxes, prompts.MaskInputs);
        var (masks, iou) = maskDecoder.forward(imageEmbedding, promptEncoder.get_dense_pe(), sparse, dense, multimask);
        return new PromptedMasks(masks.MoveToOuterScope(), iou.MoveToOuterScope());
    }
}
