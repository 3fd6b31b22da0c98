using System.Text.Json;
using System.Text.Json.Serialization;

namespace SamAdapt.Sam.Adapters;

/// <summary>The JSON form of <see cref="AdapterConfig"/> (checkpoint metadata "adapter_config", config.yaml): snake_case fields in a
/// stable order; unknown fields are refused.</summary>
internal sealed record AdapterConfigDto
{
    // a field missing from the JSON takes AdapterConfig's own default (one place holds the defaults)
    private static readonly AdapterConfig Defaults = new();

    public string Method { get; init; } = Defaults.MethodName;
    public int NumClasses { get; init; } = Defaults.NumClasses;
    public int Slices { get; init; } = Defaults.Slices;
    public bool UseFact { get; init; } = Defaults.UseFact;
    public int FactRank { get; init; } = Defaults.FactRank;
    public double FactScale { get; init; } = Defaults.FactScale;
    public double FactDropout { get; init; } = Defaults.FactDropout;
    [JsonPropertyName("use_adapters_3d")] public bool UseAdapters3D { get; init; } = Defaults.UseAdapters3D;
    public int AdapterBottleneck { get; init; } = Defaults.AdapterBottleneck;
    public int LoraRank { get; init; } = Defaults.LoraRank;
    public string? Upscaling { get; init; }
}

/// <summary>The JSON form of <see cref="SamConfig"/> in the long field names <see cref="SamConfig.FromJson"/> reads.</summary>
internal sealed record SamConfigDto(
    int ImageSize,
    [property: JsonPropertyName("vit_patch_size")] int VitPatchSize,
    int EncoderEmbedDim,
    int EncoderDepth,
    int EncoderNumHeads,
    int[] EncoderGlobalAttnIndexes,
    int WindowSize,
    double MlpRatio,
    int PromptEmbedDim,
    int MaskInChans,
    int NumMultimaskOutputs,
    int DecoderDepth,
    int DecoderMlpDim,
    int DecoderNumHeads,
    int AttentionDownsampleRate,
    int IouHeadDepth,
    int IouHeadHiddenDim,
    float[] PixelMean,
    float[] PixelStd);

/// <summary>Source-generated System.Text.Json for the adapted model's metadata (snake_case, compact).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(AdapterConfigDto))]
[JsonSerializable(typeof(SamConfigDto))]
internal sealed partial class AdaptedSamJsonContext : JsonSerializerContext;
