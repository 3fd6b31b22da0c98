using SamAdapt.Imaging;
namespace SamAdapt.Sam.Prediction;

/// <summary>
/// MedSAM's image preprocessing (docs/sam.md §7.1, <c>MedSAM_Inference.py</c>):
/// <c>skimage.transform.resize(img, (S, S), order=3, preserve_range=True, anti_aliasing=True).astype(np.uint8)</c>, then
/// <c>(x − min) / clip(max − min, 1e-8)</c> in float64, cast to float32. No mean/std, no padding, aspect ratio not kept.
/// <para><b>Fidelity.</b> An image already S×S is returned unchanged — exactly what skimage gives after the uint8 cast (the spec checked
/// this identity), so the 1024² case is bit-exact. Other sizes use a re-implementation of what skimage calls, in float64:
/// per axis a Gaussian pre-filter with σ = max(0, (in/out − 1)/2) (scipy <c>gaussian_filter</c>: truncate 4, radius int(4σ + 0.5), mode
/// <c>mirror</c>), the cubic B-spline prefilter (pole √3 − 2, mirror boundary), cubic B-spline evaluation at
/// <c>(o + 0.5)·in/out − 0.5</c> (<c>zoom(grid_mode=True)</c>, coordinates and coefficients mirrored at the edges), clipping to the input's
/// [min, max], and truncation to uint8. The algorithm is the same, but scipy evaluates the N-D spline in one pass and in its own operation
/// order, so values can differ in the last bits; after the truncating uint8 cast a value within ~1e-12 of an integer may land one grey
/// level lower or higher. Expect (unverified against scipy here: no scipy in the reference environment) agreement to ±1 grey level on a
/// small fraction of pixels, not byte-exactness — for parity tests feed the Python-produced S² tensor via
/// <see cref="SamPredictor.SetInputTensor"/>. The channel axis (zoom 1, σ 0) is left untouched: in exact arithmetic the spline
/// reproduces it at integer positions.</para>
/// </summary>
public static class MedSamPreprocess
{
    /// <summary>
    /// The whole pipeline for an H×W RGB image (row-major, channels last): the S×S×3 uint8 image after the resize and the normalised
    /// float32 values (S×S×3, channels last).
    /// </summary>
    public static (ResizedImage Resized, float[] Normalized) Apply(byte[] rgb, int height, int width, int size)
    {
        var resized = Resize(rgb, height, width, 3, size, size);
        return (new ResizedImage(resized, size, size, 3), MinMaxNormalize(resized));
    }

    /// <summary><c>(x − min) / max(max − min, 1e-8)</c> over all values, in float64, then cast to float32.</summary>
    public static float[] MinMaxNormalize(ReadOnlySpan<byte> pixels)
    {
        if (pixels.Length == 0) return [];
        int min = 255, max = 0;
        foreach (var p in pixels)
        {
            if (p < min) min = p;
            if (p > max) max = p;
        }
        double range = Math.Max((double)(max - min), 1e-8);
        var r = new float[pixels.Length];
        for (int i = 0; i < r.Length; i++) r[i] = (float)((pixels[i] - (double)min) / range);
        return r;
    }

    /// <summary>
    /// skimage-style anti-aliased cubic resize of an H×W×C uint8 image to outH×outW×C, truncated to uint8 (see the class remarks).
    /// </summary>
    public static byte[] Resize(byte[] hwc, int height, int width, int channels, int outH, int outW)
    {
        ArgumentNullException.ThrowIfNull(hwc);
        if (height <= 0 || width <= 0 || outH <= 0 || outW <= 0 || channels <= 0)
            throw new ArgumentException($"sizes must be positive: {height}x{width}x{channels} → {outH}x{outW}");
        if (hwc.LongLength != (long)height * width * channels) throw new ArgumentException($"a {height}x{width}x{channels} image has {(long)height * width * channels} bytes, got {hwc.LongLength}");
        if (height == outH && width == outW) return (byte[])hwc.Clone();

        var (min, max) = ValueRange.Of<byte>(hwc);
        double lo = min, hi = max;
        var result = new byte[outH * outW * channels];
        var plane = new double[height * width];
        for (int c = 0; c < channels; c++)
        {
            for (int i = 0; i < plane.Length; i++) plane[i] = hwc[i * channels + c];
            var p = plane;
            double sy = Math.Max(0, ((double)height / outH - 1) / 2), sx = Math.Max(0, ((double)width / outW - 1) / 2);
            if (sy > 1e-15) p = Along(p, height, width, axis: 0, line => GaussianMirror(line, sy));
            if (sx > 1e-15) p = Along(p, height, width, axis: 1, line => GaussianMirror(line, sx));
            p = Along(p, height, width, axis: 0, SplinePrefilterMirror);
            p = Along(p, height, width, axis: 1, SplinePrefilterMirror);
            var rows = ZoomAxis(p, height, width, axis: 0, outH);      // outH × width
            var full = ZoomAxis(rows, outH, width, axis: 1, outW);     // outH × outW
            for (int i = 0; i < full.Length; i++)
            {
                double v = Math.Clamp(full[i], lo, hi);
                result[i * channels + c] = (byte)(int)v; // astype(uint8) truncates; v ≥ 0
            }
        }
        return result;
    }

    private static double[] Along(double[] a, int h, int w, int axis, Func<double[], double[]> f)
    {
        var r = new double[a.Length];
        if (axis == 0)
        {
            var line = new double[h];
            for (int x = 0; x < w; x++)
            {
                for (int y = 0; y < h; y++) line[y] = a[y * w + x];
                var o = f(line);
                for (int y = 0; y < h; y++) r[y * w + x] = o[y];
            }
        }
        else
        {
            var line = new double[w];
            for (int y = 0; y < h; y++)
            {
                Array.Copy(a, y * w, line, 0, w);
                var o = f(line);
                Array.Copy(o, 0, r, y * w, w);
            }
        }
        return r;
    }

    /// <summary>ndimage's 'mirror' extension (d c b | a b c d | c b a) of index <paramref name="i"/> into [0, n).</summary>
    public static int Mirror(long i, int n)
    {
        if (n == 1) return 0;
        long period = 2L * n - 2;
        i %= period;
        if (i < 0) i += period;
        return (int)(i < n ? i : period - i);
    }

    /// <summary>scipy <c>gaussian_filter1d</c> (order 0, truncate 4.0, mode 'mirror').</summary>
    public static double[] GaussianMirror(double[] line, double sigma)
    {
        int n = line.Length;
        int radius = (int)(4.0 * sigma + 0.5);
        var k = new double[2 * radius + 1];
        double sum = 0, s2 = sigma * sigma;
        for (int j = -radius; j <= radius; j++) sum += k[j + radius] = Math.Exp(-0.5 / s2 * j * j);
        for (int j = 0; j < k.Length; j++) k[j] /= sum;
        var r = new double[n];
        for (int i = 0; i < n; i++)
        {
            double acc = 0;
            for (int j = -radius; j <= radius; j++) acc += k[j + radius] * line[Mirror(i + j, n)];
            r[i] = acc;
        }
        return r;
    }

    /// <summary>Cubic B-spline prefilter (interpolating coefficients) with mirror boundary conditions, as scipy's <c>spline_filter1d</c>.</summary>
    public static double[] SplinePrefilterMirror(double[] line)
    {
        int n = line.Length;
        var c = (double[])line.Clone();
        if (n < 2) return c;
        double z = Math.Sqrt(3.0) - 2.0;
        double gain = (1 - z) * (1 - 1 / z);
        for (int i = 0; i < n; i++) c[i] *= gain;
        // causal initialisation (mirror)
        double zn1 = Math.Pow(z, n - 1), zi = z;
        c[0] = c[0] + zn1 * c[n - 1];
        for (int i = 1; i < n - 1; i++)
        {
            c[0] += zi * (c[i] + zn1 * c[n - 1 - i]);
            zi *= z;
        }
        c[0] /= 1 - zn1 * zn1;
        for (int i = 1; i < n; i++) c[i] += z * c[i - 1];
        // anti-causal initialisation (mirror)
        c[n - 1] = (z * c[n - 2] + c[n - 1]) * z / (z * z - 1);
        for (int i = n - 2; i >= 0; i--) c[i] = z * (c[i + 1] - c[i]);
        return c;
    }

    /// <summary>Cubic B-spline evaluation of prefiltered coefficients along one axis at <c>(o + 0.5)·n/m − 0.5</c> (mirror).</summary>
    private static double[] ZoomAxis(double[] coef, int h, int w, int axis, int outLen)
    {
        int n = axis == 0 ? h : w;
        double zoom = (double)n / outLen;
        var idx = new int[outLen, 4];
        var wts = new double[outLen, 4];
        for (int o = 0; o < outLen; o++)
        {
            double cc = (o + 0.5) * zoom - 0.5;
            cc = MirrorCoordinate(cc, n);
            long start = (long)Math.Floor(cc) - 1;
            double y = cc - Math.Floor(cc), z = 1.0 - y;
            wts[o, 0] = z * z * z / 6.0;
            wts[o, 1] = (y * y * (y - 2.0) * 3.0 + 4.0) / 6.0;
            wts[o, 2] = (z * z * (z - 2.0) * 3.0 + 4.0) / 6.0;
            wts[o, 3] = y * y * y / 6.0;
            for (int k = 0; k < 4; k++) idx[o, k] = Mirror(start + k, n);
        }
        if (axis == 0)
        {
            var r = new double[outLen * w];
            for (int o = 0; o < outLen; o++)
                for (int x = 0; x < w; x++)
                {
                    double acc = 0;
                    for (int k = 0; k < 4; k++) acc += wts[o, k] * coef[idx[o, k] * w + x];
                    r[o * w + x] = acc;
                }
            return r;
        }
        else
        {
            var r = new double[h * outLen];
            for (int y = 0; y < h; y++)
                for (int o = 0; o < outLen; o++)
                {
                    double acc = 0;
                    for (int k = 0; k < 4; k++) acc += wts[o, k] * coef[y * w + idx[o, k]];
                    r[y * outLen + o] = acc;
                }
            return r;
        }
    }

    /// <summary>ndimage <c>map_coordinate</c> for mode 'mirror': reflects a coordinate outside [0, n − 1] back inside.</summary>
    private static double MirrorCoordinate(double c, int n)
    {
        if (n <= 1) return 0;
        double sz2 = 2.0 * n - 2;
        if (c < 0)
        {
            c = sz2 * (int)(-c / sz2) + c;
            c = c <= 1 - n ? c + sz2 : -c;
        }
        else if (c > n - 1)
        {
            c -= sz2 * (int)(c / sz2);
            if (c >= n) c = sz2 - c;
        }
        return c;
    }
}
