using SamAdapt.Methods.Semantic;
using SamAdapt.Sam.Adapters;

namespace SamAdapt.Methods.Full;

/// <summary>
/// Full fine-tuning (docs/methods.md, "full"), the baseline adaptation papers compare with: SAM's encoder and prompt encoder
/// unchanged, the prompt-free multi-class decoder (SAM-style ×4 up-sampling), and every weight trained. Checkpoints hold every
/// tensor, so prediction needs no base checkpoint.
/// </summary>
public sealed class FullMethod : SemanticSamMethod
{
    public override string Name => "full";
    public override string Description => "full fine-tuning: every SAM weight trained, SAM-style multi-class decoder";

    public override AdapterConfig Adapters(int numClasses, int slices, bool tinyPreset, int? rank = null, int? bottleneck = null)
    {
        if (rank is not null || bottleneck is not null) throw new ArgumentException("full fine-tuning has no adapters: rank and bottleneck do not apply");
        return new AdapterConfig { Method = AdaptMethod.Full, NumClasses = numClasses, Slices = slices };
    }
}
