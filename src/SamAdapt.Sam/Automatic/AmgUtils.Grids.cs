namespace SamAdapt.Sam.Automatic;

/// <summary>
/// Tensor-free utilities of SAM's automatic mask generator (reference <c>utils/amg.py</c>, docs/sam.md §4.4):
/// point grids, crop boxes, stability score, mask boxes, box NMS, crop-edge filtering, uncropping, RLE and
/// small-region removal. Masks are row-major H×W spans (<c>bool</c>, or <c>float</c> logits); boxes are XYXY.
/// </summary>
public static partial class AmgUtils
{
    /// <summary>
    /// An n×n grid of points in [0, 1]², evenly spaced and inset by half a cell: coordinates along one side are
    /// <c>linspace(1/(2n), 1 − 1/(2n), n)</c> (NumPy's formula: <c>start + i·step</c>, the last one exactly <c>stop</c>).
    /// Row-major with y outer; returned interleaved as x0, y0, x1, y1, … (n² points, float64).
    /// </summary>
    public static double[] BuildPointGrid(int nPerSide)
    {
        if (nPerSide <= 0) throw new ArgumentOutOfRangeException(nameof(nPerSide), "points per side must be positive");
        double offset = 1.0 / (2 * nPerSide);
        var side = Linspace(offset, 1 - offset, nPerSide);
        var r = new double[nPerSide * nPerSide * 2];
        int k = 0;
        for (int y = 0; y < nPerSide; y++)
            for (int x = 0; x < nPerSide; x++)
            {
                r[k++] = side[x];
                r[k++] = side[y];
            }
        return r;
    }

    /// <summary>
    /// One grid per crop layer: layer i has <c>int(nPerSide / scalePerLayer^i)</c> points per side.
    /// </summary>
    public static double[][] BuildAllLayerPointGrids(int nPerSide, int nLayers, int scalePerLayer)
    {
        if (nLayers < 0) throw new ArgumentOutOfRangeException(nameof(nLayers));
        var grids = new double[nLayers + 1][];
        for (int i = 0; i <= nLayers; i++)
            grids[i] = BuildPointGrid((int)(nPerSide / Math.Pow(scalePerLayer, i)));
        return grids;
    }

    /// <summary>
    /// NumPy <c>linspace(start, stop, num)</c> with endpoint: <c>step = (stop − start)/(num − 1)</c>, value i is
    /// <c>i·step + start</c> (two roundings, no FMA) and the last value is exactly <c>stop</c>; num = 1 gives [start].
    /// </summary>
    public static double[] Linspace(double start, double stop, int num)
    {
        if (num < 0) throw new ArgumentOutOfRangeException(nameof(num));
        var r = new double[num];
        if (num == 0) return r;
        int div = num - 1;
        double delta = stop - start;
        if (div > 0)
        {
            double step = delta / div;
            if (step == 0)
                for (int i = 0; i < num; i++) r[i] = i / (double)div * delta + start;
            else
                for (int i = 0; i < num; i++) r[i] = i * step + start;
            r[num - 1] = stop;
        }
        else
        {
            r[0] = 0 * delta + start;
        }
        return r;
    }

    /// <summary>
    /// The crop boxes of the multi-layer crop scheme, in order, with their layer index. Layer 0 is the whole image.
    /// Layer i ≥ 1 has 2^i crops per side: <c>overlap = int(overlapRatio · shortSide · (2 / nCrops))</c>, crop length
    /// <c>ceil((overlap·(nCrops − 1) + len) / nCrops)</c>, crop origins <c>(cropLen − overlap)·j</c>, and boxes
    /// clipped to the image; they are listed with x origin outer and y origin inner.
    /// <para>Note: only the defaults (crop_n_layers = 0, overlap ratio 512/1500) are exercised (docs/sam.md §4.4); this layer scheme
    /// follows the reference generator's documented behaviour but is not covered by a reference fixture.</para>
    /// </summary>
    public static (IntBox[] Boxes, int[] LayerIndices) GenerateCropBoxes(int imageH, int imageW, int nLayers, double overlapRatio)
    {
        if (imageH <= 0 || imageW <= 0) throw new ArgumentOutOfRangeException(nameof(imageH), "image size must be positive");
        if (nLayers < 0) throw new ArgumentOutOfRangeException(nameof(nLayers));
        var boxes = new List<IntBox> { new(0, 0, imageW, imageH) };
        var layers = new List<int> { 0 };
        int shortSide = Math.Min(imageH, imageW);
        for (int layer = 0; layer < nLayers; layer++)
        {
            int nCrops = 1 << (layer + 1);
            int overlap = (int)(overlapRatio * shortSide * (2.0 / nCrops));
            int cropW = CropLength(imageW, nCrops, overlap);
            int cropH = CropLength(imageH, nCrops, overlap);
            for (int i = 0; i < nCrops; i++)
            {
                int x0 = (cropW - overlap) * i;
                for (int j = 0; j < nCrops; j++)
                {
                    int y0 = (cropH - overlap) * j;
                    boxes.Add(new IntBox(x0, y0, Math.Min(x0 + cropW, imageW), Math.Min(y0 + cropH, imageH)));
                    layers.Add(layer + 1);
                }
            }
        }
        return (boxes.ToArray(), layers.ToArray());

        static int CropLength(int origLen, int nCrops, int overlap) =>
            (int)Math.Ceiling((overlap * (nCrops - 1) + origLen) / (double)nCrops);
    }

    /// <summary>
    /// Scales a normalised grid (x, y interleaved in [0, 1]) to pixel coordinates of a crop:
    /// <c>x·cropW</c>, <c>y·cropH</c> (float64), as the generator does before prompting.
    /// </summary>
    public static double[] ScalePointGrid(ReadOnlySpan<double> grid, IntBox cropBox)
    {
        if (grid.Length % 2 != 0) throw new ArgumentException("points come in (x, y) pairs", nameof(grid));
        var r = new double[grid.Length];
        double w = cropBox.Width, h = cropBox.Height;
        for (int i = 0; i < grid.Length; i += 2)
        {
            r[i] = grid[i] * w;
            r[i + 1] = grid[i + 1] * h;
        }
        return r;
    }
}
