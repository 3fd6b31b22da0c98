namespace SamAdapt.Evaluation;

/// <summary>The three metrics of one binary pair; NaN where undefined or not requested.</summary>
public readonly record struct BinaryMetricValues(double Dice, double Hd95, double Nsd);

/// <summary>
/// Metrics of one binary prediction/GT pair.
/// <list type="bullet">
/// <item>Dice = 2|P∩G| / (|P| + |G|).</item>
/// <item>HD95: 95th percentile (numpy 'linear') of surface distances in mm; <see cref="HausdorffMode.Monai"/> takes
/// the larger of the two directed percentiles, <see cref="HausdorffMode.Pooled"/> one percentile over both sets.</item>
/// <item>NSD at τ mm: fraction of surface voxels of both masks within τ (≤) of the other surface.</item>
/// </list>
/// Empty masks follow <see cref="EmptyPolicy"/>.
/// </summary>
public static class BinaryMetrics
{
    public static double Dice(ReadOnlySpan<bool> pred, ReadOnlySpan<bool> gt)
    {
        if (pred.Length != gt.Length) throw new ArgumentException($"masks have {pred.Length} and {gt.Length} elements");
        long p = 0, g = 0, i = 0;
        for (int k = 0; k < pred.Length; k++)
        {
            if (pred[k]) { p++; if (gt[k]) i++; }
            if (gt[k]) g++;
        }
        return p + g == 0 ? double.NaN : 2.0 * i / (p + g);
    }

    /// <summary>All requested metrics of a binary pair on a grid of rank 1–3 with spacing in mm.</summary>
    public static BinaryMetricValues Evaluate(ReadOnlySpan<bool> pred, ReadOnlySpan<bool> gt, int[] shape, double[] spacing,
        MetricKind metrics = MetricKind.All, double nsdTolerance = 2.0, HausdorffMode mode = HausdorffMode.Monai, EmptyPolicy policy = EmptyPolicy.Monai)
    {
        var dims = DistanceTransform.Dims3(shape);
        long n = (long)dims[0] * dims[1] * dims[2];
        if (pred.Length != n || gt.Length != n) throw new ArgumentException($"masks have {pred.Length} and {gt.Length} elements, shape [{string.Join(",", shape)}] needs {n}");
        SurfaceDistances.CheckSpacing(spacing, shape.Length);
        long np = 0, ng = 0, inter = 0;
        for (int k = 0; k < n; k++)
        {
            if (pred[k]) { np++; if (gt[k]) inter++; }
            if (gt[k]) ng++;
        }
        var a = pred.ToArray(); var b = gt.ToArray();
        return Combine(np, ng, inter, metrics, nsdTolerance, mode, policy, () =>
        {
            var pa = new byte[n]; var pb = new byte[n];
            for (int k = 0; k < n; k++) { pa[k] = a[k] ? (byte)1 : (byte)0; pb[k] = b[k] ? (byte)1 : (byte)0; }
            return SurfaceDistances.Compute(pa, pb, shape, spacing);
        });
    }

    /// <summary>
    /// Applies the empty-mask policy to voxel counts, computing surface distances (lazily) only when both masks are
    /// non-empty and HD95 or NSD is requested.
    /// </summary>
    internal static BinaryMetricValues Combine(long np, long ng, long inter, MetricKind metrics, double tolerance,
        HausdorffMode mode, EmptyPolicy policy, Func<SurfaceDistances> distances)
    {
        double dice = double.NaN, hd = double.NaN, nsd = double.NaN;
        bool wantDice = (metrics & MetricKind.Dice) != 0, wantHd = (metrics & MetricKind.Hd95) != 0, wantNsd = (metrics & MetricKind.Nsd) != 0;
        if (np > 0 && ng > 0)
        {
            if (wantDice) dice = 2.0 * inter / (np + ng);
            if (wantHd || wantNsd)
            {
                var d = distances();
                if (wantHd) hd = d.Hausdorff(mode);
                if (wantNsd) nsd = d.Nsd(tolerance);
            }
        }
        else if (policy == EmptyPolicy.Monai)
        {
            bool bothEmpty = np == 0 && ng == 0;
            if (wantDice) dice = ng == 0 ? double.NaN : 0.0;           // GT empty → NaN; GT present, pred empty → 0
            if (wantHd) hd = bothEmpty ? double.NaN : double.PositiveInfinity;
            if (wantNsd) nsd = bothEmpty ? double.NaN : 0.0;
        }
        else // TransUNet
        {
            bool predOnly = np > 0; // GT empty here
            if (wantDice) dice = predOnly ? 1.0 : 0.0;
            if (wantHd) hd = 0.0;
            if (wantNsd) nsd = predOnly ? 1.0 : 0.0;
        }
        return new BinaryMetricValues(dice, hd, nsd);
    }
}

/// <summary>Label-map evaluation: one pass for counts and bounding boxes, then per-label surface work inside the box.</summary>
internal static class LabelStatistics
{
    public static IReadOnlyList<LabelResult> Evaluate(ReadOnlySpan<int> pred, ReadOnlySpan<int> gt, int[] shape, double[] spacing, EvaluationOptions o)
    {
        var labels = o.Labels;
        int L = labels.Count;
        var dims = DistanceTransform.Dims3(shape);
        int nx = dims[0], ny = dims[1], nz = dims[2];

        // label value → index in `labels` (−1 if not evaluated)
        int min = labels.Min(), max = labels.Max();
        bool dense = (long)max - min < 1 << 20;
        var lut = dense ? new int[max - min + 1] : [];
        var dict = dense ? null : new Dictionary<int, int>();
        if (dense) Array.Fill(lut, -1);
        for (int k = 0; k < L; k++) { if (dense) lut[labels[k] - min] = k; else dict![labels[k]] = k; }
        int Index(int v)
        {
            if (dense) { long off = (long)v - min; return off >= 0 && off < lut.Length ? lut[off] : -1; }
            return dict!.TryGetValue(v, out var k) ? k : -1;
        }

        var np = new long[L]; var ng = new long[L]; var inter = new long[L];
        var lo = new int[L, 3]; var hi = new int[L, 3];
        for (int k = 0; k < L; k++) for (int a = 0; a < 3; a++) { lo[k, a] = int.MaxValue; hi[k, a] = -1; }
        void Grow(int k, int x, int y, int z)
        {
            if (x < lo[k, 0]) lo[k, 0] = x; if (x > hi[k, 0]) hi[k, 0] = x;
            if (y < lo[k, 1]) lo[k, 1] = y; if (y > hi[k, 1]) hi[k, 1] = y;
            if (z < lo[k, 2]) lo[k, 2] = z; if (z > hi[k, 2]) hi[k, 2] = z;
        }
        int i = 0;
        for (int z = 0; z < nz; z++)
            for (int y = 0; y < ny; y++)
                for (int x = 0; x < nx; x++, i++)
                {
                    int p = pred[i], g = gt[i];
                    if (p == g)
                    {
                        int k = Index(p);
                        if (k < 0) continue;
                        np[k]++; ng[k]++; inter[k]++;
                        Grow(k, x, y, z);
                    }
                    else
                    {
                        int kp = Index(p), kg = Index(g);
                        if (kp >= 0) { np[kp]++; Grow(kp, x, y, z); }
                        if (kg >= 0) { ng[kg]++; Grow(kg, x, y, z); }
                    }
                }

        var results = new LabelResult[L];
        for (int k = 0; k < L; k++)
        {
            int label = labels[k];
            var pr = pred; var gr = gt; // spans cannot be captured by the lambda below, so the box is copied eagerly
            SurfaceDistances? surf = null;
            bool needSurface = np[k] > 0 && ng[k] > 0 && (o.Metrics & (MetricKind.Hd95 | MetricKind.Nsd)) != 0;
            if (needSurface)
            {
                int bx = hi[k, 0] - lo[k, 0] + 1, by = hi[k, 1] - lo[k, 1] + 1, bz = hi[k, 2] - lo[k, 2] + 1;
                var a = new byte[(long)bx * by * bz]; var b = new byte[a.Length];
                int t = 0;
                for (int z = lo[k, 2]; z <= hi[k, 2]; z++)
                    for (int y = lo[k, 1]; y <= hi[k, 1]; y++)
                    {
                        long row = ((long)z * ny + y) * nx;
                        for (int x = lo[k, 0]; x <= hi[k, 0]; x++, t++)
                        {
                            if (pr[(int)(row + x)] == label) a[t] = 1;
                            if (gr[(int)(row + x)] == label) b[t] = 1;
                        }
                    }
                int[] boxShape = shape.Length switch { 1 => [bx], 2 => [bx, by], _ => [bx, by, bz] };
                surf = SurfaceDistances.Compute(a, b, boxShape, spacing);
            }
            var v = BinaryMetrics.Combine(np[k], ng[k], inter[k], o.Metrics, o.NsdTolerance, o.HausdorffMode, o.EmptyPolicy,
                () => surf ?? throw new InvalidOperationException("surface distances were not prepared"));
            results[k] = new LabelResult(label, np[k], ng[k], v.Dice, v.Hd95, v.Nsd);
            o.LabelProgress?.Invoke(k + 1, L);
        }
        return results;
    }
}
