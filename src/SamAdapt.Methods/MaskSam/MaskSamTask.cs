using System.Globalization;
using SamAdapt.Methods.Semantic;
using SamAdapt.Torch;
using SamAdapt.Training.Data;
using SamAdapt.Training.Engine;

namespace SamAdapt.Methods.MaskSam;

/// <summary>
/// MaskSAM as a trainer task (docs/methods/masksam.md, "Training"): each batch of B stacks of T slices becomes the model input
/// (B, 1, T, S, S); every slice's labels become instance targets (<see cref="InstanceTargets"/>); the loss is the
/// <see cref="MaskSamCriterion"/> total. Validation: Dice per class of the semantic argmax on the centre slice of each validation stack.
/// </summary>
public sealed class MaskSamTask : ITrainingTask, IDisposable
{
    /// <summary>Metadata of saved weights.</summary>
    public const string FormatName = "samadapt.masksam/1";

    private readonly MaskSamModel _model;
    private readonly TrainingData _data;
    private readonly MaskSamCriterion _criterion;
    private readonly bool _full;
    private readonly int _valBatch;

    public MaskSamTask(SemanticTaskConfig config, MaskSamModel model, TrainingData data, MaskSamLossOptions loss, TrainerOptions options)
    {
        TaskConfig = config;
        _model = model;
        _data = data;
        _criterion = new MaskSamCriterion(loss);
        _full = string.IsNullOrEmpty(config.BaseCheckpoint);
        _valBatch = Math.Max(1, options.BatchSize);
    }

    public SemanticTaskConfig TaskConfig { get; }
    public MaskSamModel Network => _model;
    public string Method => TaskConfig.Method;
    public SamAdapt.Torch.NN.Module Model => _model;
    public IReadOnlyList<string> ClassNames => TaskConfig.ClassNames;
    public object Config => TaskConfig;

    /// <summary>The group of a parameter name (for the optimizer and the parameter-count report).</summary>
    public static string GroupOf(string name)
    {
        if (name.StartsWith("first_conv.", StringComparison.Ordinal)) return "stem";
        if (name.StartsWith("prompt_generator.", StringComparison.Ordinal)) return "prompt_generator";
        if (name.StartsWith("final_conv.", StringComparison.Ordinal)) return "final_conv";
        if (name.StartsWith("pixel_head.", StringComparison.Ordinal)) return "pixel_head";
        if (name.Contains("temporal_embedding", StringComparison.Ordinal)) return "temporal_embeddings";
        if (name.StartsWith("sam_model.image_encoder.", StringComparison.Ordinal) && (name.Contains(".Space_Adapter.", StringComparison.Ordinal) || name.Contains(".MLP_Adapter.", StringComparison.Ordinal)))
            return "encoder_adapters";
        if (name.StartsWith("sam_model.decoder_adapters.classifier_", StringComparison.Ordinal)) return "class_head";
        if (name.StartsWith("sam_model.decoder_adapters.", StringComparison.Ordinal)) return "decoder_adapters";
        return "sam";
    }

    public IReadOnlyList<ParameterGroupSpec> ParameterGroups
    {
        get
        {
            var groups = new Dictionary<string, List<(string, Tensor)>>();
            foreach (var (n, p) in _model.named_parameters())
            {
                var g = GroupOf(n);
                if (!groups.TryGetValue(g, out var l)) groups[g] = l = [];
                l.Add((n, p));
            }
            return groups.Select(kv => new ParameterGroupSpec(
                kv.Key == "sam" && !kv.Value.Any(p => p.Item2.requires_grad) ? "sam (frozen)" : kv.Key, kv.Value)).ToList();
        }
    }

    public IReadOnlyDictionary<string, string> AdapterMetadata => Metadata(_model, _full, TaskConfig);

    /// <summary>Metadata that rebuilds <paramref name="model"/> (<see cref="MaskSamMethod.Rebuild"/>).</summary>
    public static Dictionary<string, string> Metadata(MaskSamModel model, bool full, SemanticTaskConfig cfg) => new()
    {
        ["format"] = FormatName,
        ["method"] = cfg.Method,
        ["contents"] = full ? "full" : "trainable",
        ["masksam_config"] = MaskSamConfigJson.ToJson(model.Config),
        ["samadapt.class_names"] = string.Join("\n", cfg.ClassNames),
        ["samadapt.class_values"] = string.Join(",", cfg.ClassValues.Select(v => v.ToString(CultureInfo.InvariantCulture))),
        ["samadapt.intensity"] = cfg.Intensity,
        ["samadapt.base_checkpoint_sha256"] = cfg.BaseCheckpointSha256,
    };

    public IReadOnlyDictionary<string, Tensor> SavedState() =>
        _full ? _model.state_dict() : _model.named_parameters().Where(p => p.Value.requires_grad).ToDictionary(p => p.Name, p => p.Value);

    public void Prepare(TrainingContext context) => _model.to(context.Device);

    /// <summary>(B·T, 3, S, S) stacks → (B, 1, T, S, S).</summary>
    public static Tensor ModelInput(Tensor images, int frames)
    {
        long s = images.size(2);
        return images.view(images.size(0) / frames, frames, images.size(1), s, images.size(3)).select(2, 0).unsqueeze(1);
    }

    public Tensor Loss(Batch batch, TrainingContext context)
    {
        int t = _model.Config.Frames;
        var fwd = _model.forward(ModelInput(batch.Input, t));
        var targets = InstanceTargets.FromVolumes(batch.Target.view(batch.Target.size(0) / t, t, batch.Target.size(1), batch.Target.size(2)));
        try
        {
            var losses = _criterion.Forward(fwd.Predictions, targets.Select(x => x with
            {
                Masks = x.Masks.to(batch.Target.device), Boxes = x.Boxes.to(batch.Target.device), Labels = x.Labels.to(batch.Target.device),
            }).ToList(), PointSampling.Global);
            return losses.Total;
        }
        finally
        {
            foreach (var x in targets) x.Dispose();
        }
    }

    public ValidationResult? Validate(TrainingContext context)
    {
        if (_data.ValidationVolumes.Count == 0) return null;
        var acc = new DiceAccumulator(ClassNames);
        int d = TaskConfig.Slices;
        using var seg = new MaskSamSegmenterView(_model);
        foreach (var b in _data.ValidationBatches(_valBatch))
        {
            using var scope = DisposeScope.Begin();
            var x = b.ImageTensor(context.Device);
            var y = b.LabelTensor(context.Device);
            var logits = seg.Segmenter.ClassLogits(x, d);
            long s = logits.size(2), k = logits.size(1);
            var centre = logits.view(b.BatchSize, d, k, s, s).select(1, d / 2);
            var truth = y.view(b.BatchSize, d, s, s).select(1, d / 2);
            acc.Add(centre.argmax(1), truth);
        }
        return acc.Result();
    }

    public void Dispose() => _model.Dispose();

    /// <summary>A segmenter over the task's model that does not dispose it.</summary>
    private sealed class MaskSamSegmenterView(MaskSamModel model) : IDisposable
    {
        public MaskSamSegmenter Segmenter { get; } = new(model);
        public void Dispose() { }
    }
}
