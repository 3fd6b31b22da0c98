using System.Text.Json.Serialization;

namespace SamAdapt.Training.Demo;

/// <summary>The demo's dataset.json: the nnU-Net v2 keys (<c>numTraining</c> keeps nnU-Net's spelling) plus a
/// <c>samadapt_demo</c> section; keys in this order.</summary>
internal sealed record DemoDatasetJsonDto(
    string Name,
    string Description,
    Dictionary<string, string> ChannelNames,
    Dictionary<string, int> Labels,
    [property: JsonPropertyName("numTraining")] int NumTraining,
    string FileEnding,
    DemoSectionDto SamadaptDemo);

/// <summary>How the demo built the dataset: spacing, slice axis and orientation of the cases, the classes (AAL regions
/// merged) and the slabs.</summary>
internal sealed record DemoSectionDto(double SpacingMm, double SliceSpacingMm, int SliceAxis, string Orientation, Dictionary<string, DemoClassDto> Classes, List<DemoSlabDto> Slabs);

internal sealed record DemoClassDto(int Label, long Voxels, IReadOnlyList<int> AalIds);

internal sealed record DemoSlabDto(string Case, int FirstSlice, int Slices, bool Test);

/// <summary>Source-generated System.Text.Json for the demo's dataset.json (snake_case, indented).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(DemoDatasetJsonDto))]
internal sealed partial class DemoDatasetJsonContext : JsonSerializerContext;
