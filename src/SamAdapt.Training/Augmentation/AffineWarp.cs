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
    /// <summary>Threads used per stack (the planes of a stack are independent).</summary>
    public static int Threads { get; set; } = Math.Clamp(Environment.ProcessorCount, 1, 4);

    public static StackSample Apply(StackSample s, Affine2D map)
    {
        if (map.IsIdentity) return s;
        int h = s.Height, w = s.Width, plane = h * w;
        double cx = (w - 1) / 2.0, cy = (h - 1) / 2.0;
        // per output pixel: top-left source corner, fractional offsets, and where it falls
        var cornerX = new int[plane];
        var cornerY = new int[plane];
        var fracX = new float[plane];
        var fracY = new float[plane];
        var kind = new byte[plane]; // 0 outside, 1 interior (all four corners inside), 2 border
        var nearest = new int[plane];
        Parallel.For(0, h, new ParallelOptions { MaxDegreeOfParallelism = Math.Min(h, Threads) }, y =>
        {
            double v = y - cy;
            double rowX = map.B * v + map.C + cx, rowY = map.E * v + map.F + cy;
            for (int x = 0; x < w; x++)
            {
                double u = x - cx;
                double xs = map.A * u + rowX, ys = map.D * u + rowY;
                int o = y * w + x;
                // nearest: round half up; outside (beyond half a pixel past the edge centres) → -1
                double xr = Math.Floor(xs + 0.5), yr = Math.Floor(ys + 0.5);
                nearest[o] = xr >= 0 && xr < w && yr >= 0 && yr < h ? (int)yr * w + (int)xr : -1;
                double fx = Math.Floor(xs), fy = Math.Floor(ys);
                if (!(fx >= -1 && fx < w && fy >= -1 && fy < h)) continue; // kind 0 (also NaN)
                int x0 = (int)fx, y0 = (int)fy;
                cornerX[o] = x0;
                cornerY[o] = y0;
                fracX[o] = (float)(xs - fx);
                fracY[o] = (float)(ys - fy);
                kind[o] = (byte)(x0 >= 0 && x0 + 1 < w && y0 >= 0 && y0 + 1 < h ? 1 : 2);
            }
        });
        int planes = s.Channels * s.Depth;
        var img = new float[s.Image.Length];
        var src = s.Image;
        Parallel.For(0, planes, new ParallelOptions { MaxDegreeOfParallelism = Math.Min(planes, Threads) }, p =>
        {
            var a = src.AsSpan(p * plane, plane);
            var dst = img.AsSpan(p * plane, plane);
            for (int o = 0; o < plane; o++)
            {
                byte kd = kind[o];
                if (kd == 0) continue;
                int x0 = cornerX[o], y0 = cornerY[o];
                float lx = fracX[o], ly = fracY[o];
                if (kd == 1)
                {
                    // a·1 + b·0 = a exactly, so pixel-centre positions (rot90, flips) reproduce the input
                    int c = y0 * w + x0;
                    float top = a[c] * (1 - lx) + a[c + 1] * lx;
                    float bottom = a[c + w] * (1 - lx) + a[c + w + 1] * lx;
                    dst[o] = top * (1 - ly) + bottom * ly;
                    continue;
                }
                float r = 0;
                if (In(x0, y0, w, h)) r += a[y0 * w + x0] * ((1 - lx) * (1 - ly));
                if (In(x0 + 1, y0, w, h)) r += a[y0 * w + x0 + 1] * (lx * (1 - ly));
                if (In(x0, y0 + 1, w, h)) r += a[(y0 + 1) * w + x0] * ((1 - lx) * ly);
                if (In(x0 + 1, y0 + 1, w, h)) r += a[(y0 + 1) * w + x0 + 1] * (lx * ly);
                dst[o] = r;
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

    private static bool In(int x, int y, int w, int h) => (uint)x < (uint)w && (uint)y < (uint)h;
}
