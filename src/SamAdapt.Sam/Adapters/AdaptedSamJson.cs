using System.Text.Json;
using System.Text.Json.Serialization;

namespace SamAdapt.Sam.Adapters;

/// <summary>The JSON form of <see cref="AdapterConfig"/> (checkpoint metadata "adapter_config", config.yaml): snake_case fields in a
/// stable order; unknown fields are refused.</summary>
internal sealed record AdapterConfigDto
{
    public string Method { get; init; } = "ma-sam";
    public int NumClasses { get; init; } = 1;
    public int Slices { get; init; } = 5;
    public bool UseFact { get; init; } = true;
    public int FactRank { get; init; } = 32;
    public double FactScale { get; init; } = 1.0;
    public double FactDropout { get; init; } = 0.1;
    [JsonPropertyName("use_adapters_3d")] public bool UseAdapters3D { get; init; } = true;
    public int AdapterBottleneck { get; init; } = 384;
    public int LoraRank { get; init; } = 4;
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
