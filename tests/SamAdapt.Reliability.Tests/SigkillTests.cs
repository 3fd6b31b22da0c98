using System.Diagnostics;
using System.Text.Json;
using SamAdapt.Reliability.Tests.Fuzz;
using SamAdapt.Tests;
using Xunit.Abstractions;

namespace SamAdapt.Reliability.Tests;

/// <summary>
/// SIGKILL at seeded random moments of `convert` and `evaluate` (real processes): never a partial file under a final name,
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
    private int KillRepeatedly(string[] args, string outDir, string[] outputs, Action<string> check, int rounds, int maxDelayMs)
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
