using SamAdapt.Training.Data;

namespace SamAdapt.Training.Augmentation;

/// <summary>
/// A 2-D affine map between pixel positions of an output plane and an input plane of the same size, in centred pixel
/// coordinates: u = x − (W − 1)/2 (columns), v = y − (H − 1)/2 (rows, pointing down). The matrix holds the
/// <b>inverse</b> map used for sampling, (u_in, v_in) = M·(u_out, v_out, 1), as [a, b, c, d, e, f] with
/// u_in = a·u + b·v + c, v_in = d·u + e·v + f.
/// </summary>
public readonly record struct Affine2D(double A, double B, double C, double D, double E, double F)
{
    public static Affine2D Identity => new(1, 0, 0, 0, 1, 0);

    public bool IsIdentity => A == 1 && B == 0 && C == 0 && D == 0 && E == 1 && F == 0;

    /// <summary>First this map, then <paramref name="next"/> (both as inverse maps): result(p) = this(next(p)).
    /// For forward transforms T1 then T2 the sampling map is inv(T1)∘inv(T2), i.e. <c>inv1.Then(inv2)</c>.</summary>
    public Affine2D Then(Affine2D next) => new(
        A * next.A + B * next.D, A * next.B + B * next.E, A * next.C + B * next.F + C,
        D * next.A + E * next.D, D * next.B + E * next.E, D * next.C + E * next.F + F);

    /// <summary>Sampling map of numpy's <c>rot90(m, k)</c> on (rows, cols): counter-clockwise as displayed.</summary>
    public static Affine2D Rot90(int k)
    {
        k = ((k % 4) + 4) % 4;
        return k switch
        {
            0 => Identity,
            // out[i, j] = in[j, W−1−i]  →  u_in = −v_out, v_in = u_out
            1 => new(0, -1, 0, 1, 0, 0),
            2 => new(-1, 0, 0, 0, -1, 0),
            _ => new(0, 1, 0, -1, 0, 0),
        };
    }

    /// <summary>Sampling map of <c>np.flip(m, axis)</c>: axis 0 flips rows (v), axis 1 flips columns (u).</summary>
    public static Affine2D Flip(int axis) => axis switch
    {
        0 => new(1, 0, 0, 0, -1, 0),
        1 => new(-1, 0, 0, 0, 1, 0),
        _ => throw new ArgumentOutOfRangeException(nameof(axis), axis, "flip axis must be 0 (rows) or 1 (columns)"),
    };

    /// <summary>Sampling map of a rotation by <paramref name="degrees"/> counter-clockwise as displayed (rows down),
    /// about the plane centre; 90° equals <see cref="Rot90"/>(1) on a square plane.</summary>
    public static Affine2D Rotation(double degrees)
    {
        double t = degrees * Math.PI / 180, c = Math.Cos(t), s = Math.Sin(t);
        return new(c, -s, 0, s, c, 0);
    }

    /// <summary>Sampling map of a zoom by <paramref name="factor"/> about the centre (&gt; 1 enlarges, keeping the size:
    /// the border is cropped; &lt; 1 shrinks and pads with zeros).</summary>
    public static Affine2D Zoom(double factor)
    {
        if (!(factor > 0)) throw new ArgumentOutOfRangeException(nameof(factor), factor, "zoom factor must be > 0");
        return new(1 / factor, 0, 0, 0, 1 / factor, 0);
    }
}

/// <summary>
/// Applies an <see cref="Affine2D"/> to every plane of a <see cref="StackSample"/> (all channels and slices share it):
/// bilinear for the image, nearest for the label. Outside the input the image is 0 and the label is 0 (background),
/// as <c>grid_sample(padding_mode="zeros")</c>. Source positions that fall exactly on pixel centres (rot90, flips)
/// reproduce the input values bit for bit. Sampling positions and weights are computed once per stack.
/// </summary>
public static class AffineWarp
{
    public static StackSample Apply(StackSample s, Affine2D map)
    {
        if (map.IsIdentity) return s;
        int h = s.Height, w = s.Width, plane = h * w;
        double cx = (w - 1) / 2.0, cy = (h - 1) / 2.0;
        var idx = new int[plane * 4];
        var wt = new float[plane * 4];
        var nearest = new int[plane];
        for (int y = 0; y < h; y++)
        {
            double v = y - cy;
            for (int x = 0; x < w; x++)
            {
                double u = x - cx;
                double xs = map.A * u + map.B * v + map.C + cx;
                double ys = map.D * u + map.E * v + map.F + cy;
                int o = y * w + x;
                // nearest: round half up; outside (beyond half a pixel past the edge centres) → -1
                int xn = (int)Math.Floor(xs + 0.5), yn = (int)Math.Floor(ys + 0.5);
                nearest[o] = xn >= 0 && xn < w && yn >= 0 && yn < h ? yn * w + xn : -1;
                double fx = Math.Floor(xs), fy = Math.Floor(ys);
                int x0 = (int)Math.Clamp(fx, -2, w + 1), y0 = (int)Math.Clamp(fy, -2, h + 1);
                float lx = (float)(xs - fx), ly = (float)(ys - fy);
                if (!double.IsFinite(xs) || !double.IsFinite(ys)) { lx = 0; ly = 0; x0 = -2; y0 = -2; }
                int k = o * 4;
                Corner(idx, wt, k + 0, x0, y0, (1 - lx) * (1 - ly), w, h);
                Corner(idx, wt, k + 1, x0 + 1, y0, lx * (1 - ly), w, h);
                Corner(idx, wt, k + 2, x0, y0 + 1, (1 - lx) * ly, w, h);
                Corner(idx, wt, k + 3, x0 + 1, y0 + 1, lx * ly, w, h);
            }
        }
        int planes = s.Channels * s.Depth;
        var img = new float[s.Image.Length];
        var src = s.Image;
        Parallel.For(0, planes, new ParallelOptions { MaxDegreeOfParallelism = Math.Min(planes, 2) }, p =>
        {
            int b = p * plane;
            for (int o = 0; o < plane; o++)
            {
                int k = o * 4;
                // exact pass-through when a single corner carries all the weight (rot90, flips, integer shifts)
                float r = src[b + idx[k]] * wt[k];
                if (wt[k + 1] != 0) r += src[b + idx[k + 1]] * wt[k + 1];
                if (wt[k + 2] != 0) r += src[b + idx[k + 2]] * wt[k + 2];
                if (wt[k + 3] != 0) r += src[b + idx[k + 3]] * wt[k + 3];
                img[b + o] = r;
            }
        });
        int[]? lbl = null;
        if (s.Label is { } lsrc)
        {
            lbl = new int[lsrc.Length];
            for (int d = 0; d < s.Depth; d++)
            {
                int b = d * plane;
                for (int o = 0; o < plane; o++)
                {
                    int n = nearest[o];
                    lbl[b + o] = n < 0 ? 0 : lsrc[b + n];
                }
            }
        }
        return s.With(h, w, img, lbl);
    }

    private static void Corner(int[] idx, float[] wt, int k, int x, int y, float weight, int w, int h)
    {
        if (x < 0 || x >= w || y < 0 || y >= h || weight == 0) { idx[k] = 0; wt[k] = 0; return; }
        idx[k] = y * w + x;
        wt[k] = weight;
    }
}
