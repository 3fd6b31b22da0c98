using SamAdapt.Sam;
using SamAdapt.Sam.Contracts;
using SamAdapt.Sam.Modeling;
using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Methods.Msa;

/// <summary>
/// SAM with the Medical SAM Adapter's encoder adapters (docs/methods/msa.md), promptable: stock prompt encoder and mask decoder.
/// <para>Per encoder block (hooks of <see cref="Block"/>): <c>Space_Adapter</c> after attention (bottleneck with skip),
/// <c>MLP_Adapter</c> parallel to the MLP scaled by s, and with <see cref="MsaOptions.DepthBranch"/> the <c>Depth_Adapter</c> branch
/// (<see cref="MsaDepthBranch"/>). State-dict keys: SAM's, plus <c>image_encoder.blocks.{i}.{Space,MLP,Depth}_Adapter.D_fc{1,2}.*</c>.</para>
/// <para>Input: images (B·D, 3, S, S) in [0, 1] (no pixel mean/std, as the reference), sample-major, slice-minor. Prompts are in the
/// S×S input frame, (x, y) = (column, row).</para>
/// </summary>
public sealed class MsaSam : Module, IPromptableSegmenter
{
    public readonly ImageEncoderViT image_encoder;
    public readonly PromptEncoder prompt_encoder;
    public readonly MaskDecoder mask_decoder;
    /// <summary>The auxiliary semantic head (<see cref="MsaOptions.SemanticClasses"/> &gt; 0), else null.</summary>
    public readonly MsaSemanticHead? semantic_head;

    public SamConfig SamConfig { get; }
    public MsaOptions Options { get; }

    public MsaSam(SamConfig sam, MsaOptions options)
    {
        sam.Validate();
        options.Validate();
        SamConfig = sam with { PixelMean = [0f, 0f, 0f], PixelStd = [1f, 1f, 1f] };
        Options = options;
        image_encoder = register_module("image_encoder", new ImageEncoderViT(SamConfig));
        prompt_encoder = register_module("prompt_encoder", new PromptEncoder(SamConfig));
        mask_decoder = register_module("mask_decoder", new MaskDecoder(SamConfig) { BatchMode = ImageBatchMode.SkipRepeatWhenBatchesMatch });
        int d = sam.PromptEmbedDim, dh = options.Hidden(d);
        if (options.SemanticClasses > 0) semantic_head = register_module("semantic_head", new MsaSemanticHead(d, options.SemanticClasses));
        foreach (var layer in mask_decoder.transformer.layers)
        {
            layer.TokenPeInSelfAttentionResidual = options.ReferenceDecoder;
            if (!options.DecoderAdapters) continue;
            layer.Attach(TwoWayHookPoint.SelfAttention, "HyP_Adapter", new HyperPromptAdapter(d, dh, mask_decoder.num_mask_tokens + 1, options.Activation));
            layer.Attach(TwoWayHookPoint.Mlp, "MLP_Adapter", new DecoderAdapter(d, dh, options.Activation));
            layer.Attach(TwoWayHookPoint.ImageToToken, "Image_Adapter", new DecoderAdapter(d, dh, options.Activation));
        }
        int e = sam.EncoderEmbedDim, hidden = options.Hidden(e);
        foreach (var blk in image_encoder.blocks)
        {
            blk.NormAfterWindowPartition = options.ReferenceWindowing;
            if (!options.EncoderAdapters) continue;
            blk.Attach(BlockHookPoint.AfterAttention, "Space_Adapter", new MsaAdapter(e, hidden, options.Activation, skip: true));
            blk.Attach(BlockHookPoint.ParallelToMlp, "MLP_Adapter", new MsaAdapter(e, hidden, options.Activation, skip: false, scale: options.MlpScale));
            if (options.DepthBranch)
                blk.Attach(BlockHookPoint.ParallelToAttention, "Depth_Adapter", new MsaDepthBranch(e, hidden, options.Activation) { ReferenceWindowing = options.ReferenceWindowing });
        }
        ApplyFreezing();
        eval();
    }

    public int ImageSize => SamConfig.ImageSize;

    /// <summary>The depth branches of the blocks (empty without <see cref="MsaOptions.DepthBranch"/>).</summary>
    public IReadOnlyList<MsaDepthBranch?> DepthBranches => image_encoder.blocks.Select(b => b.Hook("Depth_Adapter") as MsaDepthBranch).ToList();

    /// <summary>Image embeddings (B·D, C, S/16, S/16) of images (B·D, 3, S, S) in stacks of <paramref name="depth"/> slices
    /// (default <see cref="MsaOptions.Slices"/>; the depth branch attends across them).</summary>
    public Tensor EmbedImages(Tensor images, int? depth = null)
    {
        int s = ImageSize;
        if (images.dim() != 4 || images.size(1) != 3 || images.size(2) != s || images.size(3) != s)
            throw new ArgumentException($"MSA takes (B·D, 3, {s}, {s}) images, got [{string.Join(", ", images.shape)}]");
        var context = new EncoderContext(depth ?? Options.Slices);
        context.StacksIn(images.size(0));
        return image_encoder.forward(images, context);
    }

    /// <summary>
    /// Mask logits for prompt row i against embedding i (or one embedding against every row): points (N, n, 2) (x, y) with labels (N, n)
    /// (1 positive, 0 negative), boxes (N, 4) XYXY, mask prompts (N, 1, 4h, 4w). Returns the first mask token's low-resolution logits
    /// (N, 1, 4h, 4w) and its IoU prediction (N, 1), as the reference (which ignores multimask output).
    /// </summary>
    /// With <see cref="MsaOptions.MultimaskClicks"/> a single click without box or mask prompt returns, per row, the one of the 3 multimask outputs
    /// with the highest IoU prediction.
    public PromptedMasks Decode(Tensor embeddings, Tensor? pointCoords, Tensor? pointLabels, Tensor? boxes = null, Tensor? maskInputs = null)
    {
        var prompts = new PromptBatch(pointCoords, pointLabels, boxes, maskInputs);
        if (!IsMultimaskPrompt(pointCoords, boxes, maskInputs)) return PredictMasks(embeddings, prompts, multimask: false);
        using var scope = DisposeScope.Begin();
        var all = PredictMasks(embeddings, prompts, multimask: true); // (N, 3, 4h, 4w), (N, 3)
        var best = all.IouPredictions.argmax(1, keepdim: true);       // (N, 1)
        var idx = best.unsqueeze(2).unsqueeze(3).expand(best.size(0), 1, all.LowResLogits.size(2), all.LowResLogits.size(3));
        return new PromptedMasks(all.LowResLogits.gather(1, idx).MoveToOuterScope(), all.IouPredictions.gather(1, best).MoveToOuterScope());
    }

    /// <summary>True when <see cref="MsaOptions.MultimaskClicks"/> applies: exactly one click per row, no box, no mask prompt.</summary>
    public bool IsMultimaskPrompt(Tensor? pointCoords, Tensor? boxes, Tensor? maskInputs) =>
        Options.MultimaskClicks && pointCoords is not null && pointCoords.size(1) == 1 && boxes is null && maskInputs is null;

    /// <summary>
    /// Embeddings (B, C, h, w) of the centre slices of B stacks of <paramref name="depth"/> slices, images (B·D, 3, S, S). With
    /// <see cref="MsaOptions.SlicesAsChannels"/> (D = 3) the first channel of slices k−1, k, k+1 forms one 3-channel image per stack
    /// (2.5-D input, one encoder pass per stack); otherwise the stacks are embedded as <see cref="EmbedImages"/> does and the centre rows kept.
    /// </summary>
    public Tensor EmbedCentres(Tensor images, int depth)
    {
        int s = ImageSize;
        if (images.dim() != 4 || images.size(1) != 3 || images.size(2) != s || images.size(3) != s || images.size(0) % depth != 0)
            throw new ArgumentException($"MSA takes (B·D, 3, {s}, {s}) images with D = {depth}, got [{string.Join(", ", images.shape)}]");
        long b = images.size(0) / depth;
        if (!Options.SlicesAsChannels)
        {
            var emb = EmbedImages(images, depth);
            return emb.view(b, depth, emb.size(1), emb.size(2), emb.size(3)).select(1, depth / 2);
        }
        if (depth != 3) throw new ArgumentException($"slices as channels takes stacks of 3 slices, got {depth}");
        // (B·3, 3, S, S) → (B, 3, S, S): channel c of stack b = channel 0 of its slice c
        var stacked = images.view(b, 3, 3, s, s).select(2, 0).contiguous();
        var context = new EncoderContext(1);
        context.StacksIn(b);
        return image_encoder.forward(stacked, context);
    }

    /// <summary>One image (1, 3, S, S) → (1, C, S/16, S/16), as a single slice.</summary>
    public Tensor EmbedImage(Tensor image) => EmbedImages(image, 1);

    public PromptedMasks PredictMasks(Tensor imageEmbedding, PromptBatch prompts, bool multimask) =>
        SamModel.Decode(prompt_encoder, mask_decoder, imageEmbedding, prompts, multimask);

    // ------------------------------------------------------------------ freezing

    /// <summary>The part a parameter name belongs to.</summary>
    public static MsaTrainedParts PartOf(string name)
    {
        if (name.StartsWith("prompt_encoder.", StringComparison.Ordinal)) return MsaTrainedParts.PromptEncoder;
        if (name.StartsWith("mask_decoder.", StringComparison.Ordinal)) return MsaTrainedParts.MaskDecoder;
        if (name.StartsWith("semantic_head.", StringComparison.Ordinal)) return MsaTrainedParts.SemanticHead;
        if (name.Contains("_Adapter.", StringComparison.Ordinal)) return MsaTrainedParts.EncoderAdapters;
        return MsaTrainedParts.ImageEncoder;
    }

    /// <summary>True for the parameters <see cref="MsaOptions.Trains"/> selects.</summary>
    public bool Trains(string name) => PartOf(name) is var part && (part == MsaTrainedParts.SemanticHead || (Options.Trains & part) != 0);

    /// <summary>Sets requires_grad from <see cref="MsaOptions.Trains"/>.</summary>
    public void ApplyFreezing()
    {
        foreach (var (name, p) in named_parameters())
        {
            bool on = Trains(name);
            if (p.requires_grad != on) p.requires_grad_(on);
        }
    }

    /// <summary>The parameters with requires_grad, by key.</summary>
    public Dictionary<string, Tensor> TrainableStateDict() =>
        named_parameters().Where(p => p.Value.requires_grad).ToDictionary(p => p.Name, p => p.Value);
}
