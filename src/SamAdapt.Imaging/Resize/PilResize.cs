namespace SamAdapt.Imaging.Resize;

/// <summary>
/// Bit-exact port of Pillow's 8-bit resampling with the BILINEAR (triangle) filter, i.e. what
/// <c>Image.resize((newW, newH), Image.BILINEAR)</c> returns for an "L" or "RGB" image — the resize SAM's
/// <c>ResizeLongestSide.apply_image</c> performs (docs/sam.md §4.1).
/// <para>The filter is antialiased (its support widens by the scale factor when downscaling). Resampling is separable:
/// a horizontal pass runs first, only if the width changes, then a vertical pass, only if the height changes. Weights are
/// computed in double, normalised, converted to int32 with 22 fractional bits, and every pass rounds and clamps its
/// output to uint8 (so the intermediate image is uint8 too). An unchanged size returns a copy of the input.</para>
/// <para>Channels are resampled independently, which is what Pillow does for L and RGB (for RGBA/LA Pillow premultiplies
/// alpha first, which this method does not do).</para>
/// </summary>
public static class PilResize
{
    private const int PrecisionBits = 32 - 8 - 2; // 22
    private const double FilterSupport = 1.0;    // bilinear (triangle) filter

    /// <summary>
    /// Resizes an interleaved uint8 image (H×W×C, row-major, channels last) to newH×newW.
    /// </summary>
    /// <returns>A new newH×newW×C array.</returns>
    public static byte[] Bilinear(byte[] hwc, int h, int w, int channels, int newH, int newW)
    {
        ArgumentNullException.ThrowIfNull(hwc);
        return Bilinear(hwc.AsSpan(), h, w, channels, newH, newW);
    }

    /// <inheritdoc cref="Bilinear(byte[], int, int, int, int, int)"/>
    public static byte[] Bilinear(ReadOnlySpan<byte> hwc, int h, int w, int channels, int newH, int newW)
    {
        if (h <= 0 || w <= 0) throw new ArgumentOutOfRangeException(nameof(h), $"input size must be positive, got {h}x{w}");
        if (newH <= 0 || newW <= 0) throw new ArgumentOutOfRangeException(nameof(newH), $"output size must be positive, got {newH}x{newW}");
        if (channels <= 0) throw new ArgumentOutOfRangeException(nameof(channels), "channels must be positive");
        if (hwc.Length != (long)h * w * channels)
            throw new ArgumentException($"buffer has {hwc.Length} bytes, {h}x{w}x{channels} needs {(long)h * w * channels}", nameof(hwc));

        if (newH == h && newW == w) return hwc.ToArray();

        byte[] current = hwc.ToArray();
        int curW = w;
        if (newW != w)
        {
            current = Horizontal(current, h, w, channels, newW);
            curW = newW;
        }
        if (newH != h)
            current = Vertical(current, h, curW, channels, newH);
        return current;
    }

    /// <summary>
    /// The per-output-pixel filter windows and int32 fixed-point weights (22 fractional bits) for one axis, as Pillow
    /// computes them. Exposed for testing and for callers that resample many images of the same size.
    /// </summary>
    public static AxisCoefficients ComputeCoefficients(int inSize, int outSize)
    {
        if (inSize <= 0 || outSize <= 0) throw new ArgumentOutOfRangeException(nameof(inSize), "sizes must be positive");
        double scale = (double)inSize / outSize;
        double filterScale = scale < 1.0 ? 1.0 : scale;
        double support = FilterSupport * filterScale;
        int kSize = (int)Math.Ceiling(support) * 2 + 1;

        var bounds = new int[outSize * 2];
        var kk = new double[outSize * kSize];
        double ss = 1.0 / filterScale;
        for (int xx = 0; xx < outSize; xx++)
        {
            double center = (xx + 0.5) * scale;
            double ww = 0.0;
            int xmin = (int)(center - support + 0.5); // C cast: truncation toward zero
            if (xmin < 0) xmin = 0;
            int xmax = (int)(center + support + 0.5);
            if (xmax > inSize) xmax = inSize;
            xmax -= xmin;
            int k0 = xx * kSize;
            int x = 0;
            for (; x < xmax; x++)
            {
                double wv = Triangle((x + xmin - center + 0.5) * ss);
                kk[k0 + x] = wv;
                ww += wv;
            }
            for (int j = 0; j < xmax; j++)
                if (ww != 0.0) kk[k0 + j] /= ww;
            for (; x < kSize; x++) kk[k0 + x] = 0;
            bounds[xx * 2] = xmin;
            bounds[xx * 2 + 1] = xmax;
        }

        var ik = new int[kk.Length];
        for (int i = 0; i < kk.Length; i++)
            ik[i] = (int)(kk[i] < 0 ? kk[i] * (1 << PrecisionBits) - 0.5 : kk[i] * (1 << PrecisionBits) + 0.5);
        return new AxisCoefficients(kSize, bounds, ik);
    }

    private static double Triangle(double x)
    {
        if (x < 0.0) x = -x;
        return x < 1.0 ? 1.0 - x : 0.0;
    }

    private static byte Clip8(int acc)
    {
        int v = acc >> PrecisionBits; // arithmetic shift, as in C for the int accumulator
        return v < 0 ? (byte)0 : v > 255 ? (byte)255 : (byte)v;
    }

    private static byte[] Horizontal(byte[] src, int h, int w, int c, int newW)
    {
        var co = ComputeCoefficients(w, newW);
        var dst = new byte[(long)h * newW * c];
        int k = co.KernelSize;
        for (int y = 0; y < h; y++)
        {
            int rowIn = y * w * c, rowOut = y * newW * c;
            for (int xx = 0; xx < newW; xx++)
            {
                int xmin = co.Bounds[xx * 2], xcnt = co.Bounds[xx * 2 + 1];
                int k0 = xx * k;
                for (int ch = 0; ch < c; ch++)
                {
                    int acc = 1 << (PrecisionBits - 1);
                    int p = rowIn + xmin * c + ch;
                    for (int x = 0; x < xcnt; x++, p += c)
                        acc += src[p] * co.Weights[k0 + x];
                    dst[rowOut + xx * c + ch] = Clip8(acc);
                }
            }
        }
        return dst;
    }

    private static byte[] Vertical(byte[] src, int h, int w, int c, int newH)
    {
        var co = ComputeCoefficients(h, newH);
        int stride = w * c;
        var dst = new byte[(long)newH * stride];
        int k = co.KernelSize;
        for (int yy = 0; yy < newH; yy++)
        {
            int ymin = co.Bounds[yy * 2], ycnt = co.Bounds[yy * 2 + 1];
            int k0 = yy * k;
            int rowOut = yy * stride;
            for (int i = 0; i < stride; i++)
            {
                int acc = 1 << (PrecisionBits - 1);
                int p = ymin * stride + i;
                for (int y = 0; y < ycnt; y++, p += stride)
                    acc += src[p] * co.Weights[k0 + y];
                dst[rowOut + i] = Clip8(acc);
            }
        }
        return dst;
    }
}

/// <summary>
/// Filter windows and fixed-point weights for one axis: output index <c>o</c> reads inputs
/// <c>Bounds[2o] .. Bounds[2o] + Bounds[2o+1] - 1</c> with weights <c>Weights[o·KernelSize + j]</c> (int32, 22 fractional bits).
/// </summary>
public sealed record AxisCoefficients(int KernelSize, int[] Bounds, int[] Weights);
