using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Training.Engine;

/// <summary>
/// One training batch: the model input, the target, and how many 2D slices it holds (for slices/s). A batch owns its
/// tensors; the trainer disposes it (and everything the step creates) at the end of the step.
/// </summary>
public sealed class Batch(Tensor input, Tensor target, long slices, IReadOnlyDictionary<string, Tensor>? extras = null) : IDisposable
{
    /// <summary>The model input, e.g. [B·D, 3, H, W] for MA-SAM (sample-major, slice-minor).</summary>
    public Tensor Input { get; } = input;

    /// <summary>The target, e.g. int64 labels [B·D, H, W] (−100 = ignore).</summary>
    public Tensor Target { get; } = target;

    /// <summary>2D slices in this batch (B·D for D-slice stacks); the throughput counts these.</summary>
    public long Slices { get; } = slices;

    /// <summary>Anything else the task needs (prompts, masks, ...).</summary>
    public IReadOnlyDictionary<string, Tensor> Extras { get; } = extras ?? new Dictionary<string, Tensor>();

    /// <summary>A copy of the batch on <paramref name="device"/> (the originals stay where they are).</summary>
    public Batch To(Device device) =>
        new(Input.to(device), Target.to(device), Slices, Extras.ToDictionary(kv => kv.Key, kv => kv.Value.to(device)));

    public void Dispose()
    {
        Input.Dispose();
        Target.Dispose();
        foreach (var t in Extras.Values) t.Dispose();
    }
}

/// <summary>
/// The training data as a deterministic function of (epoch, index): the same arguments always give the same batch
/// (shuffling and augmentation derived from the seed, the epoch and the index), so a resumed run sees exactly the
/// batches the interrupted run would have seen, without saving any data-loader state.
/// </summary>
public interface IBatchSource
{
    /// <summary>Batches per epoch (≥ 1).</summary>
    int BatchesPerEpoch { get; }

    /// <summary>The batch at <paramref name="index"/> (0 ≤ index &lt; <see cref="BatchesPerEpoch"/>) of <paramref name="epoch"/> (0-based), on the CPU or the training device.</summary>
    Batch GetBatch(long epoch, int index);
}

/// <summary>
/// A named set of parameters, for the optimizer (frozen members are left out of it) and for the parameter-count
/// report. Groups may hold frozen parameters (e.g. "image encoder") so the report shows them.
/// </summary>
/// <param name="Name">Shown in the report, e.g. "fact", "adapters", "mask decoder", "image encoder (frozen)".</param>
/// <param name="Parameters">Dotted names and tensors, as from <see cref="Module.named_parameters"/>.</param>
/// <param name="LrScale">This group's learning rate = base lr × scale.</param>
/// <param name="WeightDecay">This group's weight decay (null: the trainer's).</param>
public sealed record ParameterGroupSpec(string Name, IReadOnlyList<(string Name, Tensor Value)> Parameters, double LrScale = 1, double? WeightDecay = null)
{
    /// <summary>A group of every parameter of <paramref name="module"/> whose dotted name (within <paramref name="module"/>) starts with <paramref name="prefix"/>.</summary>
    public static ParameterGroupSpec FromPrefix(string name, Module module, string prefix, double lrScale = 1, double? weightDecay = null) =>
        new(name, module.named_parameters().Where(p => p.Name.StartsWith(prefix, StringComparison.Ordinal)).ToList(), lrScale, weightDecay);
}

/// <summary>Validation outcome: Dice per class (NaN where a class is absent from the validation data).</summary>
public sealed record ValidationResult(IReadOnlyList<string> ClassNames, IReadOnlyList<double> Dice)
{
    /// <summary>
    /// Mean over the foreground classes that have a value (index 0 is background and NaN ones are left out; with a single
    /// class it is that class): the best-checkpoint criterion. Background is excluded because it dominates every volume:
    /// with it, an early all-background model scores highest and "best" weights predict nothing.
    /// </summary>
    public double Mean
    {
        get
        {
            var v = (Dice.Count > 1 ? Dice.Skip(1) : Dice).Where(d => !double.IsNaN(d)).ToList();
            return v.Count == 0 ? double.NaN : v.Average();
        }
    }
}

/// <summary>
/// What the trainer needs from a method (MA-SAM, LoRA, ...): the model, how to compute the loss of a batch, how to
/// validate, and what to store. The trainer owns the loop, the optimizer, the schedule, precision, logging and
/// checkpoints; it never looks inside the model.
/// </summary>
public interface ITrainingTask
{
    /// <summary>The method's name ("ma-sam", "lora"); recorded in config.yaml and checked on resume.</summary>
    string Method { get; }

    /// <summary>The model; parameters with requires_grad are trained.</summary>
    Module Model { get; }

    /// <summary>Class names in label order, background first (column names of val_log.csv; <see cref="Validate"/> returns Dice in this order).</summary>
    IReadOnlyList<string> ClassNames { get; }

    /// <summary>Parameter groups for the optimizer and the report. Trainable parameters in no group go to a group named "other".</summary>
    IReadOnlyList<ParameterGroupSpec> ParameterGroups { get; }

    /// <summary>
    /// The task's own configuration (model, preprocessing, dataset path and split, base checkpoint SHA-256, ...) as a
    /// plain object YamlDotNet can serialise (a record/POCO or a dictionary). Written under <c>task:</c> in config.yaml;
    /// a resume with a different value is refused.
    /// </summary>
    object Config { get; }

    /// <summary>String metadata stored in adapter.safetensors / best.safetensors so the model can be rebuilt for prediction.</summary>
    IReadOnlyDictionary<string, string> AdapterMetadata { get; }

    /// <summary>
    /// Called once before the optimizer is built: move the model to <see cref="TrainingContext.Device"/>, switch
    /// gradient checkpointing on if asked. Must not draw random numbers when <see cref="TrainingContext.Resuming"/>
    /// differs between runs (it is called in both).
    /// </summary>
    void Prepare(TrainingContext context);

    /// <summary>Forward pass and loss (a scalar tensor) of one batch; runs inside the trainer's autocast and dispose scope.</summary>
    Tensor Loss(Batch batch, TrainingContext context);

    /// <summary>Validation Dice per class (the model is in eval mode, gradients off; return null when there is no validation data).</summary>
    ValidationResult? Validate(TrainingContext context);

    /// <summary>
    /// The tensors saved in adapter.safetensors, best.safetensors and last.ckpt, by state-dict key. Default: the
    /// trainable parameters. A model trained from scratch whose frozen part is random should return its whole
    /// state_dict(), or prediction cannot rebuild it.
    /// </summary>
    IReadOnlyDictionary<string, Tensor> SavedState() =>
        Model.named_parameters().Where(p => p.Value.requires_grad).ToDictionary(p => p.Name, p => p.Value);
}

/// <summary>What the trainer tells the task.</summary>
public sealed record TrainingContext(Device Device, bool Bf16, bool GradCheckpoint, TrainerOptions Options, bool Resuming)
{
    /// <summary>The current 0-based iteration (set by the trainer before each step and validation).</summary>
    public long Step { get; internal set; }
}
