using System.CommandLine;
using SamAdapt.Cli.Commands;
using SamAdapt.Cli;
using SamAdapt.Imaging;
using SamAdapt.Imaging.Nifti;
using SamAdapt.Inference.Prompted;
using SamAdapt.Methods.Msa;
using SamAdapt.Sam.Adapters;
using SamAdapt.Tests;
using SamAdapt.Torch.Serialization;
using static SamAdapt.Methods.Tests.MsaReference.MsaTinyFixture;

namespace SamAdapt.Methods.Tests.MsaReference;

/// <summary>
/// `samadapt predict --run MSA_RUN --input VOL --prompts P.json --out L.nii.gz`: world coordinates map through the inverse affine, a 3D box
/// prompts every slice it covers and only those, and the label map lies on the input's grid and affine.
/// </summary>
public class MsaPromptedPredictTests : IDisposable
{
    private readonly TempDir _tmp = TestPaths.NewTempDir();
    public void Dispose() => _tmp.Dispose();

    private static int Invoke(params string[] args)
    {
        var root = new RootCommand { new ImportCommand().Build(), new PredictCommand().Build() };
        return root.Parse(args).Invoke(new InvocationConfiguration { Output = new StringWriter(), Error = new StringWriter(), EnableDefaultExceptionHandler = false });
    }

    private string ImportFixtureRun()
    {
        var sd = _tmp.File("msa.pth");
        PthWriter.Save(sd, ReferenceStateDict("2d"));
        var cfg = _tmp.File("sam.json");
        File.WriteAllText(cfg, SamConfigJson.ToJson(SamConfigOf("2d")));
        var run = _tmp.File("run");
        Assert.Equal(0, Invoke("import", "msa", "--state-dict", sd, "--base", sd, "--out", run, "--image-size", "128", "--sam-config", cfg, "--intensity", "zscore"));
        return run;
    }

    [Fact]
    public void World_prompts_map_to_voxels_through_the_inverse_affine()
    {
        double[] affine = [0.8, 0, 0, -20, 0, 1.2, 0, 10, 0, 0, 3, 5, 0, 0, 0, 1];
        var path = _tmp.File("p.json");
        File.WriteAllText(path, """
            {"coordinates": "world", "classes": [
              {"value": 3, "boxes": [[-16, 22, 5, -4, 58, 8]]},
              {"value": 5, "points": [[-12, 34, 14, 0]]}]}
            """);
        var p = VolumePromptFile.Read(path, affine);
        var b = p[0].Boxes[0];
        Assert.Equal([5, 10, 0, 20, 40, 1], new[] { b.I0, b.J0, b.K0, b.I1, b.J1, b.K1 }.Select(v => Math.Round(v, 6)));
        var q = p[1].Points[0];
        Assert.Equal([10, 20, 3], new[] { q.I, q.J, q.K }.Select(v => Math.Round(v, 6)));
        Assert.Equal(0, q.Label);
        File.WriteAllText(path, """{"classes": [{"value": 1, "points": [[1, 2]]}]}""");
        var e = Assert.Throws<InvalidDataException>(() => VolumePromptFile.Read(path, affine));
        Assert.Contains("classes[0].points[0]", e.Message);
        Assert.Contains("[x, y, z]", e.Message);
    }

    [Fact]
    public void Prompted_predict_writes_labels_on_the_input_grid_only_where_prompted()
    {
        var run = ImportFixtureRun();
        int ni = 50, nj = 70, nk = 4; // non-square slices, resized to the model's 128² and back
        var data = new float[ni * nj * nk];
        var rng = new Random(4);
        for (int x = 0; x < data.Length; x++) data[x] = (float)rng.NextDouble() * 100;
        double[] affine = [0.8, 0, 0, -20, 0, 1.2, 0, 10, 0, 0, 3, 5, 0, 0, 0, 1];
        var input = _tmp.File("vol.nii.gz");
        NiftiWriter.Write(new Volume([ni, nj, nk], VoxelType.Float32, data, affine), input);
        var prompts = _tmp.File("prompts.json");
        // class 3: a 3D box over slices 0..1; class 5: a click on slice 3 (voxel coordinates)
        File.WriteAllText(prompts, """
            {"coordinates": "voxel", "classes": [
              {"value": 3, "boxes": [[5, 10, 0, 40, 60, 1]]},
              {"value": 5, "points": [[10, 20, 3, 1], [40, 60, 3, 0]]}]}
            """);
        var outFile = _tmp.File("labels.nii.gz");
        Assert.Equal(0, Invoke("predict", "--run", run, "--input", input, "--prompts", prompts, "--out", outFile));
        var labels = VolumeIO.Read(outFile);
        Assert.Equal(new[] { ni, nj, nk }, labels.Shape);
        var input_ = VolumeIO.Read(input);
        Assert.Equal(input_.Affine, labels.Affine); // the input's affine as stored (float32 in NIfTI)
        Assert.All(affine.Zip(labels.Affine), t => Assert.Equal(t.First, t.Second, 1e-6));
        var values = new HashSet<int>();
        for (long x = 0; x < labels.VoxelCount; x++)
        {
            int v = (int)labels.Get(x);
            values.Add(v);
            int k = (int)(x / (ni * nj));
            if (v == 3) Assert.True(k <= 1, $"class 3 on slice {k}, outside its box's slices");
            // clip_to_box (default): a box-prompted class stays inside its box (i 5..40, j 10..60)
            int i = (int)(x % ni), j = (int)(x / ni % nj);
            if (v == 3) Assert.True(i >= 5 && i <= 40 && j >= 10 && j <= 60, $"class 3 at ({i}, {j}), outside its box");
            if (v == 5) Assert.Equal(3, k);
            if (k == 2) Assert.Equal(0, v); // no prompt touches slice 2
        }
        Assert.Subset(new HashSet<int> { 0, 3, 5 }, values);
    }

    [Fact]
    public void Prompted_predict_without_prompts_is_one_clear_error()
    {
        var run = ImportFixtureRun();
        var input = _tmp.File("vol.nii.gz");
        NiftiWriter.Write(new Volume([8, 8, 2], VoxelType.Float32, new float[128], [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]), input);
        var e = Assert.ThrowsAny<Exception>(() => Invoke("predict", "--run", run, "--input", input, "--out", _tmp.File("o.nii.gz")));
        Assert.Contains("give a prompt file", e.Message);
        // test-time augmentation belongs to prompt-free prediction: refused before anything is predicted
        e = Assert.ThrowsAny<Exception>(() => Invoke("predict", "--run", run, "--input", input, "--out", _tmp.File("o.nii.gz"), "--tta", "flip-slices"));
        Assert.Contains("--tta flip-slices: test-time augmentation applies to prompt-free (semantic) prediction", e.Message);
        Assert.False(File.Exists(_tmp.File("o.nii.gz")));
    }
}

/// <summary>`samadapt evaluate-prompted` end to end on a synthetic dataset with an imported MSA run: reports per setting and class, seeded.</summary>
public class MsaEvaluatePromptedTests : IDisposable
{
    private readonly TempDir _tmp = TestPaths.NewTempDir();
    public void Dispose() => _tmp.Dispose();

    private static (int Code, string Out) Invoke(params string[] args)
    {
        var root = new RootCommand { new ImportCommand().Build(), new EvaluatePromptedCommand().Build() };
        var sw = new StringWriter();
        int code = root.Parse(args).Invoke(new InvocationConfiguration { Output = sw, Error = new StringWriter(), EnableDefaultExceptionHandler = false });
        return (code, sw.ToString());
    }

    [Fact]
    public void Evaluate_prompted_writes_json_csv_and_markdown_per_setting_and_class_reproducibly()
    {
        var sd = _tmp.File("msa.pth");
        PthWriter.Save(sd, ReferenceStateDict("2d"));
        var cfg = _tmp.File("sam.json");
        File.WriteAllText(cfg, SamConfigJson.ToJson(SamConfigOf("2d")));
        var run = _tmp.File("run");
        Assert.Equal(0, Invoke("import", "msa", "--state-dict", sd, "--base", sd, "--out", run, "--image-size", "128", "--sam-config", cfg, "--intensity", "zscore").Code);
        var dataset = SamAdapt.Tests.SyntheticDataset.Write(_tmp.Path, cases: 1);
        string[] Args(string outName) => ["evaluate-prompted", "--run", run, "--dataset", dataset, "--protocol", "1pt,box0.75,iterative:2", "--seed", "5",
            "--out", _tmp.File(outName + ".json"), "--csv", _tmp.File(outName + ".csv"), "--markdown", _tmp.File(outName + ".md")];
        var (code, text) = Invoke(Args("a"));
        Assert.Equal(0, code);
        Assert.Contains("| box0.75 |", text);
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(_tmp.File("a.json")));
        var settings = doc.RootElement.GetProperty("settings").EnumerateArray().ToList();
        Assert.Equal(["1pt", "box0.75", "iterative:2"], settings.Select(s => s.GetProperty("name").GetString()));
        foreach (var s in settings)
        {
            Assert.True(s.GetProperty("targets").GetInt32() > 0);
            foreach (var c in new[] { "liver", "spleen" })
            {
                double dice = s.GetProperty("dice").GetProperty(c).GetDouble();
                Assert.InRange(dice, 0, 1);
            }
        }
        Assert.InRange(settings[2].GetProperty("noc90").GetDouble(), 1, 2);
        Assert.Equal(2, settings[2].GetProperty("dice_after_click").GetArrayLength());
        Assert.Contains("box0.75,spleen,", File.ReadAllText(_tmp.File("a.csv")));
        Assert.Equal(0, Invoke(Args("b")).Code);
        Assert.Equal(File.ReadAllText(_tmp.File("a.json")), File.ReadAllText(_tmp.File("b.json")));
    }
}

/// <summary>`samadapt train --method msa` writes a run folder that `predict --prompts` and `--resume` use.</summary>
public class MsaTrainCommandTests : IDisposable
{
    private readonly TempDir _tmp = TestPaths.NewTempDir();
    public void Dispose() => _tmp.Dispose();

    private static (int Code, string Out, string Err) Invoke(params string[] args)
    {
        var root = new RootCommand { new TrainCommand().Build(), new PredictCommand().Build() };
        var sw = new StringWriter();
        var err = new StringWriter();
        int code = root.Parse(args).Invoke(new InvocationConfiguration { Output = sw, Error = err, EnableDefaultExceptionHandler = false });
        return (code, sw.ToString(), err.ToString());
    }

    [Fact]
    public void Train_msa_then_prompted_predict()
    {
        var ds = SamAdapt.Tests.SyntheticDataset.Write(_tmp.Path, cases: 3);
        var run = _tmp.File("run");
        var (code, output, err) = Invoke("train", "--dataset", ds, "--method", "msa", "--out", run, "--model", "tiny", "--img-size", "32", "--slices", "3",
            "--intensity", "ct-window:-500,300", "--val-fraction", "0.34", "--iterations", "3", "--batch", "1", "--warmup", "1", "--val-every", "3",
            "--checkpoint-every", "3", "--seed", "7", "--threads", "1");
        Assert.True(code == 0, err + output);
        Assert.Contains("depth branch on", output + err);
        var yaml = File.ReadAllText(System.IO.Path.Combine(run, "config.yaml"));
        foreach (var key in new[] { "method: msa", "msa_options:", "train_prompts: box:0.4,click:0.3,iterative:0.3", "loss: dice-bce", "slices: 3" }) Assert.Contains(key, yaml);
        var input = System.IO.Path.Combine(ds, "imagesTr", "synth_000_0000.nii.gz");
        var prompts = _tmp.File("p.json");
        File.WriteAllText(prompts, """{"classes": [{"value": 1, "boxes": [[2, 2, 1, 12, 12, 3]]}]}""");
        var outFile = _tmp.File("l.nii.gz");
        (code, _, err) = Invoke("predict", "--run", run, "--input", input, "--prompts", prompts, "--out", outFile, "--threads", "1");
        Assert.True(code == 0, err);
        var labels = VolumeIO.Read(outFile);
        Assert.Equal(VolumeIO.Read(input).Shape, labels.Shape);
    }

    [Fact]
    public void Train_medsam_fine_tunes_plain_sam_with_boxes()
    {
        var ds = SamAdapt.Tests.SyntheticDataset.Write(_tmp.Path, cases: 2);
        var run = _tmp.File("medsam");
        var (code, output, err) = Invoke("train", "--dataset", ds, "--method", "medsam", "--out", run, "--model", "tiny", "--img-size", "32",
            "--intensity", "ct-window:-500,300", "--val-fraction", "0", "--iterations", "2", "--batch", "1", "--warmup", "1", "--seed", "7", "--threads", "1");
        Assert.True(code == 0, err + output);
        var yaml = File.ReadAllText(System.IO.Path.Combine(run, "config.yaml"));
        foreach (var key in new[] { "method: medsam", "train_prompts: jitter-box:1", "slices: 1" }) Assert.Contains(key, yaml);
        var keys = SafeTensors.Load(System.IO.Path.Combine(run, "adapter.safetensors")).Tensors.Keys.ToList();
        Assert.DoesNotContain(keys, k => k.Contains("_Adapter.", StringComparison.Ordinal));
        Assert.Contains("image_encoder.blocks.0.attn.qkv.weight", keys);
        var e = Assert.Throws<CliException>(() => Invoke("train", "--dataset", ds, "--method", "medsam", "--out", _tmp.File("m2"), "--model", "tiny", "--slices", "3", "--iterations", "1"));
        Assert.Contains("--slices 3", e.Message);
        // MSA's model and prompt options are refused by name (nothing is written); medsam's own --loss is not among them
        var m3 = _tmp.File("m3");
        e = Assert.Throws<CliException>(() => Invoke("train", "--dataset", ds, "--method", "medsam", "--out", m3, "--model", "tiny", "--iterations", "1",
            "--slices-as-channels", "--trains", "all", "--train-prompts", "box", "--loss", "bce"));
        Assert.Contains("--slices-as-channels, --trains, --train-prompts: option(s) of --method msa", e.Message);
        Assert.False(Directory.Exists(m3));
    }
}
