namespace SamAdapt.Imaging.Preprocessing;

/// <summary>
/// In-plane resizing of 2D slices ([rows, cols] = [H, W]) with PyTorch <c>F.interpolate</c> semantics (size given,
/// no scale_factor), computed in float32 in the same operation order as PyTorch's CPU kernel so results agree to
/// rounding:
/// <list type="bullet">
/// <item><b>bilinear, align_corners=False</b>: scale = in/out; src = max(scale·(dst + 0.5) − 0.5, 0);
/// i0 = ⌊src⌋, i1 = min(i0 + 1, in − 1), λ1 = src − i0, λ0 = 1 − λ1; out = λ0h·(λ0w·a + λ1w·b) + λ1h·(λ0w·c + λ1w·d).
/// Equal sizes copy. No antialiasing (PyTorch's default).</item>
/// <item><b>nearest</b> (PyTorch's legacy 'nearest', for labels): src = min(⌊dst·scale⌋, in − 1) with float32
/// scale = in/out (out = 2·in uses dst &gt;&gt; 1, equal sizes copy, as PyTorch does).</item>
/// </list>
/// Resizing back to the original size uses the same functions with the original size as target.
/// </summary>
public static class Resize2D
{
    /// <summary>Bilinear resize (align_corners=False) of a float slice to outRows × outCols.</summary>
    public static float[,] Bilinear(float[,] src, int outRows, int outCols)
    {
        int inH = src.GetLength(0), inW = src.GetLength(1);
        CheckSizes(inH, inW, outRows, outCols);
        var flat = BilinearPlanes(System.Runtime.InteropServices.MemoryMarshal.CreateReadOnlySpan(ref src[0, 0], src.Length), 1, inH, inW, outRows, outCols);
        var dst = new float[outRows, outCols];
        flat.AsSpan().CopyTo(System.Runtime.InteropServices.MemoryMarshal.CreateSpan(ref dst[0, 0], dst.Length));
        return dst;
    }

    /// <summary>Bilinear resize of each channel of a [C, H, W] array (e.g. class probabilities back to native size).</summary>
    public static float[,,] Bilinear(float[,,] src, int outRows, int outCols)
    {
        int c = src.GetLength(0), inH = src.GetLength(1), inW = src.GetLength(2);
        CheckSizes(inH, inW, outRows, outCols);
        var flat = BilinearPlanes(System.Runtime.InteropServices.MemoryMarshal.CreateReadOnlySpan(ref src[0, 0, 0], src.Length), c, inH, inW, outRows, outCols);
        var dst = new float[c, outRows, outCols];
        flat.AsSpan().CopyTo(System.Runtime.InteropServices.MemoryMarshal.CreateSpan(ref dst[0, 0, 0], dst.Length));
        return dst;
    }

    /// <summary>Bilinear resize of <paramref name="planes"/> consecutive planes, stored one after the other (row-major): the one bilinear
    /// kernel of the project (the 2-D overloads, the training pipeline and volume prediction use it).</summary>
    public static float[] BilinearPlanes(ReadOnlySpan<float> src, int planes, int inH, int inW, int outH, int outW)
    {
        if (src.Length != planes * inH * inW) throw new ArgumentException($"{src.Length} values for {planes} planes of {inH}×{inW}");
        var dst = new float[planes * outH * outW];
        if (inH == outH && inW == outW) { src.CopyTo(dst); return dst; }
        var (h0, h1, lh0, lh1) = LinearWeights(inH, outH);
        var (w0, w1, lw0, lw1) = LinearWeights(inW, outW);
        for (int p = 0; p < planes; p++)
        {
            var a = src.Slice(p * inH * inW, inH * inW);
            int ob = p * outH * outW;
            for (int y = 0; y < outH; y++)
            {
                int r0 = h0[y] * inW, r1 = h1[y] * inW;
                float wy0 = lh0[y], wy1 = lh1[y];
                for (int x = 0; x < outW; x++)
                {
                    float t0 = a[r0 + w0[x]] * lw0[x];
                    t0 += a[r0 + w1[x]] * lw1[x];
                    float t1 = a[r1 + w0[x]] * lw0[x];
                    t1 += a[r1 + w1[x]] * lw1[x];
                    float o = t0 * wy0;
                    o += t1 * wy1;
                    dst[ob + y * outW + x] = o;
                }
            }
        }
        return dst;
    }

    /// <summary>Nearest-neighbour resize (PyTorch 'nearest') of any element type, e.g. label slices.</summary>
    public static T[,] Nearest<T>(T[,] src, int outRows, int outCols)
    {
        int inH = src.GetLength(0), inW = src.GetLength(1);
        CheckSizes(inH, inW, outRows, outCols);
        var ys = NearestIndices(inH, outRows);
        var xs = NearestIndices(inW, outCols);
        var dst = new T[outRows, outCols];
        for (int y = 0; y < outRows; y++)
            for (int x = 0; x < outCols; x++) dst[y, x] = src[ys[y], xs[x]];
        return dst;
    }

    /// <summary>Source index for each destination index under PyTorch's 'nearest'.</summary>
    public static int[] NearestIndices(int inSize, int outSize)
    {
        var r = new int[outSize];
        float scale = (float)inSize / outSize;
        for (int o = 0; o < outSize; o++)
        {
            if (outSize == inSize) r[o] = o;
            else if (outSize == 2 * inSize) r[o] = o >> 1;
            else r[o] = Math.Min((int)MathF.Floor(o * scale), inSize - 1);
        }
        return r;
    }

    /// <summary>Source indices and weights for each destination index under bilinear, align_corners=False.</summary>
    public static (int[] I0, int[] I1, float[] L0, float[] L1) LinearWeights(int inSize, int outSize)
    {
        var i0 = new int[outSize]; var i1 = new int[outSize];
        var l0 = new float[outSize]; var l1 = new float[outSize];
        float scale = (float)inSize / outSize;
        for (int o = 0; o < outSize; o++)
        {
            if (outSize == inSize) { i0[o] = o; i1[o] = o; l0[o] = 1; l1[o] = 0; continue; }
            float real = scale * (o + 0.5f) - 0.5f;
            if (real < 0) real = 0;
            int a = (int)real;
            i0[o] = a;
            i1[o] = a + (a < inSize - 1 ? 1 : 0);
            float lam = Math.Clamp(real - a, 0f, 1f);
            l1[o] = lam;
            l0[o] = 1f - lam;
        }
        return (i0, i1, l0, l1);
    }

    private static void CheckSizes(int inH, int inW, int outH, int outW)
    {
        if (inH < 1 || inW < 1) throw new ArgumentException($"cannot resize an empty {inH}×{inW} slice");
        if (outH < 1 || outW < 1) throw new ArgumentOutOfRangeException(nameof(outH), $"target size must be positive, got {outH}×{outW}");
    }
}
