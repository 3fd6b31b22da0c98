using System.Globalization;
using SamAdapt.Sam.Adapters;
using SamAdapt.Torch;
using SamAdapt.Training.Engine;

namespace SamAdapt.Methods.Semantic;

/// <summary>
/// What the prompt-free, slice-stack methods built on <see cref="AdaptedSam"/> share (ma-sam, lora, full; docs/methods.md):
/// the dataset/split/preprocessing setup (<see cref="SemanticSamSetup"/>), the training task (<see cref="SemanticSamTask"/>), the
/// run-folder record (<see cref="SemanticTaskConfig"/>) and rebuilding from adapter.safetensors. A concrete method decides its
/// adapter structure and defaults (<see cref="Adapters"/>); the structure then decides freezing, parameter groups and metadata.
/// </summary>
public abstract class SemanticSamMethod : ISegmentationMethod
{
    public abstract string Name { get; }
    public virtual IReadOnlyList<string> Aliases => [];
    public abstract string Description { get; }
    public OutputContract Output => OutputContract.Semantic;

    /// <summary>
    /// The adapter configuration for <paramref name="numClasses"/> foreground classes and <paramref name="slices"/>-slice stacks:
    /// the method's defaults (the tiny preset's smaller sizes when <paramref name="tinyPreset"/>), with <paramref name="rank"/> and
    /// <paramref name="bottleneck"/> overriding them where given.
    /// </summary>
    public abstract AdapterConfig Adapters(int numClasses, int slices, bool tinyPreset, int? rank = null, int? bottleneck = null);

    public MethodRun CreateRun(MethodContext context)
    {
        var s = context.Settings;
        var setup = new SemanticSetupOptions
        {
            Dataset = s.Dataset!,
            Checkpoint = s.Checkpoint,
            Model = s.Model,
            ImageSize = s.ImageSize,
            Slices = s.Slices ?? 5,
            Labels = s.Labels,
            Intensity = s.Intensity,
            ValCases = s.ValCases is { Count: > 0 } v ? v : null,
            ValFraction = s.ValFraction ?? 0.2,
            BatchSize = context.Trainer.BatchSize,
            Seed = (int)context.Trainer.Seed,
            // a model built from a configuration has a random base: freezing it preserves nothing, so everything trains
            TrainBase = s.TrainBase ?? (s.Checkpoint is null && s.Model is not null),
            ForegroundProbability = s.ForegroundProbability ?? Training.Data.SampleOptions.NnUNetForegroundProbability,
            IntensitySource = s.IntensitySource,
            Augmentation = s.Augment ?? "ma-sam",
            FactRank = s.Rank,
            Bottleneck = s.Bottleneck,
            InputProjection = s.InputProjection,
        };
        context.Log.WriteLine("loading and preprocessing the training cases...");
        var (cfg, data, model) = SemanticSamSetup.Build(setup, this);
        var task = new SemanticSamTask(cfg, model, data, context.Trainer);
        var summary = string.Join("\n",
            string.Create(CultureInfo.InvariantCulture,
                $"{cfg.Method} on {cfg.DatasetName}: {cfg.ClassNames.Count - 1} classes ({string.Join(", ", cfg.ClassNames.Skip(1))}), " +
                $"{cfg.TrainCases.Count} training / {cfg.ValidationCases.Count} validation case(s), {data.SamplesPerEpoch} training slices, " +
                $"{cfg.ImageSize}² input, {cfg.Slices}-slice stacks, base: {(cfg.BaseCheckpoint != "" ? cfg.BaseCheckpoint : $"{cfg.ModelConfig} (from scratch)")}"),
            $"intensity: {cfg.Intensity} ({cfg.IntensitySource})" + (data.Options.Input.IsGrey ? "" : $"; input: {data.Options.Input.Describe()}"),
            "trained: " + (cfg.TrainBase
                ? "everything (image encoder, adapters, decoder): the base is random, so freezing it would preserve nothing"
                : cfg.BaseCheckpoint != "" ? "adapters, prompt encoder and mask decoder; the pretrained image encoder stays frozen"
                : "adapters, prompt encoder and mask decoder only (--train-base false): the random image encoder stays frozen"),
            string.Create(CultureInfo.InvariantCulture,
                $"sampling: {cfg.ForegroundProbability:P0} of the training stacks centred on a foreground class (class drawn uniformly)"));
        if (data.Split.MissingValidationClasses.Count > 0)
            summary += "\nnote: no validation case holds " + string.Join(", ", data.Split.MissingValidationClasses.Select(c => cfg.ClassNames[c])) +
                " (each is in too few cases to spare one); their validation Dice is shown as n/a";
        return new MethodRun(task, new SliceStackSource(data), summary);
    }

    public TrainSettings StoredSettings(LoadedRunConfig run)
    {
        var t = ReadTaskConfig(run);
        return new TrainSettings
        {
            Method = t.Method,
            Dataset = t.Dataset,
            Checkpoint = t.BaseCheckpoint is "" ? null : t.BaseCheckpoint,
            Model = t.ModelConfig is "" ? null : t.ModelConfig,
            ImageSize = t.ImageSize,
            Slices = t.Slices,
            Labels = t.Labels is "all" ? null : t.Labels,
            Intensity = t.Intensity,
            ValCases = t.ValCasesRequested is { Count: > 0 } v ? v : null,
            ValFraction = t.ValFraction,
            TrainBase = t.TrainBase,
            ForegroundProbability = t.ForegroundProbability,
            IntensitySource = t.IntensitySource,
            Augment = t.Preprocessing.TryGetValue("augmentation", out var aug) ? aug : "ma-sam",
            InputProjection = t.Preprocessing.TryGetValue("input_projection", out var input) ? input : null,
        };
    }

    public TrainedModel Load(LoadedRunConfig run, string weightsFile, Device device)
    {
        var cfg = ReadTaskConfig(run);
        if (cfg.ClassValues.Count < 2) throw new InvalidDataException($"{run.Path} lists no classes; it was not written by a {Name} run");
        string? baseCkpt = cfg.BaseCheckpoint == "" ? null : cfg.BaseCheckpoint;
        if (baseCkpt is not null && !File.Exists(baseCkpt))
            throw new FileNotFoundException($"the run was trained on the SAM checkpoint {baseCkpt}, which no longer exists; put it back (SHA-256 {cfg.BaseCheckpointSha256})");
        AdaptedSam model;
        try { model = AdaptedSam.Rebuild(weightsFile, baseCkpt, device); }
        catch (Exception e) when (e is InvalidDataException or ArgumentException)
        { throw new InvalidDataException($"cannot rebuild the model from {weightsFile}: {e.Message}", e); }
        return new TrainedModel(Name, model)
        {
            Semantic = model,
            Preprocessing = cfg.PredictionSampleOptions(),
            ClassValues = cfg.ClassValues,
            ClassNames = cfg.ClassNames,
        };
    }

    /// <summary>The run's <c>task:</c> section.</summary>
    public static SemanticTaskConfig ReadTaskConfig(LoadedRunConfig run)
    {
        try { return run.Task<SemanticTaskConfig>(); }
        catch (YamlDotNet.Core.YamlException e) { throw new InvalidDataException($"cannot read {run.Path}: {e.Message}", e); }
    }
}
