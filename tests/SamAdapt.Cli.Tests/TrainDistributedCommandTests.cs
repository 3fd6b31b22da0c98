using System.Diagnostics;
using SamAdapt.Imaging;
using SamAdapt.Imaging.Nifti;
using SamAdapt.Tests;

namespace SamAdapt.Cli.Tests;

/// <summary>
/// `samadapt train --nproc 2` as a user runs it (the CLI as a process): two workers joined by c10d/Gloo over
/// 127.0.0.1 train a tiny from-scratch MA-SAM on a synthetic dataset; rank 0 writes the run folder.
/// </summary>
public class TrainDistributedCommandTests : IDisposable
{
    private readonly TempDir _tmp = TestPaths.NewTempDir();
    public void Dispose() => _tmp.Dispose();

    /// <summary>nnU-Net raw dataset: 3 cases of 20×20×7, one box label (1) on a dark background.</summary>
    private string Dataset()
    {
        var root = Path.Combine(_tmp.Path, "Dataset003_Dist");
        Directory.CreateDirectory(Path.Combine(root, "imagesTr"));
        Directory.CreateDirectory(Path.Combine(root, "labelsTr"));
        File.WriteAllText(Path.Combine(root, "dataset.json"),
            """{"channel_names": {"0": "CT"}, "labels": {"background": 0, "organ": 1}, "numTraining": 3, "file_ending": ".nii.gz"}""");
        double[] affine = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1];
        for (int c = 0; c < 3; c++)
        {
            int n = 20, nk = 7;
            var img = new short[n * n * nk];
            var lbl = new byte[n * n * nk];
            for (int k = 0; k < nk; k++)
                for (int j = 0; j < n; j++)
                    for (int i = 0; i < n; i++)
                    {
                        int x = i + n * (j + n * k);
                        bool organ = k >= 1 && i >= 4 + c && i < 12 + c && j >= 5 && j < 14;
                        lbl[x] = (byte)(organ ? 1 : 0);
                        img[x] = (short)(organ ? 150 : -400);
                    }
            NiftiWriter.Write(new Volume([n, n, nk], VoxelType.Int16, img, affine), Path.Combine(root, "imagesTr", $"d_{c:000}_0000.nii.gz"));
            NiftiWriter.Write(new Volume([n, n, nk], VoxelType.UInt8, lbl, affine), Path.Combine(root, "labelsTr", $"d_{c:000}.nii.gz"));
        }
        return root;
    }

    private static (int Code, string Out, string Err) Cli(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "samadapt.dll"));
        foreach (var s in args) psi.ArgumentList.Add(s);
        psi.Environment["SAMADAPT_NUM_THREADS"] = "1";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(4))) { p.Kill(true); Assert.Fail("samadapt train --nproc 2 did not finish in 4 minutes"); }
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    private string[] Args(string ds, string run, string batch) =>
    [
        "train", "--dataset", ds, "--method", "ma-sam", "--out", run, "--model", "tiny", "--img-size", "32", "--slices", "3",
        "--intensity", "ct-window:-500,300", "--val-fraction", "0.34", "--iterations", "4", "--batch", batch, "--warmup", "1",
        "--val-every", "2", "--checkpoint-every", "2", "--seed", "7", "--nproc", "2", "--dist-timeout", "60",
    ];

    [Fact]
    public void Nproc_2_trains_with_two_workers_and_rank_0_writes_the_run_folder()
    {
        var ds = Dataset();
        var run = Path.Combine(_tmp.Path, "run");
        var (code, output, err) = Cli(Args(ds, run, "2"));
        Assert.True(code == 0, $"exit {code}\n{err}\n{output}");
        Assert.Contains("starting 2 data-parallel worker processes", err);
        Assert.Contains("gradient all-reduce over 2 processes", err);
        Assert.Equal(5, File.ReadAllLines(Path.Combine(run, "train_log.csv")).Length); // header + 4 steps, written once
        foreach (var f in new[] { "config.yaml", "val_log.csv", "adapter.safetensors", "last.ckpt" })
            Assert.True(File.Exists(Path.Combine(run, f)), $"{f} missing");
        Assert.Empty(Directory.GetFiles(run, ".*.tmp"));
    }

    [Fact]
    public void A_global_batch_that_does_not_split_over_the_workers_is_a_clear_error()
    {
        var ds = Dataset();
        var (code, _, err) = Cli(Args(ds, Path.Combine(_tmp.Path, "bad"), "3"));
        Assert.Equal(2, code);
        Assert.Contains("--batch 3 is the global batch and must be a multiple of the 2 processes", err);
        Assert.DoesNotContain("   at ", err); // no stack trace
    }
}
