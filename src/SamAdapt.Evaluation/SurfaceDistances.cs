namespace SamAdapt.Evaluation;

/// <summary>How HD95 combines the two directed distance sets.</summary>
public enum HausdorffMode
{
    /// <summary>MONAI / DeepMind: the 95th percentile of pred→GT and of GT→pred distances separately, then the larger.</summary>
    Monai,
    /// <summary>medpy / TransUNet: one 95th percentile over both directed distance sets concatenated.</summary>
    Pooled,
}

/// <summary>
/// Surface voxels and the directed surface-to-surface distances of two binary masks on the same grid.
/// A surface voxel is a mask voxel with at least one face neighbour (6-neighbourhood in 3D, 4 in 2D, 2 in 1D) outside
/// the mask; neighbours outside the array count as background, so mask voxels on the array border are surface voxels.
/// Distances are Euclidean in the units of the spacing (mm), from each surface voxel of one mask to the nearest surface
/// voxel of the other, via an exact EDT (<see cref="DistanceTransform"/>).
/// </summary>
public sealed class SurfaceDistances
{
    /// <summary>Distances from each prediction surface voxel to the GT surface, ascending.</summary>
    public double[] PredToGt { get; }
    /// <summary>Distances from each GT surface voxel to the prediction surface, ascending.</summary>
    public double[] GtToPred { get; }

    public SurfaceDistances(double[] predToGt, double[] gtToPred)
    {
        PredToGt = predToGt;
        GtToPred = gtToPred;
        Array.Sort(PredToGt);
        Array.Sort(GtToPred);
    }

    /// <summary>Relative slack for the NSD tolerance comparison, absorbing floating-point error in d ≤ τ.</summary>
    public const double ToleranceSlack = 1e-9;

    /// <summary>
    /// HD at the given percentile (95 for HD95) with numpy 'linear' interpolation; +∞ if either surface is empty
    /// (callers apply empty-mask policies before getting here).
    /// </summary>
    public double Hausdorff(HausdorffMode mode, double percentile = 95)
    {
        if (PredToGt.Length == 0 || GtToPred.Length == 0) return double.PositiveInfinity;
        if (mode == HausdorffMode.Monai)
            return Math.Max(SamAdapt.Imaging.Preprocessing.Percentile.OfSorted(PredToGt, percentile),
                            SamAdapt.Imaging.Preprocessing.Percentile.OfSorted(GtToPred, percentile));
        var pooled = new double[PredToGt.Length + GtToPred.Length];
        PredToGt.CopyTo(pooled, 0);
        GtToPred.CopyTo(pooled, PredToGt.Length);
        Array.Sort(pooled);
        return SamAdapt.Imaging.Preprocessing.Percentile.OfSorted(pooled, percentile);
    }

    /// <summary>
    /// Normalised surface Dice at tolerance τ: (#pred-surface voxels with d ≤ τ + #GT-surface voxels with d ≤ τ) /
    /// (#pred-surface + #GT-surface voxels). The comparison is d ≤ τ·(1 + 1e-9) + 1e-12 so that a distance that
    /// equals τ mathematically is not lost to rounding. 0 if either surface is empty, NaN if both are.
    /// </summary>
    public double Nsd(double tolerance)
    {
        int total = PredToGt.Length + GtToPred.Length;
        if (total == 0) return double.NaN;
        if (PredToGt.Length == 0 || GtToPred.Length == 0) return 0;
        double limit = tolerance * (1 + ToleranceSlack) + 1e-12;
        return (double)(CountAtMost(PredToGt, limit) + CountAtMost(GtToPred, limit)) / total;
    }

    private static int CountAtMost(double[] sorted, double limit)
    {
        int lo = 0, hi = sorted.Length; // first index with value > limit
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (sorted[mid] <= limit) lo = mid + 1; else hi = mid;
        }
        return lo;
    }

    /// <summary>Surface distances of two masks given as flat arrays (axis 0 fastest) of the given shape (rank 1–3).</summary>
    public static SurfaceDistances Compute(ReadOnlySpan<bool> pred, ReadOnlySpan<bool> gt, int[] shape, double[] spacing)
    {
        var dims = DistanceTransform.Dims3(shape);
        long n = (long)dims[0] * dims[1] * dims[2];
        if (pred.Length != n || gt.Length != n) throw new ArgumentException($"masks have {pred.Length} and {gt.Length} elements, shape [{string.Join(",", shape)}] needs {n}");
        CheckSpacing(spacing, shape.Length);
        var a = new byte[n]; var b = new byte[n];
        for (int i = 0; i < n; i++) { a[i] = pred[i] ? (byte)1 : (byte)0; b[i] = gt[i] ? (byte)1 : (byte)0; }
        return Compute(a, b, shape, spacing);
    }

    /// <summary>As <see cref="Compute(ReadOnlySpan{bool}, ReadOnlySpan{bool}, int[], double[])"/> for 0/1 byte masks.</summary>
    public static SurfaceDistances Compute(byte[] pred, byte[] gt, int[] shape, double[] spacing)
    {
        CheckSpacing(spacing, shape.Length);
        var sp = Surface(pred, shape);
        var sg = Surface(gt, shape);
        var buffer = new double[pred.Length];
        var predToGt = DistancesFrom(sp, sg, shape, spacing, buffer);
        var gtToPred = DistancesFrom(sg, sp, shape, spacing, buffer);
        return new SurfaceDistances(predToGt, gtToPred);
    }

    internal static void CheckSpacing(double[] spacing, int rank)
    {
        if (spacing.Length < rank) throw new ArgumentException($"need {rank} spacing values, got {spacing.Length}");
        for (int i = 0; i < rank; i++)
            if (!(spacing[i] > 0) || !double.IsFinite(spacing[i])) throw new ArgumentException($"spacing must be positive and finite, got [{string.Join(",", spacing)}]");
    }

    /// <summary>Distances from the voxels set in <paramref name="from"/> to the nearest voxel set in <paramref name="to"/>.</summary>
    private static double[] DistancesFrom(byte[] from, byte[] to, int[] shape, double[] spacing, double[] buffer)
    {
        int count = 0;
        foreach (var x in from) if (x != 0) count++;
        var result = new double[count];
        if (count == 0) return result;
        for (int i = 0; i < to.Length; i++) buffer[i] = to[i] != 0 ? 0.0 : double.PositiveInfinity;
        DistanceTransform.SquaredInPlace(buffer, shape, spacing);
        count = 0;
        for (int i = 0; i < from.Length; i++)
            if (from[i] != 0) result[count++] = Math.Sqrt(buffer[i]);
        return result;
    }

    /// <summary>
    /// The surface of a 0/1 mask: mask voxels with a face neighbour outside the mask or outside the array. Only the
    /// first <c>shape.Length</c> axes have neighbours (a rank-2 shape is a 2D image with 4-neighbourhood).
    /// </summary>
    public static byte[] Surface(byte[] mask, int[] shape)
    {
        var d = DistanceTransform.Dims3(shape);
        int rank = shape.Length;
        int nx = d[0], ny = d[1], nz = d[2];
        long sy = nx, sz = (long)nx * ny;
        if (mask.LongLength != sz * nz) throw new ArgumentException($"mask has {mask.Length} elements, shape [{string.Join(",", shape)}] needs {sz * nz}");
        var s = new byte[mask.Length];
        for (int z = 0; z < nz; z++)
            for (int y = 0; y < ny; y++)
            {
                long row = z * sz + y * sy;
                for (int x = 0; x < nx; x++)
                {
                    long i = row + x;
                    if (mask[i] == 0) continue;
                    bool surface =
                        x == 0 || mask[i - 1] == 0 || x == nx - 1 || mask[i + 1] == 0 ||
                        (rank >= 2 && (y == 0 || mask[i - sy] == 0 || y == ny - 1 || mask[i + sy] == 0)) ||
                        (rank >= 3 && (z == 0 || mask[i - sz] == 0 || z == nz - 1 || mask[i + sz] == 0));
                    if (surface) s[i] = 1;
                }
            }
        return s;
    }
}
