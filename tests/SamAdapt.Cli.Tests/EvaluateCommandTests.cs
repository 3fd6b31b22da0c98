using System.CommandLine;
using System.Text.Json;
using SamAdapt.Cli.Commands;
using SamAdapt.Imaging;
using SamAdapt.Imaging.Nifti;
using SamAdapt.Tests;

namespace SamAdapt.Cli.Tests;

public class EvaluateCommandTests : IDisposable
{
    private readonly TempDir _tmp = TestPaths.NewTempDir();
    public void Dispose() => _tmp.Dispose();

    private static (int Code, string Out, string Err) Invoke(params string[] args)
    {
        var cmd = new EvaluateCommand().Build();
        var root = new RootCommand { cmd };
        var sw = new StringWriter();
        var err = new StringWriter();
        int code = root.Parse([cmd.Name, .. args]).Invoke(new InvocationConfiguration { Output = sw, Error = err, EnableDefaultExceptionHandler = false });
        return (code, sw.ToString(), err.ToString());
    }

    /// <summary>Anisotropic grid 20×10×6, spacing (1, 2, 3) mm.</summary>
    private static readonly double[] Aniso = [1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 3, 0, 0, 0, 0, 1];

    private static byte[] Empty() => new byte[20 * 10 * 6];

    private static void Box(byte[] a, int label, int i0, int i1, int j0, int j1, int k0, int k1)
    {
        for (int k = k0; k < k1; k++) for (int j = j0; j < j1; j++) for (int i = i0; i < i1; i++) a[i + 20 * (j + 10 * k)] = (byte)label;
    }

    private string Write(string name, byte[] data, double[]? affine = null)
    {
        var p = Path.Combine(_tmp.Path, name);
        Directory.CreateDirectory(Path.GetDirectoryName(p)!);
        NiftiWriter.Write(new Volume([20, 10, 6], VoxelType.UInt8, data, affine ?? Aniso) { IntentCode = Volume.IntentLabel }, p);
        return p;
    }

    /// <summary>
    /// Label 1: GT box i∈[2,6) j∈[2,4) k∈[1,3) (16 voxels), prediction the same box shifted by one voxel along i
    /// (overlap 12): Dice = 24/32 = 0.75. Surfaces: every voxel of both boxes is a surface voxel (thin boxes); the
    /// pred-only column i=6 is 1 mm from the GT's i=5 column, GT-only column i=2 is 1 mm from pred's i=3 column, the
    /// rest 0: directed distances are 12×0 + 4×1 each way → 95th percentile (numpy linear) of [0×12, 1×4] = 1 → HD95 1 mm.
    /// Label 2: GT present, prediction empty → Dice 0, HD95 inf (monai). Label 3: absent in both → Dice NaN.
    /// </summary>
    private (string Pred, string Gt) Case(string dir, string id)
    {
        var gt = Empty();
        Box(gt, 1, 2, 6, 2, 4, 1, 3);
        Box(gt, 2, 10, 12, 5, 7, 2, 4);
        var pred = Empty();
        Box(pred, 1, 3, 7, 2, 4, 1, 3);
        Box(pred, 3, 0, 0, 0, 0, 0, 0);
        return (Write(Path.Combine(dir, "pred", id + ".nii.gz"), pred), Write(Path.Combine(dir, "gt", id + ".nii.gz"), gt));
    }

    [Fact]
    public void Files_give_hand_computed_metrics_and_reports()
    {
        var (pred, gt) = Case("single", "case1");
        var json = _tmp.File("r.json");
        var csv = _tmp.File("r.csv");
        var md = _tmp.File("r.md");
        var (code, output, _) = Invoke("--pred", pred, "--gt", gt, "--labels", "1,2,3", "--out", json, "--csv", csv, "--markdown", md);
        Assert.Equal(0, code);
        var j = JsonDocument.Parse(File.ReadAllText(json)).RootElement;
        foreach (var key in new[] { "cases", "mean", "mean_foreground", "settings" }) Assert.True(j.TryGetProperty(key, out _), key);
        var c = j.GetProperty("cases").GetProperty("case1");
        Assert.Equal(0.75, c.GetProperty("1").GetProperty("dice").GetDouble(), 12);
        Assert.Equal(1.0, c.GetProperty("1").GetProperty("hd95").GetDouble(), 12);
        Assert.Equal(1.0, c.GetProperty("1").GetProperty("nsd").GetDouble(), 12); // every distance ≤ 2 mm
        Assert.Equal(0.0, c.GetProperty("2").GetProperty("dice").GetDouble());
        Assert.Equal("Infinity", c.GetProperty("2").GetProperty("hd95").GetString());
        Assert.Equal("NaN", c.GetProperty("3").GetProperty("dice").GetString());
        Assert.Equal(0.375, j.GetProperty("mean_foreground").GetProperty("dice").GetDouble(), 12); // mean of 0.75 and 0 (NaN skipped)
        Assert.Equal("monai", j.GetProperty("settings").GetProperty("hd95_mode").GetString());
        var rows = File.ReadAllLines(csv);
        Assert.Equal(1 + 3, rows.Length); // header + 1 case × 3 labels
        Assert.StartsWith("case,label,name", rows[0]);
        Assert.Contains("| **Mean** |", File.ReadAllText(md));
        Assert.Contains("75.00", output);
        Assert.Contains("mean (foreground)", output);
    }

    [Fact]
    public void Anisotropic_spacing_is_used_for_distances()
    {
        // shift along k (3 mm voxels) instead of i: HD95 = 3 mm
        var gt = Empty();
        Box(gt, 1, 2, 4, 2, 4, 1, 2);
        var pred = Empty();
        Box(pred, 1, 2, 4, 2, 4, 2, 3);
        var g = Write("k/gt.nii.gz", gt);
        var p = Write("k/pred.nii.gz", pred);
        var json = _tmp.File("k.json");
        Assert.Equal(0, Invoke("--pred", p, "--gt", g, "--out", json, "--metrics", "dice,hd95", "--nsd-tolerance", "2.5").Code);
        var l = JsonDocument.Parse(File.ReadAllText(json)).RootElement.GetProperty("cases").GetProperty("gt").GetProperty("1");
        Assert.Equal(0.0, l.GetProperty("dice").GetDouble());
        Assert.Equal(3.0, l.GetProperty("hd95").GetDouble(), 12);
        Assert.False(l.TryGetProperty("nsd", out _));
        // TransUNet policy and pooled HD95 are passed through
        Assert.Equal(0, Invoke("--pred", p, "--gt", g, "--out", json, "--hd95", "pooled", "--empty", "transunet", "--labels", "1,2").Code);
        var j = JsonDocument.Parse(File.ReadAllText(json)).RootElement;
        Assert.Equal(0.0, j.GetProperty("cases").GetProperty("gt").GetProperty("2").GetProperty("dice").GetDouble()); // pred empty → 0
        Assert.Equal("transunet", j.GetProperty("settings").GetProperty("empty_policy").GetString());
    }

    [Fact]
    public void Folders_match_by_case_id_and_report_progress()
    {
        Case("f", "a");
        Case("f", "b");
        var json = _tmp.File("f.json");
        var csv = _tmp.File("f.csv");
        var (code, _, err) = Invoke("--pred", Path.Combine(_tmp.Path, "f", "pred"), "--gt", Path.Combine(_tmp.Path, "f", "gt"), "--out", json, "--csv", csv);
        Assert.Equal(0, code);
        Assert.Contains("[2/2]", err);
        var j = JsonDocument.Parse(File.ReadAllText(json)).RootElement;
        Assert.Equal(["a", "b"], j.GetProperty("cases").EnumerateObject().Select(p => p.Name).ToArray());
        Assert.Equal(["1", "2"], j.GetProperty("mean").EnumerateObject().Select(p => p.Name).ToArray()); // labels found in the GT
        Assert.Equal(1 + 2 * 2, File.ReadAllLines(csv).Length);
        Assert.Empty(Directory.GetFiles(_tmp.Path, "*.tmp"));
    }

    [Fact]
    public void Unmatched_files_are_listed()
    {
        Case("u", "a");
        Case("u", "b");
        File.Move(Path.Combine(_tmp.Path, "u", "pred", "b.nii.gz"), Path.Combine(_tmp.Path, "u", "pred", "c.nii.gz"));
        var e = Assert.Throws<InvalidDataException>(() =>
            Invoke("--pred", Path.Combine(_tmp.Path, "u", "pred"), "--gt", Path.Combine(_tmp.Path, "u", "gt"), "--out", _tmp.File("u.json"), "--labels", "1"));
        Assert.Contains("c.nii.gz", e.Message);
        Assert.Contains("b.nii.gz", e.Message);
        Assert.False(File.Exists(_tmp.File("u.json")));
    }

    [Fact]
    public void Grid_mismatch_exits_2_with_the_resampling_hint()
    {
        var (pred, gt) = Case("g", "a");
        var moved = Write("g/pred2.nii.gz", Empty(), [1, 0, 0, 5, 0, 2, 0, 0, 0, 0, 3, 0, 0, 0, 0, 1]);
        var (code, _, err) = Invoke("--pred", moved, "--gt", gt, "--out", _tmp.File("g.json"), "--labels", "1");
        Assert.Equal(2, code);
        Assert.Contains("samadapt convert", err);
        Assert.Contains("--like", err);
        Assert.Contains("--interp nearest", err);
        _ = pred;
    }

    [Fact]
    public void Mixed_file_and_folder_is_an_error()
    {
        var (pred, _) = Case("m", "a");
        Assert.Throws<SamAdapt.Cli.CliException>(() => Invoke("--pred", pred, "--gt", Path.Combine(_tmp.Path, "m", "gt"), "--out", _tmp.File("m.json")));
    }
}
