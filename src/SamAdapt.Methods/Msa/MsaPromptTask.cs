using System.Globalization;
using SamAdapt.Torch;
using SamAdapt.Torch.NN;
using SamAdapt.Training.Data;
using SamAdapt.Training.Engine;

namespace SamAdapt.Methods.Msa;

/// <summary>Which prompts training simulates (docs/methods/msa.md, "Training").</summary>
[Flags]
public enum TrainPromptKinds
{
    /// <summary>A box from the slice's mask, each side jittered by up to 10 % of the box size.</summary>
    Box = 1,
    /// <summary>One positive click inside the target.</summary>
    Click = 2,
    BoxOrClick = Box | Click,
}

/// <summary>
/// Prompt-trained MSA as a trainer task: per stack of the batch and per class present in it, every slice that holds the class is one
/// prompted target (a simulated box or click from that slice's mask, in the S×S model frame), decoded against the slice's embedding
/// from the depth-aware encoder; the loss (<see cref="MsaLossKind"/>) is taken on the logits up-sampled to S. Validation: Dice per class
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
    public TrainPromptKinds Prompts => ParsePrompts(TaskConfig.TrainPrompts);

    /// <summary>Every tensor when there is no base checkpoint to rebuild the frozen part from, or when the image encoder trains.</summary>
    private bool Full => TaskConfig.BaseCheckpoint == "" || (_model.Options.Trains & MsaTrainedParts.ImageEncoder) != 0;

    public IReadOnlyList<ParameterGroupSpec> ParameterGroups =>
        new[] { MsaTrainedParts.EncoderAdapters, MsaTrainedParts.MaskDecoder, MsaTrainedParts.PromptEncoder, MsaTrainedParts.ImageEncoder }
            .Select(part => (part, ps: _model.named_parameters().Where(p => MsaSam.PartOf(p.Name) == part).ToList()))
            .Where(g => g.ps.Count > 0)
            .Select(g => new ParameterGroupSpec(GroupName(g.part) + (g.ps.Any(p => p.Value.requires_grad) ? "" : " (frozen)"), g.ps))
            .ToList();

    private static string GroupName(MsaTrainedParts p) => p switch
    {
        MsaTrainedParts.EncoderAdapters => "adapters",
        MsaTrainedParts.MaskDecoder => "mask_decoder",
        MsaTrainedParts.PromptEncoder => "prompt_encoder",
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

    /// <summary>One prompted target: the image row it is decoded against, its prompt (model frame) and its binary mask (S×S).</summary>
    public sealed record Target(int Image, int Class, Click? Click, PromptBox? Box, bool[] Mask);

    /// <summary>
    /// The prompted targets of a batch of class labels (B·D, S, S): per stack and class present, every slice holding the class, with a
    /// box or a click drawn by <paramref name="rng"/> (<paramref name="tightBoxes"/>: the tight box, no jitter).
    /// </summary>
    public static List<Target> Targets(long[] labels, int stacks, int depth, int size, TrainPromptKinds kinds, Random rng, bool centreOnly = false, bool tightBoxes = false)
    {
        var list = new List<Target>();
        int plane = size * size;
        for (int b = 0; b < stacks; b++)
        {
            var present = new SortedSet<long>();
            for (int d = 0; d < depth; d++)
                for (int i = 0; i < plane; i++) { long v = labels[(b * depth + d) * plane + i]; if (v > 0) present.Add(v); }
            foreach (var k in present)
                for (int d = centreOnly ? depth / 2 : 0; d < (centreOnly ? depth / 2 + 1 : depth); d++)
                {
                    int img = b * depth + d;
                    var mask = BinaryMask.FromLabels(labels.AsSpan(img * plane, plane), size, size, k);
                    if (mask.IsEmpty) continue;
                    bool box = kinds == TrainPromptKinds.Box || (kinds == TrainPromptKinds.BoxOrClick && rng.Next(2) == 0);
                    if (box) list.Add(new Target(img, (int)k, null, tightBoxes ? PromptSimulator.TightBox(mask) : PromptSimulator.JitteredBox(mask, 0.1, rng), mask.Data));
                    else list.Add(new Target(img, (int)k, PromptSimulator.PositiveClick(mask, rng), null, mask.Data));
                }
        }
        return list;
    }

    /// <summary>Logits (N, 1, S, S) of the targets against the embeddings (B·D, C, h, w): boxes and clicks decoded as two prompt batches, in target order.</summary>
    public static Tensor Decode(MsaSam model, Tensor embeddings, IReadOnlyList<Target> targets, int size)
    {
        using var scope = DisposeScope.Begin();
        var device = embeddings.device;
        var parts = new Tensor?[targets.Count];
        var boxRows = Enumerable.Range(0, targets.Count).Where(i => targets[i].Box is not null).ToList();
        var clickRows = Enumerable.Range(0, targets.Count).Where(i => targets[i].Box is null).ToList();
        Tensor Rows(List<int> rows) => torch.tensor(rows.Select(i => (long)targets[i].Image).ToArray()).to(device);
        var outputs = new List<(List<int> Rows, Tensor Logits)>();
        if (boxRows.Count > 0)
        {
            var boxes = Tensor.FromArray<float>(boxRows.SelectMany(i => targets[i].Box!.Value.ToArray()).ToArray(), [boxRows.Count, 4], device);
            outputs.Add((boxRows, model.Decode(embeddings.index_select(0, Rows(boxRows)), null, null, boxes).LowResLogits));
        }
        if (clickRows.Count > 0)
        {
            var coords = Tensor.FromArray<float>(clickRows.SelectMany(i => new[] { targets[i].Click!.Value.X, targets[i].Click!.Value.Y }).ToArray(), [clickRows.Count, 1, 2], device);
            var labels = Tensor.FromArray<float>(clickRows.Select(i => (float)targets[i].Click!.Value.Label).ToArray(), [clickRows.Count, 1], device);
            outputs.Add((clickRows, model.Decode(embeddings.index_select(0, Rows(clickRows)), coords, labels).LowResLogits));
        }
        var order = outputs.SelectMany(o => o.Rows).ToArray();
        var all = torch.cat(outputs.Select(o => o.Logits).ToArray(), 0);
        var inverse = new long[order.Length];
        for (int j = 0; j < order.Length; j++) inverse[order[j]] = j;
        var logits = all.index_select(0, torch.tensor(inverse).to(device));
        return F.interpolate(logits, [size, size], InterpolationMode.Bilinear, alignCorners: false).MoveToOuterScope();
    }

    public Tensor Loss(Batch batch, TrainingContext context)
    {
        int d = TaskConfig.Slices, size = TaskConfig.ImageSize;
        int stacks = (int)(batch.Input.size(0) / d);
        var labels = batch.Target.to(Device.CPU).contiguous().ToArray<long>();
        var rng = new Random(HashCode.Combine(_seed, context.Step));
        var targets = Targets(labels, stacks, d, size, Prompts, rng);
        var emb = _model.EmbedImages(batch.Input, d);
        if (targets.Count == 0) return emb.sum() * 0.0; // no foreground in the batch: a zero loss on the graph
        var logits = Decode(_model, emb, targets, size);
        var target = Tensor.FromArray<float>(targets.SelectMany(t => t.Mask.Select(v => v ? 1f : 0f)).ToArray(), [targets.Count, 1, size, size], emb.device);
        return MsaLoss.Compute(LossKind, logits, target);
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
            var targets = Targets(b.Label!, b.BatchSize, d, size, TrainPromptKinds.Box, new Random(0), centreOnly: true, tightBoxes: true);
            if (targets.Count == 0) continue;
            var emb = _model.EmbedImages(b.ImageTensor(context.Device), d);
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
        _ => throw new ArgumentException($"unknown MSA loss '{s}'; expected dice-bce, bce or dice"),
    };

    public static TrainPromptKinds ParsePrompts(string s)
    {
        TrainPromptKinds k = 0;
        foreach (var p in s.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            k |= p.ToLowerInvariant() switch
            {
                "box" => TrainPromptKinds.Box,
                "click" => TrainPromptKinds.Click,
                _ => throw new ArgumentException($"unknown training prompt '{p}'; expected box and/or click"),
            };
        return k == 0 ? throw new ArgumentException("no training prompts given; expected box and/or click") : k;
    }

    public void Dispose() => _model.Dispose();
}
