using System.Text.Json;
using System.Text.Json.Serialization;
using SamAdapt.Torch;
using SamAdapt.Torch.Serialization;

namespace SamAdapt.Training.Engine;

/// <summary>The loop's scalar state in last.ckpt (JSON in the safetensors metadata).</summary>
public sealed record TrainerState
{
    public const int CurrentVersion = 1;

    public int Version { get; init; } = CurrentVersion;
    /// <summary>Iterations completed (the next one to run has 0-based index <see cref="Step"/>).</summary>
    public long Step { get; init; }
    /// <summary>Epoch and batch index of the next iteration (informational: they follow from Step).</summary>
    public long Epoch { get; init; }
    public long BatchIndex { get; init; }
    public long BatchesPerEpoch { get; init; }
    /// <summary>The schedule's total iterations (null while a time-budget run has not measured its speed yet).</summary>
    public long? TotalSteps { get; init; }
    public double ElapsedSeconds { get; init; }
    public double? BestMetric { get; init; }
    public long? BestStep { get; init; }
    public long? LastValStep { get; init; }
    /// <summary>Dice per class of the last validation (null before the first).</summary>
    public double[]? LastValDice { get; init; }
    public int ConsecutiveNonFinite { get; init; }
    public long SkippedSteps { get; init; }
    public int TrainLogRows { get; init; }
    public int ValLogRows { get; init; }
    public string Method { get; init; } = "";
    public ulong Seed { get; init; }
    public string Device { get; init; } = "";

    /// <summary>The first inconsistent field as "name: expected …, found …", or null when the state is usable
    /// (checked before a resume touches the run's logs or weights).</summary>
    public string? Problem()
    {
        static string F(double v) => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
        if (Step < 0) return $"step: expected ≥ 0, found {Step}";
        if (BatchesPerEpoch < 1) return $"batches_per_epoch: expected ≥ 1, found {BatchesPerEpoch}";
        if (TotalSteps is { } t && (t < 1 || Step > t)) return $"total_steps: expected ≥ 1 and ≥ step {Step}, found {t}";
        if (Epoch != Step / BatchesPerEpoch || BatchIndex != Step % BatchesPerEpoch)
            return $"epoch/batch_index: expected {Step / BatchesPerEpoch}/{Step % BatchesPerEpoch} for step {Step}, found {Epoch}/{BatchIndex}";
        if (!double.IsFinite(ElapsedSeconds) || ElapsedSeconds < 0) return $"elapsed_seconds: expected a finite value ≥ 0, found {F(ElapsedSeconds)}";
        if (BestStep is { } b && (b < 0 || b > Step)) return $"best_step: expected 0..{Step}, found {b}";
        if (LastValStep is { } v && (v < 0 || v > Step)) return $"last_val_step: expected 0..{Step}, found {v}";
        if (BestMetric is { } m && double.IsInfinity(m)) return $"best_metric: expected a finite value, found {F(m)}";
        if (ConsecutiveNonFinite < 0) return $"consecutive_non_finite: expected ≥ 0, found {ConsecutiveNonFinite}";
        if (SkippedSteps < 0 || SkippedSteps > Step) return $"skipped_steps: expected 0..{Step}, found {SkippedSteps}";
        if (TrainLogRows < 0 || ValLogRows < 0) return $"train_log_rows/val_log_rows: expected ≥ 0, found {TrainLogRows}/{ValLogRows}";
        return null;
    }
}

/// <summary>
/// last.ckpt: one safetensors file holding the saved model tensors (<c>model/KEY</c>), the optimizer state
/// (<c>optim/KEY</c>, see <see cref="Torch.Optim.Optimizer.state_dict"/>), the RNG states (<c>rng/cpu</c>,
/// <c>rng/cuda</c>) and, in the metadata, the <see cref="TrainerState"/> as JSON. Written atomically (temp file,
/// fsync, rename), so a kill at any moment leaves either the previous or the new checkpoint.
/// </summary>
public sealed class TrainingCheckpoint
{
    public const string FileName = "last.ckpt";
    public const string FormatKey = "format";
    public const string FormatValue = "samadapt-training-checkpoint";
    public const string StateKey = "trainer_state";
    public const string ModelPrefix = "model/";
    public const string OptimPrefix = "optim/";
    public const string RngCpu = "rng/cpu";
    public const string RngCuda = "rng/cuda";

    public required TrainerState State { get; init; }
    public required Dictionary<string, HostTensor> Model { get; init; }
    public required Dictionary<string, HostTensor> Optimizer { get; init; }
    public HostTensor? CpuRng { get; init; }
    public HostTensor? CudaRng { get; init; }

    public void Save(string path)
    {
        var tensors = new List<KeyValuePair<string, HostTensor>>();
        tensors.AddRange(Model.Select(kv => KeyValuePair.Create(ModelPrefix + kv.Key, kv.Value)));
        tensors.AddRange(Optimizer.Select(kv => KeyValuePair.Create(OptimPrefix + kv.Key, kv.Value)));
        if (CpuRng != null) tensors.Add(KeyValuePair.Create(RngCpu, CpuRng));
        if (CudaRng != null) tensors.Add(KeyValuePair.Create(RngCuda, CudaRng));
        var meta = new Dictionary<string, string>
        {
            [FormatKey] = FormatValue,
            [StateKey] = JsonSerializer.Serialize(State, TrainerStateJsonContext.Default.TrainerState),
        };
        SafeTensors.Save(path, tensors, meta);
    }

    /// <summary>Reads last.ckpt. Throws <see cref="InvalidDataException"/> with the reason when it is not a usable checkpoint.</summary>
    public static TrainingCheckpoint Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"no checkpoint at '{path}'", path);
        var (tensors, meta) = SafeTensors.Load(path);
        if (!meta.TryGetValue(FormatKey, out var f) || f != FormatValue || !meta.TryGetValue(StateKey, out var stateJson))
            throw new InvalidDataException($"'{path}' is a safetensors file but not a SamAdapt training checkpoint (no '{FormatKey}: {FormatValue}' metadata)");
        TrainerState state;
        try { state = JsonSerializer.Deserialize(stateJson, TrainerStateJsonContext.Default.TrainerState) ?? throw new InvalidDataException("empty trainer state"); }
        catch (JsonException e) { throw new InvalidDataException($"'{path}': the trainer state cannot be read: {e.Message}", e); }
        if (state.Version != TrainerState.CurrentVersion)
            throw new InvalidDataException($"'{path}' has checkpoint format version {state.Version}; this SamAdapt reads version {TrainerState.CurrentVersion}");
        if (state.Problem() is { } problem) throw new InvalidDataException($"'{path}': trainer state field {problem}");
        var model = new Dictionary<string, HostTensor>();
        var optim = new Dictionary<string, HostTensor>();
        HostTensor? cpu = null, cuda = null;
        foreach (var (k, v) in tensors)
        {
            if (k.StartsWith(ModelPrefix, StringComparison.Ordinal)) model[k[ModelPrefix.Length..]] = v;
            else if (k.StartsWith(OptimPrefix, StringComparison.Ordinal)) optim[k[OptimPrefix.Length..]] = v;
            else if (k == RngCpu) cpu = v;
            else if (k == RngCuda) cuda = v;
            else throw new InvalidDataException($"'{path}' holds an unknown entry '{k}'");
        }
        return new TrainingCheckpoint { State = state, Model = model, Optimizer = optim, CpuRng = cpu, CudaRng = cuda };
    }

    internal static Dictionary<string, HostTensor> ToHost(IReadOnlyDictionary<string, Tensor> d)
    {
        using var scope = DisposeScope.Begin();
        return d.ToDictionary(kv => kv.Key, kv => kv.Value.ToHost());
    }
}

/// <summary>Source-generated System.Text.Json for the trainer state in a checkpoint's metadata (snake_case, compact, NaN and
/// ±∞ as named literals).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(TrainerState))]
internal sealed partial class TrainerStateJsonContext : JsonSerializerContext;
