using System.Diagnostics;
using System.Text.Json;
using SamAdapt.Cli;
using SamAdapt.Imaging;
using SamAdapt.Imaging.Nifti;
using SamAdapt.Reliability.Tests.Fuzz;
using SamAdapt.Tests;
using Xunit.Abstractions;

namespace SamAdapt.Reliability.Tests;

/// <summary>
/// SIGKILL at seeded random moments of `convert`, `evaluate` and `predict --probabilities` (real processes): never a partial file under a final name,
/// no temporary file left after the next run, and the next run completes. (`train` is covered by the engine's
/// KillResumeTests, which kill at explicit points and mid-checkpoint and resume.)
/// </summary>
public class SigkillTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDir _tmp = TestPaths.NewTempDir();
    public void Dispose() => _tmp.Dispose();

    private static string Dll()
    {
        var p = Path.Combine(AppContext.BaseDirectory, "samadapt.dll");
        Assert.True(File.Exists(p), $"samadapt.dll not built beside the tests: {p}");
        return p;
    }

    private static Process Start(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Dll());
        foreach (var a in args) psi.ArgumentList.Add(a);
        return Process.Start(psi)!;
    }

    private static (int Code, string Err) RunToEnd(params string[] args)
    {
        using var p = Start(args);
        var err = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(5)), "samadapt did not finish in 5 minutes");
        return (p.ExitCode, err.Result);
    }

    /// <summary>Kills runs of <paramref name="args"/> at random moments; after each kill checks the outputs with <paramref name="check"/>.</summary>
    private int KillRepeatedly(string[] args, string outDir, string[] outputs, Action<string> check, int rounds, int maxDelayMs, Action? after = null)
    {
        var rng = new Random(4242);
        int killedWithTemp = 0;
        for (int i = 0; i < rounds; i++)
        {
            using var p = Start(args);
            if (i % 2 == 0)
            {
                // targeted: kill while an atomic write is in progress (its temporary file exists), so the mid-write case is
                // exercised every time, not by timing luck
                var deadline = DateTime.UtcNow.AddSeconds(120);
                while (!p.HasExited && DateTime.UtcNow < deadline && Directory.GetFiles(outDir, ".*.tmp").Length == 0) Thread.Sleep(1);
            }
            else Thread.Sleep(rng.Next(0, maxDelayMs));
            if (!p.HasExited) p.Kill();
            p.WaitForExit();
            if (Directory.GetFiles(outDir, ".*.tmp").Length > 0) killedWithTemp++;
            foreach (var o in outputs.Where(File.Exists)) check(o); // whatever exists under a final name is complete
            after?.Invoke();
        }
        return killedWithTemp;
    }

    [Fact]
    public void Convert_killed_at_random_moments_leaves_no_partial_output_and_the_next_run_cleans_up()
    {
        var input = Path.Combine(Corpus.Mricron, "ch2better.nii.gz");
        var outDir = Directory.CreateDirectory(_tmp.File("out")).FullName;
        var target = Path.Combine(outDir, "ch2.nii.gz");
        string[] args = ["convert", input, target, "--spacing", "0.7"];
        int midWrite = KillRepeatedly(args, outDir, [target], o => Assert.Equal(0, RunToEnd("info", o).Code), rounds: 6, maxDelayMs: 6000);
        Assert.True(midWrite >= 1, "no kill landed inside a write: the test did not exercise what it should");
        var (code, err) = RunToEnd(args);
        Assert.True(code == 0, err);
        Assert.Equal(0, RunToEnd("info", target).Code);
        Assert.Empty(Directory.GetFiles(outDir, ".*.tmp")); // left by the kills, removed by the next write
        output.WriteLine($"6 kills, {midWrite} left a temporary file; the next run removed them");
    }

    /// <summary>A tiny MA-SAM run trained in-process on a synthetic two-organ dataset (labels 1 and 2).</summary>
    private string TrainTinyRun()
    {
        // a tiny MA-SAM run trained in-process on a synthetic two-organ dataset
        var ds = Directory.CreateDirectory(_tmp.File("Dataset001_Synth")).FullName;
        Directory.CreateDirectory(Path.Combine(ds, "imagesTr"));
        Directory.CreateDirectory(Path.Combine(ds, "labelsTr"));
        File.WriteAllText(Path.Combine(ds, "dataset.json"),
            """{"channel_names": {"0": "CT"}, "labels": {"background": 0, "liver": 1, "spleen": 2}, "numTraining": 4, "file_ending": ".nii.gz"}""");
        double[] affine = [0.8, 0, 0, 10, 0, 0.8, 0, -20, 0, 0, 3, 5, 0, 0, 0, 1];
        for (int c = 0; c < 4; c++)
        {
            int ni = 24, nj = 20, nk = 6 + c;
            var img = new short[ni * nj * nk];
            var lbl = new byte[ni * nj * nk];
            for (int x = 0; x < img.Length; x++)
            {
                int i = x % ni, j = x / ni % nj;
                lbl[x] = (byte)(i >= 3 && i < 12 && j >= 4 && j < 12 ? 1 : i >= 15 && j >= 12 ? 2 : 0);
                img[x] = (short)(lbl[x] * 100 - 500);
            }
            NiftiWriter.Write(new Volume([ni, nj, nk], VoxelType.Int16, img, affine), Path.Combine(ds, "imagesTr", $"s_{c:000}_0000.nii.gz"));
            NiftiWriter.Write(new Volume([ni, nj, nk], VoxelType.UInt8, lbl, affine), Path.Combine(ds, "labelsTr", $"s_{c:000}.nii.gz"));
        }
        var run = _tmp.File("run");
        var err = new StringWriter();
        int trained = CliApp.Run(["train", "--dataset", ds, "--method", "ma-sam", "--out", run, "--model", "tiny", "--img-size", "32", "--slices", "3",
            "--intensity", "ct-window:-500,300", "--val-fraction", "0.25", "--iterations", "2", "--batch", "2", "--warmup", "1", "--val-every", "2",
            "--checkpoint-every", "2", "--seed", "7", "--threads", "1"], new StringWriter(), err);
        Assert.True(trained == 0, err.ToString());
        return run;

    }

    [Fact]
    public void Predict_refuses_a_class_list_that_does_not_match_the_model_or_does_not_fit_int16()
    {
        var run = TrainTinyRun();
        var input = Path.Combine(_tmp.File("Dataset001_Synth"), "imagesTr", "s_000_0000.nii.gz");
        var cfgPath = Path.Combine(run, "config.yaml");
        var original = File.ReadAllLines(cfgPath);
        int at = Array.FindIndex(original, l => l.Trim() == "class_values:");
        Assert.True(at >= 0, "config.yaml has no class_values list");
        int last = at;
        while (last + 1 < original.Length && original[last + 1].TrimStart().StartsWith("- ", StringComparison.Ordinal)) last++;
        Assert.Equal(3, last - at); // background, 1, 2
        var indent = original[last][..original[last].IndexOf('-')];
        foreach (var (edited, what) in new[]
                 {
                     (original.Where((_, i) => i != last).ToArray(), "one class fewer than the model's outputs"),
                     (original.Select((l, i) => i == last ? indent + "- 70000" : l).ToArray(), "a label value beyond int16"),
                 })
        {
            File.WriteAllLines(cfgPath, edited);
            var outFile = _tmp.File("p.nii.gz");
            var err = new StringWriter();
            int code = CliApp.Run(["predict", "--run", run, "--input", input, "--out", outFile, "--threads", "1"], new StringWriter(), err);
            Assert.True(code == 2, $"{what}: exit {code}\n{err}");
            Assert.Contains("class_values", err.ToString());
            Assert.False(File.Exists(outFile), $"{what}: a label map was written");
        }
        File.WriteAllLines(cfgPath, original);
        Assert.Equal(0, CliApp.Run(["predict", "--run", run, "--input", input, "--out", _tmp.File("ok.nii.gz"), "--threads", "1"], new StringWriter(), new StringWriter()));
    }

    [Fact]
    public void Predict_with_probabilities_killed_mid_write_never_leaves_probabilities_without_labels()
    {
        var run = TrainTinyRun();
        double[] affine = [0.8, 0, 0, 10, 0, 0.8, 0, -20, 0, 0, 3, 5, 0, 0, 0, 1];

        // a larger volume, so that writing the probabilities takes a while
        int n0 = 160, n1 = 160, n2 = 24;
        var rng = new Random(5);
        var big = new short[n0 * n1 * n2];
        for (int x = 0; x < big.Length; x++) big[x] = (short)rng.Next(-600, 300);
        var input = _tmp.File("big.nii.gz");
        NiftiWriter.Write(new Volume([n0, n1, n2], VoxelType.Int16, big, affine), input);
        var outDir = Directory.CreateDirectory(_tmp.File("pred")).FullName;
        string labels = Path.Combine(outDir, "big.nii.gz"), probs = Path.Combine(outDir, "big_probabilities.nii.gz");
        string[] args = ["predict", "--run", run, "--input", input, "--out", labels, "--probabilities", "--threads", "1"];
        int midWrite = KillRepeatedly(args, outDir, [labels, probs], o => Assert.Equal(0, RunToEnd("info", o).Code), rounds: 4, maxDelayMs: 8000,
            after: () => Assert.True(!File.Exists(probs) || File.Exists(labels), "probabilities appeared without their label map"));
        Assert.True(midWrite >= 1, "no kill landed inside a write: the test did not exercise what it should");
        var (code, e2) = RunToEnd(args);
        Assert.True(code == 0, e2);
        Assert.True(File.Exists(labels) && File.Exists(probs));
        Assert.Empty(Directory.GetFiles(outDir, ".*.tmp"));
    }

    [Fact]
    public void Evaluate_killed_at_random_moments_leaves_complete_reports_or_none()
    {
        var pred = Directory.CreateDirectory(_tmp.File("pred")).FullName;
        var gt = Directory.CreateDirectory(_tmp.File("gt")).FullName;
        var label = Path.Combine(Corpus.Mricron, "aal.nii.gz");
        for (int i = 0; i < 3; i++)
        {
            File.Copy(label, Path.Combine(pred, $"c{i}.nii.gz"));
            File.Copy(label, Path.Combine(gt, $"c{i}.nii.gz"));
        }
        var outDir = Directory.CreateDirectory(_tmp.File("out")).FullName;
        string json = Path.Combine(outDir, "r.json"), csv = Path.Combine(outDir, "r.csv");
        string[] args = ["evaluate", "--pred", pred, "--gt", gt, "--labels", "1,2,3", "--metrics", "dice,hd95", "--threads", "1", "--out", json, "--csv", csv];
        int midWrite = KillRepeatedly(args, outDir, [json, csv], o =>
        {
            if (o.EndsWith(".json", StringComparison.Ordinal)) JsonDocument.Parse(File.ReadAllText(o)).Dispose();
            else Assert.Contains("case", File.ReadLines(o).First());
        }, rounds: 5, maxDelayMs: 4000);
        output.WriteLine($"5 kills, {midWrite} inside a write of the reports");
        var (code, err) = RunToEnd(args);
        Assert.True(code == 0, err);
        Assert.True(File.Exists(json) && File.Exists(csv));
        Assert.Empty(Directory.GetFiles(outDir, ".*.tmp"));
    }
}
