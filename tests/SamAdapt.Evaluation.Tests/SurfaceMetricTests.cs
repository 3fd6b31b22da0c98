namespace SamAdapt.Evaluation.Tests;

public class SurfaceMetricTests
{
    internal static bool[] Mask(int nx, int ny, int nz, Func<int, int, int, bool> inside)
    {
        var m = new bool[nx * ny * nz];
        for (int z = 0; z < nz; z++) for (int y = 0; y < ny; y++) for (int x = 0; x < nx; x++) m[x + nx * (y + ny * z)] = inside(x, y, z);
        return m;
    }

    internal static bool[] Box(int nx, int ny, int nz, int x0, int x1, int y0, int y1, int z0, int z1) =>
        Mask(nx, ny, nz, (x, y, z) => x >= x0 && x <= x1 && y >= y0 && y <= y1 && z >= z0 && z <= z1);

    private static byte[] Bytes(bool[] m) => m.Select(b => b ? (byte)1 : (byte)0).ToArray();

    private static int SurfaceCount(bool[] m, int[] shape) => SurfaceDistances.Surface(Bytes(m), shape).Count(b => b != 0);

    [Fact]
    public void Surface_of_a_cube_excludes_its_interior_voxel()
    {
        var m = Box(5, 5, 5, 1, 3, 1, 3, 1, 3);
        Assert.Equal(26, SurfaceCount(m, [5, 5, 5]));
        var s = SurfaceDistances.Surface(Bytes(m), [5, 5, 5]);
        Assert.Equal(0, s[2 + 5 * (2 + 5 * 2)]); // the centre
    }

    [Fact]
    public void Surface_uses_face_neighbours_only()
    {
        // a plus-shaped 2D mask: the centre has all 4 face neighbours inside (diagonals are outside) → not surface
        var m = Mask(5, 5, 1, (x, y, _) => (x == 2 && y >= 1 && y <= 3) || (y == 2 && x >= 1 && x <= 3));
        Assert.Equal(4, SurfaceCount(m, [5, 5]));
        // 2D square 3×3: 8 surface pixels
        Assert.Equal(8, SurfaceCount(Box(5, 5, 1, 1, 3, 1, 3, 0, 0), [5, 5]));
    }

    [Fact]
    public void Voxels_on_the_volume_border_are_surface()
    {
        // whole 3×3×3 volume: every voxel touches the outside except the centre, which still has all 6 inside → 26
        Assert.Equal(26, SurfaceCount(Box(3, 3, 3, 0, 2, 0, 2, 0, 2), [3, 3, 3]));
        // a 2×2×2 volume filled: all 8 are surface
        Assert.Equal(8, SurfaceCount(Box(2, 2, 2, 0, 1, 0, 1, 0, 1), [2, 2, 2]));
        // 2D 5×5 with columns x = 0..2 set: x=0 column (5, border), x=1 only y=0,4 (2), x=2 column (5) → 12
        Assert.Equal(12, SurfaceCount(Mask(5, 5, 1, (x, _, _) => x <= 2), [5, 5]));
        // a single slice volume (nz = 1, rank 3): every voxel has an outside face neighbour along z
        Assert.Equal(9, SurfaceCount(Box(3, 3, 1, 0, 2, 0, 2, 0, 0), [3, 3, 1]));
    }

    [Fact]
    public void Single_voxels_distance_follows_spacing()
    {
        var p = Mask(6, 3, 3, (x, y, z) => x == 0 && y == 1 && z == 1);
        var g = Mask(6, 3, 3, (x, y, z) => x == 3 && y == 1 && z == 1);
        var d = BinaryMetrics.Evaluate(p, g, [6, 3, 3], [1, 1, 1]);
        Assert.Equal(0, d.Dice);
        Assert.Equal(3, d.Hd95, 12);
        Assert.Equal(0, d.Nsd);
        Assert.Equal(6, BinaryMetrics.Evaluate(p, g, [6, 3, 3], [2, 1, 1]).Hd95, 12);
        Assert.Equal(1.5, BinaryMetrics.Evaluate(p, g, [6, 3, 3], [0.5, 2, 1]).Hd95, 12);
        Assert.Equal(1, BinaryMetrics.Evaluate(p, g, [6, 3, 3], [1, 1, 1], nsdTolerance: 3).Nsd);
        // a diagonal offset: Δ = (1, 1, 1) voxels at spacing (1, 1, 3) → √(1 + 1 + 9)
        var g2 = Mask(6, 3, 3, (x, y, z) => x == 1 && y == 2 && z == 2);
        Assert.Equal(Math.Sqrt(11), BinaryMetrics.Evaluate(p, g2, [6, 3, 3], [1, 1, 3]).Hd95, 12);
        var same = BinaryMetrics.Evaluate(p, p, [6, 3, 3], [1, 1, 1]);
        Assert.Equal((1.0, 0.0, 1.0), (same.Dice, same.Hd95, same.Nsd));
    }

    // GT: cube [2..5]³ in 10³; prediction: the same cube shifted +1 along x. Each 4×4×4 cube has 56 surface voxels.
    // pred→GT: the 16 voxels of the x=6 face are one x-step (sx mm) from the GT's x=5 face; the 4 interior voxels of
    // the x=3 face are sx from the GT's x=2 face but also one y- or z-step from the GT's y/z faces, so min(sx, sy, sz);
    // the other 36 lie on the GT surface (0). GT→pred is the mirror image. HD95: n = 56, h = 55·0.95 = 52.25, and
    // sorted[52], sorted[53] are both sx (16 largest), so HD95 = sx in both modes.
    [Theory]
    [InlineData(1.0, 1.0, 1.0, 1.0)]
    [InlineData(3.0, 1.0, 1.0, 3.0)]   // 1×1×3 mm style anisotropy, shift along the coarse axis
    [InlineData(0.5, 2.0, 1.0, 0.5)]
    public void Shifted_cubes_have_hd95_of_the_shift_in_mm(double sx, double sy, double sz, double expected)
    {
        var g = Box(10, 10, 10, 2, 5, 2, 5, 2, 5);
        var p = Box(10, 10, 10, 3, 6, 2, 5, 2, 5);
        var d = SurfaceDistances.Compute(p, g, [10, 10, 10], [sx, sy, sz]);
        Assert.Equal(56, d.PredToGt.Length);
        Assert.Equal(56, d.GtToPred.Length);
        var expectedSet = Enumerable.Repeat(0.0, 36).Concat(Enumerable.Repeat(sx, 16))
            .Concat(Enumerable.Repeat(Math.Min(sx, Math.Min(sy, sz)), 4)).Order().ToArray();
        for (int i = 0; i < 56; i++)
        {
            Assert.Equal(expectedSet[i], d.PredToGt[i], 12);
            Assert.Equal(expectedSet[i], d.GtToPred[i], 12);
        }
        Assert.Equal(expected, d.Hausdorff(HausdorffMode.Monai), 12);
        Assert.Equal(expected, d.Hausdorff(HausdorffMode.Pooled), 12);
        Assert.Equal(0.75, BinaryMetrics.Evaluate(p, g, [10, 10, 10], [sx, sy, sz]).Dice, 12); // 2·48/(64+64)
    }

    [Fact]
    public void Shift_along_a_fine_axis_does_not_see_the_coarse_spacing()
    {
        var g = Box(10, 10, 10, 2, 5, 2, 5, 2, 5);
        var p = Box(10, 10, 10, 2, 5, 3, 6, 2, 5); // shift along y
        Assert.Equal(1.0, BinaryMetrics.Evaluate(p, g, [10, 10, 10], [3, 1, 1]).Hd95, 12);
        Assert.Equal(2.0, BinaryMetrics.Evaluate(p, g, [10, 10, 10], [0.5, 2, 1]).Hd95, 12);
    }

    [Fact]
    public void Nsd_counts_distances_exactly_at_the_tolerance()
    {
        var g = Box(10, 10, 10, 2, 5, 2, 5, 2, 5);
        var p = Box(10, 10, 10, 3, 6, 2, 5, 2, 5);
        // spacing 2 along x: 16 + 16 of 112 surface voxels at exactly 2 mm, 4 + 4 at 1 mm, the rest at 0
        Assert.Equal(1.0, BinaryMetrics.Evaluate(p, g, [10, 10, 10], [2, 1, 1], nsdTolerance: 2.0).Nsd, 12);
        Assert.Equal(80.0 / 112, BinaryMetrics.Evaluate(p, g, [10, 10, 10], [2, 1, 1], nsdTolerance: 1.999).Nsd, 12);
        Assert.Equal(72.0 / 112, BinaryMetrics.Evaluate(p, g, [10, 10, 10], [2, 1, 1], nsdTolerance: 0.999).Nsd, 12);
        // a rounding-prone case: 0.1 mm spacing, 20 voxels = 2 mm in exact arithmetic
        var a = Mask(30, 1, 1, (x, _, _) => x == 0);
        var b = Mask(30, 1, 1, (x, _, _) => x == 20);
        Assert.Equal(1.0, BinaryMetrics.Evaluate(a, b, [30], [0.1], nsdTolerance: 2.0).Nsd);
        Assert.Equal(0.0, BinaryMetrics.Evaluate(a, b, [30], [0.1], nsdTolerance: 1.99).Nsd);
    }

    // A 20×1 image (rank 2, so every pixel is a surface pixel): GT {0}, prediction {0, 1, 3}.
    // pred→GT = [0, 1, 3], GT→pred = [0]. numpy: percentile([0,1,3], 95): h = 1.9 → 3 − 2·0.1 = 2.8;
    // pooled [0,0,1,3]: h = 2.85 → 3 − 2·0.15 = 2.7. NSD(τ=1) = (2 + 1)/4. Dice = 2·1/(3+1).
    [Fact]
    public void Percentile_interpolation_follows_numpy_linear()
    {
        var g = Mask(20, 1, 1, (x, _, _) => x == 0);
        var p = Mask(20, 1, 1, (x, _, _) => x is 0 or 1 or 3);
        var m = BinaryMetrics.Evaluate(p, g, [20, 1], [1, 1], nsdTolerance: 1);
        Assert.Equal(2.8, m.Hd95, 12);
        Assert.Equal(0.75, m.Nsd, 12);
        Assert.Equal(0.5, m.Dice, 12);
        Assert.Equal(2.7, BinaryMetrics.Evaluate(p, g, [20, 1], [1, 1], mode: HausdorffMode.Pooled).Hd95, 12);
        Assert.Equal(1.4, BinaryMetrics.Evaluate(p, g, [20, 1], [0.5, 2]).Hd95, 12);
        Assert.Equal(1.35, BinaryMetrics.Evaluate(p, g, [20, 1], [0.5, 2], mode: HausdorffMode.Pooled).Hd95, 12);
    }

    public static TheoryData<string, bool, bool, double, double, double> EmptyCases => new()
    {
        // policy, pred empty, gt empty, dice, hd95, nsd
        { "monai", true, true, double.NaN, double.NaN, double.NaN },
        { "monai", false, true, double.NaN, double.PositiveInfinity, 0 },
        { "monai", true, false, 0, double.PositiveInfinity, 0 },
        { "transunet", true, true, 0, 0, 0 },
        { "transunet", false, true, 1, 0, 1 },
        { "transunet", true, false, 0, 0, 0 },
    };

    [Theory]
    [MemberData(nameof(EmptyCases))]
    public void Empty_masks_follow_the_policy(string policy, bool predEmpty, bool gtEmpty, double dice, double hd, double nsd)
    {
        var some = Box(6, 6, 6, 1, 3, 1, 3, 1, 3);
        var none = new bool[216];
        var pol = EvaluationOptions.ParseEmptyPolicy(policy);
        var m = BinaryMetrics.Evaluate(predEmpty ? none : some, gtEmpty ? none : some, [6, 6, 6], [1, 1, 1], policy: pol);
        Assert.Equal(dice, m.Dice);
        Assert.Equal(hd, m.Hd95);
        Assert.Equal(nsd, m.Nsd);
    }

    [Fact]
    public void Distance_transform_matches_brute_force_with_anisotropic_spacing()
    {
        var rng = new Random(7);
        int[] dims = [9, 7, 6];
        double[] sp = [0.7, 1.3, 2.9];
        int n = 9 * 7 * 6;
        var feat = new byte[n];
        for (int i = 0; i < n; i++) feat[i] = rng.NextDouble() < 0.05 ? (byte)1 : (byte)0;
        feat[17] = 1;
        var edt = DistanceTransform.SquaredDistanceToFeature(feat, dims, sp);
        for (int i = 0; i < n; i++)
        {
            int x = i % 9, y = i / 9 % 7, z = i / 63;
            double best = double.PositiveInfinity;
            for (int j = 0; j < n; j++)
            {
                if (feat[j] == 0) continue;
                double dx = (x - j % 9) * sp[0], dy = (y - j / 9 % 7) * sp[1], dz = (z - j / 63) * sp[2];
                best = Math.Min(best, dx * dx + dy * dy + dz * dz);
            }
            Assert.Equal(best, edt[i], 9);
        }
        Assert.All(DistanceTransform.SquaredDistanceToFeature(new byte[n], dims, sp), v => Assert.True(double.IsPositiveInfinity(v)));
    }

    // ---- independent brute-force reference: coordinates, explicit neighbour test, O(N²) distances ----
    private static List<(int X, int Y, int Z)> BruteSurface(bool[] m, int nx, int ny, int nz)
    {
        bool At(int x, int y, int z) => x >= 0 && y >= 0 && z >= 0 && x < nx && y < ny && z < nz && m[x + nx * (y + ny * z)];
        var r = new List<(int, int, int)>();
        (int, int, int)[] nb = [(1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1)];
        for (int z = 0; z < nz; z++) for (int y = 0; y < ny; y++) for (int x = 0; x < nx; x++)
            if (At(x, y, z) && nb.Any(d => !At(x + d.Item1, y + d.Item2, z + d.Item3))) r.Add((x, y, z));
        return r;
    }

    private static double[] BruteDirected(List<(int X, int Y, int Z)> from, List<(int X, int Y, int Z)> to, double[] sp) =>
        from.Select(a => to.Min(b => Math.Sqrt(Math.Pow((a.X - b.X) * sp[0], 2) + Math.Pow((a.Y - b.Y) * sp[1], 2) + Math.Pow((a.Z - b.Z) * sp[2], 2))))
            .Order().ToArray();

    private static double Pct(double[] sorted, double p)
    {
        double h = (sorted.Length - 1) * p / 100;
        int lo = (int)Math.Floor(h), hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
    }

    internal static bool[] RandomBlob(Random rng, int nx, int ny, int nz)
    {
        // union of a few random ellipsoids, some allowed to cross the border
        var centres = Enumerable.Range(0, rng.Next(1, 4)).Select(_ => (rng.Next(nx), rng.Next(ny), rng.Next(nz), 1 + rng.NextDouble() * 3)).ToList();
        return Mask(nx, ny, nz, (x, y, z) => centres.Any(c =>
            Math.Pow(x - c.Item1, 2) + Math.Pow(y - c.Item2, 2) + 2 * Math.Pow(z - c.Item3, 2) <= c.Item4 * c.Item4));
    }

    [Fact]
    public void Random_masks_match_a_brute_force_reference()
    {
        var rng = new Random(42);
        double[][] spacings = [[1, 1, 1], [1, 1, 3], [0.5, 2, 1], [0.83, 0.83, 2.5]];
        for (int trial = 0; trial < 24; trial++)
        {
            int nx = rng.Next(3, 14), ny = rng.Next(3, 12), nz = rng.Next(1, 9);
            var sp = spacings[trial % spacings.Length];
            var p = RandomBlob(rng, nx, ny, nz);
            var g = RandomBlob(rng, nx, ny, nz);
            if (!p.Any(b => b) || !g.Any(b => b)) continue;
            var sP = BruteSurface(p, nx, ny, nz); var sG = BruteSurface(g, nx, ny, nz);
            var dPG = BruteDirected(sP, sG, sp); var dGP = BruteDirected(sG, sP, sp);
            var d = SurfaceDistances.Compute(p, g, [nx, ny, nz], sp);
            Assert.Equal(dPG.Length, d.PredToGt.Length);
            Assert.Equal(dGP.Length, d.GtToPred.Length);
            for (int i = 0; i < dPG.Length; i++) Assert.Equal(dPG[i], d.PredToGt[i], 9);
            for (int i = 0; i < dGP.Length; i++) Assert.Equal(dGP[i], d.GtToPred[i], 9);
            double monai = Math.Max(Pct(dPG, 95), Pct(dGP, 95));
            double pooled = Pct([.. dPG.Concat(dGP).Order()], 95);
            Assert.Equal(monai, d.Hausdorff(HausdorffMode.Monai), 9);
            Assert.Equal(pooled, d.Hausdorff(HausdorffMode.Pooled), 9);
            double tau = 1.7;
            double nsd = (double)(dPG.Count(v => v <= tau) + dGP.Count(v => v <= tau)) / (dPG.Length + dGP.Length);
            Assert.Equal(nsd, d.Nsd(tau), 12);
        }
    }
}
