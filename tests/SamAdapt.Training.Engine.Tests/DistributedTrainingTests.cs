using System.Diagnostics;
using System.Globalization;
using SamAdapt.Tests;
using SamAdapt.Torch.Serialization;
using SamAdapt.Training.Engine.Distributed;
using Xunit.Abstractions;

namespace SamAdapt.Training.Engine.Tests;

/// <summary>
/// Data-parallel training for real: the test host (a tiny training job) runs as 2 processes joined by libtorch's c10d
/// (TCP store + Gloo over 127.0.0.1), started either by a launcher's environment (RANK, WORLD_SIZE, ...) or by
/// --nproc. The loss has no Dice term and the net no dropout here, so 2 processes × a shard of B equal 1 process × 2B
/// up to float summation order.
/// </summary>
public class DistributedTrainingTests(ITestOutputHelper output)
{
    private static readonly string HostDll = Path.Combine(AppContext.BaseDirectory, "SamAdapt.Training.Engine.TestHost.dll");

    // CE-only loss, no dropout: the loss of a batch is the mean of its halves' losses, the gradient likewise
    private static readonly string[] Exact = ["--dice-weight", "0", "--dropout", "0", "--batch", "8", "--lr", "5e-3"];

    private sealed class Rank : IDisposable
    {
        private readonly Process _p;
        private readonly List<string> _out = new();
        private readonly System.Text.StringBuilder _err = new();

        public Rank(IReadOnlyDictionary<string, string>? env, params string[] args)
        {
            Assert.True(File.Exists(HostDll), $"test host not built: {HostDll}");
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.ArgumentList.Add(HostDll);
            foreach (var a in args) psi.ArgumentList.Add(a);
            psi.Environment["SAMADAPT_NUM_THREADS"] = "1";
            if (env != null) foreach (var (k, v) in env) psi.Environment[k] = v;
            _p = Process.Start(psi)!;
            _p.OutputDataReceived += (_, e) => { if (e.Data != null) lock (_out) _out.Add(e.Data); };
            _p.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (_err) _err.AppendLine(e.Data); };
            _p.BeginOutputReadLine();
            _p.BeginErrorReadLine();
        }

        public string Stdout { get { lock (_out) return string.Join("\n", _out); } }
        public string Stderr { get { lock (_err) return _err.ToString(); } }
        public int Checkpoints { get { lock (_out) return _out.Count(l => l.StartsWith("checkpoint ", StringComparison.Ordinal)); } }

        public void WaitForCheckpoints(int n)
        {
            var sw = Stopwatch.StartNew();
            while (Checkpoints < n)
            {
                if (_p.HasExited) Assert.Fail($"rank exited ({_p.ExitCode}) before {n} checkpoint(s):\n{Stderr}");
                if (sw.Elapsed > TimeSpan.FromSeconds(120)) Assert.Fail($"no checkpoint {n} within 120 s:\n{Stderr}");
                Thread.Sleep(5);
            }
        }

        public void Kill()
        {
            try { _p.Kill(); } catch (InvalidOperationException) { }
            _p.WaitForExit();
        }

        public int Wait(int seconds = 180)
        {
            if (!_p.WaitForExit(TimeSpan.FromSeconds(seconds))) { Kill(); Assert.Fail($"process did not finish in {seconds} s:\n{Stderr}"); }
            _p.WaitForExit();
            return _p.ExitCode;
        }

        public void Dispose() { if (!_p.HasExited) Kill(); _p.Dispose(); }
    }

    private static Dictionary<string, string> Env(int rank, int world, int port) =>
        new(new DistributedSettings(rank, world, rank, "127.0.0.1", port).ToEnvironment());

    private static void RunOne(params string[] args)
    {
        using var r = new Rank(null, args);
        Assert.True(r.Wait() == 0, "single process failed:\n" + r.Stderr);
    }

    /// <summary>Two ranks started the way torchrun or srun would (environment only); both must succeed.</summary>
    private static void RunTwo(params string[] args)
    {
        int port = LocalLauncher.FreePort();
        using var r0 = new Rank(Env(0, 2, port), args);
        using var r1 = new Rank(Env(1, 2, port), args);
        int c1 = r1.Wait(), c0 = r0.Wait();
        Assert.True(c0 == 0 && c1 == 0, $"rank 0 exit {c0}:\n{r0.Stderr}\nrank 1 exit {c1}:\n{r1.Stderr}");
    }

    private static double[] Losses(string dir) =>
        File.ReadLines(Path.Combine(dir, "train_log.csv")).Skip(1).Select(l => double.Parse(l.Split(',')[2], CultureInfo.InvariantCulture)).ToArray();

    private static long[] Steps(string dir) =>
        File.ReadLines(Path.Combine(dir, "train_log.csv")).Skip(1).Select(l => long.Parse(l.Split(',')[0], CultureInfo.InvariantCulture)).ToArray();

    private static void AssertClose(string a, string b, int iterations, double tol)
    {
        var la = Losses(a);
        var lb = Losses(b);
        Assert.Equal(iterations, la.Length);
        Assert.Equal(Enumerable.Range(1, iterations).Select(i => (long)i), Steps(b));
        for (int i = 0; i < la.Length; i++)
            Assert.True(Math.Abs(la[i] - lb[i]) <= tol * Math.Max(1, Math.Abs(la[i])), $"loss at step {i + 1}: {la[i]} vs {lb[i]}");
        var wa = SafeTensors.Load(Path.Combine(a, "adapter.safetensors")).Tensors;
        var wb = SafeTensors.Load(Path.Combine(b, "adapter.safetensors")).Tensors;
        Assert.Equal(wa.Keys.Order(), wb.Keys.Order());
        foreach (var (k, t) in wa)
        {
            var x = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(t.Data);
            var y = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(wb[k].Data);
            Assert.Equal(x.Length, y.Length);
            for (int i = 0; i < x.Length; i++)
                Assert.True(Math.Abs(x[i] - y[i]) <= tol * Math.Max(1, Math.Abs(x[i])), $"{k}[{i}]: {x[i]} vs {y[i]}");
        }
    }

    [Fact]
    public void Two_processes_with_half_batches_follow_one_process_with_the_whole_batch()
    {
        using var tmp = TestPaths.NewTempDir();
        string one = tmp.File("one"), two = tmp.File("two"), launched = tmp.File("launched");
        string[] common = ["--iterations", "12", "--ckpt-every", "6", "--val-every", "6", .. Exact];
        RunOne(["--run", one, .. common]);
        RunTwo(["--run", two, .. common]);
        AssertClose(one, two, 12, 1e-4);
        // the weights did move (the comparison is not between two untouched models)
        Assert.True(Math.Abs(Losses(one)[0] - Losses(one)[^1]) > 1e-3, "training did not change the loss");
        // rank 0 alone wrote the run folder: one row per step (no duplicate rows from rank 1), no stray temporaries
        Assert.Empty(Directory.GetFiles(two, ".*.tmp"));

        // the same job started by --nproc 2 (LocalLauncher) is the same computation as the environment-started one
        using (var r = new Rank(null, ["--run", launched, .. common, "--nproc", "2"]))
            Assert.True(r.Wait() == 0, "--nproc 2 failed:\n" + r.Stderr + r.Stdout);
        AssertClose(two, launched, 12, 1e-6);
    }

    [Fact]
    public void A_time_budget_run_of_two_processes_runs_rank_0s_plan_on_both_and_ends_within_the_budget()
    {
        using var tmp = TestPaths.NewTempDir();
        string run = tmp.File("run");
        // rank 1 is the slow one: rank 0's calibration and re-plans wait for it in every gradient all-reduce, so the plan fits it
        string[] common = ["--run", run, "--time-budget", "0.15", "--ckpt-every", "0", "--val-every", "0", "--slow-rank", "1", "--step-ms", "40", .. Exact];
        int port = LocalLauncher.FreePort();
        using var r0 = new Rank(Env(0, 2, port), common);
        using var r1 = new Rank(Env(1, 2, port), common);
        int c1 = r1.Wait(), c0 = r0.Wait();
        Assert.True(c0 == 0 && c1 == 0, $"rank 0 exit {c0}:\n{r0.Stderr}\nrank 1 exit {c1}:\n{r1.Stderr}");
        output.WriteLine(r0.Stderr);
        static long Done(string stdout) => long.Parse(stdout.Split('\n').Single(l => l.StartsWith("done ", StringComparison.Ordinal))[5..], CultureInfo.InvariantCulture);
        long n0 = Done(r0.Stdout), n1 = Done(r1.Stdout);
        Assert.Equal(n0, n1); // one length on both ranks
        Assert.Contains("iterations planned", r0.Stderr);
        var ckpt = TrainingCheckpoint.Load(Path.Combine(run, "last.ckpt"));
        Assert.Equal(n0, ckpt.State.Step);
        Assert.Equal(Enumerable.Range(1, (int)n0).Select(i => (long)i), Steps(run));
        // within the 9 s budget (stopped at it at the latest): at ≥ 40 ms per iteration (rank 1's pace) at most ~225 iterations
        Assert.True(ckpt.State.TotalSteps >= n0, $"{n0} iterations of a schedule of {ckpt.State.TotalSteps}");
        Assert.True(n0 is >= 20 and <= 230, $"{n0} iterations");
        Assert.True(ckpt.State.ElapsedSeconds <= 10.0, $"ran {ckpt.State.ElapsedSeconds:F1} s of a 9 s budget");
    }

    [Fact]
    public void Killing_one_rank_stops_the_other_naming_it_and_resume_completes_the_run()
    {
        using var tmp = TestPaths.NewTempDir();
        string reference = tmp.File("ref"), run = tmp.File("run");
        string[] common = ["--iterations", "24", "--ckpt-every", "6", "--val-every", "6", "--dist-timeout", "20", .. Exact];
        RunTwo(["--run", reference, .. common]);

        int port = LocalLauncher.FreePort();
        using (var r0 = new Rank(Env(0, 2, port), ["--run", run, .. common, "--delay-ms", "300"]))
        using (var r1 = new Rank(Env(1, 2, port), ["--run", run, .. common, "--delay-ms", "300"]))
        {
            r0.WaitForCheckpoints(1);
            r1.Kill(); // SIGKILL: its sockets close, rank 0's next collective fails
            int code = r0.Wait(90);
            output.WriteLine(r0.Stderr);
            Assert.NotEqual(0, code);
            Assert.Contains("rank 1", r0.Stderr);
            Assert.Contains("--resume", r0.Stderr);
        }
        var ckpt = TrainingCheckpoint.Load(Path.Combine(run, "last.ckpt"));
        Assert.Equal(0, ckpt.State.Step % 6);
        Assert.True(ckpt.State.Step is >= 6 and < 24, $"checkpoint at {ckpt.State.Step}");
        Assert.Empty(Directory.GetFiles(run, ".*.tmp")); // rank 0 stopped between writes: nothing half-written

        RunTwo(["--run", run, .. common, "--resume"]);
        AssertClose(reference, run, 24, 1e-6);
    }

    [Fact]
    public void Killing_rank_0_the_store_host_stops_the_others_naming_it()
    {
        using var tmp = TestPaths.NewTempDir();
        string run = tmp.File("run");
        string[] common = ["--run", run, "--iterations", "24", "--ckpt-every", "4", "--val-every", "0", "--dist-timeout", "20", "--delay-ms", "300", .. Exact];
        int port = LocalLauncher.FreePort();
        using var r0 = new Rank(Env(0, 2, port), common);
        using var r1 = new Rank(Env(1, 2, port), common);
        r0.WaitForCheckpoints(1);
        r0.Kill();
        int code = r1.Wait(90);
        output.WriteLine(r1.Stderr);
        Assert.NotEqual(0, code);
        Assert.Contains("rank 0", r1.Stderr);
        Assert.Contains("--resume", r1.Stderr);
        var step = TrainingCheckpoint.Load(Path.Combine(run, "last.ckpt")).State.Step; // the complete checkpoint before the kill
        Assert.True(step >= 4 && step % 4 == 0 && step < 24, $"checkpoint at {step}");
    }

    [Fact]
    public void A_hung_rank_is_named_after_the_timeout_and_the_launcher_stops_the_job()
    {
        using var tmp = TestPaths.NewTempDir();
        string run = tmp.File("run");
        using var r = new Rank(null, ["--run", run, "--iterations", "12", "--ckpt-every", "4", "--val-every", "0", "--dist-timeout", "4",
            "--stall-rank", "1", "--stall-at", "6", "--nproc", "2", .. Exact]);
        int code = r.Wait(120);
        output.WriteLine(r.Stderr);
        Assert.NotEqual(0, code);
        Assert.Contains("rank 1 is alive but still at step 5", r.Stderr);
        Assert.Contains("launcher: rank 0 failed", r.Stdout);
        // the last complete checkpoint is the one before the hang
        Assert.Equal(4, TrainingCheckpoint.Load(Path.Combine(run, "last.ckpt")).State.Step);
    }
}
