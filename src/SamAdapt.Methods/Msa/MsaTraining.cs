using System.Globalization;
using SamAdapt.Imaging.Datasets;
using SamAdapt.Methods.Semantic;
using SamAdapt.Sam;
using SamAdapt.Sam.Adapters;
using SamAdapt.Training.Data;
using SamAdapt.Training.Engine;

namespace SamAdapt.Methods.Msa;

/// <summary>What <see cref="MsaTraining.Build"/> needs.</summary>
public sealed record MsaSetupOptions : SliceTaskSetupOptions
{
    public MsaSetupOptions()
    {
        Slices = 4;
        ForegroundProbability = SampleOptions.NnUNetForegroundProbability;
    }

    /// <summary>MSA settings (ratio, activation, what trains); Slices and DepthBranch are set from <see cref="Slices"/>.</summary>
    public MsaOptions Msa { get; init; } = new();
    public MsaLossKind Loss { get; init; } = MsaLossKind.DiceBce;
    /// <summary>The training prompt mixture (docs/methods/msa.md, "Training prompts").</summary>
    public TrainPromptMix Prompts { get; init; } = TrainPromptMix.Default;
    /// <summary>True when <see cref="MsaOptions.Trains"/> was chosen (--trains, --train-base); otherwise a model from a configuration trains everything.</summary>
    public bool TrainsGiven { get; init; }
    /// <summary>Method name recorded ("msa", or "medsam" for full fine-tuning with boxes).</summary>
    public string Method { get; init; } = "msa";
}

/// <summary>Builds prompt-trained MSA runs (docs/methods/msa.md, "Training").</summary>
public static class MsaTraining
{
    public static MethodRun CreateRun(MethodContext context, string method) => CreateRun(context, method, medSam: false);

    /// <param name="medSam">MedSAM's recipe: plain SAM (no adapters), every weight trained, box prompts, single slices.</param>
    public static MethodRun CreateRun(MethodContext context, string method, bool medSam)
    {
        var s = context.Settings;
        if (medSam && s.Slices is > 1) throw new ArgumentException($"--slices {s.Slices}: medsam segments single slices (it has no depth branch); omit --slices or give 1");
        var o = new MsaSetupOptions
        {
            Dataset = s.Dataset!, Checkpoint = s.Checkpoint, Model = s.Model, ImageSize = s.ImageSize, Slices = s.Slices ?? 4, Labels = s.Labels,
            Intensity = s.Intensity, IntensitySource = s.IntensitySource, ValCases = s.ValCases is { Count: > 0 } v ? v : null,
            ValFraction = s.ValFraction ?? 0.2, BatchSize = context.Trainer.BatchSize, Seed = (int)context.Trainer.Seed,
            ForegroundProbability = s.ForegroundProbability ?? SampleOptions.NnUNetForegroundProbability, Augmentation = s.Augment ?? "ma-sam",
            InputProjection = s.InputProjection,
            Method = method,
            Msa = new MsaOptions
            {
                Trains = s.Trains is { } t ? MsaOptions.ParseTrains(t) : s.TrainBase == true ? MsaTrainedParts.All : MsaTrainedParts.Reference,
                Activation = s.AdapterActivation is { } a ? MsaOptions.ParseActivation(a) : AdapterActivation.Gelu,
                DecoderAdapters = s.DecoderAdapters ?? false,
                SlicesAsChannels = s.SlicesAsChannels ?? false,
                MultimaskClicks = s.MultimaskClicks ?? false,
                SemanticWeight = s.AuxSemantic ?? 0,
            },
            TrainsGiven = s.Trains is not null || s.TrainBase is not null,
            Loss = s.Loss is { } l ? MsaPromptTask.ParseLoss(l) : MsaLossKind.DiceBce,
            Prompts = TrainPromptMix.Parse(s.TrainPrompts ?? TrainPromptMix.DefaultText, s.MaxClicks, s.PromptRounds, s.TargetsPerStack),
        };
        if (medSam)
        {
            if (s.PromptTrainingOptionsGiven(msaOnly: true) is { Count: > 0 } msaOnly)
                throw new ArgumentException($"{string.Join(", ", msaOnly)}: option(s) of --method msa; medsam is MedSAM's fixed recipe (no adapters, every weight trained, jittered boxes, single slices)");
            o = o with { Slices = 1, Msa = new MsaOptions { EncoderAdapters = false, Trains = MsaTrainedParts.All }, Prompts = TrainPromptMix.MedSam };
        }
        context.Log.WriteLine("loading and preprocessing the training cases...");
        var (cfg, data, model) = Build(o);
        var task = new MsaPromptTask(cfg, model, data, o.Seed);
        var summary = string.Create(CultureInfo.InvariantCulture,
            $"{cfg.Method} on {cfg.DatasetName}: {cfg.ClassNames.Count - 1} classes ({string.Join(", ", cfg.ClassNames.Skip(1))}), {cfg.TrainCases.Count} training / " +
            $"{cfg.ValidationCases.Count} validation case(s), {cfg.ImageSize}² input, {cfg.Slices}-slice stacks ({(model.Options.SlicesAsChannels ? "as the 3 input channels" : $"depth branch {(model.Options.DepthBranch ? "on" : "off")}")}), " +
            $"prompts {cfg.TrainPrompts} (clicks ≤ {cfg.MaxClicks}, rounds ≤ {cfg.PromptRounds}{(cfg.TargetsPerStack > 0 ? $", ≤ {cfg.TargetsPerStack} targets per stack" : "")}), loss {cfg.Loss}, adapters {model.Options.Activation}" +
            $"{(model.Options.DecoderAdapters ? " + decoder adapters" : "")}{(model.Options.MultimaskClicks ? ", multimask single clicks" : "")}{(model.Options.SemanticWeight > 0 ? $", auxiliary semantic head ×{model.Options.SemanticWeight}" : "")}, trained: {model.Options.Trains}");
        return new MethodRun(task, new SliceStackSource(data), summary);
    }

    /// <summary>The task config, the data and the model of a new run.</summary>
    public static (MsaTaskConfig Config, TrainingData Data, MsaSam Model) Build(MsaSetupOptions o, IProgress<string>? progress = null)
    {
        if (o.Checkpoint is not null && o.Model is not null) throw new ArgumentException("give either --checkpoint or --model, not both");
        if (o.Checkpoint is null && o.Model is null)
            throw new ArgumentException($"give a SAM checkpoint (--checkpoint SAM.pth|.safetensors) or a configuration to train from scratch (--model CONFIG.json or a preset: {string.Join(", ", SamPresets.Names)})");
        if (o.Checkpoint is not null && !File.Exists(o.Checkpoint)) throw new FileNotFoundException($"--checkpoint: no such file: {o.Checkpoint}");
        if (o.Slices < 1) throw new ArgumentException($"--slices must be ≥ 1, got {o.Slices}");
        if (o.Msa.SlicesAsChannels && o.Slices != 3) throw new ArgumentException($"--slices-as-channels feeds the 3 slices of a stack as SAM's 3 input channels: it needs --slices 3, got --slices {o.Slices}");
        o.Prompts.Validate();

        SamConfig? scratch = null;
        string modelConfig = "";
        if (o.Model is not null)
        {
            scratch = SamPresets.Find(o.Model);
            if (scratch is null)
            {
                if (!File.Exists(o.Model)) throw new FileNotFoundException($"--model: no such file and not a preset ({string.Join(", ", SamPresets.Names)}): {o.Model}");
                scratch = SamConfig.FromJsonFile(o.Model);
                modelConfig = Path.GetFullPath(o.Model);
            }
            else modelConfig = o.Model.Trim().ToLowerInvariant();
        }
        Dictionary<string, Torch.Serialization.HostTensor>? baseSd = null;
        SamConfig sam;
        if (o.Checkpoint is not null)
        {
            baseSd = SamCheckpoint.ReadStateDict(o.Checkpoint);
            sam = SamCheckpoint.InferConfig(SamCheckpoint.Shapes(baseSd)) with { ImageSize = o.ImageSize ?? 1024 };
        }
        else sam = scratch! with { ImageSize = o.ImageSize ?? scratch!.ImageSize };

        var ds = SegmentationDataset.Load(o.Dataset);
        ClassMapping classes;
        try { classes = o.Labels is null ? ClassMapping.FromDataset(ds) : ClassMapping.Parse(o.Labels, ds); }
        catch (Exception e) when (e is FormatException or InvalidDataException) { throw new ArgumentException($"--labels: {e.Message}", e); }
        string intensityText, intensitySource;
        if (o.Intensity is not null) (intensityText, intensitySource) = (o.Intensity, o.IntensitySource ?? "--intensity");
        else (intensityText, intensitySource) = SemanticSamSetup.DefaultIntensity(ds, progress);
        var intensity = Imaging.Preprocessing.IntensityTransform.Parse(intensityText);
        var sample = new SampleOptions
        {
            ImageSize = sam.ImageSize, Slices = o.Slices, Intensity = intensity, BatchSize = o.BatchSize, Seed = o.Seed,
            ForegroundProbability = o.ForegroundProbability, Augmentation = Training.Augmentation.AugmentationPipeline.Parse(o.Augmentation),
            Input = DatasetChannels.Mapping(ds, o.InputProjection),
        };
        if (o.Msa.SlicesAsChannels && !sample.Input.IsGrey)
            throw new ArgumentException($"--slices-as-channels takes single-channel (grey) images; the images map to SAM's channels as {sample.Input} (--input-projection)");
        var data = TrainingData.Load(ds, sample, classes, o.ValCases, o.ValCases is { Count: > 0 } ? 0 : o.ValFraction, progress);

        // from a configuration the base is random: freezing it would preserve nothing, so everything trains
        var options = o.Msa with
        {
            Slices = o.Slices, DepthBranch = o.Slices > 1 && !o.Msa.SlicesAsChannels,
            SemanticClasses = o.Msa.SemanticWeight > 0 ? classes.NumClasses : 0,
            Trains = o.Checkpoint is null && !o.TrainsGiven ? MsaTrainedParts.All : o.Msa.Trains,
        };
        var model = new MsaSam(sam, options);
        try
        {
            if (baseSd is not null) MsaWeights.LoadBase(model, baseSd, $"--checkpoint {o.Checkpoint}");
        }
        catch
        {
            model.Dispose();
            throw;
        }
        model.train();
        var cfg = new MsaTaskConfig
        {
            Method = o.Method,
            Dataset = Path.GetFullPath(o.Dataset),
            DatasetName = ds.Name,
            ClassNames = [.. classes.ClassNames],
            ClassValues = Enumerable.Range(0, classes.NumClasses).Select(classes.ValueOf).ToList(),
            TrainCases = [.. data.Split.TrainCases],
            ValidationCases = [.. data.Split.ValidationCases],
            BaseCheckpoint = o.Checkpoint is null ? "" : Path.GetFullPath(o.Checkpoint),
            BaseCheckpointSha256 = o.Checkpoint is null ? "" : SemanticSamSetup.Sha256(o.Checkpoint),
            ModelConfig = modelConfig,
            SamConfig = SamConfigJson.ToJson(model.SamConfig),
            MsaOptions = options.ToJson(),
            ImageSize = sam.ImageSize,
            Slices = o.Slices,
            SliceAxis = sample.SliceAxis,
            Intensity = intensity.ToString()!,
            InputProjection = sample.Input.IsGrey ? "" : sample.Input.ToString(),
            Loss = o.Loss switch { MsaLossKind.Bce => "bce", MsaLossKind.Dice => "dice", _ => "dice-bce" },
            TrainPrompts = o.Prompts.ToText(),
            MaxClicks = o.Prompts.MaxClicks,
            PromptRounds = o.Prompts.Rounds,
            TargetsPerStack = o.Prompts.TargetsPerStack,
        };
        return (cfg, data, model);
    }

    public static TrainSettings StoredSettings(MsaTaskConfig t)
    {
        // MSA's own options, recorded as JSON (absent for medsam, which takes none of them)
        var msa = t.Method == "msa" && t.MsaOptions != "" ? MsaOptions.FromJson(t.MsaOptions) : null;
        return new()
        {
            Method = t.Method,
            Dataset = t.Dataset is "" ? null : t.Dataset,
            Checkpoint = t.BaseCheckpoint is "" ? null : t.BaseCheckpoint,
            Model = t.ModelConfig is "" ? null : t.ModelConfig,
            ImageSize = t.ImageSize,
            Slices = t.Slices,
            Intensity = t.Intensity,
            InputProjection = t.InputProjection is "" ? null : t.InputProjection,
            Loss = t.Loss,
            TrainPrompts = t.Method == "msa" ? t.TrainPrompts : null,
            MaxClicks = t.MaxClicks,
            PromptRounds = t.PromptRounds,
            TargetsPerStack = t.TargetsPerStack,
            AdapterActivation = msa?.Activation.ToString().ToLowerInvariant(),
            DecoderAdapters = msa?.DecoderAdapters,
            SlicesAsChannels = msa?.SlicesAsChannels,
            MultimaskClicks = msa?.MultimaskClicks,
            AuxSemantic = msa?.SemanticWeight,
            Trains = msa is null ? null : MsaOptions.TrainsText(msa.Trains),
        };
    }
}
