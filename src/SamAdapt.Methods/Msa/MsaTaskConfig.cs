using SamAdapt.Training.Engine;

namespace SamAdapt.Methods.Msa;

/// <summary>
/// The <c>task:</c> section of an MSA run folder's config.yaml (docs/methods/msa.md, "Run folder"): the architecture and MSA settings
/// (JSON), the base checkpoint, the preprocessing predict applies, and the classes a prompt file may name. A plain mutable class so
/// YamlDotNet can write and read it.
/// </summary>
public sealed class MsaTaskConfig
{
    /// <summary>"msa" or "medsam".</summary>
    public string Method { get; set; } = "msa";
    public string Dataset { get; set; } = "";
    public string DatasetName { get; set; } = "";
    /// <summary>Class names, background first.</summary>
    public List<string> ClassNames { get; set; } = [];
    /// <summary>The label value of each class (background 0 first).</summary>
    public List<int> ClassValues { get; set; } = [];
    public List<string> TrainCases { get; set; } = [];
    public List<string> ValidationCases { get; set; } = [];
    /// <summary>Base SAM checkpoint (absolute path), or "" when built from a configuration.</summary>
    public string BaseCheckpoint { get; set; } = "";
    public string BaseCheckpointSha256 { get; set; } = "";
    /// <summary>--model CONFIG.json or a preset name, when not from a checkpoint.</summary>
    public string ModelConfig { get; set; } = "";
    /// <summary>The SAM architecture (JSON, SamConfigJson).</summary>
    public string SamConfig { get; set; } = "";
    /// <summary>The MSA settings (JSON, <see cref="MsaOptions.ToJson"/>).</summary>
    public string MsaOptions { get; set; } = "";
    public int ImageSize { get; set; } = 1024;
    public int Slices { get; set; } = 1;
    public int SliceAxis { get; set; } = 2;
    public string Intensity { get; set; } = "ct-abdomen";
    /// <summary>The input mapping of multi-channel runs (e.g. "learned@4"); "" = grey (and for runs before multi-channel inputs).</summary>
    public string InputProjection { get; set; } = "";
    /// <summary>Loss of the prompt-trained task (<see cref="MsaLossKind"/>).</summary>
    public string Loss { get; set; } = "dice-bce";
    /// <summary>The training prompt mixture (<see cref="TrainPromptMix"/> text form, e.g. "box:0.4,click:0.3,iterative:0.3").</summary>
    public string TrainPrompts { get; set; } = TrainPromptMix.DefaultText;
    /// <summary>Most positive clicks of a training <c>click</c> prompt.</summary>
    public int MaxClicks { get; set; } = 3;
    /// <summary>Most correction rounds of a training interactive session.</summary>
    public int PromptRounds { get; set; } = 4;
    /// <summary>Most training targets per stack and step (0 = every target).</summary>
    public int TargetsPerStack { get; set; }
    /// <summary>Prompted prediction clips a box prompt's mask to the box (<see cref="BoxClip"/>); default true, also for runs written before it.</summary>
    public bool ClipToBox { get; set; } = true;
    /// <summary>For imported runs: the reference file and its SHA-256.</summary>
    public string ImportedFrom { get; set; } = "";
    public string ImportedSha256 { get; set; } = "";

    /// <summary>The run's <c>task:</c> section.</summary>
    public static MsaTaskConfig Read(LoadedRunConfig run)
    {
        try { return run.Task<MsaTaskConfig>(); }
        catch (YamlDotNet.Core.YamlException e) { throw new InvalidDataException($"cannot read {run.Path}: {e.Message}", e); }
    }
}
