using System.Globalization;
using System.Security.Cryptography;
using SamAdapt.Imaging.Datasets;
using SamAdapt.Sam;
using SamAdapt.Sam.Adapters;
using SamAdapt.Torch;
using SamAdapt.Torch.NN;
using SamAdapt.Training.Data;
using SamAdapt.Training.Engine;

namespace SamAdapt.Methods.Semantic;

/// <summary>
/// The <c>task:</c> section of a semantic SAM run's config.yaml (ma-sam, lora, full): everything that, with the trainer options, defines
/// the run (model, preprocessing, dataset and split, base checkpoint and its SHA-256). <c>samadapt predict</c> reads it back.
/// A plain mutable class so YamlDotNet can write and read it.
/// </summary>
public sealed class SemanticTaskConfig
{
    /// <summary>The method's registry name ("ma-sam", "lora", "full").</summary>
    public string Method { get; set; } = "ma-sam";
    /// <summary>Absolute dataset folder.</summary>
    public string Dataset { get; set; } = "";
    public string DatasetName { get; set; } = "";
    /// <summary>Class mapping as given to --labels (e.g. "1,2,3" or "1+2,3"), or "all".</summary>
    public string Labels { get; set; } = "all";
    /// <summary>Class names, background first.</summary>
    public List<string> ClassNames { get; set; } = [];
    /// <summary>The label value written for each class index (background 0 first).</summary>
    public List<int> ClassValues { get; set; } = [];
    /// <summary>The label values merged into each foreground class (class 1 first).</summary>
    public List<List<int>> ClassGroups { get; set; } = [];
    public List<string> ValCasesRequested { get; set; } = [];
    public double ValFraction { get; set; }
    public List<string> TrainCases { get; set; } = [];
    public List<string> ValidationCases { get; set; } = [];
    /// <summary>Base SAM checkpoint (absolute path), or "" when built from a configuration (--model / preset).</summary>
    public string BaseCheckpoint { get; set; } = "";
    public string BaseCheckpointSha256 { get; set; } = "";
    /// <summary>--model CONFIG.json (absolute) or a preset name (e.g. "tiny"), when not from a checkpoint.</summary>
    public string ModelConfig { get; set; } = "";
    /// <summary>The SAM architecture actually built (JSON, <see cref="SamConfigJson"/>).</summary>
    public string SamConfig { get; set; } = "";
    /// <summary>The adaptation (JSON, <see cref="AdapterConfig.ToJson"/>).</summary>
    public string AdapterConfig { get; set; } = "";
    public int ImageSize { get; set; } = 512;
    public int Slices { get; set; } = 5;
    public int SliceAxis { get; set; } = 2;
    public string Intensity { get; set; } = "ma-sam";
    /// <summary>Why <see cref="Intensity"/> was used: "--intensity" or the default rule applied to the dataset's channel name.</summary>
    public string IntensitySource { get; set; } = "";
    /// <summary>"volume" or "stack".</summary>
    public string IntensityScope { get; set; } = "volume";
    public double ForegroundProbability { get; set; }
    /// <summary>The base image encoder is trained too (only for models built from a configuration, whose base is random).</summary>
    public bool TrainBase { get; set; }
    /// <summary>Every preprocessing setting (SampleOptions.ToDictionary), for the record.</summary>
    public Dictionary<string, string> Preprocessing { get; set; } = [];

    /// <summary>The preprocessing for prediction (no augmentation, no labels).</summary>
    public SampleOptions PredictionSampleOptions() => new()
    {
        ImageSize = ImageSize,
        Slices = Slices,
        SliceAxis = SliceAxis,
        Intensity = Imaging.Preprocessing.IntensityTransform.Parse(Intensity),
        Scope = IntensityScope == "stack" ? Training.Data.IntensityScope.Stack : Training.Data.IntensityScope.Volume,
        Augmentation = Training.Augmentation.AugmentationPipeline.None,
        BatchSize = 1,
        // runs before multi-channel inputs recorded no input_projection: grey
        Input = Preprocessing.TryGetValue("input_projection", out var input) ? InputMapping.Parse(input) : InputMapping.Grey,
    };

    public ClassMapping ClassMapping() => new(ClassGroups.Select(g => (IReadOnlyList<int>)g).ToList(), ClassNames.Skip(1).ToList());
}

/// <summary>The training slices of <see cref="TrainingData"/> as the engine's batch source: (B·D, M, S, S) float — M = 3, or C
/// with a learned input projection, which <see cref="InputProjectionTask"/> applies — and (B·D, S, S) int64.</summary>
public sealed class SliceStackSource(TrainingData data) : IBatchSource
{
    public TrainingData Data => data;

    public int BatchesPerEpoch => data.BatchesPerEpoch;

    public Batch GetBatch(long epoch, int index)
    {
        var b = data.GetBatch((int)epoch, index);
        // the batch owns its tensors (disposing twice, by the batch and an enclosing scope, is harmless)
        return new Batch(b.RawImageTensor(), b.LabelTensor(), (long)b.BatchSize * b.Depth);
    }
}

/// <summary>
/// A semantic SAM method (ma-sam, lora, full; docs/methods.md §0) as a trainer task: the <see cref="AdaptedSam"/>, loss 0.2·CE + 0.8·Dice on the full-resolution
/// logits of every slice of each stack, validation Dice per class on the centre slices of the validation cases' stacks.
/// </summary>
public sealed class SemanticSamTask : ITrainingTask, IDisposable
{
    private readonly AdaptedSam _model;
    private readonly TrainingData _data;
    private readonly SegmentationLoss _loss;
    private readonly bool _full;
    private readonly int _valBatch;

    public SemanticSamTask(SemanticTaskConfig config, AdaptedSam model, TrainingData data, TrainerOptions options)
    {
        TaskConfig = config;
        _model = model;
        _data = data;
        _loss = SegmentationLoss.FromOptions(options);
        // from scratch (random base) or full fine-tuning (every weight changes): store every tensor
        _full = string.IsNullOrEmpty(config.BaseCheckpoint) || model.Config.Method == AdaptMethod.Full;
        _valBatch = Math.Max(1, options.BatchSize);
    }

    public SemanticTaskConfig TaskConfig { get; }
    public AdaptedSam Network => _model;
    public string Method => TaskConfig.Method;
    public Module Model => _model;
    public IReadOnlyList<string> ClassNames => TaskConfig.ClassNames;
    /// <summary>Read from the model each time (after <see cref="Prepare"/> moved it), so the optimizer gets the live tensors.</summary>
    public IReadOnlyList<ParameterGroupSpec> ParameterGroups =>
        _model.ParameterGroups(trainableOnly: false)
            .Select(g => new ParameterGroupSpec(g.Name == AdaptedSam.Groups.ImageEncoder && !g.Parameters.Any(p => p.Parameter.requires_grad) ? "image_encoder (frozen)" : g.Name, g.Parameters))
            .ToList();
    public object Config => TaskConfig;

    public IReadOnlyDictionary<string, string> AdapterMetadata
    {
        get
        {
            var m = _model.Metadata(_full ? AdaptedSam.ContentsFull : AdaptedSam.ContentsTrainable);
            m["samadapt.class_names"] = string.Join("\n", TaskConfig.ClassNames);
            m["samadapt.class_values"] = string.Join(",", TaskConfig.ClassValues.Select(v => v.ToString(CultureInfo.InvariantCulture)));
            m["samadapt.intensity"] = TaskConfig.Intensity;
            m["samadapt.base_checkpoint_sha256"] = TaskConfig.BaseCheckpointSha256;
            return m;
        }
    }

    public IReadOnlyDictionary<string, Tensor> SavedState() => _full ? _model.FullStateDict() : _model.TrainableStateDict();

    public void Prepare(TrainingContext context)
    {
        _model.to(context.Device);
        _model.GradientCheckpointing = context.GradCheckpoint;
    }

    public Tensor Loss(Batch batch, TrainingContext context)
    {
        var output = _model.forward(batch.Input, TaskConfig.Slices);
        return _loss.Forward(output.Logits, batch.Target);
    }

    public ValidationResult? Validate(TrainingContext context)
    {
        if (_data.ValidationVolumes.Count == 0) return null;
        var acc = new DiceAccumulator(ClassNames);
        int d = TaskConfig.Slices;
        foreach (var b in _data.ValidationBatches(_valBatch))
        {
            using var scope = DisposeScope.Begin();
            var x = b.ImageTensor(context.Device);
            var y = b.LabelTensor(context.Device);
            using var ac = context.Bf16 ? torch.autocast(context.Device.Type, DType.BFloat16) : null;
            var logits = _model.forward(x, d).Logits;
            long s = logits.size(2), k = logits.size(1);
            var centre = logits.view(b.BatchSize, d, k, s, s).select(1, d / 2);
            var truth = y.view(b.BatchSize, d, s, s).select(1, d / 2);
            acc.Add(centre.argmax(1), truth);
        }
        return acc.Result();
    }

    public void Dispose() => _model.Dispose();
}

/// <summary>Named small SAM configurations for training from scratch.</summary>
public static class SamPresets
{
    /// <summary>
    /// "tiny": the CPU-sized SAM of the demo and of from-scratch training — 96² input, patch 8 (a 12×12 token grid),
    /// encoder embed 96, depth 2 (block 1 global, block 0 windowed 6×6), 4 heads; prompt/decoder dim 128, decoder MLP
    /// 256, 8 heads; SAM-style ×4 up-sampling (16 channels per pixel at 48², bilinear to 96²); with MA-SAM's FacT
    /// (rank 8) and 3D adapters (bottleneck 32) (<see cref="TinyAdapters"/>). Chosen for learning per CPU second
    /// (docs/training-notes.md): patch 16 left an 8×8 grid whose tokens must encode 16×16 pixels each, and MA-SAM's ×16
    /// progressive decoder ends in d/32 channels per pixel (8 for 9 classes at d 256) at a high cost in compute.
    /// </summary>
    public static SamConfig Tiny { get; } = new()
    {
        ImageSize = 96, PatchSize = 8, EncoderEmbedDim = 96, EncoderDepth = 2, EncoderNumHeads = 4, GlobalAttnIndexes = [1],
        WindowSize = 6, PromptEmbedDim = 128, MaskInChans = 16, DecoderDepth = 2, DecoderMlpDim = 256, DecoderNumHeads = 8,
        IouHeadHiddenDim = 64, PixelMean = [0f, 0f, 0f], PixelStd = [1f, 1f, 1f],
    };

    /// <summary>Adapter sizes that go with <see cref="Tiny"/>: FacT rank 8, 3D-adapter bottleneck 32 (LoRA rank 4), SAM-style ×4 up-sampling.</summary>
    public static AdapterConfig TinyAdapters(AdaptMethod method, int classes, int slices) => new()
    {
        Method = method, NumClasses = classes, Slices = slices, FactRank = 8, AdapterBottleneck = 32, LoraRank = 4,
        Upscaling = DecoderUpscaling.Sam,
    };

    /// <summary>Stacks per batch and slices per stack that suit <see cref="Tiny"/> on a CPU: 4 stacks of 3 slices
    /// (more distinct positions per step than MA-SAM's 1 × 5 learned several times faster per second; docs/training-notes.md).</summary>
    public const int TinyBatch = 4, TinySlices = 3;

    public static IReadOnlyList<string> Names { get; } = ["tiny"];


    public static SamConfig? Find(string name) => name.Trim().ToLowerInvariant() switch
    {
        "tiny" => Tiny,
        _ => null,
    };
}

/// <summary>What <see cref="SemanticSamSetup.Build"/> needs: the train verb's options that concern the task.</summary>
public sealed record SemanticSetupOptions : SliceTaskSetupOptions
{
    /// <summary>Adapter sizes; null = the method's defaults (rank 32 / bottleneck 384), or the tiny ones for the tiny preset.</summary>
    public int? FactRank { get; init; }
    public int? Bottleneck { get; init; }
    /// <summary>Also train the base image encoder (from-scratch models only: a frozen random encoder carries little information).</summary>
    public bool TrainBase { get; init; }
}

/// <summary>Builds the data, the model and the task of a semantic SAM run (ma-sam, lora, full).</summary>
public static class SemanticSamSetup
{
    /// <summary>SHA-256 of a file, lower-case hex.</summary>
    public static string Sha256(string path)
    {
        using var f = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(f));
    }

    /// <summary>
    /// The intensity transform when none is given, chosen from the name of image channel 0 in dataset.json as nnU-Net
    /// does: "CT" → <c>nnunet-ct</c> (clip to the 0.5th–99.5th percentiles of the training cases' foreground
    /// intensities, then z-score with their foreground mean and std; 10 000 voxels sampled per case, seeded);
    /// "noNorm" → none; anything else (MRI: T1, T2, FLAIR, ADC, ...) → per-volume z-score. Returns the transform's
    /// text and a sentence saying why (recorded in config.yaml and printed).
    /// </summary>
    public static (string Transform, string Reason) DefaultIntensity(SegmentationDataset ds, IProgress<string>? progress = null)
    {
        var channel = ds.ChannelNames.Count > 0 ? ds.ChannelNames[0].Trim() : "";
        if (channel.Equals("CT", StringComparison.OrdinalIgnoreCase))
        {
            var stats = new Imaging.Preprocessing.ForegroundIntensityStatistics(maxSamplesPerCase: 10_000, seed: 1234);
            foreach (var c in ds.TrainingCases.Where(c => c.LabelPath is not null).OrderBy(c => c.Id, StringComparer.Ordinal))
            {
                var image = SamplePipeline.ReadVolume(c.ImagePaths[0]);
                var label = DatasetLabelReader.Read(c);
                stats.Add(image, label);
                progress?.Report(c.Id);
            }
            var t = stats.Compute().ToTransform();
            return (t.ToString()!, $"default for channel 'CT' (nnU-Net: clip to the training foreground's 0.5–99.5th percentiles, z-score with its mean/std)");
        }
        if (channel.Equals("noNorm", StringComparison.OrdinalIgnoreCase)) return ("none", "default for channel 'noNorm' (nnU-Net: no normalisation)");
        return ("zscore", $"default for channel '{channel}' (nnU-Net: non-CT images get a per-volume z-score)");
    }

    /// <summary>
    /// Loads the dataset (split, preprocessing, classes), builds the adapted model (from --checkpoint with positional
    /// tables resized to the image size, or from --model / a preset with random weights) and returns the config and data.
    /// Model construction draws random numbers: seed libtorch before calling.
    /// </summary>
    public static (SemanticTaskConfig Config, TrainingData Data, AdaptedSam Model) Build(SemanticSetupOptions o, SemanticSamMethod method, IProgress<string>? progress = null)
    {
        if (o.Checkpoint is not null && o.Model is not null) throw new ArgumentException("give either --checkpoint or --model, not both");
        if (o.Checkpoint is null && o.Model is null)
            throw new ArgumentException($"give a SAM checkpoint (--checkpoint SAM.pth|.safetensors) or a configuration to train from scratch (--model CONFIG.json or a preset: {string.Join(", ", SamPresets.Names)})");
        if (o.Checkpoint is not null && !File.Exists(o.Checkpoint)) throw new FileNotFoundException($"--checkpoint: no such file: {o.Checkpoint}");

        SamConfig? scratch = null;
        string modelConfig = "";
        if (o.Model is not null)
        {
            scratch = SamPresets.Find(o.Model);
            if (scratch is null)
            {
                if (!File.Exists(o.Model)) throw new FileNotFoundException($"--model: no such file and not a preset ({string.Join(", ", SamPresets.Names)}): {o.Model}");
                scratch = SamAdapt.Sam.SamConfig.FromJsonFile(o.Model);
                modelConfig = Path.GetFullPath(o.Model);
            }
            else modelConfig = o.Model.Trim().ToLowerInvariant();
            scratch = scratch with { PixelMean = [0f, 0f, 0f], PixelStd = [1f, 1f, 1f] };
        }
        bool tiny = modelConfig == "tiny";
        // a configuration (preset or JSON) carries its own input size; a SAM checkpoint is adapted at MA-SAM's 512
        int imageSize = o.ImageSize ?? scratch?.ImageSize ?? 512;
        if (scratch is not null) scratch = scratch with { ImageSize = imageSize };

        var ds = SegmentationDataset.Load(o.Dataset);
        ClassMapping classes;
        try { classes = o.Labels is null ? ClassMapping.FromDataset(ds) : ClassMapping.Parse(o.Labels, ds); }
        catch (Exception e) when (e is FormatException or InvalidDataException) { throw new ArgumentException($"--labels: {e.Message}", e); }
        var declared = ds.Labels.Where(l => !l.IsRegion).SelectMany(l => l.Values).ToHashSet();
        var unknown = classes.Groups.SelectMany(g => g).Where(v => !declared.Contains(v)).Distinct().ToList();
        if (unknown.Count > 0)
            throw new ArgumentException($"--labels: label value(s) {string.Join(", ", unknown)} are not in {ds.Root}/dataset.json (its labels: " +
                string.Join(", ", ds.Labels.Where(l => !l.IsRegion).Select(l => $"{l.Name}={string.Join("+", l.Values)}")) + ")");

        string intensityText, intensitySource;
        if (o.Intensity is not null) (intensityText, intensitySource) = (o.Intensity, o.IntensitySource ?? "--intensity");
        else (intensityText, intensitySource) = DefaultIntensity(ds, progress);
        var intensity = Imaging.Preprocessing.IntensityTransform.Parse(intensityText);
        var sample = new SampleOptions
        {
            ImageSize = imageSize, Slices = o.Slices, Intensity = intensity, BatchSize = o.BatchSize, Seed = o.Seed,
            ForegroundProbability = o.ForegroundProbability, Augmentation = Training.Augmentation.AugmentationPipeline.Parse(o.Augmentation),
            Input = DatasetChannels.Mapping(ds, o.InputProjection),
        };
        var data = TrainingData.Load(ds, sample, classes, o.ValCases, o.ValCases is { Count: > 0 } ? 0 : o.ValFraction, progress);

        var ad = method.Adapters(classes.NumClasses - 1, o.Slices, tiny, o.FactRank, o.Bottleneck);
        // MA-SAM's ×16 progressive decoder ends in d/32 channels per pixel: fewer than the K + 1 class logits it must
        // separate (a decoder dim below 32·(K + 1), as small from-scratch configurations have) cannot fit; use SAM's ×4
        if (scratch is not null && ad.Method == AdaptMethod.MaSam && ad.Upscaling is null && scratch.PromptEmbedDim / 32 < classes.NumClasses)
            ad = ad with { Upscaling = DecoderUpscaling.Sam };

        AdaptedSam model = o.Checkpoint is not null
            ? AdaptedSam.FromSamCheckpoint(o.Checkpoint, ad, imageSize)
            : AdaptedSam.FromConfig(scratch!, ad);
        if (o.TrainBase)
        {
            if (o.Checkpoint is not null) throw new ArgumentException("--train-base is for models trained from scratch (--model); with a SAM checkpoint the base stays frozen");
            foreach (var (_, p) in model.named_parameters()) p.requires_grad_(true);
        }
        model.train();

        var cfg = new SemanticTaskConfig
        {
            Method = method.Name,
            Dataset = Path.GetFullPath(o.Dataset),
            DatasetName = ds.Name,
            Labels = o.Labels ?? "all",
            ClassNames = [.. classes.ClassNames],
            ClassValues = Enumerable.Range(0, classes.NumClasses).Select(classes.ValueOf).ToList(),
            ClassGroups = classes.Groups.Select(g => g.ToList()).ToList(),
            ValCasesRequested = o.ValCases?.ToList() ?? [],
            ValFraction = o.ValCases is { Count: > 0 } ? 0 : o.ValFraction,
            TrainCases = [.. data.Split.TrainCases],
            ValidationCases = [.. data.Split.ValidationCases],
            BaseCheckpoint = o.Checkpoint is null ? "" : Path.GetFullPath(o.Checkpoint),
            BaseCheckpointSha256 = o.Checkpoint is null ? "" : Sha256(o.Checkpoint),
            ModelConfig = modelConfig,
            SamConfig = SamConfigJson.ToJson(model.SamConfig),
            AdapterConfig = model.Config.ToJson(),
            ImageSize = imageSize,
            Slices = o.Slices,
            SliceAxis = sample.SliceAxis,
            Intensity = intensity.ToString()!,
            IntensitySource = intensitySource,
            IntensityScope = sample.EffectiveScope.ToString().ToLowerInvariant(),
            ForegroundProbability = o.ForegroundProbability,
            TrainBase = o.TrainBase,
            Preprocessing = sample.ToDictionary().ToDictionary(kv => kv.Key, kv => Convert.ToString(kv.Value, CultureInfo.InvariantCulture) ?? ""),
        };
        return (cfg, data, model);
    }
}
