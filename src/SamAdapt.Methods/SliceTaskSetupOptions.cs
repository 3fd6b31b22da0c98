using SamAdapt.Training.Data;

namespace SamAdapt.Methods;

/// <summary>
/// The train verb's options that every slice-stack method builds its data and base model from (the semantic methods'
/// <see cref="Semantic.SemanticSetupOptions"/> and the prompt-trained <see cref="Msa.MsaSetupOptions"/> add their own).
/// </summary>
public abstract record SliceTaskSetupOptions
{
    public required string Dataset { get; init; }
    public string? Checkpoint { get; init; }
    /// <summary>A SAM configuration JSON file or a preset name ("tiny"), when training from scratch.</summary>
    public string? Model { get; init; }
    public int? ImageSize { get; init; }
    /// <summary>Slices per stack D.</summary>
    public int Slices { get; init; } = 5;
    public string? Labels { get; init; }
    public string? Intensity { get; init; }
    /// <summary>Why <see cref="Intensity"/> was chosen, when it was not given now (a resumed run's recorded reason).</summary>
    public string? IntensitySource { get; init; }
    public IReadOnlyList<string>? ValCases { get; init; }
    public double ValFraction { get; init; } = 0.2;
    public int BatchSize { get; init; } = 1;
    public int Seed { get; init; } = 1234;
    /// <summary>Share of training stacks centred on a slice holding a foreground class (<see cref="SampleOptions.ForegroundProbability"/>).</summary>
    public double ForegroundProbability { get; init; }
    /// <summary>Augmentation pipeline (<see cref="Training.Augmentation.AugmentationPipeline.Parse"/>: "ma-sam", "none", ...).</summary>
    public string Augmentation { get; init; } = "ma-sam";
    /// <summary>--input-projection (null = the default for the dataset's channel count; <see cref="DatasetChannels.Mapping"/>).</summary>
    public string? InputProjection { get; init; }
}
