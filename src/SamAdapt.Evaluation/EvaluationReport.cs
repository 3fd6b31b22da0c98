namespace SamAdapt.Evaluation;

/// <summary>Metrics of one label in one case. Metrics that were not requested are NaN (and omitted by the writers).</summary>
public sealed record LabelResult(int Label, long PredVoxels, long GtVoxels, double Dice, double Hd95, double Nsd)
{
    public double Get(MetricKind metric) => metric switch
    {
        MetricKind.Dice => Dice,
        MetricKind.Hd95 => Hd95,
        MetricKind.Nsd => Nsd,
        _ => throw new ArgumentOutOfRangeException(nameof(metric)),
    };
}

/// <summary>All requested labels of one case, in the options' label order.</summary>
public sealed record CaseResult(string CaseId, IReadOnlyList<LabelResult> Labels)
{
    public LabelResult this[int label] => Labels.FirstOrDefault(l => l.Label == label)
        ?? throw new KeyNotFoundException($"label {label} was not evaluated in case {CaseId}");
}

/// <summary>A mean with the number of values behind it.</summary>
public readonly record struct MeanValue(double Value, int Count, int InfiniteCount);

/// <summary>Per-label means across cases.</summary>
public sealed record LabelSummary(int Label, MeanValue Dice, MeanValue Hd95, MeanValue Nsd)
{
    public MeanValue Get(MetricKind metric) => metric switch
    {
        MetricKind.Dice => Dice,
        MetricKind.Hd95 => Hd95,
        MetricKind.Nsd => Nsd,
        _ => throw new ArgumentOutOfRangeException(nameof(metric)),
    };
}

/// <summary>
/// The outcome of an evaluation: per-case results, per-label means and the foreground mean.
/// <para>Mean rules. Per label: the arithmetic mean over cases of the non-NaN values (NaN = undefined, e.g. an empty GT
/// under the MONAI policy); NaN when no case has a value. +∞ HD95 values (one mask empty under the MONAI policy) are
/// <b>kept</b>, as MONAI's reduction does, so one missed or hallucinated organ makes that label's mean HD95 +∞; the
/// count of such cases is reported (<see cref="MeanValue.InfiniteCount"/>). <c>mean_foreground</c>: the mean over the
/// foreground labels (all evaluated labels except 0) of the per-label means, again skipping NaN and keeping +∞ — the
/// "mean over organs of the mean over cases" of the TransUNet/Synapse tables.</para>
/// </summary>
public sealed class EvaluationReport
{
    public EvaluationReport(EvaluationOptions options, IEnumerable<CaseResult> cases)
    {
        Options = options;
        Cases = [.. cases.OrderBy(c => c.CaseId, StringComparer.Ordinal)];
        var dup = Cases.GroupBy(c => c.CaseId).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new ArgumentException($"case id '{dup.Key}' appears more than once");
        var summaries = new List<LabelSummary>();
        foreach (var label in options.Labels)
        {
            var results = Cases.Select(c => c[label]).ToList();
            summaries.Add(new LabelSummary(label,
                Mean(results.Select(r => r.Dice)), Mean(results.Select(r => r.Hd95)), Mean(results.Select(r => r.Nsd))));
        }
        Labels = summaries;
        var fg = summaries.Where(s => s.Label != 0).ToList();
        MeanForeground = new LabelMetricsMean(
            Mean(fg.Select(s => s.Dice.Value)), Mean(fg.Select(s => s.Hd95.Value)), Mean(fg.Select(s => s.Nsd.Value)));
    }

    public EvaluationOptions Options { get; }
    /// <summary>Cases sorted by id (ordinal).</summary>
    public IReadOnlyList<CaseResult> Cases { get; }
    /// <summary>Per-label means, in the options' label order.</summary>
    public IReadOnlyList<LabelSummary> Labels { get; }
    /// <summary>Means over the foreground labels of the per-label means (Count = number of labels with a defined mean).</summary>
    public LabelMetricsMean MeanForeground { get; }

    public LabelSummary this[int label] => Labels.FirstOrDefault(l => l.Label == label)
        ?? throw new KeyNotFoundException($"label {label} was not evaluated");

    /// <summary>Mean of the non-NaN values; +∞ propagates; NaN when there is none.</summary>
    public static MeanValue Mean(IEnumerable<double> values)
    {
        double sum = 0; int n = 0, inf = 0;
        foreach (var v in values)
        {
            if (double.IsNaN(v)) continue;
            if (double.IsInfinity(v)) inf++;
            sum += v; n++;
        }
        return new MeanValue(n == 0 ? double.NaN : sum / n, n, inf);
    }
}

/// <summary>The three foreground means.</summary>
public sealed record LabelMetricsMean(MeanValue Dice, MeanValue Hd95, MeanValue Nsd)
{
    public MeanValue Get(MetricKind metric) => metric switch
    {
        MetricKind.Dice => Dice,
        MetricKind.Hd95 => Hd95,
        MetricKind.Nsd => Nsd,
        _ => throw new ArgumentOutOfRangeException(nameof(metric)),
    };
}
