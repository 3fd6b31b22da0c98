using System.Text.Json.Serialization;

namespace SamAdapt.Evaluation;

/// <summary>The JSON form of an <see cref="EvaluationReport"/> (<see cref="ReportWriter.ToJson"/>): keys in this order;
/// metric maps hold only the requested metrics.</summary>
internal sealed record ReportDto(
    Dictionary<string, Dictionary<string, Dictionary<string, double>>> Cases,
    Dictionary<string, Dictionary<string, double>> Mean,
    Dictionary<string, double> MeanForeground,
    Dictionary<string, Dictionary<string, int>> Counts,
    ReportSettingsDto Settings);

internal sealed record ReportSettingsDto(
    int[] Labels,
    Dictionary<string, string> LabelNames,
    string[] Metrics,
    double NsdTolerance,
    string DistanceUnit,
    [property: JsonPropertyName("hd95_mode")] string Hd95Mode,
    string EmptyPolicy,
    string PercentileMethod,
    string Surface,
    string MeanRule,
    string NonFiniteEncoding,
    int CaseCount);

/// <summary>Source-generated System.Text.Json for the evaluation report: snake_case, indented, NaN and ±∞ as the strings
/// "NaN", "Infinity", "-Infinity" (<see cref="JsonNumberHandling.AllowNamedFloatingPointLiterals"/>).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(ReportDto))]
internal sealed partial class ReportJsonContext : JsonSerializerContext;
