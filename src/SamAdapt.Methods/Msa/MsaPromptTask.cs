using System.Globalization;
using SamAdapt.Torch;
using SamAdapt.Torch.NN;
using SamAdapt.Training.Data;
using SamAdapt.Training.Engine;

namespace SamAdapt.Methods.Msa;

/// <summary>
/// Prompt-trained MSA as a trainer task: per stack of the batch and per class present in it, every slice that holds the class is one
/// prompted target (a prompt drawn from that slice's mask by the <see cref="TrainPromptMix"/>, in the S×S model frame), decoded against
/// the slice's embedding from the depth-aware encoder (interactive targets first run their correction rounds without gradient); the
/// loss (<see cref="MsaLossKind"/>) is taken on the final logits up-sampled to S. Validation: Dice per class
/// with tight-box prompts on the centre slices of the validation stacks. Batches are (B·D, 3, S, S) images and (B·D, S, S) class labels.
/// </summary>
public sealed class MsaPromptTask : ITrainingTask, IDisposable
{
    private readonly MsaSam _model;
    private readonly TrainingData _data;
    private readonly int _seed;

    public MsaPromptTask(MsaTaskConfig config, MsaSam model, TrainingData data, int seed)
    {
        TaskConfig = config;
        Prompts = TrainPromptMix.Parse(config.TrainPrompts, config.MaxClicks, config.PromptRounds, config.TargetsPerStack);
        _model = model;
        _data = data;
        _seed = seed;
    }

    public MsaTaskConfig TaskConfig { get; }
    public MsaSam Network => _model;
    public string Method => TaskConfig.Method;
    public Module Model => _model;
    public IReadOnlyList<string> ClassNames => TaskConfig.ClassNames;
    public object Config => TaskConfig;
    public MsaLossKind LossKind => ParseLoss(TaskConfig.Loss);
    public TrainPromptMix Prompts { get; } = TrainPromptMix.Default;

    /// <summary>Every tensor when there is no base checkpoint to rebuild the frozen part from, or when the image encoder trains.</summary>
    private bool Full => TaskConfig.BaseCheckpoint == "" || (_model.Options.Trains & MsaTrainedParts.ImageEncoder) != 0;

    public IReadOnlyList<ParameterGroupSpec> ParameterGroups =>
        new[] { MsaTrainedParts.EncoderAdapters, MsaTrainedParts.MaskDecoder, MsaTrainedParts.PromptEncoder, MsaTrainedParts.ImageEncoder, MsaTrainedParts.SemanticHead }
            .Select(part => (part, ps: _model.named_parameters().Where(p => MsaSam.PartOf(p.Name) == part).ToList()))
            .Where(g => g.ps.Count > 0)
            .Select(g => new ParameterGroupSpec(GroupName(g.part) + (g.ps.Any(p => p.Value.requires_grad) ? "" : " (frozen)"), g.ps))
            .ToList();

    private static string GroupName(MsaTrainedParts p) => p switch
    {
        MsaTrainedParts.EncoderAdapters => "adapters",
        MsaTrainedParts.MaskDecoder => "mask_decoder",
        MsaTrainedParts.PromptEncoder => "prompt_encoder",
        MsaTrainedParts.SemanticHead => "semantic_head",
        _ => "image_encoder",
    };

    public IReadOnlyDictionary<string, string> AdapterMetadata
    {
        get
        {
            var m = MsaWeights.Metadata(_model, Full ? Sam.Adapters.AdaptedSam.ContentsFull : Sam.Adapters.AdaptedSam.ContentsTrainable);
            m["samadapt.class_names"] = string.Join("\n", TaskConfig.ClassNames);
            m["samadapt.class_values"] = string.Join(",", TaskConfig.ClassValues.Select(v => v.ToString(CultureInfo.InvariantCulture)));
            m["samadapt.intensity"] = TaskConfig.Intensity;
            m["samadapt.base_checkpoint_sha256"] = TaskConfig.BaseCheckpointSha256;
            return m;
        }
    }

    public IReadOnlyDictionary<string, Tensor> SavedState() =>
        Full ? _model.state_dict() : _model.TrainableStateDict();

    public void Prepare(TrainingContext context) => _model.to(context.Device);

    /// <summary>
    /// One prompted target: the image row it is decoded against, its prompt in the model frame (clicks and/or a box), its binary mask
    /// (S×S), and the correction rounds it runs before the decode that counts (interactive targets: each round adds the next click in
    /// the error region and feeds the round's low-resolution logits back as the mask prompt).
    /// </summary>
    public sealed record Target(int Image, int Class, IReadOnlyList<Click> Clicks, PromptBox? Box, bool[] Mask, int Rounds = 0);

    /// <summary>
    /// The prompted targets of a batch of class labels (B·D, S, S): per stack and class present, every slice holding the class, with a
    /// prompt drawn by <paramref name="rng"/> from <paramref name="mix"/> (<see cref="TrainPromptMix.TightBoxes"/>: the tight box).
    /// </summary>
    public static List<Target> Targets(long[] labels, int stacks, int depth, int size, TrainPromptMix mix, Random rng, bool centreOnly = false)
    {
        var list = new List<Target>();
        int plane = size * size;
        for (int b = 0; b < stacks; b++)
        {
            var present = new SortedSet<long>();
            for (int d = 0; d < depth; d++)
                for (int i = 0; i < plane; i++) { long v = labels[(b * depth + d) * plane + i]; if (v > 0) present.Add(v); }
            var candidates = new List<(int Image, int Class, BinaryMask Mask)>();
            foreach (var k in present)
                for (int d = centreOnly ? depth / 2 : 0; d < (centreOnly ? depth / 2 + 1 : depth); d++)
                {
                    int img = b * depth + d;
                    var mask = BinaryMask.FromLabels(labels.AsSpan(img * plane, plane), size, size, k);
                    if (!mask.IsEmpty) candidates.Add((img, (int)k, mask));
                }
            if (mix.TargetsPerStack > 0 && candidates.Count > mix.TargetsPerStack)
            {
                // a uniform subset (partial Fisher–Yates), kept in (class, slice) order
                var idx = Enumerable.Range(0, candidates.Count).ToArray();
                for (int i = 0; i < mix.TargetsPerStack; i++) { int j = i + rng.Next(idx.Length - i); (idx[i], idx[j]) = (idx[j], idx[i]); }
                candidates = idx.Take(mix.TargetsPerStack).Order().Select(i => candidates[i]).ToList();
            }
            foreach (var (img, k, mask) in candidates) list.Add(Draw(img, k, mask, mix, rng));
        }
        return list;
    }

    private static Target Draw(int img, int k, BinaryMask mask, TrainPromptMix mix, Random rng)
    {
        if (mix.TightOnly) return new Target(img, k, [], PromptSimulator.TightBox(mask), mask.Data);
        switch (mix.Draw(rng))
        {
            case TrainPromptKind.Box:
                double iou = mix.BoxIoUMin + rng.NextDouble() * (1 - mix.BoxIoUMin);
                return new Target(img, k, [], PromptSimulator.BoxWithIoU(mask, iou, rng), mask.Data);
            case TrainPromptKind.JitterBox:
                return new Target(img, k, [], PromptSimulator.JitteredBox(mask, 0.1, rng), mask.Data);
            case TrainPromptKind.Click:
                return new Target(img, k, PromptSimulator.Clicks(mask, 1 + rng.Next(mix.MaxClicks), 0, rng), null, mask.Data);
            default:
                // evaluate-prompted's first interactive click: the centre of the largest target region
                var first = PromptSimulator.NextClick(mask, new BinaryMask(new bool[mask.Data.Length], mask.Height, mask.Width))!.Value;
                return new Target(img, k, [first], null, mask.Data, rng.Next(mix.Rounds + 1));
        }
    }

    /// <summary>
    /// Logits (N, 1, S, S) of the targets against the embeddings (B·D, C, h, w), in target order. Interactive targets first run their
    /// <see cref="Target.Rounds"/> correction rounds without gradient (the embeddings detached): decode, threshold at 0, add the next click
    /// in the largest error region (its centre, as evaluate-prompted, or with <paramref name="rng"/> half of the time a random pixel of it),
    /// keep the low-resolution logits (N, 1, 4h, 4w) as the next mask prompt. The last decode of every target carries the gradient.
    /// </summary>
    public static Tensor Decode(MsaSam model, Tensor embeddings, IReadOnlyList<Target> targets, int size, Random? rng = null)
    {
        using var scope = DisposeScope.Begin();
        var clicks = targets.Select(t => t.Clicks.ToList()).ToArray();
        var masks = new Tensor?[targets.Count];
        int maxRounds = targets.Count == 0 ? 0 : targets.Max(t => t.Rounds);
        if (maxRounds > 0)
        {
            using var noGrad = torch.no_grad();
            var detached = embeddings.detach();
            var done = new bool[targets.Count];
            for (int round = 0; round < maxRounds; round++)
            {
                var active = Enumerable.Range(0, targets.Count).Where(i => targets[i].Rounds > round && !done[i]).ToList();
                if (active.Count == 0) break;
                var low = DecodeLowRes(model, detached, active.Select(i => (targets[i].Image, (IReadOnlyList<Click>)clicks[i], targets[i].Box, masks[i])).ToList());
                var pred = F.interpolate(low, [size, size], InterpolationMode.Bilinear, alignCorners: false).gt(0.0).to(DType.Float32)
                    .to(Device.CPU).contiguous().ToArray<float>();
                int plane = size * size;
                for (int j = 0; j < active.Count; j++)
                {
                    int i = active[j];
                    masks[i] = low.slice(0, j, j + 1);
                    var truth = new BinaryMask(targets[i].Mask, size, size);
                    var p = new BinaryMask(pred.AsSpan(j * plane, plane).ToArray().Select(v => v > 0.5f).ToArray(), size, size);
                    var next = rng is not null && rng.Next(2) == 0 ? PromptSimulator.RandomErrorClick(truth, p, rng) : PromptSimulator.NextClick(truth, p);
                    if (next is { } c) clicks[i].Add(c);
                    else done[i] = true; // exact: the final decode repeats this prompt with its logits
                }
            }
        }
        var logits = DecodeLowRes(model, embeddings, Enumerable.Range(0, targets.Count).Select(i => (targets[i].Image, (IReadOnlyList<Click>)clicks[i], targets[i].Box, masks[i])).ToList());
        return F.interpolate(logits, [size, size], InterpolationMode.Bilinear, alignCorners: false).MoveToOuterScope();
    }

    /// <summary>
    /// Low-resolution logits (N, 1, 4h, 4w) of prompts (image row, clicks, box, mask prompt (1, 1, 4h, 4w) or null), in order: prompts of
    /// the same shape (click count, box or not, mask or not) decoded as one batch.
    /// </summary>
    public static Tensor DecodeLowRes(MsaSam model, Tensor embeddings, IReadOnlyList<(int Image, IReadOnlyList<Click> Clicks, PromptBox? Box, Tensor? Mask)> prompts)
    {
        using var scope = DisposeScope.Begin();
        var device = embeddings.device;
        var outputs = new List<(List<int> Rows, Tensor Logits)>();
        foreach (var g in Enumerable.Range(0, prompts.Count).GroupBy(i => (prompts[i].Clicks.Count, prompts[i].Box is not null, prompts[i].Mask is not null)))
        {
            var rows = g.ToList();
            var (n, hasBox, hasMask) = g.Key;
            var emb = embeddings.index_select(0, torch.tensor(rows.Select(i => (long)prompts[i].Image).ToArray()).to(device));
            Tensor? coords = null, labels = null, boxes = null, maskIn = null;
            if (n > 0)
            {
                coords = Tensor.FromArray<float>(rows.SelectMany(i => prompts[i].Clicks.SelectMany(c => new[] { c.X, c.Y })).ToArray(), [rows.Count, n, 2], device);
                labels = Tensor.FromArray<float>(rows.SelectMany(i => prompts[i].Clicks.Select(c => (float)c.Label)).ToArray(), [rows.Count, n], device);
            }
            if (hasBox) boxes = Tensor.FromArray<float>(rows.SelectMany(i => prompts[i].Box!.Value.ToArray()).ToArray(), [rows.Count, 4], device);
            if (hasMask) maskIn = torch.cat(rows.Select(i => prompts[i].Mask!).ToArray(), 0);
            outputs.Add((rows, model.Decode(emb, coords, labels, boxes, maskIn).LowResLogits));
        }
        var order = outputs.SelectMany(o => o.Rows).ToArray();
        var all = outputs.Count == 1 ? outputs[0].Logits : torch.cat(outputs.Select(o => o.Logits).ToArray(), 0);
        var inverse = new long[order.Length];
        for (int j = 0; j < order.Length; j++) inverse[order[j]] = j;
        return all.index_select(0, torch.tensor(inverse).to(device)).MoveToOuterScope();
    }

    /// <summary>The training loss of a batch (<see cref="MsaLoss"/> on the targets' final logits; with <see cref="MsaOptions.MultimaskClicks"/>,
    /// see <see cref="MultimaskLoss"/>).</summary>
    public Tensor Loss(Batch batch, TrainingContext context)
    {
        int d = TaskConfig.Slices, size = TaskConfig.ImageSize;
        int stacks = (int)(batch.Input.size(0) / d);
        var labels = batch.Target.to(Device.CPU).contiguous().ToArray<long>();
        var rng = new Random(PromptSimulator.StableSeed(_seed, context.Step));
        bool centres = _model.Options.SlicesAsChannels;
        var targets = Targets(labels, stacks, d, size, Prompts, rng, centreOnly: centres);
        // 2.5-D: one embedding per stack (its centre slice), so target rows index stacks
        if (centres) targets = targets.Select(t => t with { Image = t.Image / d }).ToList();
        var emb = centres ? _model.EmbedCentres(batch.Input, d) : _model.EmbedImages(batch.Input, d);
        var semantic = SemanticLoss(emb, batch.Target, stacks, d, centres);
        Tensor prompted;
        if (targets.Count == 0) prompted = emb.sum() * 0.0; // no foreground in the batch: a zero loss on the graph
        else if (_model.Options.MultimaskClicks) prompted = MultimaskLoss(emb, targets, size, rng);
        else
        {
            var logits = Decode(_model, emb, targets, size, rng);
            prompted = MsaLoss.Compute(LossKind, logits, Masks(targets, size, emb.device));
        }
        return semantic is null ? prompted : prompted + semantic;
    }

    /// <summary>The weighted loss of the auxiliary semantic head (<see cref="MsaOptions.SemanticWeight"/> × <see cref="SemanticHeadLoss"/>; null without it).</summary>
    private Tensor? SemanticLoss(Tensor emb, Tensor labels, int stacks, int depth, bool centres)
    {
        if (_model.semantic_head is null || _model.Options.SemanticWeight <= 0) return null;
        using var scope = DisposeScope.Begin();
        return (SemanticHeadLoss(_model, emb, labels, depth, centres) * _model.Options.SemanticWeight).MoveToOuterScope();
    }

    /// <summary>
    /// The auxiliary semantic head's loss: its logits of <paramref name="embeddings"/> (N, d, h, w) up-sampled bilinearly to the labels'
    /// S × S, against the class labels (B·D, S, S) of the embedded slices (every slice, or with <paramref name="centres"/> each stack's
    /// centre slice), with MA-SAM's loss (0.2·CE + 0.8·Dice, <see cref="SegmentationLoss"/>).
    /// </summary>
    public static Tensor SemanticHeadLoss(MsaSam model, Tensor embeddings, Tensor labels, int depth, bool centres)
    {
        var head = model.semantic_head ?? throw new InvalidOperationException("this MSA model has no semantic head");
        using var scope = DisposeScope.Begin();
        long size = labels.size(-1);
        var l = labels.to(embeddings.device).to(DType.Int64);
        if (centres) l = l.view(l.size(0) / depth, depth, size, size).select(1, depth / 2);
        var logits = F.interpolate(head.forward(embeddings), [size, size], InterpolationMode.Bilinear, alignCorners: false);
        return SemanticSegmentationLoss.Forward(logits, l).MoveToOuterScope();
    }

    private static readonly SegmentationLoss SemanticSegmentationLoss = new();

    private static Tensor Masks(IReadOnlyList<Target> targets, int size, Device device) =>
        Tensor.FromArray<float>(targets.SelectMany(t => t.Mask.Select(v => v ? 1f : 0f)).ToArray(), [targets.Count, 1, size, size], device);

    /// <summary>
    /// The loss with <see cref="MsaOptions.MultimaskClicks"/>, as SAM trains ambiguous prompts: targets prompted by a single click (no box, no
    /// correction rounds) decode the 3 multimask outputs and take the lowest of their losses, and the IoU head learns each output's IoU with
    /// the target (MSE); the other targets as without the option. Mean over the targets, plus the IoU term.
    /// </summary>
    private Tensor MultimaskLoss(Tensor emb, List<Target> targets, int size, Random rng)
    {
        using var scope = DisposeScope.Begin();
        var device = emb.device;
        static bool SingleClick(Target t) => t.Clicks.Count == 1 && t.Box is null && t.Rounds == 0;
        var single = targets.Where(SingleClick).ToList();
        var rest = targets.Where(t => !SingleClick(t)).ToList();
        Tensor? sum = null, iouLoss = null;
        if (rest.Count > 0) sum = MsaLoss.PerMask(LossKind, Decode(_model, emb, rest, size, rng), Masks(rest, size, device)).sum();
        if (single.Count > 0)
        {
            int n = single.Count;
            var e = emb.index_select(0, torch.tensor(single.Select(t => (long)t.Image).ToArray()).to(device));
            var coords = Tensor.FromArray<float>(single.SelectMany(t => new[] { t.Clicks[0].X, t.Clicks[0].Y }).ToArray(), [n, 1, 2], device);
            var labels = Tensor.FromArray<float>(single.Select(t => (float)t.Clicks[0].Label).ToArray(), [n, 1], device);
            var all = _model.PredictMasks(e, new Sam.Contracts.PromptBatch(coords, labels), multimask: true); // (n, 3, 4h, 4w), (n, 3)
            int m = (int)all.LowResLogits.size(1);
            var up = F.interpolate(all.LowResLogits, [size, size], InterpolationMode.Bilinear, alignCorners: false); // (n, 3, S, S)
            var truth = Masks(single, size, device).expand(n, m, size, size);
            var per = MsaLoss.PerMask(LossKind, up.reshape(n * m, 1, size, size), truth.reshape(n * m, 1, size, size)).view(n, m);
            var s = per.min(1).values.sum();
            sum = sum is null ? s : sum + s;
            // the IoU head's target: each thresholded output's IoU with the mask (no gradient)
            var pred = up.detach().gt(0.0).to(DType.Float32);
            var inter = (pred * truth).sum([2, 3]);
            var union = (pred + truth - pred * truth).sum([2, 3]).clamp(min: 1.0);
            iouLoss = F.mse_loss(all.IouPredictions, inter / union);
        }
        var loss = sum! / targets.Count;
        if (iouLoss is not null) loss = loss + iouLoss;
        return loss.MoveToOuterScope();
    }

    public ValidationResult? Validate(TrainingContext context)
    {
        if (_data.ValidationVolumes.Count == 0) return null;
        int k = ClassNames.Count, d = TaskConfig.Slices, size = TaskConfig.ImageSize;
        var inter = new double[k];
        var sums = new double[k];
        foreach (var b in _data.ValidationBatches(1))
        {
            using var scope = DisposeScope.Begin();
            var targets = Targets(b.Label!, b.BatchSize, d, size, TrainPromptMix.TightBoxes, new Random(0), centreOnly: true)
                .Select(t => t with { Image = t.Image / d }).ToList();
            if (targets.Count == 0) continue;
            var emb = _model.EmbedCentres(b.ImageTensor(context.Device), d);
            var pred = Decode(_model, emb, targets, size).gt(0.0).to(DType.Float32).to(Device.CPU).contiguous().ToArray<float>().Select(v => v > 0.5f).ToArray();
            int plane = size * size;
            for (int t = 0; t < targets.Count; t++)
                for (int i = 0; i < plane; i++)
                {
                    bool p = pred[t * plane + i], g = targets[t].Mask[i];
                    if (p && g) inter[targets[t].Class]++;
                    sums[targets[t].Class] += (p ? 1 : 0) + (g ? 1 : 0);
                }
        }
        return new ValidationResult(ClassNames, Enumerable.Range(0, k).Select(c => c == 0 || sums[c] == 0 ? double.NaN : 2 * inter[c] / sums[c]).ToList());
    }

    public static MsaLossKind ParseLoss(string s) => s.Trim().ToLowerInvariant() switch
    {
        "dice-bce" or "dicebce" => MsaLossKind.DiceBce,
        "bce" => MsaLossKind.Bce,
        "dice" => MsaLossKind.Dice,
        _ => throw new ArgumentException($"--loss: unknown MSA loss '{s}'; expected dice-bce, bce or dice"),
    };

    public void Dispose() => _model.Dispose();
}
