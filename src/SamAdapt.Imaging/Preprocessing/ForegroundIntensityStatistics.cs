namespace SamAdapt.Imaging.Preprocessing;

/// <summary>Dataset-level foreground intensity statistics, as nnU-Net stores in <c>foreground_intensity_properties_per_channel</c>.</summary>
public sealed record ForegroundStatistics(long Count, double Mean, double Std, double Min, double Max, double Median, double Percentile00_5, double Percentile99_5)
{
    /// <summary>The nnU-Net CT normalisation these statistics define.</summary>
    public NnUNetCtNormalization ToTransform() => new(Percentile00_5, Percentile99_5, Mean, Std);
}

/// <summary>
/// Collects the intensities of foreground voxels (label &gt; 0, and ≠ the optional ignore label) over the training cases
/// of a dataset, then computes nnU-Net's CT normalisation statistics: mean, population std (ddof = 0), and the 0.5th
/// and 99.5th percentiles (numpy 'linear' semantics). By default every foreground voxel is kept (exact statistics; 4
/// bytes per voxel). With <c>maxSamplesPerCase</c> each case contributes at most that many voxels, drawn uniformly
/// without replacement with a seeded generator (nnU-Net samples 10 000 per case; its RNG differs, so sampled
/// statistics will not match nnU-Net's to the digit). Thread-safe: cases may be added in parallel, and the result does
/// not depend on the order in which they are added when sampling is off.
/// </summary>
public sealed class ForegroundIntensityStatistics
{
    private readonly List<float[]> _chunks = [];
    private readonly object _gate = new();
    private readonly int? _maxSamplesPerCase;
    private readonly int _seed;
    private readonly int? _ignoreLabel;
    private int _cases;

    public ForegroundIntensityStatistics(int? maxSamplesPerCase = null, int seed = 1234, int? ignoreLabel = null)
    {
        if (maxSamplesPerCase is <= 0) throw new ArgumentOutOfRangeException(nameof(maxSamplesPerCase), "must be positive");
        _maxSamplesPerCase = maxSamplesPerCase;
        _seed = seed;
        _ignoreLabel = ignoreLabel;
    }

    public int CaseCount { get { lock (_gate) return _cases; } }

    /// <summary>Adds one case: physical intensities and the label map on the same grid (same length, same order).</summary>
    public void Add(ReadOnlySpan<float> image, ReadOnlySpan<int> labels)
    {
        if (image.Length != labels.Length) throw new ArgumentException($"image has {image.Length} voxels, labels {labels.Length}");
        int n = 0;
        for (int i = 0; i < labels.Length; i++) if (IsForeground(labels[i])) n++;
        var fg = new float[n];
        n = 0;
        for (int i = 0; i < labels.Length; i++) if (IsForeground(labels[i])) fg[n++] = image[i];
        AddChunk(fg);
    }

    /// <summary>Adds one case from volumes; they must have the same shape (grid equality is the caller's concern).</summary>
    public void Add(Volume image, Volume labels)
    {
        if (!image.Shape.SequenceEqual(labels.Shape))
            throw new ArgumentException($"image shape [{string.Join(",", image.Shape)}] differs from label shape [{string.Join(",", labels.Shape)}]");
        var img = image.ToFloat32();
        var lab = new int[labels.VoxelCount];
        for (long i = 0; i < lab.Length; i++) lab[i] = (int)Math.Round(labels.Get(i));
        Add(img, lab);
    }

    private bool IsForeground(int label) => label > 0 && label != _ignoreLabel;

    private void AddChunk(float[] fg)
    {
        int caseIndex;
        lock (_gate) caseIndex = _cases++;
        if (_maxSamplesPerCase is int m && fg.Length > m)
        {
            // partial Fisher–Yates: the first m entries become a uniform sample without replacement
            var rng = new Random(unchecked(_seed * 1_000_003 + caseIndex)); // HashCode.Combine is randomised per process
            for (int i = 0; i < m; i++)
            {
                int j = rng.Next(i, fg.Length);
                (fg[i], fg[j]) = (fg[j], fg[i]);
            }
            Array.Resize(ref fg, m);
        }
        lock (_gate) _chunks.Add(fg);
    }

    /// <summary>The statistics over everything added so far; throws if no foreground voxel was seen.</summary>
    public ForegroundStatistics Compute()
    {
        List<float[]> chunks;
        lock (_gate) chunks = [.. _chunks];
        long total = 0;
        foreach (var c in chunks) total += c.Length;
        if (total == 0) throw new InvalidOperationException("no foreground voxels (label > 0) were collected; cannot compute CT normalisation statistics");
        if (total > Array.MaxLength) throw new InvalidOperationException($"{total} foreground voxels exceed one array; use maxSamplesPerCase");
        var all = new double[total];
        long k = 0;
        foreach (var c in chunks) foreach (var v in c) all[k++] = v;
        Array.Sort(all);
        double sum = 0;
        foreach (var v in all) sum += v;
        double mean = sum / total, ss = 0;
        foreach (var v in all) { double d = v - mean; ss += d * d; }
        return new ForegroundStatistics(total, mean, Math.Sqrt(ss / total), all[0], all[^1],
            Percentile.OfSorted(all, 50), Percentile.OfSorted(all, 0.5), Percentile.OfSorted(all, 99.5));
    }
}
