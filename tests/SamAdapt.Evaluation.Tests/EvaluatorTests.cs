using System.Globalization;
using System.Text.Json;
using SamAdapt.Imaging;
using SamAdapt.Tests;

namespace SamAdapt.Evaluation.Tests;

public class EvaluatorTests
{
    private static double[] Affine(double sx, double sy, double sz, double tx = 0) =>
        [sx, 0, 0, tx, 0, sy, 0, 0, 0, 0, sz, 0, 0, 0, 0, 1];

    private static Volume LabelVolume(int[] shape, Func<int, int, int, int> f, double[]? affine = null)
    {
        int nx = shape[0], ny = shape[1], nz = shape.Length > 2 ? shape[2] : 1;
        var d = new byte[nx * ny * nz];
        for (int z = 0; z < nz; z++) for (int y = 0; y < ny; y++) for (int x = 0; x < nx; x++) d[x + nx * (y + ny * z)] = (byte)f(x, y, z);
        return new Volume(shape, VoxelType.UInt8, d, affine ?? Affine(1, 1, 1)) { IntentCode = 1002 };
    }

    private static bool InBox(int x, int y, int z, int x0, int x1, int y0, int y1, int z0, int z1) =>
        x >= x0 && x <= x1 && y >= y0 && y <= y1 && z >= z0 && z <= z1;

    // GT: label 1 = cube [2..5]³, label 2 = cube [10..12]³ (27 voxels), label 3 absent. Prediction: label 1 shifted +1 in x,
    // label 2 missing, label 3 hallucinated as a single voxel.
    private static (Volume Pred, Volume Gt) ThreeLabelCase(double[] spacing)
    {
        var aff = Affine(spacing[0], spacing[1], spacing[2]);
        var gt = LabelVolume([16, 16, 16], (x, y, z) => InBox(x, y, z, 2, 5, 2, 5, 2, 5) ? 1 : InBox(x, y, z, 10, 12, 10, 12, 10, 12) ? 2 : 0, aff);
        var pred = LabelVolume([16, 16, 16], (x, y, z) => InBox(x, y, z, 3, 6, 2, 5, 2, 5) ? 1 : (x, y, z) == (14, 14, 14) ? 3 : 0, aff);
        return (pred, gt);
    }

    [Fact]
    public void Monai_policy_case_values_and_means()
    {
        var (pred, gt) = ThreeLabelCase([3, 1, 1]);
        var ev = new SegmentationEvaluator(new EvaluationOptions { Labels = [1, 2, 3] });
        var c = ev.EvaluateCase("a", pred, gt);
        Assert.Equal(0.75, c[1].Dice, 12);
        Assert.Equal(3.0, c[1].Hd95, 12);
        Assert.Equal((64L, 64L), (c[1].PredVoxels, c[1].GtVoxels));
        Assert.Equal(0.0, c[2].Dice);
        Assert.Equal(double.PositiveInfinity, c[2].Hd95);
        Assert.Equal(0.0, c[2].Nsd);
        Assert.True(double.IsNaN(c[3].Dice));
        Assert.Equal(double.PositiveInfinity, c[3].Hd95);

        // a second case where everything is perfect and label 3 is absent in both
        var report = ev.Evaluate([("a", pred, gt), ("b", gt, gt)]);
        Assert.Equal(["a", "b"], report.Cases.Select(x => x.CaseId));
        var b = report.Cases[1];
        Assert.True(double.IsNaN(b[3].Dice) && double.IsNaN(b[3].Hd95) && double.IsNaN(b[3].Nsd));
        Assert.Equal((0.75 + 1) / 2, report[1].Dice.Value, 12);
        Assert.Equal(1.5, report[1].Hd95.Value, 12);
        Assert.Equal(2, report[1].Dice.Count);
        Assert.Equal(0.5, report[2].Dice.Value, 12);
        Assert.Equal(double.PositiveInfinity, report[2].Hd95.Value);     // +∞ is kept in the mean (MONAI)
        Assert.Equal(1, report[2].Hd95.InfiniteCount);
        Assert.True(double.IsNaN(report[3].Dice.Value));                  // no case with a defined Dice
        Assert.Equal(0, report[3].Dice.Count);
        Assert.Equal(double.PositiveInfinity, report[3].Hd95.Value);
        // mean_foreground: Dice over labels 1, 2 (label 3 NaN is skipped)
        Assert.Equal((0.875 + 0.5) / 2, report.MeanForeground.Dice.Value, 12);
        Assert.Equal(2, report.MeanForeground.Dice.Count);
        Assert.Equal(double.PositiveInfinity, report.MeanForeground.Hd95.Value);
    }

    [Fact]
    public void TransUNet_policy_and_voxel_units()
    {
        var (pred, gt) = ThreeLabelCase([3, 1, 1]);
        var ev = new SegmentationEvaluator(new EvaluationOptions
        {
            Labels = [1, 2, 3], EmptyPolicy = EmptyPolicy.TransUNet, HausdorffMode = HausdorffMode.Pooled, UseVoxelUnits = true,
        });
        var c = ev.EvaluateCase("a", pred, gt);
        Assert.Equal(1.0, c[1].Hd95, 12);          // voxel units ignore the 3 mm spacing
        Assert.Equal((0.0, 0.0, 0.0), (c[2].Dice, c[2].Hd95, c[2].Nsd));   // missed organ: Dice 0, HD95 0
        Assert.Equal((1.0, 0.0, 1.0), (c[3].Dice, c[3].Hd95, c[3].Nsd));   // hallucinated on empty GT: Dice 1, HD95 0
        var both = ev.EvaluateCase("b", gt, gt);
        Assert.Equal((0.0, 0.0), (both[3].Dice, both[3].Hd95));          // both empty: Dice 0, HD95 0 (TransUNet quirk)
        var r = ev.Evaluate([("a", pred, gt), ("b", gt, gt)]);
        Assert.Equal(0.0, r[3].Dice.Value - 0.5, 12);
        Assert.Equal(2, r[3].Dice.Count);
    }

    [Fact]
    public void Label_zero_is_evaluated_but_not_in_mean_foreground()
    {
        var (pred, gt) = ThreeLabelCase([1, 1, 1]);
        var r = new SegmentationEvaluator(new EvaluationOptions { Labels = [0, 1], Metrics = MetricKind.Dice }).Evaluate([("a", pred, gt)]);
        Assert.True(r[0].Dice.Value > 0.9);
        Assert.Equal(0.75, r.MeanForeground.Dice.Value, 12);
        Assert.True(double.IsNaN(r.Cases[0][1].Hd95)); // not requested
    }

    [Fact]
    public void Label_maps_match_the_binary_metrics()
    {
        var rng = new Random(3);
        int nx = 12, ny = 9, nz = 7;
        var p = new int[nx * ny * nz]; var g = new int[p.Length];
        for (int l = 1; l <= 3; l++)
        {
            var mp = SurfaceMetricTests.RandomBlob(rng, nx, ny, nz); var mg = SurfaceMetricTests.RandomBlob(rng, nx, ny, nz);
            for (int i = 0; i < p.Length; i++) { if (mp[i]) p[i] = l; if (mg[i]) g[i] = l; }
        }
        double[] sp = [0.8, 1.1, 2.5];
        var c = new SegmentationEvaluator(new EvaluationOptions { Labels = [1, 2, 3, 7] }).EvaluateCase("r", p, g, [nx, ny, nz], sp);
        foreach (var l in new[] { 1, 2, 3, 7 })
        {
            var bm = BinaryMetrics.Evaluate(p.Select(v => v == l).ToArray(), g.Select(v => v == l).ToArray(), [nx, ny, nz], sp);
            Assert.Equal(bm.Dice, c[l].Dice, 12);
            Assert.Equal(bm.Hd95, c[l].Hd95, 12);
            Assert.Equal(bm.Nsd, c[l].Nsd, 12);
        }
    }

    [Fact]
    public void Grid_mismatch_gives_the_resample_command()
    {
        var (pred, gt) = ThreeLabelCase([1, 1, 1]);
        var ev = new SegmentationEvaluator(new EvaluationOptions { Labels = [1] });
        var shifted = new Volume(pred.Shape, pred.Type, pred.Data, Affine(1, 1, 1, tx: 0.5)) { Source = "/p/case1.nii.gz" };
        gt.Source = "/g/case1.nii.gz";
        var e = Assert.Throws<GridMismatchException>(() => ev.EvaluateCase("case1", shifted, gt));
        Assert.Contains("samadapt convert /p/case1.nii.gz OUT --like /g/case1.nii.gz --interp nearest", e.Message);
        Assert.Contains("affines differ by 0.5 mm", e.Message);
        var small = LabelVolume([16, 16, 15], (_, _, _) => 0);
        var e2 = Assert.Throws<GridMismatchException>(() => ev.EvaluateCase("case1", small, gt));
        Assert.Contains("[16,16,15]", e2.Message);
        Assert.Contains("--interp nearest", e2.Message);
        // float32-level noise is tolerated
        var noisy = new Volume(pred.Shape, pred.Type, pred.Data, Affine(1 + 1e-6, 1, 1, tx: 1e-5));
        ev.EvaluateCase("case1", noisy, gt);
    }

    [Fact]
    public void Label_maps_from_volumes_of_any_type()
    {
        var f = new Volume([3, 2], VoxelType.Float32, new float[] { 0, 1, 2, 2.0000001f, 0, 1 }, Affine(0.5, 2, 1));
        var m = LabelMap.FromVolume(f);
        Assert.Equal([0, 1, 2, 2, 0, 1], m.Data);
        Assert.Equal([0.5, 2.0], m.Spacing);
        var bad = new Volume([2], VoxelType.Float32, new float[] { 0, 0.5f }, Affine(1, 1, 1));
        Assert.Throws<InvalidDataException>(() => LabelMap.FromVolume(bad));
        var scaled = new Volume([2, 1, 1, 1], VoxelType.Int16, new short[] { 1, 2 }, Affine(1, 1, 1)) { Slope = 2, Intercept = 1 };
        Assert.Equal([3, 5], LabelMap.FromVolume(scaled).Data);
        Assert.Equal(3, LabelMap.FromVolume(scaled).Rank);
    }

    [Fact]
    public void Report_json_csv_markdown()
    {
        var (pred, gt) = ThreeLabelCase([3, 1, 1]);
        var r = new SegmentationEvaluator(new EvaluationOptions
        {
            Labels = [1, 2, 3], LabelNames = new Dictionary<int, string> { [1] = "liver", [2] = "spleen, left", [3] = "kidney" },
        }).Evaluate([("a", pred, gt), ("b", gt, gt)]);

        using var doc = JsonDocument.Parse(ReportWriter.ToJson(r));
        var root = doc.RootElement;
        Assert.Equal(0.75, root.GetProperty("cases").GetProperty("a").GetProperty("1").GetProperty("dice").GetDouble(), 12);
        Assert.Equal("Infinity", root.GetProperty("cases").GetProperty("a").GetProperty("2").GetProperty("hd95").GetString());
        Assert.Equal("NaN", root.GetProperty("cases").GetProperty("b").GetProperty("3").GetProperty("dice").GetString());
        Assert.Equal(0.875, root.GetProperty("mean").GetProperty("1").GetProperty("dice").GetDouble(), 12);
        Assert.Equal("Infinity", root.GetProperty("mean_foreground").GetProperty("hd95").GetString());
        Assert.Equal(1, root.GetProperty("counts").GetProperty("2").GetProperty("hd95_infinite").GetInt32());
        var settings = root.GetProperty("settings");
        Assert.Equal("monai", settings.GetProperty("hd95_mode").GetString());
        Assert.Equal("monai", settings.GetProperty("empty_policy").GetString());
        Assert.Equal(2.0, settings.GetProperty("nsd_tolerance").GetDouble());
        Assert.Equal("liver", settings.GetProperty("label_names").GetProperty("1").GetString());
        // .NET reads the named literals back as doubles
        var opts = new JsonSerializerOptions { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };
        Assert.Equal(double.PositiveInfinity, JsonSerializer.Deserialize<double>(root.GetProperty("mean_foreground").GetProperty("hd95").GetRawText(), opts));

        var csv = ReportWriter.ToCsv(r).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("case,label,name,pred_voxels,gt_voxels,dice,hd95,nsd", csv[0]);
        Assert.Equal(1 + 2 * 3, csv.Length);
        Assert.StartsWith("a,1,liver,64,64,0.75,3,", csv[1]);
        Assert.Equal("a,2,\"spleen, left\",0,27,0,Infinity,0", csv[2]);
        Assert.Equal("b,3,kidney,0,0,NaN,NaN,NaN", csv[6]);

        var md = ReportWriter.ToMarkdown(r);
        Assert.Contains("| Class | Dice (%) | HD95 (mm) | NSD@2mm (%) |", md);
        Assert.Contains("| liver | 87.50 | 1.50 |", md);
        Assert.Contains("| spleen, left | 50.00 | ∞ |", md);
        Assert.Contains("| kidney | n/a | ∞ |", md);
        Assert.Contains("| **Mean** | **68.75** | **∞** |", md);
    }

    [Fact]
    public void Writes_files_atomically()
    {
        var (pred, gt) = ThreeLabelCase([1, 1, 1]);
        var r = new SegmentationEvaluator(new EvaluationOptions { Labels = [1, 2] }).Evaluate([("a", pred, gt)]);
        using var tmp = TestPaths.NewTempDir();
        File.WriteAllText(tmp.File("summary.json"), "old");
        ReportWriter.WriteAll(r, tmp.Path);
        Assert.Equal(["metrics.csv", "summary.json", "summary.md"], Directory.GetFiles(tmp.Path).Select(Path.GetFileName).Order());
        Assert.StartsWith("{", File.ReadAllText(tmp.File("summary.json")));
        Assert.Throws<DirectoryNotFoundException>(() => ReportWriter.WriteJson(r, Path.Combine(tmp.Path, "missing", "x.json")));
    }

    [Fact]
    public void Folders_are_matched_by_case_id()
    {
        using var tmp = TestPaths.NewTempDir();
        var pd = Directory.CreateDirectory(tmp.File("pred")).FullName;
        var gd = Directory.CreateDirectory(tmp.File("gt")).FullName;
        var (pred, gt) = ThreeLabelCase([1, 1, 1]);
        var store = new Dictionary<string, Volume>();
        void Put(string dir, string name, Volume v) { var path = Path.Combine(dir, name); File.WriteAllText(path, ""); store[path] = v; }
        Put(pd, "case_01.nii.gz", pred); Put(gd, "case_01.nii.gz", gt);
        Put(pd, "case_02.nii", gt); Put(gd, "case_02.nii.gz", gt);
        File.WriteAllText(Path.Combine(pd, "notes.txt"), "ignored");
        var ev = new SegmentationEvaluator(new EvaluationOptions { Labels = [1, 2] });
        var seen = new List<string>();
        var r = ev.EvaluateFolders(pd, gd, p => store[p], progress: new SyncProgress(c => { lock (seen) seen.Add(c.CaseId); }));
        Assert.Equal(["case_01", "case_02"], r.Cases.Select(c => c.CaseId));
        Assert.Equal(2, seen.Count);
        Assert.Equal(1.0, r.Cases[1][1].Dice);

        Put(pd, "case_03.nii.gz", gt); Put(gd, "case_04.nii.gz", gt); Put(gd, "case_05.nii.gz", gt);
        var e = Assert.Throws<InvalidDataException>(() => CaseMatcher.Match(pd, gd));
        Assert.Contains("1 prediction(s)", e.Message);
        Assert.Contains("case_03.nii.gz", e.Message);
        Assert.Contains("2 ground-truth file(s)", e.Message);
        Assert.Contains("case_04.nii.gz, case_05.nii.gz", e.Message);
        File.Delete(Path.Combine(pd, "case_03.nii.gz"));
        Assert.Equal(2, CaseMatcher.Match(pd, gd, ignoreUnmatchedGroundTruth: true).Count);
        Put(pd, "case_01.nii", gt);
        Assert.Contains("two prediction files have case id 'case_01'", Assert.Throws<InvalidDataException>(() => CaseMatcher.Match(pd, gd, ignoreUnmatchedGroundTruth: true)).Message);
    }

    [Fact]
    public void A_failing_case_is_named()
    {
        var (pred, gt) = ThreeLabelCase([1, 1, 1]);
        var ev = new SegmentationEvaluator(new EvaluationOptions { Labels = [1] });
        var pairs = new[] { new CasePair("ok", "p1", "g1"), new CasePair("broken", "p2", "g2") };
        var e = Assert.Throws<InvalidDataException>(() => ev.EvaluateFiles(pairs, p => p == "p2" ? throw new InvalidDataException("not a NIfTI file") : p.StartsWith('p') ? pred : gt));
        Assert.Equal("case 'broken': not a NIfTI file", e.Message);
    }

    [Fact]
    public void Options_are_validated_and_parsed()
    {
        Assert.Throws<ArgumentException>(() => new SegmentationEvaluator(new EvaluationOptions { Labels = [] }));
        Assert.Throws<ArgumentException>(() => new SegmentationEvaluator(new EvaluationOptions { Labels = [1, 1] }));
        Assert.Equal(MetricKind.Dice | MetricKind.Nsd, EvaluationOptions.ParseMetrics("dice, nsd"));
        Assert.Equal(HausdorffMode.Pooled, EvaluationOptions.ParseHausdorffMode("pooled"));
        Assert.Throws<FormatException>(() => EvaluationOptions.ParseEmptyPolicy("medpy"));
    }

    private sealed class SyncProgress(Action<CaseResult> a) : IProgress<CaseResult>
    {
        public void Report(CaseResult value) => a(value);
    }

    [Fact]
    public void Random_cases_match_numpy_reference()
    {
        DebianPython.RequireNumpy(); // the independent reference must be there: fails with the package to install
        var rng = new Random(11);
        var cases = new List<(int[] Shape, double[] Sp, bool[] P, bool[] G)>();
        double[][] spacings = [[1, 1, 3], [0.5, 2, 1], [0.7, 0.7, 1.25]];
        for (int t = 0; t < 9; t++)
        {
            int nx = rng.Next(4, 16), ny = rng.Next(4, 12), nz = rng.Next(2, 8);
            var p = SurfaceMetricTests.RandomBlob(rng, nx, ny, nz); var g = SurfaceMetricTests.RandomBlob(rng, nx, ny, nz);
            if (!p.Any(b => b) || !g.Any(b => b)) continue;
            cases.Add(([nx, ny, nz], spacings[t % 3], p, g));
        }
        var input = JsonSerializer.Serialize(cases.Select(c => new { shape = c.Shape, sp = c.Sp, p = c.P.Select(b => b ? 1 : 0), g = c.G.Select(b => b ? 1 : 0) }));
        const string script = """
import json, sys
import numpy as np
out = []
for c in json.load(open(sys.argv[1])):
    nx, ny, nz = c["shape"]
    # flat data is x-fastest, i.e. a C array of shape (nz, ny, nx)
    P = np.array(c["p"], dtype=bool).reshape(nz, ny, nx)
    G = np.array(c["g"], dtype=bool).reshape(nz, ny, nx)
    sp = np.array(c["sp"][::-1])  # (z, y, x)
    def surface(m):
        pad = np.pad(m, 1)
        inner = pad[1:-1, 1:-1, 1:-1]
        nb = [pad[2:, 1:-1, 1:-1], pad[:-2, 1:-1, 1:-1], pad[1:-1, 2:, 1:-1], pad[1:-1, :-2, 1:-1], pad[1:-1, 1:-1, 2:], pad[1:-1, 1:-1, :-2]]
        allin = np.logical_and.reduce(nb)
        return np.argwhere(inner & ~allin) * sp
    a, b = surface(P), surface(G)
    d = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))
    ab, ba = d.min(1), d.min(0)
    dice = 2 * (P & G).sum() / (P.sum() + G.sum())
    monai = max(np.percentile(ab, 95), np.percentile(ba, 95))
    pooled = np.percentile(np.hstack((ab, ba)), 95)
    nsd = ((ab <= 2.0).sum() + (ba <= 2.0).sum()) / (len(ab) + len(ba))
    out.append([float(dice), float(monai), float(pooled), float(nsd)])
print(json.dumps(out))
""";
        var reference = JsonSerializer.Deserialize<double[][]>(RunWithInput(script, input))!;
        Assert.Equal(cases.Count, reference.Length);
        for (int i = 0; i < cases.Count; i++)
        {
            var c = cases[i];
            var m = BinaryMetrics.Evaluate(c.P, c.G, c.Shape, c.Sp);
            Assert.Equal(reference[i][0], m.Dice, 12);
            Assert.Equal(reference[i][1], m.Hd95, 9);
            Assert.Equal(reference[i][2], BinaryMetrics.Evaluate(c.P, c.G, c.Shape, c.Sp, mode: HausdorffMode.Pooled).Hd95, 9);
            Assert.Equal(reference[i][3], m.Nsd, 12);
        }
    }

    [Fact]
    public void Large_volume_evaluates_quickly()
    {
        // 256×256×64 with two large organs (a 512×512×100 pair is timed in the report, not here, to keep the suite fast)
        int nx = 256, ny = 256, nz = 64;
        var p = new int[nx * ny * nz]; var g = new int[p.Length];
        int i = 0;
        for (int z = 0; z < nz; z++) for (int y = 0; y < ny; y++) for (int x = 0; x < nx; x++, i++)
        {
            int r1 = (x - 100) * (x - 100) + (y - 120) * (y - 120) + 4 * (z - 30) * (z - 30);
            int r2 = (x - 103) * (x - 103) + (y - 118) * (y - 118) + 4 * (z - 31) * (z - 31);
            if (r1 < 70 * 70) g[i] = 1;
            if (r2 < 68 * 68) p[i] = 1;
            if (Math.Abs(x - 200) < 20 && Math.Abs(y - 60) < 25 && z > 10 && z < 50) { g[i] = 2; if (x < 215) p[i] = 2; }
        }
        var c = new SegmentationEvaluator(new EvaluationOptions { Labels = [1, 2] }).EvaluateCase("big", p, g, [nx, ny, nz], [0.8, 0.8, 2.5]);
        Assert.True(c[1].Dice > 0.9 && c[1].Hd95 > 0 && c[1].Hd95 < 10, $"{c[1]}");
    }

    /// <summary>Runs a Debian-python script whose JSON input is in the file named by sys.argv[1]; returns stdout.</summary>
    internal static string RunWithInput(string script, string json)
    {
        using var tmp = TestPaths.NewTempDir();
        var input = tmp.File("input.json");
        File.WriteAllText(input, json);
        return DebianPython.Run(script, input);
    }
}
