using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Methods.MaskSam;

/// <summary>Outputs of the <see cref="PromptGenerator"/> for N = B·T slices and Q queries.</summary>
/// <param name="Stages">Stage outputs (B, C_s, T, h_s, w_s), coarse to fine, the last at S × S (g·2^s for patch 16).</param>
/// <param name="AuxMaskLogits">(N, Q, S, S) before the sigmoid (bilinearly up-sampled from the last stage's S / output stride).</param>
/// <param name="BoxHead">Sigmoid box head (B, Q, T, 2, 2): rows (x1, y1) and (p_x, p_y).</param>
/// <param name="ClassHead">(B, Q, T, s, s) auxiliary class maps (s² = prompt dim).</param>
public sealed record PromptGeneratorOutput(Tensor[] Stages, Tensor AuxMaskLogits, Tensor BoxHead, Tensor ClassHead);

/// <summary>
/// MaskSAM's prompt generator (docs/methods/masksam.md, "Prompt generator"): a 3D CNN decoder over the encoder's neck and global-block
/// features. Stage 0 convolves the neck; stage s ≥ 1 up-samples the previous stage (ConvTranspose3d (1, 2, 2); (1, 1, 1) for the
/// first 4 − log2(patch) stages when the encoder's stride is below 16, <see cref="StageScale"/>), concatenates a skip made from
/// global block 4 − s (s ConvTranspose3d + conv blocks) and convolves. Heads: a 1×1×1 conv to Q auxiliary mask logits on
/// the last stage; every stage average-pooled to (T, 2, 2), concatenated, conv 1×1×1 + InstanceNorm + sigmoid → box head; pooled to
/// (T, s, s), concatenated, conv 3×3×3 + InstanceNorm + GELU → class maps.
/// Members (reference names): image_decoder_stages.{s}, image_decoder_transpconvs.{s−1}, image_decoder_skips.{s−1}.{k},
/// image_decoder_seg_layers.0, bbox_conv, residual_classifier.
/// </summary>
public sealed class PromptGenerator : Module
{
    public readonly ModuleList<StackedConvBlocks> image_decoder_stages;
    public readonly ModuleList<ConvTranspose> image_decoder_transpconvs;
    public readonly ModuleList<Sequential> image_decoder_skips;
    public readonly ModuleList<Conv> image_decoder_seg_layers;
    public readonly StackedConvBlocks bbox_conv, residual_classifier;
    private readonly int _pool, _outputStride;

    public PromptGenerator(MaskSamConfig c)
    {
        var f = c.GeneratorChannels;
        var k = c.GeneratorKernels.Select(x => x.Select(v => (long)v).ToArray()).ToArray();
        int n = f.Length, q = c.NumQueries, embed = c.Sam.EncoderEmbedDim;
        _pool = c.ClassifierPool;
        _outputStride = c.OutputStride;
        image_decoder_stages = register_module("image_decoder_stages", new ModuleList<StackedConvBlocks>());
        image_decoder_transpconvs = register_module("image_decoder_transpconvs", new ModuleList<ConvTranspose>());
        image_decoder_skips = register_module("image_decoder_skips", new ModuleList<Sequential>());
        image_decoder_seg_layers = register_module("image_decoder_seg_layers", new ModuleList<Conv>());
        long pooledChannels = 0;
        for (int s = 1; s < n; s++)
        {
            int below = f[n - s], skip = f[n - s - 1];
            var kernel = k[n - s - 1];
            if (s == 1)
                image_decoder_stages.Add(new StackedConvBlocks(c.ConvsPerStage, below, skip, kernel));
            else
            {
                int stage = s - 1;
                image_decoder_transpconvs.Add(Up(below, skip, StageScale(c, stage)));
                image_decoder_stages.Add(new StackedConvBlocks(c.ConvsPerStage - 1, 2 * skip, skip, kernel));
                // the skip reaches the stage's resolution: its j-th transposed convolution scales as stage j does
                var seq = new Sequential(Up(embed, skip, StageScale(c, 1)), new StackedConvBlocks(c.ConvsPerStage - 1, skip, skip, kernel));
                for (int j = 2; j <= stage; j++)
                {
                    seq.Add(Up(skip, skip, StageScale(c, j)));
                    seq.Add(new StackedConvBlocks(c.ConvsPerStage - 1, skip, skip, kernel));
                }
                image_decoder_skips.Add(seq);
            }
            pooledChannels += skip;
            if (s == n - 1) image_decoder_seg_layers.Add(Conv.Conv3d(skip, q, [1, 1, 1]));
        }
        bbox_conv = register_module("bbox_conv", new StackedConvBlocks(1, pooledChannels, q, [1, 1, 1], bias: false, BlockActivation.Sigmoid));
        residual_classifier = register_module("residual_classifier", new StackedConvBlocks(1, pooledChannels, q, [3, 3, 3], bias: true, BlockActivation.Gelu));
    }

    /// <summary>
    /// In-plane scale of stage <paramref name="stage"/> ≥ 1 over the previous one: 2 for the last log2(patch / output stride) stages,
    /// 1 before them, so the last stage is at the input resolution / <see cref="MaskSamConfig.OutputStride"/> whatever the encoder's
    /// stride (every stage doubles for SAM's patch 16 at output stride 1).
    /// </summary>
    public static int StageScale(MaskSamConfig c, int stage) => stage > 4 - (c.Upsamplings - c.SkippedUpsamplings) ? 2 : 1;

    /// <summary>ConvTranspose3d with kernel = stride (1, scale, scale).</summary>
    private static ConvTranspose Up(long inC, long outC, int scale) => new(3, inC, outC, [1, scale, scale], [1, scale, scale]);

    /// <summary><paramref name="features"/>: the encoder's [global ×4, neck], each (B·T, C, g, g) frame-minor.</summary>
    public PromptGeneratorOutput forward(Tensor[] features, int frames)
    {
        using var scope = DisposeScope.Begin();
        Tensor To3d(Tensor t) => t.view(t.size(0) / frames, frames, t.size(1), t.size(2), t.size(3)).permute(0, 2, 1, 3, 4); // (B, C, T, h, w)
        var stages = new List<Tensor>();
        var boxPools = new List<Tensor>();
        var clsPools = new List<Tensor>();
        Tensor? x = null;
        for (int s = 0; s < image_decoder_stages.Count; s++)
        {
            var vit = To3d(features[features.Length - s - 1]);
            if (s == 0) x = image_decoder_stages[0].forward(vit);
            else
            {
                var upd = image_decoder_transpconvs[s - 1].forward(x!);
                x = image_decoder_stages[s].forward(torch.cat([upd, image_decoder_skips[s - 1].forward(vit)], 1));
            }
            stages.Add(x);
            boxPools.Add(Pool(x, 2));
            clsPools.Add(Pool(x, _pool));
        }
        var seg = image_decoder_seg_layers[0].forward(x!);                                 // (B, Q, T, S/o, S/o), o = output stride
        long b = seg.size(0), q = seg.size(1), t = seg.size(2);
        var auxLogits = seg.permute(0, 2, 1, 3, 4).reshape(b * t, q, seg.size(3), seg.size(4));
        if (_outputStride > 1)                                                               // (N, Q, S, S)
            auxLogits = F.interpolate(auxLogits, [seg.size(3) * _outputStride, seg.size(4) * _outputStride], InterpolationMode.Bilinear, alignCorners: false);
        var box = bbox_conv.forward(torch.cat(boxPools.ToArray(), 1));
        var cls = residual_classifier.forward(torch.cat(clsPools.ToArray(), 1));
        return new PromptGeneratorOutput(stages.Select(v => v.MoveToOuterScope()).ToArray(), auxLogits.MoveToOuterScope(),
            box.MoveToOuterScope(), cls.MoveToOuterScope());
    }

    /// <summary>adaptive_avg_pool3d to (T, side, side): the depth is kept, so a 2D adaptive pool of the (B, C·T, h, w) view.</summary>
    private static Tensor Pool(Tensor x, int side)
    {
        using var scope = DisposeScope.Begin();
        long b = x.size(0), c = x.size(1), t = x.size(2);
        var p = F.adaptive_avg_pool2d(x.reshape(b, c * t, x.size(3), x.size(4)), [side, side]);
        return p.view(b, c, t, side, side).MoveToOuterScope();
    }
}
