namespace SamAdapt.Evaluation;

/// <summary>
/// Everything one evaluation run needs: predictions and ground truth (two files, or two folders matched by case id),
/// the metric options as text the way a user gives them, and the reports to write. <see cref="EvaluationRunner.Run"/>
/// validates it; the option names in its messages (<c>--pred</c>, <c>--gt</c>, …) are the CLI's.
/// </summary>
public sealed record EvaluateSettings
{
    /// <summary>Predicted label map (NIfTI) or a folder of them.</summary>
    public required string Pred { get; init; }
    /// <summary>Ground-truth label map or folder; folder files are matched to predictions by case id.</summary>
    public required string Gt { get; init; }
    /// <summary>Labels to evaluate, e.g. "1,2,3"; null: every non-zero label found in the ground truth.</summary>
    public string? Labels { get; init; }
    /// <summary>Comma-separated metrics: dice, hd95, nsd.</summary>
    public string Metrics { get; init; } = "dice,hd95,nsd";
    public double NsdTolerance { get; init; } = 2.0;
    /// <summary>HD95 definition: monai or pooled.</summary>
    public string Hd95 { get; init; } = "monai";
    /// <summary>Empty-mask policy: monai or transunet.</summary>
    public string Empty { get; init; } = "monai";
    public bool VoxelUnits { get; init; }
    /// <summary>dataset.json (or its folder) whose label names label the reports.</summary>
    public string? Names { get; init; }
    /// <summary>Folder mode: allow ground-truth files without a prediction (skipped).</summary>
    public bool IgnoreUnmatchedGt { get; init; }
    /// <summary>Cases evaluated in parallel.</summary>
    public int Threads { get; init; } = Math.Clamp(Environment.ProcessorCount, 1, 4);
    /// <summary>JSON report to write.</summary>
    public required string Out { get; init; }
    /// <summary>Optional CSV report (one row per case × label).</summary>
    public string? Csv { get; init; }
    /// <summary>Optional Markdown table.</summary>
    public string? Markdown { get; init; }
}
