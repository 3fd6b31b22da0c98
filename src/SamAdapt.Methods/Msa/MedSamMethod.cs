using SamAdapt.Torch;
using SamAdapt.Training.Engine;

namespace SamAdapt.Methods.Msa;

/// <summary>
/// MedSAM's recipe, the full fine-tuning baseline MSA's paper compares with (docs/methods/msa.md, "medsam"): plain SAM without adapters,
/// every weight trained, box prompts (jittered boxes from the masks), Dice + BCE, single slices; promptable like msa.
/// </summary>
public sealed class MedSamMethod : ISegmentationMethod
{
    public string Name => "medsam";
    public string Description => "MedSAM: full fine-tuning of SAM with box prompts (promptable)";
    public OutputContract Output => OutputContract.Promptable;

    public MethodRun CreateRun(MethodContext context) => MsaTraining.CreateRun(context, Name, medSam: true);

    public TrainSettings StoredSettings(LoadedRunConfig run) => MsaTraining.StoredSettings(MsaTaskConfig.Read(run));

    public TrainedModel Load(LoadedRunConfig run, string weightsFile, Device device) => new MsaMethod().LoadAs(Name, run, weightsFile, device);
}
