using System.Text.Json.Serialization;

namespace SamAdapt.Inference.Segmentation;

/// <summary>One automatic mask in the records JSON `segment --auto` writes (keys in this order).</summary>
internal sealed record MaskRecordDto(
    int Id, long Area, int[] Bbox, float PredictedIou, float StabilityScore, double[][] PointCoords, int[] CropBox);

/// <summary>Source-generated System.Text.Json for the mask records (snake_case, indented).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(List<MaskRecordDto>))]
internal sealed partial class MaskRecordsJsonContext : JsonSerializerContext;
