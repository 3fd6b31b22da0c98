namespace SamAdapt.Evaluation;

/// <summary>
/// Exact squared Euclidean distance transform with per-axis spacing (Felzenszwalb &amp; Huttenlocher's separable
/// lower-envelope algorithm, O(N)). Arrays are flat with axis 0 fastest (NIfTI order), dims [n0, n1, n2].
/// </summary>
public static class DistanceTransform
{
    /// <summary>
    /// For every voxel, the squared distance (in the units of <paramref name="spacing"/>, squared) to the nearest voxel
    /// where <paramref name="feature"/> is non-zero; +∞ everywhere when there is no feature voxel.
    /// </summary>
    public static double[] SquaredDistanceToFeature(ReadOnlySpan<byte> feature, int[] dims, double[] spacing)
    {
        var d = Dims3(dims);
        var f = new double[feature.Length];
        for (int i = 0; i < f.Length; i++) f[i] = feature[i] != 0 ? 0.0 : double.PositiveInfinity;
        SquaredInPlace(f, d, spacing);
        return f;
    }

    /// <summary>
    /// Transforms <paramref name="f"/> in place: on entry 0 at feature voxels and +∞ elsewhere (any non-negative
    /// initial costs are allowed), on exit the squared weighted distance min_q (f(q) + Σ_a s_a²(p_a − q_a)²).
    /// </summary>
    public static void SquaredInPlace(double[] f, int[] dims, double[] spacing)
    {
        var d = Dims3(dims);
        if ((long)d[0] * d[1] * d[2] != f.Length) throw new ArgumentException($"array has {f.Length} elements, dims [{string.Join(",", dims)}] need {(long)d[0] * d[1] * d[2]}");
        if (spacing.Length < dims.Length) throw new ArgumentException($"need {dims.Length} spacing values, got {spacing.Length}");
        long[] stride = [1, d[0], (long)d[0] * d[1]];
        for (int axis = 0; axis < 3; axis++)
        {
            int n = d[axis];
            if (n == 1) continue; // a length-1 line is its own transform
            double w = axis < spacing.Length ? spacing[axis] * spacing[axis] : 1.0;
            if (!(w > 0) || !double.IsFinite(w)) throw new ArgumentException($"spacing must be positive and finite, got {spacing[axis]} on axis {axis}");
            // Lines along `axis` are indexed by the other two coordinates. For axes 1 and 2, Block consecutive lines
            // (adjacent along axis 0, so adjacent in memory) are gathered together to use whole cache lines.
            int oa = axis == 0 ? 1 : 0, ob = axis == 2 ? 1 : 2;
            int na = d[oa], nb = d[ob];
            int block = axis == 0 ? 1 : Block;
            int aBlocks = (na + block - 1) / block;
            long units = (long)aBlocks * nb;
            long sAxis = stride[axis], sA = stride[oa], sB = stride[ob];
            void Run(long from, long to, Buffers buf)
            {
                for (long u = from; u < to; u++)
                {
                    long a0 = u % aBlocks * block, b = u / aBlocks;
                    int width = (int)Math.Min(block, na - a0);
                    long off = a0 * sA + b * sB;
                    for (int p = 0; p < n; p++)
                    {
                        long at = off + p * sAxis;
                        for (int t = 0; t < width; t++) buf.In[t][p] = f[at + t * sA];
                    }
                    for (int t = 0; t < width; t++)
                        buf.Changed[t] = Transform1D(buf.In[t], buf.Out[t], buf.V, buf.Z, n, w);
                    for (int p = 0; p < n; p++)
                    {
                        long at = off + p * sAxis;
                        for (int t = 0; t < width; t++)
                            if (buf.Changed[t]) f[at + t * sA] = buf.Out[t][p];
                    }
                }
            }
            if (f.LongLength < 1 << 20 || units < 16)
                Run(0, units, new Buffers(n, block));
            else
            {
                int chunks = (int)Math.Min(units, Environment.ProcessorCount * 8L);
                Parallel.For(0, chunks, () => new Buffers(n, block), (c, _, buf) =>
                {
                    Run(units * c / chunks, units * (c + 1) / chunks, buf);
                    return buf;
                }, _ => { });
            }
        }
    }

    private const int Block = 16;

    private sealed class Buffers(int n, int lines)
    {
        public readonly double[][] In = [.. Enumerable.Range(0, lines).Select(_ => new double[n])];
        public readonly double[][] Out = [.. Enumerable.Range(0, lines).Select(_ => new double[n])];
        public readonly bool[] Changed = new bool[lines];
        public readonly int[] V = new int[n];
        public readonly double[] Z = new double[n + 1];
    }

    /// <summary>
    /// 1D transform d(p) = min_q w·(p − q)² + f(q). Entries equal to +∞ never enter the lower envelope.
    /// Returns false (output untouched) when every entry is +∞, so the line stays +∞.
    /// </summary>
    internal static bool Transform1D(double[] f, double[] d, int[] v, double[] z, int n, double w)
    {
        int k = -1;
        for (int q = 0; q < n; q++)
        {
            double fq = f[q];
            if (double.IsPositiveInfinity(fq)) continue;
            if (k < 0)
            {
                k = 0; v[0] = q; z[0] = double.NegativeInfinity; z[1] = double.PositiveInfinity;
                continue;
            }
            double s;
            while (true)
            {
                int vk = v[k];
                // intersection of the parabolas rooted at q and vk
                s = ((fq + w * q * (double)q) - (f[vk] + w * vk * (double)vk)) / (2.0 * w * (q - vk));
                if (s <= z[k] && k > 0) { k--; continue; }
                break;
            }
            if (s <= z[k])
            {
                // only reachable for k == 0 with z[0] = −∞, i.e. never; kept for safety
                v[0] = q; z[0] = double.NegativeInfinity; z[1] = double.PositiveInfinity; continue;
            }
            k++;
            v[k] = q; z[k] = s; z[k + 1] = double.PositiveInfinity;
        }
        if (k < 0) return false;
        k = 0;
        for (int p = 0; p < n; p++)
        {
            while (z[k + 1] < p) k++;
            double dp = p - v[k];
            d[p] = w * dp * dp + f[v[k]];
        }
        return true;
    }

    internal static int[] Dims3(int[] dims)
    {
        if (dims.Length is < 1 or > 3) throw new ArgumentException($"distance transforms need 1 to 3 dimensions, got {dims.Length}");
        foreach (var x in dims) if (x < 1) throw new ArgumentException($"dimensions must be >= 1, got [{string.Join(",", dims)}]");
        return [dims[0], dims.Length > 1 ? dims[1] : 1, dims.Length > 2 ? dims[2] : 1];
    }
}
