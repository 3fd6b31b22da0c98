using SamAdapt.Torch;
using SamAdapt.Training.Engine;

namespace SamAdapt.Methods.Msa;

/// <summary>
/// Medical SAM Adapter (docs/methods/msa.md): bottleneck adapters after attention and parallel to the MLP of every encoder block, a
/// depth branch across the slices of a stack, trained with simulated prompts (encoder adapters + mask decoder); promptable output.
/// </summary>
public sealed class MsaMethod : ISegmentationMethod, IImportableMethod
{
    public string Name => "msa";
    public IReadOnlyList<string> Aliases => ["med-sa", "medsa", "medical-sam-adapter"];
    public string Description => "Medical SAM Adapter: encoder adapters + depth branch, prompt-trained (frozen SAM encoder)";
    public OutputContract Output => OutputContract.Promptable;

    public MethodRun CreateRun(MethodContext context) => MsaTraining.CreateRun(context, Name);

    public TrainSettings StoredSettings(LoadedRunConfig run) => MsaTraining.StoredSettings(MsaTaskConfig.Read(run));

    public TrainedModel Load(LoadedRunConfig run, string weightsFile, Device device) => LoadAs(Name, run, weightsFile, device);

    /// <summary>Rebuilds an MSA-family run (msa, medsam) for prediction.</summary>
    public TrainedModel LoadAs(string name, LoadedRunConfig run, string weightsFile, Device device)
    {
        var cfg = MsaTaskConfig.Read(run);
        string? baseCkpt = cfg.BaseCheckpoint == "" ? null : cfg.BaseCheckpoint;
        MsaSam model;
        try { model = MsaWeights.Rebuild(weightsFile, baseCkpt, device); }
        catch (Exception e) when (e is InvalidDataException or ArgumentException)
        { throw new InvalidDataException($"cannot rebuild the model from {weightsFile}: {e.Message}", e); }
        return new TrainedModel(name, model) { Promptable = model, ClassValues = cfg.ClassValues, ClassNames = cfg.ClassNames };
    }

    public ImportResult Import(ImportSettings settings, TextWriter? log = null) => MsaImport.Import(settings, log);
}
