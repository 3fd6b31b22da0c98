namespace SamAdapt.Sam.Automatic;

/// <summary>Connectivity for connected-component labelling.</summary>
public enum Connectivity
{
    /// <summary>Edge neighbours only.</summary>
    Four = 4,
    /// <summary>Edge and corner neighbours (what the reference uses, via OpenCV).</summary>
    Eight = 8,
}

/// <summary>Which small regions <see cref="AmgUtils.RemoveSmallRegions"/> removes.</summary>
public enum SmallRegionMode
{
    /// <summary>Fill background components smaller than the area threshold.</summary>
    Holes,
    /// <summary>Drop foreground components smaller than the area threshold (keeping the largest if all are small).</summary>
    Islands,
}

public static partial class AmgUtils
{
    /// <summary>
    /// Stability score of one mask's logits: the IoU between the masks thresholded at
    /// <c>maskThreshold + offset</c> and <c>maskThreshold − offset</c>, i.e.
    /// <c>count(logit &gt; thr + offset) / count(logit &gt; thr − offset)</c>. Counts are integers; the quotient is taken
    /// in float32 like the reference's int/int tensor division (0/0 gives NaN). The thresholds are computed in float64
    /// and compared in float32, as a Python-scalar comparison with a float32 tensor is.
    /// </summary>
    public static float StabilityScore(ReadOnlySpan<float> logits, double maskThreshold, double offset)
    {
        float hi = (float)(maskThreshold + offset), lo = (float)(maskThreshold - offset);
        long inter = 0, union = 0;
        foreach (var v in logits)
        {
            if (v > hi) inter++;
            if (v > lo) union++;
        }
        return (float)inter / (float)union;
    }

    /// <summary>
    /// <see cref="StabilityScore(ReadOnlySpan{float}, double, double)"/> for <paramref name="count"/> masks stored one after
    /// the other (each <c>logits.Length / count</c> values).
    /// </summary>
    public static float[] StabilityScores(ReadOnlySpan<float> logits, int count, double maskThreshold, double offset)
    {
        int plane = PlaneSize(logits.Length, count);
        var r = new float[count];
        for (int i = 0; i < count; i++) r[i] = StabilityScore(logits.Slice(i * plane, plane), maskThreshold, offset);
        return r;
    }

    /// <summary>
    /// The tight box of a binary mask as (min x, min y, max x, max y) — inclusive pixel coordinates, as the reference's
    /// <c>batched_mask_to_box</c> returns. An empty mask gives [0, 0, 0, 0].
    /// </summary>
    public static IntBox MaskToBox(ReadOnlySpan<bool> mask, int height, int width)
    {
        CheckMask(mask.Length, height, width);
        int x0 = int.MaxValue, y0 = int.MaxValue, x1 = -1, y1 = -1;
        for (int y = 0; y < height; y++)
        {
            var row = mask.Slice(y * width, width);
            int first = row.IndexOf(true);
            if (first < 0) continue;
            int last = row.LastIndexOf(true);
            if (y0 == int.MaxValue) y0 = y;
            y1 = y;
            if (first < x0) x0 = first;
            if (last > x1) x1 = last;
        }
        return x1 < 0 ? new IntBox(0, 0, 0, 0) : new IntBox(x0, y0, x1, y1);
    }

    /// <summary><see cref="MaskToBox"/> for <paramref name="count"/> consecutive H×W masks.</summary>
    public static IntBox[] MasksToBoxes(ReadOnlySpan<bool> masks, int count, int height, int width)
    {
        int plane = PlaneSize(masks.Length, count);
        if (plane != height * width) throw new ArgumentException($"{count} masks of {height}x{width} need {(long)count * height * width} values, found {masks.Length}");
        var r = new IntBox[count];
        for (int i = 0; i < count; i++) r[i] = MaskToBox(masks.Slice(i * plane, plane), height, width);
        return r;
    }

    /// <summary>Binarises logits: <c>logit &gt; threshold</c> (strict; the reference's mask threshold is 0.0).</summary>
    public static bool[] Binarize(ReadOnlySpan<float> logits, float threshold = 0.0f)
    {
        var r = new bool[logits.Length];
        for (int i = 0; i < r.Length; i++) r[i] = logits[i] > threshold;
        return r;
    }

    /// <summary>
    /// Places a crop's mask into an all-false mask of the original image size at the crop's origin
    /// (the reference's <c>uncrop_masks</c> zero padding). A crop covering the whole image returns a copy.
    /// </summary>
    public static bool[] UncropMask(ReadOnlySpan<bool> mask, IntBox cropBox, int origH, int origW)
    {
        int h = cropBox.Height, w = cropBox.Width;
        CheckMask(mask.Length, h, w);
        if (cropBox.X0 < 0 || cropBox.Y0 < 0 || cropBox.X1 > origW || cropBox.Y1 > origH)
            throw new ArgumentException($"crop box {cropBox} lies outside the {origH}x{origW} image", nameof(cropBox));
        var r = new bool[origH * origW];
        for (int y = 0; y < h; y++)
            mask.Slice(y * w, w).CopyTo(r.AsSpan((y + cropBox.Y0) * origW + cropBox.X0, w));
        return r;
    }

    /// <summary>
    /// Removes small disconnected regions (the reference's <c>remove_small_regions</c>, which uses OpenCV with
    /// 8-connectivity). <see cref="SmallRegionMode.Holes"/>: background components (8-connected, including ones touching
    /// the border) with area &lt; <paramref name="areaThreshold"/> become foreground. <see cref="SmallRegionMode.Islands"/>:
    /// foreground components with area &lt; <paramref name="areaThreshold"/> are dropped; if every island is small, the
    /// largest is kept (ties: the component whose first pixel comes first in row-major order).
    /// </summary>
    /// <returns>The new mask and whether any region was small (if not, the mask is returned as an unchanged copy).</returns>
    public static (bool[] Mask, bool Modified) RemoveSmallRegions(ReadOnlySpan<bool> mask, int height, int width, double areaThreshold,
        SmallRegionMode mode, Connectivity connectivity = Connectivity.Eight)
    {
        CheckMask(mask.Length, height, width);
        bool holes = mode == SmallRegionMode.Holes;
        var working = new bool[mask.Length];
        for (int i = 0; i < working.Length; i++) working[i] = holes ^ mask[i];
        var (labels, sizes) = LabelComponents(working, height, width, connectivity);
        // sizes[0] is unused (label 0 = pixels where working is false)
        var small = new bool[sizes.Length];
        bool anySmall = false;
        for (int l = 1; l < sizes.Length; l++)
            if (sizes[l] < areaThreshold) { small[l] = true; anySmall = true; }
        if (!anySmall) return (mask.ToArray(), false);

        var fill = new bool[sizes.Length];
        if (holes)
        {
            fill[0] = true;
            for (int l = 1; l < sizes.Length; l++) fill[l] = small[l];
        }
        else
        {
            bool any = false;
            for (int l = 1; l < sizes.Length; l++) { fill[l] = !small[l]; any |= fill[l]; }
            if (!any)
            {
                int best = 1;
                for (int l = 2; l < sizes.Length; l++) if (sizes[l] > sizes[best]) best = l;
                fill[best] = true;
            }
        }
        var r = new bool[mask.Length];
        for (int i = 0; i < r.Length; i++) r[i] = fill[labels[i]];
        return (r, true);
    }

    /// <summary>
    /// Labels the connected components of the true pixels: label 0 is the false pixels, components are numbered 1, 2, …
    /// in the row-major order of their first pixel. Returns the label image and the pixel count per label.
    /// </summary>
    public static (int[] Labels, long[] Sizes) LabelComponents(ReadOnlySpan<bool> mask, int height, int width, Connectivity connectivity = Connectivity.Eight)
    {
        CheckMask(mask.Length, height, width);
        int n = mask.Length;
        // union-find over pixel indices; the root is always the smallest index of the set (its first pixel in raster order)
        var parent = new int[n];
        for (int i = 0; i < n; i++) parent[i] = i;
        bool eight = connectivity == Connectivity.Eight;
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int i = y * width + x;
                if (!mask[i]) continue;
                if (x > 0 && mask[i - 1]) Union(parent, i, i - 1);
                if (y > 0)
                {
                    int up = i - width;
                    if (mask[up]) Union(parent, i, up);
                    if (eight)
                    {
                        if (x > 0 && mask[up - 1]) Union(parent, i, up - 1);
                        if (x + 1 < width && mask[up + 1]) Union(parent, i, up + 1);
                    }
                }
            }
        var labels = new int[n];
        var rootLabel = new Dictionary<int, int>();
        var sizes = new List<long> { 0 };
        for (int i = 0; i < n; i++)
        {
            if (!mask[i]) { sizes[0]++; continue; }
            int root = Find(parent, i);
            if (!rootLabel.TryGetValue(root, out int l))
            {
                l = sizes.Count;
                rootLabel[root] = l;
                sizes.Add(0);
            }
            labels[i] = l;
            sizes[l]++;
        }
        return (labels, sizes.ToArray());

        static int Find(int[] p, int i)
        {
            while (p[i] != i)
            {
                p[i] = p[p[i]];
                i = p[i];
            }
            return i;
        }

        static void Union(int[] p, int a, int b)
        {
            int ra = Find(p, a), rb = Find(p, b);
            if (ra == rb) return;
            if (ra < rb) p[rb] = ra; else p[ra] = rb;
        }
    }

    private static void CheckMask(int length, int height, int width)
    {
        if (height < 0 || width < 0) throw new ArgumentOutOfRangeException(nameof(height), $"negative mask size {height}x{width}");
        if (length != (long)height * width) throw new ArgumentException($"mask has {length} values, {height}x{width} needs {(long)height * width}");
    }

    private static int PlaneSize(int length, int count)
    {
        if (count <= 0) throw new ArgumentOutOfRangeException(nameof(count), "count must be positive");
        if (length % count != 0) throw new ArgumentException($"{length} values do not split into {count} equal masks");
        return length / count;
    }
}
