using SamAdapt.Imaging.Preprocessing;
using SamAdapt.Training.Engine;

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

    /// <summary>
    /// The checks every importer makes before reading anything: the released file (named by the importer's
    /// <paramref name="trainedFlag"/>) and, when <paramref name="baseRequired"/>, the base checkpoint exist; the image size is a
    /// positive multiple of <paramref name="imageSizeMultiple"/>; slices ≥ 1; <see cref="OutDir"/> holds no run yet. Returns the
    /// parsed intensity transform.
    /// </summary>
    public IntensityTransform Validate(string trainedFlag = "--trained", bool baseRequired = true, int imageSizeMultiple = 1)
    {
        if (!File.Exists(Trained)) throw new FileNotFoundException($"{trainedFlag}: no such file: {Trained}");
        if (baseRequired && !File.Exists(Base)) throw new FileNotFoundException($"--base: no such file: {Base}");
        if (ImageSize <= 0 || ImageSize % imageSizeMultiple != 0)
            throw new ArgumentException(imageSizeMultiple == 1
                ? $"--image-size must be positive, got {ImageSize}"
                : $"--image-size must be a positive multiple of {imageSizeMultiple}, got {ImageSize}");
        if (Slices < 1) throw new ArgumentException($"--slices must be ≥ 1, got {Slices}");
        if (File.Exists(Path.Combine(OutDir, RunConfig.FileName)))
            throw new ArgumentException($"--out: {OutDir} already holds a run ({RunConfig.FileName}); choose a new folder");
        return IntensityTransform.Parse(Intensity);
    }

    /// <summary>
    /// The foreground class names: <see cref="Classes"/> (trimmed) or class_1 … class_K, checked against the model's
    /// <paramref name="count"/> (when given; <paramref name="source"/> says where it was read) and for empty or repeated names.
    /// </summary>
    public List<string> ClassNames(int? count, string source)
    {
        var classes = Classes?.Select(c => c.Trim()).ToList() ?? Enumerable.Range(1, count ?? 1).Select(i => count is null ? "target" : $"class_{i}").ToList();
        if (count is int k && classes.Count != k)
            throw new ArgumentException($"--classes: {classes.Count} name(s) given, but the model in {Trained} has {k} foreground classes ({source})");
        if (classes.Count == 0 || classes.Any(string.IsNullOrEmpty) || classes.Distinct(StringComparer.Ordinal).Count() != classes.Count)
            throw new ArgumentException("--classes: names must be non-empty and distinct");
        return classes;
    }
}

/// <summary>The run folder written and its class names (background first).</summary>
public sealed record ImportResult(string RunDir, IReadOnlyList<string> ClassNames);
