using SamAdapt.Sam.Modeling;
using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Methods.MaskSam;

/// <summary>
/// SAM inside MaskSAM: image_encoder (with Space_Adapter/MLP_Adapter hooks on every block and temporal_embedding), prompt_encoder,
/// prompt_encoder_temporal_embedding (T, D, g, g), mask_decoder, decoder_adapters (<see cref="MaskSamDecoder"/>).
/// </summary>
public sealed class MaskSamSam : Module
{
    public readonly ImageEncoderViT image_encoder;
    public readonly ParameterHolder encoder_temporal_embedding;
    public readonly PromptEncoder prompt_encoder;
    public readonly ParameterHolder prompt_encoder_temporal_embedding;
    public readonly MaskDecoder mask_decoder;
    public readonly MaskSamDecoder decoder_adapters;

    public MaskSamSam(MaskSamConfig c)
    {
        var s = c.Sam;
        image_encoder = register_module("image_encoder", new ImageEncoderViT(s));
        int e = s.EncoderEmbedDim;
        foreach (var blk in image_encoder.blocks)
        {
            blk.Attach(BlockHookPoint.AfterAttention, "Space_Adapter", new DepthConvAdapter(e, skipConnect: true));
            blk.Attach(BlockHookPoint.ParallelToMlp, "MLP_Adapter", new DepthConvAdapter(e, skipConnect: false, scale: 0.5));
        }
        encoder_temporal_embedding = image_encoder.AttachShared("temporal_embedding", new ParameterHolder([1, c.Frames, e]));
        prompt_encoder = register_module("prompt_encoder", new PromptEncoder(s));
        prompt_encoder_temporal_embedding = register_module("prompt_encoder_temporal_embedding",
            new ParameterHolder([c.Frames, s.PromptEmbedDim, c.TokenGrid, c.TokenGrid]));
        mask_decoder = register_module("mask_decoder", new MaskDecoder(s));
        decoder_adapters = register_module("decoder_adapters", new MaskSamDecoder(c));
    }
}

/// <summary>Everything one <see cref="MaskSamModel.forward"/> computes (heads and intermediates), N = B·T slices, Q queries.</summary>
public sealed record MaskSamForward(
    MaskSamPredictions Predictions,
    Tensor Stem,            // (B, 3, T, S, S)
    Tensor[] EncoderLevels, // global blocks (N, C, g, g) ×4, neck (N, D, g, g)
    PromptGeneratorOutput Generator,
    Tensor MaskBoxes,       // (N, Q, 2, 2) boxes of the thresholded auxiliary masks
    Tensor BoxPrompt,       // (N·Q, 4) pixels
    Tensor MaskPrompt,      // (N·Q, 1, S/4, S/4)
    Tensor Sparse, Tensor Dense, Tensor DensePe, Tensor AuxClassTokens,
    Tensor LowResMasks)     // (N·Q, 1, 4g, 4g)
{
    /// <summary>
    /// Semantic probabilities (B, K, T, S, S) of these predictions: <see cref="MaskSamModel.Semantic"/>, or with a pixel head the mean of
    /// its normalised map and the head's softmax (<see cref="MaskSamModel.CombinedSemantic"/>); <paramref name="output"/> picks one map alone.
    /// </summary>
    public Tensor Semantic(int frames, MaskSamOutput output = MaskSamOutput.Combined) => (output, Predictions.PixelLogits) switch
    {
        (MaskSamOutput.Combined, { } px) => MaskSamModel.CombinedSemantic(Predictions.Logits, Predictions.Masks, px, frames),
        (MaskSamOutput.PixelHead, { } px) => MaskSamModel.PixelSemantic(px, frames),
        (MaskSamOutput.PixelHead, null) => throw new InvalidOperationException("this MaskSAM model has no pixel head"),
        _ => MaskSamModel.Semantic(Predictions.Logits, Predictions.Masks, frames),
    };
}

/// <summary>
/// MaskSAM (docs/methods/masksam.md): prompt-free mask classification of (B, 1, T, S, S) patches. A 3D stem (first_conv) makes 3
/// channels; the frozen SAM encoder with depth adapters and temporal embedding gives multi-level features; the
/// <see cref="PromptGenerator"/> proposes per (slice, query) an auxiliary mask, box and class token; SAM's prompt encoder embeds the
/// box and the binarised mask (dense PE plus a temporal embedding); the adapted decoder predicts a mask and K + 1 class logits per
/// query; final_conv (3D, queries as channels) brings the masks to full resolution.
/// Members (reference names): sam_model, first_conv, prompt_generator (the reference's image_decoder_*, bbox_conv,
/// residual_classifier), final_conv.
/// </summary>
public sealed class MaskSamModel : Module
{
    public readonly MaskSamSam sam_model;
    public readonly Sequential first_conv;
    public readonly PromptGenerator prompt_generator;
    public readonly Sequential final_conv;
    /// <summary>The optional pixel head (<see cref="MaskSamConfig.PixelHead"/>), else null.</summary>
    public readonly Conv? pixel_head;
    public MaskSamConfig Config { get; }

    public MaskSamModel(MaskSamConfig config)
    {
        config.Validate();
        Config = config;
        sam_model = register_module("sam_model", new MaskSamSam(config));
        first_conv = register_module("first_conv", new Sequential(
            new StackedConvBlocks(1, 1, config.StemChannels, [3, 3, 3]),
            new StackedConvBlocks(1, config.StemChannels, 3, [3, 3, 3])));
        prompt_generator = register_module("prompt_generator", new PromptGenerator(config));
        long q = config.NumQueries;
        long[] up = [1, 2, 2];
        long c = config.FinalConvChannels;
        // the decoder's masks are at 4 × the token grid: log2(patch) − 2 doublings reach the input (two for SAM's patch 16), one fewer
        // per halving of the output stride (the logits are then interpolated to the input)
        var fc = new Sequential(new StackedConvBlocks(1, q, c, [3, 3, 3]));
        for (int i = 0; i < config.Upsamplings - 2 - config.SkippedUpsamplings; i++)
        {
            fc.Add(new ConvTranspose(3, c, c, up, up));
            fc.Add(new InstanceNorm3d(c, affine: false));
            fc.Add(new GELU());
        }
        fc.Add(Conv.Conv3d(c, q, [3, 3, 3], padding: [1, 1, 1]));
        final_conv = register_module("final_conv", fc);
        if (config.PixelHead)
            pixel_head = register_module("pixel_head", Conv.Conv3d(config.GeneratorChannels[0], config.NumClasses, [1, 1, 1]));
        ApplyFreezing();
    }

    /// <summary>True for the parameters MaskSAM trains: outside SAM everything, inside SAM the adapters and temporal embeddings.</summary>
    public static bool IsTrainable(string name) =>
        !name.StartsWith("sam_model.", StringComparison.Ordinal)
        || name.Contains("temporal_embedding", StringComparison.Ordinal)
        || name.Contains("Adapter", StringComparison.Ordinal) || name.Contains("adapter", StringComparison.Ordinal);

    public void ApplyFreezing()
    {
        foreach (var (name, p) in named_parameters())
            if (p.requires_grad != IsTrainable(name)) p.requires_grad_(IsTrainable(name));
    }

    /// <summary>Runs the model on (B, 1, T, S, S) patches.</summary>
    public MaskSamForward forward(Tensor input)
    {
        var c = Config;
        int t = c.Frames, s = c.InputSize, g = c.TokenGrid, q = c.NumQueries;
        if (input.dim() != 5 || input.size(1) != 1 || input.size(2) != t || input.size(3) != s || input.size(4) != s)
            throw new ArgumentException($"MaskSAM takes (B, 1, {t}, {s}, {s}) patches, got [{string.Join(", ", input.shape)}]");
        using var scope = DisposeScope.Begin();
        long b = input.size(0), n = b * t;
        var stem = first_conv.forward(input);                                                    // (B, 3, T, S, S)
        var images = stem.permute(0, 2, 1, 3, 4).reshape(n, 3, s, s);
        var enc = sam_model.image_encoder;
        var levels = MaskSamEncoder.Forward(enc, sam_model.encoder_temporal_embedding.weight, images, t, c.ReferenceWindowAdapters);
        var gen = prompt_generator.forward(levels, t);
        var aux = gen.AuxMaskLogits.sigmoid();                                                   // (N, Q, S, S)
        Tensor binary, maskBoxes;
        using (torch.no_grad())
        {
            binary = aux.gt(0.5).to(aux.dtype);
            maskBoxes = BoxOps.MasksToBoxes(binary.reshape(n * q, s, s)).view(n, q, 2, 2).to(aux.dtype);
        }
        var head = gen.BoxHead.permute(0, 2, 1, 3, 4).reshape(n, q, 2, 2);                     // rows (x1, y1), (p_x, p_y)
        var first = head.slice(2, 0, 1);
        var net = torch.cat([first, (1.0 - first) * head.slice(2, 1, 2) + first], 2);
        var boxes = ((net + maskBoxes) / 2).reshape(n, q, 4);
        Tensor boxPrompt, maskPrompt;
        using (torch.no_grad())
        {
            boxPrompt = (boxes.detach() * s).floor().reshape(n * q, 4);
            int step = c.Sam.PatchSize / 4;                                                      // SAM's mask input is 4 × the token grid
            maskPrompt = binary.reshape(n * q, 1, s, s).slice(2, 0, s, step).slice(3, 0, s, step).contiguous();
        }
        var pool = c.ClassifierPool;
        var auxTokens = gen.ClassHead.permute(0, 2, 1, 3, 4).reshape(n * q, 1, pool * pool);
        var pe = sam_model.prompt_encoder;
        var sparse = pe.EmbedBoxes(boxPrompt);
        var dense = pe.EmbedMasks(maskPrompt);
        var densePe = DensePe(t, g, c.Sam.ImageEmbeddingSize).unsqueeze(0).expand(b, -1, -1, -1, -1).reshape(n, -1, g, g);
        var (lowRes, classLogits) = sam_model.decoder_adapters.Forward(sam_model.mask_decoder, levels[^1], densePe, sparse, dense, auxTokens);
        int lr = (int)lowRes.size(2);
        var masks3d = final_conv.forward(lowRes.view(b, t, q, lr, lr).permute(0, 2, 1, 3, 4));  // (B, Q, T, S/o, S/o), o = output stride
        int os = c.OutputSize;
        var masks = masks3d.permute(0, 2, 1, 3, 4).reshape(n, q, os, os);
        if (os != s) masks = F.interpolate(masks, [s, s], InterpolationMode.Bilinear, alignCorners: false);   // (N, Q, S, S)
        Tensor? pixel = null;
        if (pixel_head is not null)
        {
            var px = pixel_head.forward(gen.Stages[^1]);                                         // (B, K, T, S/o, S/o)
            pixel = px.permute(0, 2, 1, 3, 4).reshape(n, c.NumClasses, os, os);
            if (os != s) pixel = F.interpolate(pixel, [s, s], InterpolationMode.Bilinear, alignCorners: false);   // (N, K, S, S)
        }
        var preds = new MaskSamPredictions(classLogits.view(n, q, -1), masks, aux, gen.AuxMaskLogits, boxes, pixel);
        var result = new MaskSamForward(preds, stem, levels, gen, maskBoxes, boxPrompt, maskPrompt, sparse, dense, densePe, auxTokens, lowRes);
        pixel?.MoveToOuterScope();
        foreach (var x in new[] { preds.Logits, preds.Masks, preds.AuxMasks, preds.AuxMaskLogits, preds.AuxBoxes, stem, maskBoxes, boxPrompt, maskPrompt,
                     sparse, dense, densePe, auxTokens, lowRes, gen.AuxMaskLogits, gen.BoxHead, gen.ClassHead }.Concat(levels).Concat(gen.Stages).Distinct())
            x.MoveToOuterScope();
        return result;
    }

    /// <summary>
    /// The prompt encoder's dense PE on the g × g token grid of the input, normalised by the SAM frame's grid G (the top-left part of
    /// SAM's PE), plus the temporal embedding: (T, D, g, g).
    /// </summary>
    public Tensor DensePe(int frames, int g, int fullGrid)
    {
        using var scope = DisposeScope.Begin();
        var ij = (torch.arange(g, DType.Float32).add(0.5) / fullGrid);
        var y = ij.view(g, 1).expand(g, g);
        var x = ij.view(1, g).expand(g, g);
        var pe = sam_model.prompt_encoder.pe_layer.PeEncoding(torch.stack([x, y], -1)).permute(2, 0, 1);   // (D, g, g)
        pe = pe.to(sam_model.prompt_encoder_temporal_embedding.weight.device);
        return (pe.unsqueeze(0) + sam_model.prompt_encoder_temporal_embedding.weight).MoveToOuterScope();
    }

    /// <summary>
    /// The semantic output with a pixel head: (p + softmax(pixel)) / 2 with p = s / Σ_k s the normalised <see cref="Semantic"/> map;
    /// pixel logits (N, K, H, W) → (B, K, T, H, W).
    /// </summary>
    public static Tensor CombinedSemantic(Tensor logits, Tensor masks, Tensor pixelLogits, int frames)
    {
        using var scope = DisposeScope.Begin();
        var sem = Semantic(logits, masks, frames);
        return ((sem / (sem.sum(1, keepdim: true) + 1e-6) + PixelSemantic(pixelLogits, frames)) * 0.5).contiguous().MoveToOuterScope();
    }

    /// <summary>The pixel head's class probabilities: logits (N, K, H, W) → softmax (B, K, T, H, W).</summary>
    public static Tensor PixelSemantic(Tensor pixelLogits, int frames)
    {
        using var scope = DisposeScope.Begin();
        long n = pixelLogits.size(0), k = pixelLogits.size(1), h = pixelLogits.size(2), w = pixelLogits.size(3);
        return F.softmax(pixelLogits, 1).view(n / frames, frames, k, h, w).permute(0, 2, 1, 3, 4).contiguous().MoveToOuterScope();
    }

    /// <summary>Semantic probabilities Σ_q softmax(logits)[:K] · sigmoid(mask): (N, Q, K + 1) and (N, Q, H, W) → (B, K, T, H, W).</summary>
    public static Tensor Semantic(Tensor logits, Tensor masks, int frames)
    {
        using var scope = DisposeScope.Begin();
        long n = logits.size(0), k = logits.size(2) - 1, h = masks.size(2), w = masks.size(3);
        var probs = F.softmax(logits, -1).slice(2, 0, k);
        var sem = torch.einsum("nqc,nqhw->nchw", probs, masks.sigmoid());
        return sem.view(n / frames, frames, k, h, w).permute(0, 2, 1, 3, 4).contiguous().MoveToOuterScope();
    }
}
