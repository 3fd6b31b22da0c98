using SamAdapt.Training.Engine;

namespace SamAdapt.Methods.Msa;

/// <summary>Builds prompt-trained MSA runs (docs/methods/msa.md, "Training").</summary>
public static class MsaTraining
{
    public static MethodRun CreateRun(MethodContext context, string method) =>
        throw new ArgumentException($"train --method {method}: prompt-trained training is not available in this build; import a model trained with the reference code (samadapt import msa)");

    public static TrainSettings StoredSettings(MsaTaskConfig t) => new()
    {
        Method = t.Method,
        Dataset = t.Dataset is "" ? null : t.Dataset,
        Checkpoint = t.BaseCheckpoint is "" ? null : t.BaseCheckpoint,
        Model = t.ModelConfig is "" ? null : t.ModelConfig,
        ImageSize = t.ImageSize,
        Slices = t.Slices,
        Intensity = t.Intensity,
    };
}
