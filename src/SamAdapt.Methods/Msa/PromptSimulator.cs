namespace SamAdapt.Methods.Msa;

/// <summary>A click in SAM's (x, y) frame: x = column, y = row (pixel centres at integer coordinates); label 1 positive, 0 negative.</summary>
public readonly record struct Click(float X, float Y, int Label);

/// <summary>An XYXY box in SAM's frame (x = column), corners on pixel centres.</summary>
public readonly record struct PromptBox(float X0, float Y0, float X1, float Y1)
{
    public float[] ToArray() => [X0, Y0, X1, Y1];
}

/// <summary>A binary mask, row-major (H, W).</summary>
public sealed record BinaryMask(bool[] Data, int Height, int Width)
{
    public bool this[int row, int col] => Data[row * Width + col];
    public int Count => Data.Count(v => v);
    public bool IsEmpty => !Data.Any(v => v);

    public static BinaryMask FromLabels(ReadOnlySpan<long> labels, int height, int width, long value)
    {
        var d = new bool[height * width];
        for (int i = 0; i < d.Length; i++) d[i] = labels[i] == value;
        return new BinaryMask(d, height, width);
    }
}

/// <summary>
/// Prompt simulation from a ground-truth mask (docs/methods/msa.md, "Prompt simulation"), in the mask's own pixel frame as SAM (x, y):
/// random positive clicks inside the target, negative clicks outside it, boxes from the mask with jitter or a chosen IoU with the tight
/// box, and the next click of interactive segmentation at the centre of the largest error region. <see cref="ToModelFrame(Click, int, int, int)"/>
/// rescales to the S×S model input. Deterministic for a given <see cref="Random"/>.
/// </summary>
public static class PromptSimulator
{
    /// <summary>A click on a uniformly drawn foreground pixel, or null for an empty mask.</summary>
    public static Click? PositiveClick(BinaryMask mask, Random rng) => ClickOn(mask, rng, want: true, label: 1);

    /// <summary>A click on a uniformly drawn background pixel (label 0), or null when the mask covers everything.</summary>
    public static Click? NegativeClick(BinaryMask mask, Random rng) => ClickOn(mask, rng, want: false, label: 0);

    private static Click? ClickOn(BinaryMask mask, Random rng, bool want, int label)
    {
        int n = mask.Data.Count(v => v == want);
        if (n == 0) return null;
        int k = rng.Next(n);
        for (int i = 0; i < mask.Data.Length; i++)
            if (mask.Data[i] == want && k-- == 0) return new Click(i % mask.Width, i / mask.Width, label);
        return null;
    }

    /// <summary><paramref name="positives"/> positive and <paramref name="negatives"/> negative clicks (fewer when the mask runs out).</summary>
    public static List<Click> Clicks(BinaryMask mask, int positives, int negatives, Random rng)
    {
        var list = new List<Click>();
        for (int i = 0; i < positives; i++) if (PositiveClick(mask, rng) is { } c) list.Add(c);
        for (int i = 0; i < negatives; i++) if (NegativeClick(mask, rng) is { } c) list.Add(c);
        return list;
    }

    /// <summary>The tight box of the foreground (corners on the extreme pixels' centres), or null for an empty mask.</summary>
    public static PromptBox? TightBox(BinaryMask mask)
    {
        int r0 = int.MaxValue, c0 = int.MaxValue, r1 = -1, c1 = -1;
        for (int r = 0; r < mask.Height; r++)
            for (int c = 0; c < mask.Width; c++)
                if (mask[r, c])
                {
                    r0 = Math.Min(r0, r); r1 = Math.Max(r1, r);
                    c0 = Math.Min(c0, c); c1 = Math.Max(c1, c);
                }
        return r1 < 0 ? null : new PromptBox(c0, r0, c1, r1);
    }

    /// <summary>
    /// The tight box with each side moved independently by a uniform amount in ±<paramref name="jitter"/> × the box's side length (MedSAM-style
    /// training boxes), clipped to the image and kept non-degenerate.
    /// </summary>
    public static PromptBox? JitteredBox(BinaryMask mask, double jitter, Random rng)
    {
        if (TightBox(mask) is not { } b) return null;
        double w = b.X1 - b.X0 + 1, h = b.Y1 - b.Y0 + 1;
        double J(double side) => (rng.NextDouble() * 2 - 1) * jitter * side;
        double x0 = b.X0 + J(w), x1 = b.X1 + J(w), y0 = b.Y0 + J(h), y1 = b.Y1 + J(h);
        x0 = Math.Clamp(x0, 0, mask.Width - 1); x1 = Math.Clamp(x1, 0, mask.Width - 1);
        y0 = Math.Clamp(y0, 0, mask.Height - 1); y1 = Math.Clamp(y1, 0, mask.Height - 1);
        if (x1 < x0) (x0, x1) = (x1, x0);
        if (y1 < y0) (y0, y1) = (y1, y0);
        return new PromptBox((float)x0, (float)y0, (float)x1, (float)y1);
    }

    /// <summary>
    /// A box that contains the tight box and has IoU <paramref name="iou"/> with it (the paper's "BBox 0.5 / 0.75"): both sides grow by the
    /// factor √(1/iou), the extra split randomly between the two ends; clipping at the image border can only raise the IoU.
    /// </summary>
    public static PromptBox? BoxWithIoU(BinaryMask mask, double iou, Random rng)
    {
        if (!(iou > 0 && iou <= 1)) throw new ArgumentOutOfRangeException(nameof(iou), $"box IoU must be in (0, 1], got {iou}");
        if (TightBox(mask) is not { } b) return null;
        double w = b.X1 - b.X0 + 1, h = b.Y1 - b.Y0 + 1, g = Math.Sqrt(1 / iou) - 1;
        double ew = w * g, eh = h * g, uw = rng.NextDouble(), uh = rng.NextDouble();
        double x0 = Math.Max(0, b.X0 - ew * uw), x1 = Math.Min(mask.Width - 1, b.X1 + ew * (1 - uw));
        double y0 = Math.Max(0, b.Y0 - eh * uh), y1 = Math.Min(mask.Height - 1, b.Y1 + eh * (1 - uh));
        return new PromptBox((float)x0, (float)y0, (float)x1, (float)y1);
    }

    /// <summary>
    /// The next click of interactive segmentation: the largest 4-connected region of false negatives or false positives of
    /// <paramref name="prediction"/> against <paramref name="truth"/>, clicked at its centre (the pixel farthest from the region's border,
    /// first in row-major order on ties); positive for a missed region, negative for a spurious one. Null when the prediction is exact.
    /// </summary>
    public static Click? NextClick(BinaryMask truth, BinaryMask prediction)
    {
        if (LargestError(truth, prediction) is not { } error) return null;
        var (region, _, positive) = error;
        int centre = InnermostPixel(region, truth.Height, truth.Width);
        return new Click(centre % truth.Width, centre / truth.Width, positive ? 1 : 0);
    }

    /// <summary>
    /// A training variant of <see cref="NextClick"/>: a uniformly drawn pixel of the same largest error region (positive for a miss,
    /// negative for a spurious region), so corrections are not always at the region's centre. Null when the prediction is exact.
    /// </summary>
    public static Click? RandomErrorClick(BinaryMask truth, BinaryMask prediction, Random rng)
    {
        if (LargestError(truth, prediction) is not { } error) return null;
        var (region, size, positive) = error;
        int k = rng.Next(size), w = truth.Width;
        for (int i = 0; i < region.Length; i++)
            if (region[i] && k-- == 0) return new Click(i % w, i / w, positive ? 1 : 0);
        return null;
    }

    /// <summary>The largest 4-connected region of false negatives or of false positives (the larger of the two; misses win ties),
    /// its size and whether it is a miss; null when the prediction is exact.</summary>
    private static (bool[] Region, int Size, bool Positive)? LargestError(BinaryMask truth, BinaryMask prediction)
    {
        if (truth.Height != prediction.Height || truth.Width != prediction.Width)
            throw new ArgumentException($"truth {truth.Height}×{truth.Width} and prediction {prediction.Height}×{prediction.Width} differ in size");
        int h = truth.Height, w = truth.Width, n = h * w;
        var fn = new bool[n];
        var fp = new bool[n];
        for (int i = 0; i < n; i++) { fn[i] = truth.Data[i] && !prediction.Data[i]; fp[i] = !truth.Data[i] && prediction.Data[i]; }
        var (fnRegion, fnSize) = LargestComponent(fn, h, w);
        var (fpRegion, fpSize) = LargestComponent(fp, h, w);
        if (fnSize == 0 && fpSize == 0) return null;
        return fnSize >= fpSize ? (fnRegion, fnSize, true) : (fpRegion, fpSize, false);
    }

    /// <summary>The largest 4-connected component of <paramref name="m"/> as a mask, and its size.</summary>
    public static (bool[] Region, int Size) LargestComponent(bool[] m, int h, int w)
    {
        var label = new int[m.Length];
        int best = 0, bestSize = 0, next = 0;
        var stack = new Stack<int>();
        for (int s = 0; s < m.Length; s++)
        {
            if (!m[s] || label[s] != 0) continue;
            next++;
            int size = 0;
            label[s] = next;
            stack.Push(s);
            while (stack.Count > 0)
            {
                int p = stack.Pop();
                size++;
                int r = p / w, c = p % w;
                void Visit(int q) { if (m[q] && label[q] == 0) { label[q] = next; stack.Push(q); } }
                if (r > 0) Visit(p - w);
                if (r < h - 1) Visit(p + w);
                if (c > 0) Visit(p - 1);
                if (c < w - 1) Visit(p + 1);
            }
            if (size > bestSize) (best, bestSize) = (next, size);
        }
        var region = new bool[m.Length];
        for (int i = 0; i < m.Length; i++) region[i] = label[i] == best && best != 0;
        return (region, bestSize);
    }

    /// <summary>The region pixel with the largest city-block distance to the nearest pixel outside it (the image border counts as outside).</summary>
    private static int InnermostPixel(bool[] region, int h, int w)
    {
        const int Inf = int.MaxValue / 4;
        var d = new int[region.Length];
        for (int i = 0; i < d.Length; i++) d[i] = region[i] ? Inf : 0;
        for (int r = 0; r < h; r++)
            for (int c = 0; c < w; c++)
            {
                int i = r * w + c;
                if (d[i] == 0) continue;
                int up = r > 0 ? d[i - w] : 0, left = c > 0 ? d[i - 1] : 0;
                d[i] = Math.Min(d[i], Math.Min(up, left) + 1);
            }
        for (int r = h - 1; r >= 0; r--)
            for (int c = w - 1; c >= 0; c--)
            {
                int i = r * w + c;
                if (d[i] == 0) continue;
                int down = r < h - 1 ? d[i + w] : 0, right = c < w - 1 ? d[i + 1] : 0;
                d[i] = Math.Min(d[i], Math.Min(down, right) + 1);
            }
        int best = -1;
        for (int i = 0; i < d.Length; i++) if (region[i] && (best < 0 || d[i] > d[best])) best = i;
        return best;
    }

    /// <summary>
    /// A seed for <see cref="Random"/> from several integers, the same in every process (SplitMix64 finalizer over the parts; unlike
    /// <see cref="HashCode.Combine{T1, T2}"/>, which .NET randomises per process, so seeded prompts would differ between runs).
    /// </summary>
    public static int StableSeed(params long[] parts)
    {
        ulong h = 0x9E3779B97F4A7C15UL;
        foreach (var p in parts)
        {
            h ^= unchecked((ulong)p);
            h = unchecked((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9UL);
            h = unchecked((h ^ (h >> 27)) * 0x94D049BB133111EBUL);
            h ^= h >> 31;
        }
        return (int)(h & 0x7FFFFFFF);
    }

    /// <summary>
    /// A click of an H×W image in the S×S model input the image is resized to: pixel centres map to pixel centres,
    /// x' = (x + 0.5)·S/W − 0.5 and y' = (y + 0.5)·S/H − 0.5 (x scales with the width, y with the height).
    /// </summary>
    public static Click ToModelFrame(Click c, int height, int width, int size) =>
        new(Scale(c.X, width, size), Scale(c.Y, height, size), c.Label);

    /// <summary>A box of an H×W image in the S×S model input (corners mapped like clicks).</summary>
    public static PromptBox ToModelFrame(PromptBox b, int height, int width, int size) =>
        new(Scale(b.X0, width, size), Scale(b.Y0, height, size), Scale(b.X1, width, size), Scale(b.Y1, height, size));

    private static float Scale(float v, int from, int to) => (float)((v + 0.5) * to / from - 0.5);
}
