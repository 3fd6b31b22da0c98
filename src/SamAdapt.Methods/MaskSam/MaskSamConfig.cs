using SamAdapt.Sam;

namespace SamAdapt.Methods.MaskSam;

/// <summary>
/// The MaskSAM architecture (docs/methods/masksam.md): a SAM backbone plus the 3D stem, adapters, prompt generator, class head and final
/// convolution. Inputs are (B, 1, T, S, S) patches with S = <see cref="InputSize"/> ≤ the SAM frame (<see cref="SamConfig.ImageSize"/>),
/// whose positional tables are cropped top-left, as the reference does for its 512 patches in a 1024 frame.
/// </summary>
public sealed record MaskSamConfig
{
    public SamConfig Sam { get; init; } = SamConfig.VitB;
    /// <summary>Slices per patch T (the temporal embeddings and depth adapters are sized for it).</summary>
    public int Frames { get; init; } = 8;
    /// <summary>In-plane patch size S.</summary>
    public int InputSize { get; init; } = 512;
    /// <summary>Classes K including background; the class head has K + 1 outputs (last = no object).</summary>
    public int NumClasses { get; init; } = 2;
    public int NumQueries { get; init; } = 24;
    /// <summary>Prompt-generator widths, finest first (6; the coarsest five are its stages' outputs).</summary>
    public int[] GeneratorChannels { get; init; } = [64, 64, 128, 128, 256, 256];
    /// <summary>Kernel (d, h, w) per generator width, finest first.</summary>
    public int[][] GeneratorKernels { get; init; } = [[1, 3, 3], [1, 3, 3], [3, 3, 3], [3, 3, 3], [3, 3, 3], [3, 3, 3]];
    /// <summary>nnU-Net convolutions per stage (the first stage uses them all, the others one fewer).</summary>
    public int ConvsPerStage { get; init; } = 2;
    /// <summary>Side of the pooled grid whose flattening is the auxiliary class token (side² = prompt dim).</summary>
    public int ClassifierPool { get; init; } = 16;
    /// <summary>Width of final_conv, the 3D convolutions that bring the masks to full resolution (the reference: 64).</summary>
    public int FinalConvChannels { get; init; } = 64;
    /// <summary>
    /// Resolution of the prompt generator's last stage and of final_conv's output relative to the input: 1 (the reference) makes
    /// them at S × S; 2 (or 4) stops their up-sampling at S/2 (S/4) and brings the mask logits (auxiliary and final) to S × S by
    /// bilinear interpolation, which drops their most expensive full-resolution convolutions.
    /// </summary>
    public int OutputStride { get; init; } = 1;
    /// <summary>
    /// Not in the reference (off: its architecture): a pixel head, a 1×1×1 convolution from the prompt generator's last stage to the K
    /// classes, trained with its own cross-entropy + Dice (<see cref="MaskSamLossOptions.PixelWeight"/>); the semantic output is then
    /// the mean of the mask classification's normalised map and the head's softmax.
    /// </summary>
    public bool PixelHead { get; init; }
    /// <summary>Channels of the stem's middle layer.</summary>
    public int StemChannels { get; init; } = 8;
    /// <summary>
    /// Reference behaviour: windowed encoder blocks pad and partition before norm1 and run the attention-side adapter on the
    /// windows, so its depth convolution groups neighbouring windows instead of slices. Off (default): the adapter sees whole
    /// frames and convolves across slices.
    /// </summary>
    public bool ReferenceWindowAdapters { get; init; }

    /// <summary>Token grid side of the input (S / patch).</summary>
    public int TokenGrid => InputSize / Sam.PatchSize;

    /// <summary>×2 up-samplings from the token grid to the input: log2(patch) (4 for SAM's patch 16).</summary>
    public int Upsamplings => System.Numerics.BitOperations.Log2((uint)Sam.PatchSize);

    /// <summary>×2 up-samplings of the prompt generator and final_conv left out: log2(<see cref="OutputStride"/>).</summary>
    public int SkippedUpsamplings => System.Numerics.BitOperations.Log2((uint)OutputStride);

    /// <summary>Side of the prompt generator's last stage and of final_conv's output: S / <see cref="OutputStride"/>.</summary>
    public int OutputSize => InputSize / OutputStride;

    public void Validate()
    {
        Sam.Validate();
        if (Frames < 1) throw new ArgumentOutOfRangeException(nameof(Frames), "frames must be ≥ 1");
        if (Sam.PatchSize is not (4 or 8 or 16))
            throw new ArgumentException($"MaskSAM's prompt generator and final convolution up-sample by the encoder's stride: patch 4, 8 or 16, got {Sam.PatchSize}");
        if (InputSize % Sam.PatchSize != 0 || InputSize > Sam.ImageSize)
            throw new ArgumentException($"the input size must be a multiple of the patch {Sam.PatchSize} and at most the SAM frame {Sam.ImageSize}, got {InputSize}");
        if (Sam.GlobalAttnIndexes.Length != 4) throw new ArgumentException("MaskSAM's prompt generator consumes exactly 4 global-attention blocks");
        if (GeneratorChannels.Length != 6 || GeneratorKernels.Length != 6) throw new ArgumentException("the prompt generator has 6 widths and 6 kernels");
        if (ClassifierPool * ClassifierPool != Sam.PromptEmbedDim)
            throw new ArgumentException($"the class-token pool side² ({ClassifierPool}²) must equal the prompt dim {Sam.PromptEmbedDim}");
        if (OutputStride is not (1 or 2 or 4) || Upsamplings - 2 - SkippedUpsamplings < 0)
            throw new ArgumentException($"the output stride must be 1, 2 or 4 and at most a quarter of the patch {Sam.PatchSize} (the decoder's masks are at 4 × the token grid), got {OutputStride}");
        if (FinalConvChannels < 1) throw new ArgumentException("final_conv needs ≥ 1 channel");
        if (NumClasses < 1 || NumQueries < 1) throw new ArgumentException("classes and queries must be ≥ 1");
        if (ConvsPerStage < 2) throw new ArgumentException("convs per stage must be ≥ 2");
    }
}
