using SamAdapt.Methods.Semantic;
using SamAdapt.Sam.Adapters;

namespace SamAdapt.Methods.Lora;

/// <summary>
/// SAMed (docs/methods.md, "lora"): LoRA (rank 4) on q/v of every encoder block, SAM's ×4 multi-class decoder with the loss on
/// the low-resolution logits' up-sampling; the base image encoder is frozen, LoRA, prompt encoder and decoder are trained.
/// </summary>
public sealed class LoraMethod : SemanticSamMethod
{
    public override string Name => "lora";
    public override IReadOnlyList<string> Aliases => ["samed"];
    public override string Description => "SAMed: LoRA on q/v in every encoder block, SAM-style multi-class decoder (frozen SAM encoder)";

    public override AdapterConfig Adapters(int numClasses, int slices, bool tinyPreset, int? rank = null, int? bottleneck = null)
    {
        var c = tinyPreset ? SamPresets.TinyAdapters(AdaptMethod.Lora, numClasses, slices)
                           : new AdapterConfig { Method = AdaptMethod.Lora, NumClasses = numClasses, Slices = slices };
        return rank is { } r ? c with { LoraRank = r } : c;
    }
}
