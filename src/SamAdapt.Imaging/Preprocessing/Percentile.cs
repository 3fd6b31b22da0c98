namespace SamAdapt.Imaging.Preprocessing;

/// <summary>
/// Percentiles with numpy's default <c>method='linear'</c> semantics (numpy ≥ 1.22, identical to the old
/// <c>interpolation='linear'</c>): for n sorted values a[0..n−1] and percentile p ∈ [0, 100],
/// q = p / 100, h = (n − 1)·q, lo = ⌊h⌋, hi = min(lo + 1, n − 1), γ = h − lo, and the result is
/// numpy's <c>_lerp</c>: a[lo] + (a[hi] − a[lo])·γ when γ &lt; 0.5, else a[hi] − (a[hi] − a[lo])·(1 − γ)
/// (the two-sided form numpy uses for monotonicity; it is reproduced so results agree to the bit).
/// NaN inputs are not allowed (numpy would return NaN). +∞ values sort last; where both neighbours are +∞ the result is
/// +∞ (numpy's lerp would give NaN there).
/// </summary>
public static class Percentile
{
    /// <summary>The p-th percentile (0..100) of <paramref name="values"/>; the input is not modified.</summary>
    public static double Of(ReadOnlySpan<double> values, double p)
    {
        var copy = values.ToArray();
        Array.Sort(copy);
        return OfSorted(copy, p);
    }

    /// <summary>The p-th percentile (0..100) of float values, computed in double precision.</summary>
    public static double Of(ReadOnlySpan<float> values, double p)
    {
        var copy = new double[values.Length];
        for (int i = 0; i < values.Length; i++) copy[i] = values[i];
        Array.Sort(copy);
        return OfSorted(copy, p);
    }

    /// <summary>Several percentiles of the same data with one sort.</summary>
    public static double[] Of(ReadOnlySpan<float> values, params double[] ps)
    {
        var copy = new double[values.Length];
        for (int i = 0; i < values.Length; i++) copy[i] = values[i];
        Array.Sort(copy);
        var r = new double[ps.Length];
        for (int i = 0; i < ps.Length; i++) r[i] = OfSorted(copy, ps[i]);
        return r;
    }

    /// <summary>The p-th percentile (0..100) of values already sorted ascending.</summary>
    public static double OfSorted(ReadOnlySpan<double> sorted, double p)
    {
        if (sorted.Length == 0) throw new ArgumentException("percentile of an empty set is undefined", nameof(sorted));
        if (!(p >= 0 && p <= 100)) throw new ArgumentOutOfRangeException(nameof(p), p, "percentile must be within [0, 100]");
        int n = sorted.Length;
        double q = p / 100.0;
        double h = (n - 1) * q;
        double lof = Math.Floor(h);
        int lo = (int)lof;
        if (lo > n - 1) lo = n - 1;
        int hi = Math.Min(lo + 1, n - 1);
        double gamma = h - lof;
        double a = sorted[lo], b = sorted[hi];
        if (a == b) return a;
        double diff = b - a;
        return gamma >= 0.5 ? b - diff * (1 - gamma) : a + diff * gamma;
    }
}
