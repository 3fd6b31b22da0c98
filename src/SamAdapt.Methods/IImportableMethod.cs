namespace SamAdapt.Methods;

/// <summary>
/// A method whose reference code releases trained models that `samadapt import METHOD` turns into a run folder for
/// `samadapt predict --run` (docs/methods.md). Found through <see cref="MethodRegistry.GetImportable"/>.
/// </summary>
public interface IImportableMethod : ISegmentationMethod
{
    /// <summary>Writes the run folder <see cref="ImportSettings.OutDir"/>; bad input throws <see cref="InvalidDataException"/>,
    /// <see cref="ArgumentException"/> or <see cref="FileNotFoundException"/> naming the file and field.</summary>
    ImportResult Import(ImportSettings settings, TextWriter? log = null);
}

/// <summary>What `samadapt import METHOD` binds: a released model, the SAM checkpoint it was trained on, the run folder to write.</summary>
public sealed record ImportSettings
{
    /// <summary>The reference's saved parameters.</summary>
    public required string Trained { get; init; }
    /// <summary>The SAM checkpoint the model was trained on (.pth or .safetensors).</summary>
    public required string Base { get; init; }
    /// <summary>The run folder to write (must not hold a run yet).</summary>
    public required string OutDir { get; init; }
    /// <summary>Foreground class names in the model's output order; null: class_1 … class_K.</summary>
    public IReadOnlyList<string>? Classes { get; init; }
    /// <summary>Input size the model was trained at.</summary>
    public int ImageSize { get; init; } = 512;
    /// <summary>Slices per stack the model was trained with.</summary>
    public int Slices { get; init; } = 5;
    /// <summary>SAM configuration JSON for a base whose architecture cannot be read from its shapes; null: inferred.</summary>
    public string? SamConfigFile { get; init; }
    /// <summary>Intensity transform predict applies.</summary>
    public string Intensity { get; init; } = "ma-sam";
}

/// <summary>The run folder written and its class names (background first).</summary>
public sealed record ImportResult(string RunDir, IReadOnlyList<string> ClassNames);
