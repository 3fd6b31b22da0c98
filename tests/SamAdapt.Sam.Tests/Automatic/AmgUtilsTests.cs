using System.Text.Json;
using SamAdapt.Sam.Automatic;
using SamAdapt.Tests;

namespace SamAdapt.Sam.Tests.Automatic;

public class AmgUtilsTests
{
    // ---- point grids ----

    [Fact]
    public void PointGridSmallCases()
    {
        Assert.Equal([0.5, 0.5], AmgUtils.BuildPointGrid(1));
        Assert.Equal([0.25, 0.25, 0.75, 0.25, 0.25, 0.75, 0.75, 0.75], AmgUtils.BuildPointGrid(2));
        var g = AmgUtils.BuildPointGrid(32);
        Assert.Equal(32 * 32 * 2, g.Length);
        Assert.Equal((1 / 64.0, 1 / 64.0), (g[0], g[1]));
        Assert.Equal((1 / 64.0 + (1 - 1 / 32.0) / 31, 1 / 64.0), (g[2], g[3])); // second point: x advances, y fixed (y outer)
        Assert.Equal((1 / 64.0, g[65]), (g[64], g[65]));                        // point 32 starts the second row
        Assert.Equal((1 - 1 / 64.0, 1 - 1 / 64.0), (g[^2], g[^1]));             // endpoint exactly stop
    }

    [Fact]
    public void PointGridMatchesNumpyBitForBit()
    {
        DebianPython.RequireNumpy();
        int[] ns = [1, 2, 3, 4, 5, 7, 16, 32, 64, 100];
        var output = DebianPython.Run("""
            import sys, json, numpy as np
            out = []
            for n in map(int, sys.argv[1:]):
                offset = 1 / (2 * n)
                side = np.linspace(offset, 1 - offset, n)
                xs = np.tile(side[None, :], (n, 1))
                ys = np.tile(side[:, None], (1, n))
                pts = np.stack([xs, ys], axis=-1).reshape(-1, 2)
                out.append([v.hex() for v in pts.ravel().tolist()])
            print(json.dumps(out))
            """, ns.Select(n => n.ToString()).ToArray());
        var res = JsonDocument.Parse(output).RootElement;
        for (int i = 0; i < ns.Length; i++)
        {
            var g = AmgUtils.BuildPointGrid(ns[i]);
            var e = res[i].EnumerateArray().Select(v => ResizeLongestSideTests.ParseHex(v.GetString()!)).ToArray();
            Assert.Equal(e, g);
        }
    }

    [Fact]
    public void LayerGridsAndScaling()
    {
        var grids = AmgUtils.BuildAllLayerPointGrids(32, 2, 2);
        Assert.Equal([32 * 32 * 2, 16 * 16 * 2, 8 * 8 * 2], grids.Select(g => g.Length));
        Assert.Equal([0.5 * 150, 0.5 * 100], AmgUtils.ScalePointGrid(AmgUtils.BuildPointGrid(1), new IntBox(10, 20, 160, 120)));
    }

    [Fact]
    public void CropBoxes()
    {
        var (b0, l0) = AmgUtils.GenerateCropBoxes(1000, 1500, 0, 512 / 1500.0);
        Assert.Equal([new IntBox(0, 0, 1500, 1000)], b0);
        Assert.Equal([0], l0);
        // layer 1: 2x2 crops; overlap = int(512/1500*1000*1) = 341; crop w = ceil((341+1500)/2) = 921, h = ceil((341+1000)/2) = 671
        // origins x: 0, 580; y: 0, 330; x outer, y inner; clipped to the image
        var (b1, l1) = AmgUtils.GenerateCropBoxes(1000, 1500, 1, 512 / 1500.0);
        Assert.Equal(
            [
                new IntBox(0, 0, 1500, 1000),
                new IntBox(0, 0, 921, 671), new IntBox(0, 330, 921, 1000),
                new IntBox(580, 0, 1500, 671), new IntBox(580, 330, 1500, 1000),
            ], b1);
        Assert.Equal([0, 1, 1, 1, 1], l1);
        var (b2, l2) = AmgUtils.GenerateCropBoxes(1000, 1500, 2, 512 / 1500.0);
        Assert.Equal(1 + 4 + 16, b2.Length);
        Assert.Equal(16, l2.Count(l => l == 2));
        // layer 2: overlap = int(341.33 * 0.5) = 170; crop w = ceil((170*3+1500)/4) = 503 (2010/4 = 502.5); h = ceil(1510/4) = 378
        Assert.Equal(new IntBox(0, 0, 503, 378), b2[5]);
        Assert.Equal(new IntBox(0, 208, 503, 586), b2[6]);
        Assert.Equal(new IntBox(333 * 3, 208 * 3, 1500, 1000), b2[^1]);
        Assert.All(b2, b => Assert.True(b.X1 <= 1500 && b.Y1 <= 1000 && b.X0 < b.X1 && b.Y0 < b.Y1));
    }

    [Fact]
    public void LinspaceEdgeCases()
    {
        Assert.Empty(AmgUtils.Linspace(0, 1, 0));
        Assert.Equal([3.0], AmgUtils.Linspace(3, 7, 1));
        Assert.Equal([0.0, 0.25, 0.5, 0.75, 1.0], AmgUtils.Linspace(0, 1, 5));
        Assert.Equal([2.0, 2.0, 2.0], AmgUtils.Linspace(2, 2, 3));
    }

    // ---- stability score ----

    [Fact]
    public void StabilityScoreHandComputed()
    {
        // > +1: {2, 1.5} = 2 (1.0 is not > 1);  > -1: {2, .5, -.5, 1.5, 1.0} = 5  -> 0.4
        float[] l = [2f, 0.5f, -0.5f, 1.5f, -2f, 1.0f];
        Assert.Equal(0.4f, AmgUtils.StabilityScore(l, 0.0, 1.0));
        Assert.Equal(1.0f, AmgUtils.StabilityScore(l, 0.0, 0.0));
        Assert.True(float.IsNaN(AmgUtils.StabilityScore([-5f, -3f], 0.0, 1.0)));
        Assert.Equal([0.4f, 0.5f], AmgUtils.StabilityScores([2f, 0.5f, -0.5f, 1.5f, -2f, 1.0f, 3f, 0f, -3f, -3f, -3f, -3f], 2, 0.0, 1.0));
        // the quotient is float32(inter) / float32(union), like torch's int/int division
        var big = new float[16777219];
        Array.Fill(big, 0.5f);
        big.AsSpan(0, 16777217).Fill(2f);
        Assert.Equal(0.9999997615814209f, AmgUtils.StabilityScore(big, 0.0, 1.0));
    }

    // ---- mask boxes ----

    [Fact]
    public void MaskToBoxHandComputed()
    {
        // 4x5 mask, pixels at (x=1,y=1), (x=3,y=2)
        var m = new bool[20];
        m[1 * 5 + 1] = true;
        m[2 * 5 + 3] = true;
        Assert.Equal(new IntBox(1, 1, 3, 2), AmgUtils.MaskToBox(m, 4, 5));
        Assert.Equal(new IntBox(0, 0, 0, 0), AmgUtils.MaskToBox(new bool[20], 4, 5));
        var one = new bool[12];
        one[11] = true;
        Assert.Equal(new IntBox(3, 2, 3, 2), AmgUtils.MaskToBox(one, 3, 4));
        var all = Enumerable.Repeat(true, 12).ToArray();
        Assert.Equal(new IntBox(0, 0, 3, 2), AmgUtils.MaskToBox(all, 3, 4));
        Assert.Equal([new IntBox(3, 2, 3, 2), new IntBox(0, 0, 3, 2)], AmgUtils.MasksToBoxes([.. one, .. all], 2, 3, 4));
        Assert.Throws<ArgumentException>(() => AmgUtils.MaskToBox(new bool[11], 3, 4));
    }

    // ---- NMS ----

    [Fact]
    public void NmsHandComputed()
    {
        float[] boxes = [0, 0, 10, 10, 1, 1, 11, 11, 20, 20, 30, 30];
        float[] scores = [0.9f, 0.8f, 0.95f];
        // IoU(0,1) = 81 / (100 + 100 - 81) = 0.68
        Assert.Equal([2, 0, 1], AmgUtils.BoxNms(boxes, scores, 0.7));
        Assert.Equal([2, 0], AmgUtils.BoxNms(boxes, scores, 0.5));
        Assert.Empty(AmgUtils.BoxNms(ReadOnlySpan<float>.Empty, [], 0.7));

        // IoU exactly equal to the threshold is not suppressed (strict >)
        float[] half = [0, 0, 2, 1, 0, 0, 1, 1]; // inter 1, areas 2 and 1 -> 1 / 2 = 0.5
        Assert.Equal([0, 1], AmgUtils.BoxNms(half, [1f, 0.5f], 0.5));
        Assert.Equal([0], AmgUtils.BoxNms(half, [1f, 0.5f], 0.4999));
        // the float32 IoU 1/3 is compared with the float64 threshold: float(1/3) > 1/3 (double)
        float[] third = [0, 0, 2, 1, 1, 0, 3, 1];
        Assert.True((double)(1f / 3f) > 1.0 / 3.0);
        Assert.Equal([0], AmgUtils.BoxNms(third, [1f, 0.5f], 1.0 / 3.0));
        Assert.Equal([0, 1], AmgUtils.BoxNms(third, [1f, 0.5f], (double)(1f / 3f)));

        // equal scores: input order (stable); identical boxes suppress each other
        float[] same = [0, 0, 4, 4, 0, 0, 4, 4, 10, 10, 12, 12];
        Assert.Equal([0, 2], AmgUtils.BoxNms(same, [0.5f, 0.5f, 0.5f], 0.7));
        Assert.Equal([1, 2], AmgUtils.BoxNms(same, [0.5f, 0.6f, 0.5f], 0.7));
        // degenerate (zero-area) boxes: IoU 0/0 = NaN is never > threshold, so both stay
        Assert.Equal([0, 1], AmgUtils.BoxNms([1, 1, 1, 1, 1, 1, 1, 1], [1f, 0.5f], 0.7));
        // a suppressed box does not suppress others: 0 kills 1, 1 would have killed 2, 2 survives
        float[] chain = [0, 0, 10, 10, 2, 0, 12, 10, 4, 0, 14, 10];
        Assert.Equal([0, 2], AmgUtils.BoxNms(chain, [3f, 2f, 1f], 0.5));

        Assert.Equal([2, 0, 1], AmgUtils.BoxNms([new IntBox(0, 0, 10, 10), new IntBox(1, 1, 11, 11), new IntBox(20, 20, 30, 30)], scores, 0.7));
        Assert.Throws<ArgumentException>(() => AmgUtils.BoxNms(boxes, [1f], 0.7));
    }

    [Fact]
    public void NmsMatchesBruteForceOnRandomBoxes()
    {
        var rng = new Random(42);
        for (int trial = 0; trial < 200; trial++)
        {
            int n = rng.Next(0, 120);
            bool integer = trial % 2 == 0;
            var boxes = new float[n * 4];
            var scores = new float[n];
            for (int i = 0; i < n; i++)
            {
                float x0 = R(100), y0 = R(100), w = R(40), h = R(40);
                boxes[4 * i] = x0; boxes[4 * i + 1] = y0; boxes[4 * i + 2] = x0 + w; boxes[4 * i + 3] = y0 + h;
                scores[i] = trial % 3 == 0 ? rng.Next(0, 5) / 4f : (float)rng.NextDouble(); // many ties in some trials
            }
            double thr = new[] { 0.0, 0.3, 0.5, 0.7, 0.9, 1.0 }[trial % 6];
            Assert.Equal(BruteForceNms(boxes, scores, thr), AmgUtils.BoxNms(boxes, scores, thr));

            float R(int max) => integer ? rng.Next(0, max) : (float)(rng.NextDouble() * max);
        }
    }

    /// <summary>
    /// Reference NMS written differently: order by (score desc, index asc) with LINQ, then keep a box iff no already
    /// kept box overlaps it by more than the threshold (IoU in float32 with torchvision's formula).
    /// </summary>
    private static int[] BruteForceNms(float[] b, float[] s, double thr)
    {
        int n = s.Length;
        var order = Enumerable.Range(0, n).OrderByDescending(i => s[i]).ThenBy(i => i).ToArray();
        var kept = new List<int>();
        foreach (var j in order)
        {
            bool ok = true;
            foreach (var i in kept)
            {
                float ai = (b[4 * i + 2] - b[4 * i]) * (b[4 * i + 3] - b[4 * i + 1]);
                float aj = (b[4 * j + 2] - b[4 * j]) * (b[4 * j + 3] - b[4 * j + 1]);
                float iw = MathF.Max(0, MathF.Min(b[4 * i + 2], b[4 * j + 2]) - MathF.Max(b[4 * i], b[4 * j]));
                float ih = MathF.Max(0, MathF.Min(b[4 * i + 3], b[4 * j + 3]) - MathF.Max(b[4 * i + 1], b[4 * j + 1]));
                float inter = iw * ih;
                float iou = inter / (ai + aj - inter);
                if (iou > thr) { ok = false; break; }
            }
            if (ok) kept.Add(j);
        }
        return kept.ToArray();
    }

    [Fact]
    public void SortIsStableDescendingWithNaNFirst()
    {
        Assert.Equal([1, 2, 0, 3, 4, 5], AmgUtils.SortDescendingStable([0.5f, float.NaN, 0.7f, 0.5f, -0f, 0f]));
    }

    // ---- crop edges ----

    [Fact]
    public void BoxNearCropEdge()
    {
        var orig = new IntBox(0, 0, 1000, 1000);
        var crop = new IntBox(0, 0, 500, 500);
        Assert.Equal([true, false, false, true, false],
            AmgUtils.IsBoxNearCropEdge(
                [
                    100, 100, 490, 300,   // x1 = 490 is 10 from the crop edge 500, far from the image edge
                    5, 100, 200, 300,     // x0 = 5 near crop x0 = 0, but that is also the image edge
                    100, 100, 479, 479,   // 21 away: not near
                    100, 100, 480, 200,   // exactly 20 away: near (<=)
                    0, 0, 200, 200,
                ], crop, orig));
        var right = new IntBox(500, 0, 1000, 500);
        // boxes in crop coordinates: shifted by x0 = 500 before comparing
        Assert.Equal([true, false, true],
            AmgUtils.IsBoxNearCropEdge([new IntBox(0, 100, 100, 200), new IntBox(100, 100, 495, 200), new IntBox(100, 100, 200, 490)], right, orig));
        Assert.Equal([false], AmgUtils.IsBoxNearCropEdge([0f, 0f, 1000f, 1000f], orig, orig));
    }

    [Fact]
    public void Uncrop()
    {
        var crop = new IntBox(2, 1, 4, 3);
        Assert.Equal(new IntBox(3, 2, 4, 3), AmgUtils.UncropBox(new IntBox(1, 1, 2, 2), crop));
        Assert.Equal([3f, 2f, 4f, 3f], AmgUtils.UncropBoxes([1f, 1f, 2f, 2f], crop));
        Assert.Equal([2.5, 1.5], AmgUtils.UncropPoints([0.5, 0.5], crop));
        // 2x2 crop mask placed at (x=2, y=1) of a 4x5 image
        var m = AmgUtils.UncropMask([true, false, false, true], crop, 4, 5);
        var expected = new bool[20];
        expected[1 * 5 + 2] = true;
        expected[2 * 5 + 3] = true;
        Assert.Equal(expected, m);
        Assert.Throws<ArgumentException>(() => AmgUtils.UncropMask(new bool[4], new IntBox(4, 0, 6, 2), 4, 5));
        Assert.Equal([50f, 0f], AmgUtils.BoxAreas([0, 0, 10, 5, 3, 3, 3, 9]));
        Assert.Equal(50, new IntBox(0, 0, 10, 5).Area);
        Assert.Equal((1, 2, 3, 4), new IntBox(1, 2, 4, 6).ToXywh());
    }

    // ---- RLE ----

    [Fact]
    public void RleHandComputed()
    {
        // rows [[0,1,1],[0,0,1]]: column-major F F | T F | T T -> counts 2,1,1,2
        bool[] m = [false, true, true, false, false, true];
        var rle = AmgUtils.MaskToRle(m, 2, 3);
        Assert.Equal([2, 1, 1, 2], rle.Counts);
        Assert.Equal((2, 3), (rle.Height, rle.Width));
        Assert.Equal(3, rle.Area);
        Assert.Equal(m, AmgUtils.RleToMask(rle));
        // first pixel set: counts start with 0
        Assert.Equal([0, 1, 3], AmgUtils.MaskToRle([true, false, false, false], 2, 2).Counts);
        Assert.Equal([6], AmgUtils.MaskToRle(new bool[6], 2, 3).Counts);
        Assert.Equal([0, 6], AmgUtils.MaskToRle(Enumerable.Repeat(true, 6).ToArray(), 3, 2).Counts);
        Assert.Throws<ArgumentException>(() => AmgUtils.RleToMask(new UncompressedRle(2, 2, [1, 2])));
    }

    [Fact]
    public void RleRoundTripsRandomMasks()
    {
        var rng = new Random(3);
        for (int t = 0; t < 100; t++)
        {
            int h = rng.Next(1, 30), w = rng.Next(1, 30);
            double p = rng.NextDouble();
            var m = new bool[h * w];
            for (int i = 0; i < m.Length; i++) m[i] = rng.NextDouble() < p;
            var rle = AmgUtils.MaskToRle(m, h, w);
            Assert.Equal(h * w, rle.Counts.Sum());
            Assert.Equal(m.Count(x => x), AmgUtils.AreaFromRle(rle));
            Assert.All(rle.Counts.Skip(1), c => Assert.True(c > 0)); // only the first run may be empty
            Assert.Equal(m, AmgUtils.RleToMask(rle));
        }
    }

    // ---- small regions ----

    private static bool[] Parse(params string[] rows) => rows.SelectMany(r => r.Select(c => c == '#')).ToArray();

    [Fact]
    public void RemoveSmallIslands()
    {
        var m = Parse(
            "##.....",
            "##.....",
            "......#",
            "####...",
            "####...");
        var (r, changed) = AmgUtils.RemoveSmallRegions(m, 5, 7, 5, SmallRegionMode.Islands);
        Assert.True(changed);
        Assert.Equal(Parse(
            ".......",
            ".......",
            ".......",
            "####...",
            "####..."), r);
        // nothing small: unchanged copy
        var (same, changed2) = AmgUtils.RemoveSmallRegions(m, 5, 7, 1, SmallRegionMode.Islands);
        Assert.False(changed2);
        Assert.Equal(m, same);
        // everything small: keep the largest
        var (largest, changed3) = AmgUtils.RemoveSmallRegions(m, 5, 7, 100, SmallRegionMode.Islands);
        Assert.True(changed3);
        Assert.Equal(Parse(".......", ".......", ".......", "####...", "####..."), largest);
    }

    [Fact]
    public void RemoveSmallHoles()
    {
        var m = Parse(
            "#####..",
            "#.###..",
            "#####..",
            "##..#..",
            "#####..");
        // background components (8-connected): the 1-pixel hole, the 2-pixel hole, the right strip (10 pixels)
        var (r, changed) = AmgUtils.RemoveSmallRegions(m, 5, 7, 3, SmallRegionMode.Holes);
        Assert.True(changed);
        Assert.Equal(Parse(
            "#####..",
            "#####..",
            "#####..",
            "#####..",
            "#####.."), r);
        // threshold 2: only the 1-pixel hole is filled
        var (r2, _) = AmgUtils.RemoveSmallRegions(m, 5, 7, 2, SmallRegionMode.Holes);
        Assert.Equal(Parse("#####..", "#####..", "#####..", "##..#..", "#####.."), r2);
        // a large threshold fills the border strip too (the reference treats it as a hole as well)
        var (r3, _) = AmgUtils.RemoveSmallRegions(m, 5, 7, 11, SmallRegionMode.Holes);
        Assert.All(r3, Assert.True);
    }

    [Fact]
    public void ConnectivityMatters()
    {
        // two diagonal pixels: one 8-connected island of 2, or two 4-connected islands of 1
        var m = Parse("#..", ".#.", "...");
        var (l8, s8) = AmgUtils.LabelComponents(m, 3, 3, Connectivity.Eight);
        Assert.Equal([7L, 2L], s8);
        Assert.Equal(1, l8[4]);
        var (l4, s4) = AmgUtils.LabelComponents(m, 3, 3, Connectivity.Four);
        Assert.Equal([7L, 1L, 1L], s4);
        Assert.Equal((1, 2), (l4[0], l4[4]));
        Assert.False(AmgUtils.RemoveSmallRegions(m, 3, 3, 2, SmallRegionMode.Islands).Modified);
        Assert.True(AmgUtils.RemoveSmallRegions(m, 3, 3, 2, SmallRegionMode.Islands, Connectivity.Four).Modified);
        // anti-diagonal connection and a U shape merging late (union-find), labels in raster order of first pixel
        var u = Parse("#.#.#", "#.#..", "###..", "...#.");
        var (lu, su) = AmgUtils.LabelComponents(u, 4, 5);
        Assert.Equal([11L, 8L, 1L], su); // U (7) + diagonal tail (1); lone pixel
        Assert.Equal(2, lu[4]);   // the lone pixel at (x=4, y=0) is the second component
        Assert.Equal(1, lu[18]);  // (x=3, y=3) touches the U diagonally
    }

    [Fact]
    public void OptionsDefaults()
    {
        var o = new AutomaticMaskGeneratorOptions();
        Assert.Equal(32, o.PointsPerSide);
        Assert.Equal(64, o.PointsPerBatch);
        Assert.Equal(0.88, o.PredIouThresh);
        Assert.Equal(0.95, o.StabilityScoreThresh);
        Assert.Equal(1.0, o.StabilityScoreOffset);
        Assert.Equal(0.7, o.BoxNmsThresh);
        Assert.Equal(0, o.CropNLayers);
        Assert.Equal(0.7, o.CropNmsThresh);
        Assert.Equal(512 / 1500.0, o.CropOverlapRatio);
        Assert.Equal(1, o.CropNPointsDownscaleFactor);
        Assert.Equal(0, o.MinMaskRegionArea);
        Assert.Equal(AmgOutputMode.BinaryMask, o.OutputMode);
        o.Validate();
        Assert.Throws<ArgumentException>(() => (o with { PointGrids = [AmgUtils.BuildPointGrid(4)] }).Validate());
        (o with { PointsPerSide = null, PointGrids = [AmgUtils.BuildPointGrid(4)] }).Validate();
    }
}
