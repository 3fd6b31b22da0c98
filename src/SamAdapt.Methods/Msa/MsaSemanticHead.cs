using SamAdapt.Sam.Modeling;
using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Methods.Msa;

/// <summary>
/// The auxiliary semantic head of prompt-trained MSA (docs/methods/msa.md, "Auxiliary semantic head", <see cref="MsaOptions.SemanticClasses"/>):
/// a prompt-free K-class segmentation of the image embedding, trained beside the prompted masks so that the embedding learns which
/// structure every token belongs to — what a single click must be expanded to. Prompted prediction does not use it.
/// Shape: SAM's ×4 up-sampling (ConvT d→d/4, LayerNorm2d, GELU, ConvT d/4→d/8, GELU) and a 1×1 convolution to K logits.
/// Members: upscaling.{0,1,3}, classifier.
/// </summary>
public sealed class MsaSemanticHead : UnaryModule
{
    public readonly Sequential upscaling;
    public readonly Conv classifier;

    public MsaSemanticHead(int dim, int classes)
    {
        if (classes < 2) throw new ArgumentException($"the semantic head needs ≥ 2 classes (background included), got {classes}");
        upscaling = register_module("upscaling", MaskDecoder.SamUpscaling(dim));
        classifier = register_module("classifier", Conv.Conv2d(dim / 8, classes, 1));
    }

    /// <summary>Embeddings (N, d, h, w) → class logits (N, K, 4h, 4w).</summary>
    public override Tensor forward(Tensor embeddings)
    {
        using var scope = DisposeScope.Begin();
        return classifier.forward(upscaling.forward(embeddings)).MoveToOuterScope();
    }
}
