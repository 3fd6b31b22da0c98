using Xunit.Abstractions;
using System.Diagnostics;
using SamAdapt.Tests;
using SamAdapt.Torch.Serialization;

namespace SamAdapt.Training.Engine.Tests;

/// <summary>
/// Crash safety for real: the test host (a tiny training job in its own process) is killed with SIGKILL
/// (<see cref="Process.Kill()"/> on Linux), resumed with --resume, and its whole loss sequence compared with an
/// uninterrupted run's.
/// </summary>
public class KillResumeTests(ITestOutputHelper output)
{
    private static readonly string HostDll = Path.Combine(AppContext.BaseDirectory, "SamAdapt.Training.Engine.TestHost.dll");

    private sealed class Child : IDisposable
    {
        private readonly Process _p;
        private readonly List<string> _out = new();
        private readonly System.Text.StringBuilder _err = new();

        public Child(params string[] args)
        {
            Assert.True(File.Exists(HostDll), $"test host not built: {HostDll}");
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.ArgumentList.Add(HostDll);
            foreach (var a in args) psi.ArgumentList.Add(a);
            _p = Process.Start(psi)!;
            _p.OutputDataReceived += (_, e) => { if (e.Data != null) lock (_out) _out.Add(e.Data); };
            _p.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (_err) _err.AppendLine(e.Data); };
            _p.BeginOutputReadLine();
            _p.BeginErrorReadLine();
        }

        public int Checkpoints { get { lock (_out) return _out.Count(l => l.StartsWith("checkpoint ")); } }
        public bool Holding { get { lock (_out) return _out.Any(l => l.StartsWith("holding ")); } }

        /// <summary>Waits until the host reached its explicit kill point (--hold-at-step) and is waiting there.</summary>
        public void WaitForHold()
        {
            var sw = Stopwatch.StartNew();
            while (!Holding)
            {
                if (_p.HasExited) { _p.WaitForExit(); if (Holding) return; Assert.Fail($"child exited ({_p.ExitCode}) before its hold point:\n{Stderr}"); }
                if (sw.Elapsed > TimeSpan.FromSeconds(120)) Assert.Fail($"no hold within 120 s:\n{Stderr}");
                Thread.Sleep(5);
            }
        }
        public string Stderr { get { lock (_err) return _err.ToString(); } }
        public bool HasExited => _p.HasExited;

        public void WaitForCheckpoints(int n)
        {
            var sw = Stopwatch.StartNew();
            while (Checkpoints < n)
            {
                if (_p.HasExited) { _p.WaitForExit(); if (Checkpoints >= n) return; Assert.Fail($"child exited ({_p.ExitCode}) before {n} checkpoint(s):\n{Stderr}"); }
                if (sw.Elapsed > TimeSpan.FromSeconds(60)) Assert.Fail($"no checkpoint {n} within 60 s:\n{Stderr}");
                Thread.Sleep(5);
            }
        }

        /// <summary>SIGKILL: no chance to clean up, flush or finish a write.</summary>
        public void Kill()
        {
            try { _p.Kill(); } catch (InvalidOperationException) { }
            _p.WaitForExit();
        }

        public int Wait()
        {
            if (!_p.WaitForExit(TimeSpan.FromSeconds(90))) { Kill(); Assert.Fail("child did not finish in 90 s"); }
            _p.WaitForExit();
            return _p.ExitCode;
        }

        public void Dispose() { if (!_p.HasExited) Kill(); _p.Dispose(); }
    }

    private static void RunToEnd(params string[] args)
    {
        using var c = new Child(args);
        Assert.True(c.Wait() == 0, "child failed:\n" + c.Stderr);
    }

    private static string[] Losses(string dir) => File.ReadLines(Path.Combine(dir, "train_log.csv")).Skip(1).Select(l => l.Split(',')[2]).ToArray();

    private static void AssertSameRun(string reference, string resumed, long iterations)
    {
        var a = Losses(reference);
        var b = Losses(resumed);
        Assert.Equal(iterations, a.Length);
        Assert.Equal(a, b); // bit-identical: the round-trip decimal text of every float32 loss
        Assert.Equal(File.ReadAllText(Path.Combine(reference, "val_log.csv")), File.ReadAllText(Path.Combine(resumed, "val_log.csv")));
        var wa = SafeTensors.Load(Path.Combine(reference, "adapter.safetensors")).Tensors;
        var wb = SafeTensors.Load(Path.Combine(resumed, "adapter.safetensors")).Tensors;
        Assert.Equal(wa.Keys.Order(), wb.Keys.Order());
        foreach (var (k, t) in wa) Assert.True(t.Data.AsSpan().SequenceEqual(wb[k].Data), $"final weights differ in {k}");
        Assert.Empty(Directory.GetFiles(resumed, ".*.tmp"));
    }

    [Fact]
    public void Sigkill_after_a_checkpoint_then_resume_gives_the_uninterrupted_loss_sequence()
    {
        using var tmp = TestPaths.NewTempDir();
        string reference = tmp.File("ref"), run = tmp.File("run");
        string[] common = ["--iterations", "30", "--ckpt-every", "10", "--val-every", "5"];
        RunToEnd(["--run", reference, .. common]);

        // explicit kill point (not a timed one): the host holds after logging step 13, i.e. three steps past the checkpoint
        // at 10, so the resume must also drop the rows 11–13 that no checkpoint covers
        using (var c = new Child(["--run", run, .. common, "--hold-at-step", "13"]))
        {
            c.WaitForHold();
            c.Kill();
        }
        var ckpt = TrainingCheckpoint.Load(Path.Combine(run, "last.ckpt"));
        Assert.Equal(10, ckpt.State.Step);
        Assert.Equal(13, Losses(run).Length);

        RunToEnd(["--run", run, .. common, "--resume"]);
        AssertSameRun(reference, run, 30);
    }

    [Fact]
    public void A_resume_from_an_inconsistent_checkpoint_fails_before_touching_the_logs()
    {
        using var tmp = TestPaths.NewTempDir();
        string run = tmp.File("run");
        string[] common = ["--iterations", "20", "--ckpt-every", "10", "--val-every", "5"];
        using (var c = new Child(["--run", run, .. common, "--hold-at-step", "13"]))
        {
            c.WaitForHold();
            c.Kill();
        }
        string trainLog = Path.Combine(run, "train_log.csv"), valLog = Path.Combine(run, "val_log.csv"), path = Path.Combine(run, "last.ckpt");
        string train = File.ReadAllText(trainLog), val = File.ReadAllText(valLog);
        var ck = TrainingCheckpoint.Load(path);
        long bpe = ck.State.BatchesPerEpoch, huge = 1_000_000_000_000;
        foreach (var bad in new[]
                 {
                     ck.State with { Step = -5 },
                     ck.State with { Step = huge, Epoch = huge / bpe, BatchIndex = huge % bpe },
                     ck.State with { ElapsedSeconds = double.NaN },
                     ck.State with { BestStep = 99 },
                 })
        {
            new TrainingCheckpoint { State = bad, Model = ck.Model, Optimizer = ck.Optimizer, CpuRng = ck.CpuRng, CudaRng = ck.CudaRng }.Save(path);
            using var r = new Child(["--run", run, .. common, "--resume"]);
            Assert.Equal(3, r.Wait()); // the host's exit code for a TrainingException
            Assert.Contains("cannot resume", r.Stderr);
            Assert.Contains(" field ", r.Stderr); // names the inconsistent field, what was expected and what was found
            Assert.Equal(train, File.ReadAllText(trainLog)); // nothing truncated by a resume that could not start
            Assert.Equal(val, File.ReadAllText(valLog));
        }
        // the genuine checkpoint still resumes to the end
        new TrainingCheckpoint { State = ck.State, Model = ck.Model, Optimizer = ck.Optimizer, CpuRng = ck.CpuRng, CudaRng = ck.CudaRng }.Save(path);
        RunToEnd(["--run", run, .. common, "--resume"]);
        Assert.Equal(20, Losses(run).Length);
    }

    [Fact]
    public void Kills_at_random_moments_including_mid_checkpoint_never_corrupt_last_ckpt()
    {
        using var tmp = TestPaths.NewTempDir();
        string reference = tmp.File("ref"), run = tmp.File("run");
        // 1.5M-float ballast: every checkpoint writes ~12 MB (last.ckpt and adapter.safetensors), so many kills land inside a
        // write; the host pauses 20 ms after each checkpoint, so the run lasts long enough to be killed often on a fast machine too

        string[] common = ["--iterations", "40", "--ckpt-every", "4", "--val-every", "4", "--ballast", "1500000", "--delay-ms", "20"];
        RunToEnd(["--run", reference, .. common]);

        var rng = new Random(2024);
        int kills = 0, midWrite = 0, midCheckpoint = 0;
        long lastStep = -1;
        void AfterKill()
        {
            kills++;
            var temps = Directory.GetFiles(run, ".*.tmp").Select(Path.GetFileName).ToList();
            if (temps.Count > 0) midWrite++; // the kill interrupted an atomic write
            if (temps.Any(t => t!.StartsWith(".last.ckpt.", StringComparison.Ordinal))) midCheckpoint++;
            // whatever the moment of the kill, last.ckpt is complete and loads, and never goes back in time
            var ckpt = TrainingCheckpoint.Load(Path.Combine(run, "last.ckpt"));
            Assert.True(ckpt.State.Step >= lastStep, "the checkpoint went backwards");
            lastStep = ckpt.State.Step;
            SafeTensors.Load(Path.Combine(run, "adapter.safetensors"));
        }
        bool finished = false;
        for (int attempt = 0; attempt < 16 && !finished && !(midCheckpoint >= 1 && kills >= 4); attempt++)
        {
            using var c = new Child(["--run", run, .. common, .. (attempt == 0 ? Array.Empty<string>() : ["--resume"])]);
            c.WaitForCheckpoints(1);
            if (attempt % 2 == 1)
            {
                // targeted: kill the moment a write of last.ckpt is in progress (its temporary file exists), so the
                // mid-write case is exercised deterministically, not by timing luck
                var deadline = DateTime.UtcNow.AddSeconds(20);
                while (!c.HasExited && DateTime.UtcNow < deadline
                       && Directory.GetFiles(run, ".last.ckpt.*.tmp").Length == 0)
                    Thread.SpinWait(2000);
            }
            else Thread.Sleep(rng.Next(0, 150));
            if (c.HasExited) { finished = true; break; } // the run ended before the kill
            c.Kill();
            AfterKill();
        }
        output.WriteLine($"{kills} SIGKILLs, {midWrite} during an atomic write, {midCheckpoint} of them while last.ckpt was being written; last.ckpt loaded after every one (last at iteration {lastStep})");
        Assert.True(midCheckpoint >= 1, $"none of {kills} kills hit a write of last.ckpt (no temporary file left behind); the test did not exercise what it should");
        RunToEnd(["--run", run, .. common, "--resume"]);
        AssertSameRun(reference, run, 40);
    }
}
