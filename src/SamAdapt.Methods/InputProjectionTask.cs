using SamAdapt.Torch;
using SamAdapt.Torch.NN;
using SamAdapt.Training.Data;
using SamAdapt.Training.Engine;

namespace SamAdapt.Methods;

/// <summary>
/// The input mapping of a multi-channel run, for every method alike (docs/imaging.md, "Multi-channel inputs"):
/// <see cref="TrainRunner"/> wraps the method's task in this when the run's images are not single-channel grey. The batches
/// then hold C channels per slice (learned projection) or SAM's 3 already mapped on the host (select, identity); this task
/// <list type="bullet">
/// <item>maps the training batch's input through the learned projection before the method's loss sees it (validation
/// batches carry the projection and map themselves: <see cref="TrainingBatch.ImageTensor"/>);</item>
/// <item>adds the projection's weight and bias as the parameter group "input_projection" (trained with the method's trainable
/// parameters) and to the saved state under <see cref="LearnedInputProjection.Prefix"/>, so they are in adapter.safetensors,
/// best.safetensors and last.ckpt;</item>
/// <item>records the mapping in the weights' metadata (<see cref="MetadataKey"/>, e.g. <c>learned@4</c>), which
/// <c>RunLoader</c> reads to apply it in prediction.</item>
/// </list>
/// Everything else is the method's own.
/// </summary>
public sealed class InputProjectionTask(ITrainingTask inner, InputMapping mapping, LearnedInputProjection? projection) : ITrainingTask, IDisposable
{
    /// <summary>Weights metadata key holding the mapping's recorded form (<see cref="InputMapping.ToString"/>).</summary>
    public const string MetadataKey = "samadapt.input_projection";

    public ITrainingTask Inner { get; } = inner;
    public InputMapping Mapping { get; } = mapping;
    public LearnedInputProjection? Projection { get; } = projection;

    public string Method => Inner.Method;
    public Module Model => Inner.Model;
    public IReadOnlyList<string> ClassNames => Inner.ClassNames;
    public object Config => Inner.Config;

    public IReadOnlyList<ParameterGroupSpec> ParameterGroups => Projection is null ? Inner.ParameterGroups
        : [.. Inner.ParameterGroups, new ParameterGroupSpec("input_projection", Projection.named_parameters().ToList())];

    public IReadOnlyDictionary<string, string> AdapterMetadata =>
        new Dictionary<string, string>(Inner.AdapterMetadata) { [MetadataKey] = Mapping.ToString() };

    public IReadOnlyDictionary<string, Tensor> SavedState()
    {
        var state = new Dictionary<string, Tensor>(Inner.SavedState());
        if (Projection is not null)
            foreach (var (k, v) in Projection.State()) state.Add(k, v);
        return state;
    }

    public void Prepare(TrainingContext context)
    {
        Inner.Prepare(context);
        Projection?.to(context.Device);
    }

    /// <summary>(B·D, C, S, S) → (B·D, 3, S, S) through the projection, then the method's loss.</summary>
    public Tensor Loss(Batch batch, TrainingContext context)
    {
        if (Projection is null) return Inner.Loss(batch, context);
        // a view of the batch with the projected input; the trainer disposes the original batch and the step's tensors
        var projected = new Batch(Projection.forward(batch.Input), batch.Target, batch.Slices, batch.Extras);
        return Inner.Loss(projected, context);
    }

    public ValidationResult? Validate(TrainingContext context) => Inner.Validate(context);

    /// <summary>Disposes the projection; the method's task belongs to its <see cref="MethodRun"/>.</summary>
    public void Dispose() => Projection?.Dispose();
}
