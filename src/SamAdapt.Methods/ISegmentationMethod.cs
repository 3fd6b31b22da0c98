using SamAdapt.Imaging.Datasets;
using SamAdapt.Sam.Contracts;
using SamAdapt.Torch;
using SamAdapt.Training.Engine;

namespace SamAdapt.Methods;

/// <summary>Which output contract a method's model fulfils (docs/architecture.md, "Output contracts").</summary>
public enum OutputContract
{
    /// <summary>Class probabilities for a slice stack, prompt-free (<see cref="ISemanticSegmenter"/>).</summary>
    Semantic,
    /// <summary>Mask logits for a typed prompt batch (<see cref="IPromptableSegmenter"/>).</summary>
    Promptable,
}

/// <summary>
/// An adaptation method as a plug-in (docs/methods.md): it owns its configuration, model, freezing, parameter groups,
/// checkpoint metadata and how it is rebuilt from a run folder. Methods are found by name in <see cref="MethodRegistry"/>;
/// adding one is its folder under src/SamAdapt.Methods plus one registration line.
/// </summary>
public interface ISegmentationMethod
{
    /// <summary>The name users type (<c>--method NAME</c>), recorded in config.yaml and checkpoints. Lower case.</summary>
    string Name { get; }

    /// <summary>Other accepted spellings (e.g. "samed" for lora).</summary>
    IReadOnlyList<string> Aliases => [];

    /// <summary>One line for help texts: what is adapted and trained.</summary>
    string Description { get; }

    OutputContract Output { get; }

    /// <summary>
    /// Builds what a run trains: the model, the task the engine drives, the batches. Called for fresh and resumed runs
    /// (with <see cref="MethodContext.Settings"/> already merged with the stored ones). Model construction may draw random
    /// numbers: the caller has seeded libtorch.
    /// </summary>
    MethodRun CreateRun(MethodContext context);

    /// <summary>
    /// The method's own training defaults for a new run: <paramref name="options"/> are the engine's defaults merged with what the
    /// user gave; a method may replace the values the user did not give (null in <paramref name="settings"/>). Default: unchanged.
    /// </summary>
    TrainerOptions TrainerDefaults(TrainSettings settings, TrainerOptions options) => options;

    /// <summary>The settings a run folder's config.yaml recorded for this method (what --resume starts from).</summary>
    TrainSettings StoredSettings(LoadedRunConfig run);

    /// <summary>Rebuilds the trained model of a run folder from <paramref name="weightsFile"/> (adapter.safetensors or
    /// best.safetensors) for prediction.</summary>
    TrainedModel Load(LoadedRunConfig run, string weightsFile, Device device);
}

/// <summary>What <see cref="ISegmentationMethod.CreateRun"/> gets: the merged settings, the loaded dataset, the trainer options.</summary>
/// <param name="Log">Progress lines for the user (stderr in the CLI).</param>
public sealed record MethodContext(TrainSettings Settings, SegmentationDataset Dataset, TrainerOptions Trainer, TextWriter Log);

/// <summary>A ready-to-train run: the task and its batches, plus a one-line summary for the user. Disposes the model.</summary>
public sealed class MethodRun(ITrainingTask task, IBatchSource batches, string summary) : IDisposable
{
    public ITrainingTask Task { get; } = task;
    public IBatchSource Batches { get; } = batches;
    public string Summary { get; } = summary;

    public void Dispose() => (Task as IDisposable)?.Dispose();
}

/// <summary>
/// A trained model rebuilt for prediction. Semantic methods set <see cref="Semantic"/> and the preprocessing and class values
/// the run trained with; promptable ones set <see cref="Promptable"/>.
/// </summary>
public sealed class TrainedModel(string method, IDisposable owner) : IDisposable
{
    public string Method { get; } = method;
    public ISemanticSegmenter? Semantic { get; init; }
    public IPromptableSegmenter? Promptable { get; init; }
    /// <summary>Semantic: the preprocessing of prediction (no augmentation, no labels).</summary>
    public SamAdapt.Training.Data.SampleOptions? Preprocessing { get; init; }
    /// <summary>Semantic: the label value written for each output class (background 0 first).</summary>
    public IReadOnlyList<int> ClassValues { get; init; } = [];
    /// <summary>Semantic: class names, background first.</summary>
    public IReadOnlyList<string> ClassNames { get; init; } = [];
    /// <summary>How the run maps image channels to SAM's 3 (grey for single-channel runs); set by the run loader from the
    /// weights' metadata (<see cref="InputProjectionTask.MetadataKey"/>).</summary>
    public SamAdapt.Training.Data.InputMapping Input { get; init; } = SamAdapt.Training.Data.InputMapping.Grey;
    /// <summary>The run's learned input projection when <see cref="Input"/> is learned (on the prediction device).</summary>
    public SamAdapt.Training.Data.LearnedInputProjection? InputProjection { get; init; }

    /// <summary>The same model with the run's input mapping (and projection, which this model then disposes).</summary>
    public TrainedModel WithInput(SamAdapt.Training.Data.InputMapping input, SamAdapt.Training.Data.LearnedInputProjection? projection) =>
        new(Method, new Owners(owner, projection))
        {
            Semantic = Semantic,
            Promptable = Promptable,
            Preprocessing = Preprocessing is null ? null : Preprocessing with { Input = input },
            ClassValues = ClassValues,
            ClassNames = ClassNames,
            Input = input,
            InputProjection = projection,
        };

    public void Dispose() => owner.Dispose();

    private sealed class Owners(IDisposable first, IDisposable? second) : IDisposable
    {
        public void Dispose()
        {
            first.Dispose();
            second?.Dispose();
        }
    }
}
