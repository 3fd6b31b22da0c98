using System.CommandLine;
using System.Diagnostics;
using SamAdapt.Cli;
using SamAdapt.Cli.Commands;
using SamAdapt.Imaging;
using SamAdapt.Imaging.Nifti;
using SamAdapt.Methods;
using SamAdapt.Methods.Semantic;
using SamAdapt.Tests;

namespace SamAdapt.Cli.Tests;

/// <summary>
/// `samadapt train` / `predict` end to end on a synthetic nnU-Net dataset with a tiny from-scratch SAM (32² input,
/// 3-slice stacks, a few iterations): the run folder's files, prediction geometry and label values, folders, resume, and
/// the errors users get for bad input. Resume after SIGKILL is the engine's own test.
/// </summary>
public class TrainPredictCommandTests : IDisposable
{
    private readonly TempDir _tmp = TestPaths.NewTempDir();
    public void Dispose() => _tmp.Dispose();

    private string SyntheticDataset(int cases = 4, bool broken = false) => global::SamAdapt.Tests.SyntheticDataset.Write(_tmp.Path, cases, broken);

    private static (int Code, string Out, string Err) Invoke(params string[] args)
    {
        var root = new RootCommand { new TrainCommand().Build(), new PredictCommand().Build() };
        var sw = new StringWriter();
        var err = new StringWriter();
        int code = root.Parse(args).Invoke(new InvocationConfiguration { Output = sw, Error = err, EnableDefaultExceptionHandler = false });
        return (code, sw.ToString(), err.ToString());
    }

    private static string[] TrainArgs(string dataset, string run, int iterations = 4) =>
    [
        "train", "--dataset", dataset, "--method", "ma-sam", "--out", run, "--model", "tiny", "--img-size", "32", "--slices", "3",
        "--intensity", "ct-window:-500,300", "--val-fraction", "0.25", "--iterations", iterations.ToString(), "--batch", "2",
        "--warmup", "1", "--val-every", "2", "--checkpoint-every", "2", "--seed", "7", "--threads", "1",
    ];

    [Fact]
    public void Train_writes_the_run_folder_and_predict_keeps_the_input_grid()
    {
        var ds = SyntheticDataset();
        var run = Path.Combine(_tmp.Path, "run");
        var (code, output, err) = Invoke(TrainArgs(ds, run));
        Assert.True(code == 0, err);
        Assert.Contains("2 classes (liver, spleen)", output);
        Assert.Contains("parameters:", err + output);
        foreach (var f in new[] { "config.yaml", "train_log.csv", "val_log.csv", "curves.svg", "adapter.safetensors", "best.safetensors", "last.ckpt" })
            Assert.True(File.Exists(Path.Combine(run, f)), $"{f} missing from the run folder");
        var yaml = File.ReadAllText(Path.Combine(run, "config.yaml"));
        foreach (var key in new[] { "dataset:", "train_cases:", "validation_cases:", "base_checkpoint_sha256:", "intensity: ct-window:-500,300", "image_size: 32", "slices: 3", "lr:" })
            Assert.Contains(key, yaml);
        Assert.Equal(5, File.ReadAllLines(Path.Combine(run, "train_log.csv")).Length); // header + 4 steps

        // one volume → a file on the same grid, with values from the dataset's labels
        var input = Path.Combine(ds, "imagesTr", "synth_002_0000.nii.gz");
        var outFile = Path.Combine(_tmp.Path, "pred", "synth_002.nii.gz");
        (code, _, err) = Invoke("predict", "--run", run, "--input", input, "--out", outFile, "--probabilities", "--batch", "3", "--threads", "1");
        Assert.True(code == 0, err);
        var src = VolumeIO.Read(input);
        var pred = VolumeIO.Read(outFile);
        Assert.Equal(src.Shape, pred.Shape);
        Assert.Equal(src.Affine, pred.Affine);
        Assert.Equal(Volume.IntentLabel, pred.IntentCode);
        Assert.Equal(VoxelType.UInt8, pred.Type);
        for (long i = 0; i < pred.VoxelCount; i++) Assert.Contains((int)pred.Get(i), new[] { 0, 1, 2 });
        var probs = VolumeIO.Read(PredictCommand.ProbabilityPath(outFile));
        Assert.Equal([.. src.Shape, 3], probs.Shape);
        var p = probs.ToFloat32();
        long n = src.VoxelCount;
        for (long i = 0; i < n; i += 37) Assert.InRange(p[i] + p[i + n] + p[i + 2 * n], 0.999f, 1.001f);

        // a folder (nnU-Net _0000 names) → one <case>.nii.gz per volume
        var folderOut = Path.Combine(_tmp.Path, "predfolder");
        (code, _, err) = Invoke("predict", "--run", run, "--weights", "last", "--input", Path.Combine(ds, "imagesTr"), "--out", folderOut, "--threads", "1");
        Assert.True(code == 0, err);
        var names = Directory.GetFiles(folderOut).Select(f => Path.GetFileName(f)).Order().ToArray();
        Assert.Equal(new[] { "synth_000.nii.gz", "synth_001.nii.gz", "synth_002.nii.gz", "synth_003.nii.gz" }, names);
        Assert.Equal(VolumeIO.Read(Path.Combine(ds, "imagesTr", "synth_003_0000.nii.gz")).Shape, VolumeIO.Read(Path.Combine(folderOut, "synth_003.nii.gz")).Shape);

        // test-time slice mirroring: the same grid; an unknown --tta is a user error (exit 2) naming the choices, and nothing is written
        var ttaFile = Path.Combine(_tmp.Path, "tta", "synth_002.nii.gz");
        (code, _, err) = Invoke("predict", "--run", run, "--input", input, "--out", ttaFile, "--tta", "flip-slices", "--threads", "1");
        Assert.True(code == 0, err);
        Assert.Equal(src.Shape, VolumeIO.Read(ttaFile).Shape);
        var badFile = Path.Combine(_tmp.Path, "tta-bad", "synth_002.nii.gz");
        var bad = Assert.Throws<CliException>(() => Invoke("predict", "--run", run, "--input", input, "--out", badFile, "--tta", "rot90", "--threads", "1"));
        Assert.Contains("--tta: expected one of none, flip-slices, found 'rot90'", bad.Message);
        Assert.False(File.Exists(badFile));
        // --masksam-output belongs to masksam runs: refused for this ma-sam run, and an unknown value names the choices; nothing written
        bad = Assert.Throws<CliException>(() => Invoke("predict", "--run", run, "--input", input, "--out", badFile, "--masksam-output", "pixel-head", "--threads", "1"));
        Assert.Contains("--masksam-output: an option of masksam runs; this run is ma-sam", bad.Message);
        bad = Assert.Throws<CliException>(() => Invoke("predict", "--run", run, "--input", input, "--out", badFile, "--masksam-output", "pixels", "--threads", "1"));
        Assert.Contains("--masksam-output: expected one of combined, mask-classification, pixel-head, found 'pixels'", bad.Message);
        Assert.False(File.Exists(badFile));
    }

    [Fact]
    public void Resume_through_the_cli_continues_from_the_checkpoint()
    {
        var ds = SyntheticDataset();
        var run = Path.Combine(_tmp.Path, "run");
        var args = TrainArgs(ds, run, iterations: 6);
        var parsed = new RootCommand { new TrainCommand().Build() }.Parse(args);
        Assert.Empty(parsed.Errors);
        // stop the first session after iteration 2's progress line (as Ctrl+C would): it checkpoints and exits
        using var cts = new CancellationTokenSource();
        var err = new CancelAfter("step 2/6", cts);
        var a = new TrainSettings
        {
            Dataset = ds, Method = "ma-sam", Out = run, Model = "tiny", ImageSize = 32, Slices = 3, Intensity = "ct-window:-500,300", ValFraction = 0.25,
            Iterations = 6, Batch = 2, Warmup = 1, ValEvery = 2, CheckpointEvery = 2, Seed = 7, LogEvery = 1, Runtime = new() { Threads = 1 },
        };
        var first = TrainCommand.Train(a, TextWriter.Null, err, interactive: false, cancellation: cts.Token);
        Assert.NotNull(first);
        Assert.Equal(Training.Engine.TrainingStopReason.Cancelled, first!.Reason);
        Assert.InRange(first.Steps, 2, 5);

        var err2 = new StringWriter();
        var second = TrainCommand.Train(new TrainSettings { Out = run, Resume = true, LogEvery = 1 }, TextWriter.Null, err2, interactive: false);
        Assert.NotNull(second);
        Assert.Equal(Training.Engine.TrainingStopReason.Completed, second!.Reason);
        Assert.Equal(6, second.Steps);
        Assert.Contains($"resuming '{Path.GetFullPath(run)}' at iteration {first.Steps}/6", err2.ToString());
        var steps = File.ReadAllLines(Path.Combine(run, "train_log.csv")).Skip(1).Select(l => int.Parse(l.Split(',')[0])).ToArray();
        Assert.Equal([1, 2, 3, 4, 5, 6], steps);

        // options that contradict the run are refused
        var e = Assert.Throws<CliException>(() => TrainCommand.Train(new TrainSettings { Out = run, Resume = true, Lr = 0.5 }, TextWriter.Null, TextWriter.Null, false));
        Assert.Contains("lr", e.Message);
    }

    [Theory]
    [InlineData("ma-sam")]
    [InlineData("lora")]
    public void Train_on_a_sam_checkpoint_records_it_and_predict_rebuilds_from_it(string method)
    {
        var ckpt = TestPaths.Fixture("sam-tiny", "checkpoint.pth");
        Assert.True(File.Exists(ckpt), ckpt);
        var ds = SyntheticDataset();
        var run = Path.Combine(_tmp.Path, "run-" + method);
        var (code, output, err) = Invoke("train", "--dataset", ds, "--method", method, "--out", run, "--checkpoint", ckpt, "--img-size", "64",
            "--slices", "3", "--intensity", "ct-window:-500,300", "--iterations", "2", "--val-every", "0", "--checkpoint-every", "0", "--threads", "1");
        Assert.True(code == 0, err);
        Assert.Contains("base: " + Path.GetFullPath(ckpt), output);
        var yaml = File.ReadAllText(Path.Combine(run, "config.yaml"));
        Assert.Contains("base_checkpoint_sha256: " + SemanticSamSetup.Sha256(ckpt), yaml);
        // only the trained tensors are stored: the frozen encoder comes back from the checkpoint
        var (tensors, meta) = SamAdapt.Torch.Serialization.SafeTensors.Load(Path.Combine(run, "adapter.safetensors"));
        Assert.Equal("trainable", meta["contents"]);
        Assert.DoesNotContain(tensors.Keys, k => k == "image_encoder.patch_embed.proj.weight");

        var input = Path.Combine(ds, "imagesTr", "synth_001_0000.nii.gz");
        var outFile = Path.Combine(_tmp.Path, method + ".nii.gz");
        (code, _, err) = Invoke("predict", "--run", run, "--input", input, "--out", outFile, "--threads", "1");
        Assert.True(code == 0, err);
        Assert.Equal(VolumeIO.Read(input).Shape, VolumeIO.Read(outFile).Shape);
    }

    [Fact]
    public void Bad_inputs_give_clear_errors()
    {
        var ds = SyntheticDataset();
        var e = Assert.Throws<CliException>(() => Invoke("predict", "--run", Path.Combine(_tmp.Path, "nope"), "--input", ds, "--out", _tmp.File("x.nii.gz")));
        Assert.Contains("--run: no such folder", e.Message);

        e = Assert.Throws<CliException>(() => Invoke([.. TrainArgs(ds, Path.Combine(_tmp.Path, "r1")), "--labels", "1,7"]));
        Assert.Contains("7", e.Message);
        Assert.Contains("not in", e.Message);

        var broken = SyntheticDataset(broken: true);
        e = Assert.Throws<CliException>(() => Invoke(TrainArgs(broken, Path.Combine(_tmp.Path, "r2"))));
        Assert.Contains("problem", e.Message);
        Assert.Contains("synth_001", e.Message);
        Assert.False(File.Exists(Path.Combine(_tmp.Path, "r2", "config.yaml")));

        e = Assert.Throws<CliException>(() => Invoke("train", "--dataset", ds, "--method", "ma-sam", "--out", _tmp.File("r3"), "--iterations", "2"));
        Assert.Contains("--checkpoint", e.Message);

        e = Assert.Throws<CliException>(() => Invoke("train", "--out", _tmp.File("r4"), "--resume"));
        Assert.Contains("not a run folder", e.Message);
    }

    [Fact]
    public void The_cli_exits_with_2_on_a_missing_run_folder()
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "samadapt.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var s in new[] { dll, "predict", "--run", _tmp.File("missing"), "--input", _tmp.Path, "--out", _tmp.File("o.nii.gz") }) psi.ArgumentList.Add(s);
        using var p = Process.Start(psi)!;
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.Equal(2, p.ExitCode);
        Assert.Contains("samadapt: error: --run: no such folder", stderr);
    }

    [Fact]
    public void Train_with_an_unknown_method_exits_2_naming_the_known_methods()
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "samadapt.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var s in new[] { dll, "train", "--dataset", _tmp.Path, "--method", "nope", "--out", _tmp.File("run-nope") }) psi.ArgumentList.Add(s);
        using var p = Process.Start(psi)!;
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.Equal(2, p.ExitCode);
        Assert.Contains("unknown method 'nope'", stderr);
        foreach (var name in new[] { "ma-sam", "lora", "full" }) Assert.Contains(name, stderr);
        Assert.DoesNotContain("   at ", stderr); // no stack trace
        Assert.False(Directory.Exists(_tmp.File("run-nope")));
    }

    /// <summary>A writer that cancels when a given text is written (the trainer's plain progress lines).</summary>
    private sealed class CancelAfter(string marker, CancellationTokenSource cts) : StringWriter
    {
        public override void WriteLine(string? value)
        {
            base.WriteLine(value);
            if (value is not null && value.Contains(marker, StringComparison.Ordinal)) cts.Cancel();
        }
    }
}
