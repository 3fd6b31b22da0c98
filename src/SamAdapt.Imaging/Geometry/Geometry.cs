namespace SamAdapt.Imaging;

/// <summary>Small affine helpers shared by readers, writers and resamplers. Matrices are row-major double[16] (4×4) or double[9] (3×3).</summary>
public static class Geometry
{
    public static double[] Identity() => [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];

    /// <summary>Column norms of the upper-left 3×3 block: the voxel spacing along i, j, k.</summary>
    public static double[] SpacingFromAffine(double[] a)
    {
        var s = new double[3];
        for (int c = 0; c < 3; c++)
            s[c] = Math.Sqrt(a[c] * a[c] + a[4 + c] * a[4 + c] + a[8 + c] * a[8 + c]);
        return s;
    }

    /// <summary>A 4×4 affine from a 3×3 linear part (row-major) and a translation.</summary>
    public static double[] FromLinear(double[] m3, double tx, double ty, double tz) =>
        [m3[0], m3[1], m3[2], tx, m3[3], m3[4], m3[5], ty, m3[6], m3[7], m3[8], tz, 0, 0, 0, 1];

    /// <summary>The upper-left 3×3 block.</summary>
    public static double[] Linear(double[] a) => [a[0], a[1], a[2], a[4], a[5], a[6], a[8], a[9], a[10]];

    /// <summary>4×4 product a·b.</summary>
    public static double[] Multiply(double[] a, double[] b)
    {
        var r = new double[16];
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
            {
                double s = 0;
                for (int k = 0; k < 4; k++) s += a[i * 4 + k] * b[k * 4 + j];
                r[i * 4 + j] = s;
            }
        return r;
    }

    /// <summary>3×3 product a·b.</summary>
    public static double[] Multiply3(double[] a, double[] b)
    {
        var r = new double[9];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                r[i * 3 + j] = a[i * 3] * b[j] + a[i * 3 + 1] * b[3 + j] + a[i * 3 + 2] * b[6 + j];
        return r;
    }

    public static double Det3(double[] m) =>
        m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) + m[2] * (m[3] * m[7] - m[4] * m[6]);

    /// <summary>Inverse of a 3×3 matrix; throws <see cref="ArgumentException"/> if singular.</summary>
    public static double[] Inverse3(double[] m)
    {
        double det = Det3(m);
        double scale = 0; foreach (var x in m) scale = Math.Max(scale, Math.Abs(x));
        if (det == 0 || !double.IsFinite(det) || Math.Abs(det) < 1e-12 * scale * scale * scale)
            throw new ArgumentException("matrix is singular");
        double id = 1.0 / det;
        return
        [
            (m[4] * m[8] - m[5] * m[7]) * id, (m[2] * m[7] - m[1] * m[8]) * id, (m[1] * m[5] - m[2] * m[4]) * id,
            (m[5] * m[6] - m[3] * m[8]) * id, (m[0] * m[8] - m[2] * m[6]) * id, (m[2] * m[3] - m[0] * m[5]) * id,
            (m[3] * m[7] - m[4] * m[6]) * id, (m[1] * m[6] - m[0] * m[7]) * id, (m[0] * m[4] - m[1] * m[3]) * id,
        ];
    }

    /// <summary>Inverse of an affine 4×4 (last row 0 0 0 1); throws <see cref="ArgumentException"/> if singular.</summary>
    public static double[] Inverse(double[] a)
    {
        var li = Inverse3(Linear(a));
        double tx = -(li[0] * a[3] + li[1] * a[7] + li[2] * a[11]);
        double ty = -(li[3] * a[3] + li[4] * a[7] + li[5] * a[11]);
        double tz = -(li[6] * a[3] + li[7] * a[7] + li[8] * a[11]);
        return FromLinear(li, tx, ty, tz);
    }

    /// <summary>Applies the affine to a point (i, j, k) → (x, y, z).</summary>
    public static (double X, double Y, double Z) Apply(double[] a, double i, double j, double k) =>
        (a[0] * i + a[1] * j + a[2] * k + a[3], a[4] * i + a[5] * j + a[6] * k + a[7], a[8] * i + a[9] * j + a[10] * k + a[11]);

    public static bool IsFinite(double[] a)
    {
        foreach (var x in a) if (!double.IsFinite(x)) return false;
        return true;
    }

    public static double[] Transpose3(double[] m) => [m[0], m[3], m[6], m[1], m[4], m[7], m[2], m[5], m[8]];

    /// <summary>
    /// The orthogonal factor Q of the polar decomposition M = Q·P (the rotation/reflection nearest to M in the
    /// Frobenius norm), by the scaled Newton iteration Q ← (γQ + (γQ)⁻ᵀ)/2. M must be non-singular.
    /// </summary>
    public static double[] PolarOrthogonal(double[] m)
    {
        var q = (double[])m.Clone();
        for (int it = 0; it < 100; it++)
        {
            var inv = Inverse3(q);
            // Frobenius-norm scaling accelerates convergence for badly scaled input
            double nq = 0, ni = 0;
            for (int i = 0; i < 9; i++) { nq += q[i] * q[i]; ni += inv[i] * inv[i]; }
            double g = Math.Sqrt(Math.Sqrt(ni / nq));
            var invT = Transpose3(inv);
            var next = new double[9];
            double diff = 0;
            for (int i = 0; i < 9; i++)
            {
                next[i] = 0.5 * (g * q[i] + invT[i] / g);
                diff = Math.Max(diff, Math.Abs(next[i] - q[i]));
            }
            q = next;
            if (diff < 1e-15) break;
        }
        return q;
    }

    /// <summary>Formats a 4×4 affine as four bracketed rows, for messages.</summary>
    public static string Format(double[] a) => string.Join(" ", Enumerable.Range(0, 4).Select(r =>
        "[" + string.Join(", ", Enumerable.Range(0, 4).Select(c => a[r * 4 + c].ToString("G9", System.Globalization.CultureInfo.InvariantCulture))) + "]"));
}
