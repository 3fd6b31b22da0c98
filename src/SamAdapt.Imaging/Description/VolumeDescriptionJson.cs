using System.Text.Json;
using System.Text.Json.Serialization;

namespace SamAdapt.Imaging.Description;

/// <summary>`info --json` of one volume: exactly these keys, in this order.</summary>
internal sealed record VolumeInfoDto(
    int[] Shape, string Dtype, double[] Spacing, double[][] Affine, string Orientation, double? Min, double? Max, double[]? Labels);

/// <summary>`info --json` of a folder of several DICOM series.</summary>
internal sealed record SeriesListDto(IReadOnlyList<SeriesDto> Series);

internal sealed record SeriesDto(
    string Id, string SeriesInstanceUid, string Modality, string Description, int Columns, int Rows, int Files, string? Problem);

/// <summary>
/// Numbers in `info --json`: integral values (|x| &lt; 9e15) as integers (<c>2</c>, not <c>2.0</c> or <c>2E+15</c>), other
/// finite values in the shortest round-trip form, NaN and ±∞ as null.
/// </summary>
internal sealed class InfoNumberConverter : JsonConverter<double>
{
    public override double Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.Null ? double.NaN : reader.GetDouble();

    public override void Write(Utf8JsonWriter writer, double value, JsonSerializerOptions options)
    {
        if (!double.IsFinite(value)) writer.WriteNullValue();
        else if (value == Math.Floor(value) && Math.Abs(value) < 9e15) writer.WriteNumberValue((long)value);
        else writer.WriteNumberValue(value);
    }
}

/// <summary>Source-generated System.Text.Json for `info --json` (snake_case, indented).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true,
    Converters = [typeof(InfoNumberConverter)])]
[JsonSerializable(typeof(VolumeInfoDto))]
[JsonSerializable(typeof(SeriesListDto))]
internal sealed partial class VolumeDescriptionJsonContext : JsonSerializerContext;
