namespace SamAdapt.Evaluation;

/// <summary>Which metrics to compute.</summary>
[Flags]
public enum MetricKind
{
    None = 0,
    Dice = 1,
    Hd95 = 2,
    Nsd = 4,
    All = Dice | Hd95 | Nsd,
}

/// <summary>What the metrics return when the prediction and/or the ground truth of a label is empty.</summary>
public enum EmptyPolicy
{
    /// <summary>
    /// MONAI defaults. Dice: GT empty → NaN (whatever the prediction; MONAI <c>ignore_empty=True</c>).
    /// HD95: both empty → NaN; exactly one empty → +∞. NSD: both empty → NaN; exactly one empty → 0.
    /// NaN values are left out of means; +∞ is not (see <see cref="EvaluationReport"/>).
    /// </summary>
    Monai,
    /// <summary>
    /// TransUNet's <c>calculate_metric_percase</c>: prediction non-empty and GT empty → Dice 1, HD95 0;
    /// prediction empty (GT empty or not) → Dice 0, HD95 0. NSD (not in TransUNet) follows Dice: 1 and 0 respectively.
    /// Never NaN or +∞. Note TransUNet's published HD95 is in voxel units (medpy without voxelspacing): combine with
    /// <see cref="EvaluationOptions.UseVoxelUnits"/> and <see cref="HausdorffMode.Pooled"/> to reproduce it.
    /// </summary>
    TransUNet,
}

/// <summary>Settings of an evaluation; all are echoed into the report's "settings".</summary>
public sealed record EvaluationOptions
{
    /// <summary>Labels to evaluate, in report order. Label 0 may be listed; it is then evaluated but left out of mean_foreground.</summary>
    public required IReadOnlyList<int> Labels { get; init; }

    /// <summary>Optional display names (Markdown table, settings).</summary>
    public IReadOnlyDictionary<int, string>? LabelNames { get; init; }

    public MetricKind Metrics { get; init; } = MetricKind.All;

    /// <summary>NSD tolerance τ in mm (voxels when <see cref="UseVoxelUnits"/>).</summary>
    public double NsdTolerance { get; init; } = 2.0;

    public HausdorffMode HausdorffMode { get; init; } = HausdorffMode.Monai;

    public EmptyPolicy EmptyPolicy { get; init; } = EmptyPolicy.Monai;

    /// <summary>Ignore the voxel spacing and measure distances in voxels (TransUNet's medpy call does this).</summary>
    public bool UseVoxelUnits { get; init; }

    /// <summary>Largest allowed absolute difference between the prediction's and the GT's affine entries (mm).</summary>
    public double AffineTolerance { get; init; } = 1e-3;

    /// <summary>Cases evaluated at once (each holds two label maps and its EDT buffers in memory).</summary>
    public int MaxDegreeOfParallelism { get; init; } = Math.Clamp(Environment.ProcessorCount, 1, 4);

    /// <summary>Called after each label of a case with (labels done, labels in all), from the evaluating thread: the CLI's
    /// progress for a single case with many labels.</summary>
    public Action<int, int>? LabelProgress { get; init; }

    public string NameOf(int label) =>
        LabelNames is not null && LabelNames.TryGetValue(label, out var n) && !string.IsNullOrWhiteSpace(n) ? n : label.ToString(System.Globalization.CultureInfo.InvariantCulture);

    internal void Validate()
    {
        if (Labels is null || Labels.Count == 0) throw new ArgumentException("no labels to evaluate: give at least one label");
        if (Labels.Distinct().Count() != Labels.Count) throw new ArgumentException($"labels are listed twice: [{string.Join(",", Labels)}]");
        if ((Metrics & MetricKind.All) == 0) throw new ArgumentException("no metric selected");
        if (!(NsdTolerance >= 0) || !double.IsFinite(NsdTolerance)) throw new ArgumentException($"NSD tolerance must be a finite number >= 0, got {NsdTolerance}");
        if (!(AffineTolerance >= 0)) throw new ArgumentException($"affine tolerance must be >= 0, got {AffineTolerance}");
        if (MaxDegreeOfParallelism < 1) throw new ArgumentException("MaxDegreeOfParallelism must be >= 1");
    }

    public static string Text(HausdorffMode m) => m == HausdorffMode.Monai ? "monai" : "pooled";
    public static string Text(EmptyPolicy p) => p == EmptyPolicy.Monai ? "monai" : "transunet";

    public static HausdorffMode ParseHausdorffMode(string s) => s.Trim().ToLowerInvariant() switch
    {
        "monai" or "max" or "directed-max" => HausdorffMode.Monai,
        "pooled" or "medpy" or "transunet" => HausdorffMode.Pooled,
        _ => throw new FormatException($"unknown HD95 mode '{s}' (expected monai or pooled)"),
    };

    public static EmptyPolicy ParseEmptyPolicy(string s) => s.Trim().ToLowerInvariant() switch
    {
        "monai" => EmptyPolicy.Monai,
        "transunet" => EmptyPolicy.TransUNet,
        _ => throw new FormatException($"unknown empty-mask policy '{s}' (expected monai or transunet)"),
    };

    public static MetricKind ParseMetrics(string s)
    {
        var k = MetricKind.None;
        foreach (var part in s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            k |= part.ToLowerInvariant() switch
            {
                "dice" or "dsc" => MetricKind.Dice,
                "hd95" => MetricKind.Hd95,
                "nsd" or "surface-dice" => MetricKind.Nsd,
                "all" => MetricKind.All,
                _ => throw new FormatException($"unknown metric '{part}' (expected dice, hd95, nsd)"),
            };
        return k;
    }
}
