using System.Text.Json;

namespace SamAdapt.Sam.Adapters;

/// <summary>How the SAM image encoder is adapted.</summary>
public enum AdaptMethod
{
    /// <summary>MA-SAM (docs/methods.md §2): FacT on q/v of every block, two 3D adapters per block, progressive up-sampling decoder.</summary>
    MaSam,
    /// <summary>SAMed (docs/methods.md §1): LoRA on q/v of every block, SAM's 2-stage up-sampling with low-resolution logits.</summary>
    Lora,
    /// <summary>Full fine-tuning (docs/methods.md, "full"): nothing attached, every weight trained, SAM-style ×4 multi-class decoder.</summary>
    Full,
}

/// <summary>Output up-sampling of the multi-class mask decoder.</summary>
public enum DecoderUpscaling
{
    /// <summary>MA-SAM's 4 transposed-conv stages (×16): logits at the input resolution.</summary>
    Progressive,
    /// <summary>SAM's 2 stages (×4): low-resolution logits (S/4), bilinearly up-sampled to S for the full-resolution output (SAMed).</summary>
    Sam,
}

/// <summary>
/// Adaptation hyper-parameters of an <see cref="AdaptedSam"/>. The SAM architecture (incl. the input size) lives in <see cref="SamConfig"/>;
/// together they rebuild the model exactly. Defaults are MA-SAM's (rank 32, scale 1, dropout 0.1, bottleneck 384, 5 slices) and
/// SAMed's (LoRA rank 4). JSON form: <see cref="ToJson"/> / <see cref="FromJson"/> (snake_case fields; method "ma-sam" | "lora";
/// upscaling "progressive" | "sam").
/// </summary>
public sealed record AdapterConfig
{
    public AdaptMethod Method { get; init; } = AdaptMethod.MaSam;
    /// <summary>Foreground classes K; the decoder has K + 1 mask tokens (background first) and outputs K + 1 channels.</summary>
    public int NumClasses { get; init; } = 1;
    /// <summary>Default slices per stack D (the 3D adapters' depth axis); <see cref="AdaptedSam.forward(SamAdapt.Torch.Tensor, int?)"/> may override it.</summary>
    public int Slices { get; init; } = 5;

    // ---- MA-SAM ----
    /// <summary>FacT on q and v (MA-SAM only; false for the "3D adapters only" ablation).</summary>
    public bool UseFact { get; init; } = true;
    public int FactRank { get; init; } = 32;
    public double FactScale { get; init; } = 1.0;
    public double FactDropout { get; init; } = 0.1;
    /// <summary>Two 3D adapters per block (MA-SAM only; false for the "FacT only" ablation).</summary>
    public bool UseAdapters3D { get; init; } = true;
    public int AdapterBottleneck { get; init; } = 384;

    // ---- SAMed ----
    public int LoraRank { get; init; } = 4;

    /// <summary>Decoder up-sampling; null = the method's own (MA-SAM progressive, SAMed SAM-style).</summary>
    public DecoderUpscaling? Upscaling { get; init; }

    /// <summary>The up-sampling actually used.</summary>
    public DecoderUpscaling EffectiveUpscaling => Upscaling ?? (Method == AdaptMethod.MaSam ? DecoderUpscaling.Progressive : DecoderUpscaling.Sam);

    /// <summary>"ma-sam", "lora" or "full".</summary>
    public string MethodName => MethodToString(Method);

    public static string MethodToString(AdaptMethod m) => m switch
    {
        AdaptMethod.Lora => "lora",
        AdaptMethod.Full => "full",
        _ => "ma-sam",
    };

    /// <summary>Parses the structure stored in checkpoint metadata: "ma-sam" (also "masam", "ma_sam"), "lora" (also "samed") or "full".
    /// (Users choose methods by name through the method registry, SamAdapt.Methods.MethodRegistry.)</summary>
    public static AdaptMethod ParseMethod(string s) => s.Trim().ToLowerInvariant() switch
    {
        "ma-sam" or "masam" or "ma_sam" => AdaptMethod.MaSam,
        "lora" or "samed" => AdaptMethod.Lora,
        "full" => AdaptMethod.Full,
        _ => throw new ArgumentException($"unknown adapted-SAM structure '{s}'; expected ma-sam, lora or full"),
    };

    private static string UpscalingToString(DecoderUpscaling u) => u == DecoderUpscaling.Sam ? "sam" : "progressive";

    private static DecoderUpscaling ParseUpscaling(string s) => s.Trim().ToLowerInvariant() switch
    {
        "progressive" => DecoderUpscaling.Progressive,
        "sam" => DecoderUpscaling.Sam,
        _ => throw new FormatException($"unknown decoder upscaling '{s}'; expected progressive or sam"),
    };

    /// <summary>Checks ranges; throws <see cref="ArgumentException"/> naming the problem.</summary>
    public void Validate()
    {
        void Check(bool ok, string msg) { if (!ok) throw new ArgumentException("invalid adapter configuration: " + msg); }
        Check(NumClasses >= 1, $"num_classes {NumClasses} must be ≥ 1");
        Check(Slices >= 1, $"slices {Slices} must be ≥ 1");
        Check(FactRank >= 1, $"fact_rank {FactRank} must be ≥ 1");
        Check(FactDropout is >= 0 and < 1, $"fact_dropout {FactDropout} must lie in [0, 1)");
        Check(double.IsFinite(FactScale), "fact_scale must be finite");
        Check(AdapterBottleneck >= 1, $"adapter_bottleneck {AdapterBottleneck} must be ≥ 1");
        Check(LoraRank >= 1, $"lora_rank {LoraRank} must be ≥ 1");
    }

    /// <summary>Compact JSON with every field (stable order), e.g. for adapter.safetensors metadata and config.yaml.</summary>
    public string ToJson() => JsonSerializer.Serialize(new AdapterConfigDto
    {
        Method = MethodName, NumClasses = NumClasses, Slices = Slices, UseFact = UseFact, FactRank = FactRank, FactScale = FactScale,
        FactDropout = FactDropout, UseAdapters3D = UseAdapters3D, AdapterBottleneck = AdapterBottleneck, LoraRank = LoraRank,
        Upscaling = UpscalingToString(EffectiveUpscaling),
    }, AdaptedSamJsonContext.Default.AdapterConfigDto);

    /// <summary>Reads <see cref="ToJson"/>'s form; missing fields keep their defaults, unknown fields are an error.</summary>
    public static AdapterConfig FromJson(string json)
    {
        AdapterConfigDto d;
        try { d = JsonSerializer.Deserialize(json, AdaptedSamJsonContext.Default.AdapterConfigDto) ?? throw new FormatException("adapter configuration JSON must be an object"); }
        catch (JsonException e) { throw new FormatException($"adapter configuration JSON: {e.Message}", e); }
        var c = new AdapterConfig
        {
            Method = ParseMethod(d.Method), NumClasses = d.NumClasses, Slices = d.Slices, UseFact = d.UseFact, FactRank = d.FactRank,
            FactScale = d.FactScale, FactDropout = d.FactDropout, UseAdapters3D = d.UseAdapters3D, AdapterBottleneck = d.AdapterBottleneck,
            LoraRank = d.LoraRank, Upscaling = d.Upscaling is null ? null : ParseUpscaling(d.Upscaling),
        };
        c.Validate();
        return c;
    }
}

/// <summary>JSON for <see cref="SamConfig"/> in the long field names <see cref="SamConfig.FromJson"/> reads back (round-trips exactly).</summary>
public static class SamConfigJson
{
    public static string ToJson(SamConfig c) => JsonSerializer.Serialize(new SamConfigDto(
        c.ImageSize, c.PatchSize, c.EncoderEmbedDim, c.EncoderDepth, c.EncoderNumHeads, [.. c.GlobalAttnIndexes], c.WindowSize, c.MlpRatio,
        c.PromptEmbedDim, c.MaskInChans, c.NumMultimaskOutputs, c.DecoderDepth, c.DecoderMlpDim, c.DecoderNumHeads, c.AttentionDownsampleRate,
        c.IouHeadDepth, c.IouHeadHiddenDim, [.. c.PixelMean], [.. c.PixelStd]), AdaptedSamJsonContext.Default.SamConfigDto);
}
