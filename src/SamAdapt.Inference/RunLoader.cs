using SamAdapt.Methods;
using SamAdapt.Torch;
using SamAdapt.Torch.Serialization;
using SamAdapt.Training.Data;
using SamAdapt.Training.Engine;

namespace SamAdapt.Inference;

/// <summary>Which weights of a run folder to load (docs/run-folder.md).</summary>
public enum RunWeights
{
    /// <summary>best.safetensors (best validation Dice); adapter.safetensors when the run had no validation.</summary>
    Best,
    /// <summary>adapter.safetensors (the latest weights).</summary>
    Last,
}

/// <summary>A run folder's trained model, ready for prediction.</summary>
/// <param name="Note">A remark for the user (e.g. the fallback from best to last), or null.</param>
public sealed record LoadedRun(TrainedModel Model, string WeightsFile, string? Note) : IDisposable
{
    public void Dispose() => Model.Dispose();
}

/// <summary>Loads a `samadapt train` run folder: reads config.yaml, looks the method up by name and lets it rebuild its model.</summary>
public static class RunLoader
{
    /// <summary>Parses "best" / "last" (the --weights option).</summary>
    public static RunWeights ParseWeights(string text) => text.Trim().ToLowerInvariant() switch
    {
        "best" => RunWeights.Best,
        "last" => RunWeights.Last,
        _ => throw new ArgumentException($"--weights must be best or last, got '{text}'"),
    };

    public static LoadedRun Load(string runDir, RunWeights weights, Device device)
    {
        if (!Directory.Exists(runDir)) throw new DirectoryNotFoundException($"--run: no such folder: {runDir}");
        var cfgPath = Path.Combine(runDir, RunConfig.FileName);
        if (!File.Exists(cfgPath)) throw new FileNotFoundException($"--run: {runDir} has no {RunConfig.FileName}; it is not a `samadapt train` run folder");
        LoadedRunConfig cfg;
        try { cfg = RunConfig.Load(cfgPath); }
        catch (Exception e) when (e is InvalidDataException or YamlDotNet.Core.YamlException)
        { throw new InvalidDataException($"--run: cannot read {cfgPath}: {e.Message}", e); }
        string best = Path.Combine(runDir, Trainer.BestFile), last = Path.Combine(runDir, Trainer.AdapterFile);
        string file = weights == RunWeights.Best && File.Exists(best) ? best : last;
        if (!File.Exists(file)) throw new FileNotFoundException($"--run: {file} does not exist yet (has the run written its first checkpoint?)");
        string? note = weights == RunWeights.Best && file != best
            ? $"note: {runDir} has no {Trainer.BestFile} (no validation data); using {Trainer.AdapterFile}" : null;
        var method = MethodRegistry.Get(cfg.Method);
        var model = method.Load(cfg, file, device);
        try { model = WithInputMapping(model, file, device); }
        catch
        {
            model.Dispose();
            throw;
        }
        return new LoadedRun(model, file, note);
    }

    /// <summary>
    /// Applies the input mapping a multi-channel run recorded in its weights' metadata (<see cref="InputProjectionTask.MetadataKey"/>,
    /// e.g. <c>learned@4</c>) — with the learned projection's tensors from the same file — to the method's model; runs without the
    /// field (single-channel runs, and every run before multi-channel inputs) stay grey.
    /// </summary>
    public static TrainedModel WithInputMapping(TrainedModel model, string weightsFile, Device device)
    {
        var (host, meta) = SafeTensors.Load(weightsFile);
        if (!meta.TryGetValue(InputProjectionTask.MetadataKey, out var text)) return model;
        InputMapping mapping;
        try { mapping = InputMapping.Parse(text); }
        catch (Exception e) when (e is FormatException or ArgumentException)
        { throw new InvalidDataException($"{weightsFile}: metadata field {InputProjectionTask.MetadataKey}: {e.Message}", e); }
        LearnedInputProjection? projection = null;
        if (mapping.Kind == InputMappingKind.Learned)
        {
            using var scope = DisposeScope.Begin();
            var tensors = host.Where(kv => kv.Key.StartsWith(LearnedInputProjection.Prefix, StringComparison.Ordinal))
                .ToDictionary(kv => kv.Key, kv => kv.Value.ToTensor());
            projection = LearnedInputProjection.FromState(mapping.Channels, tensors, weightsFile);
            projection.to(device);
            projection.eval();
        }
        return model.WithInput(mapping, projection);
    }
}
