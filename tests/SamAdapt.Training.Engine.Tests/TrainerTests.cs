using System.Globalization;
using SamAdapt.Tests;
using SamAdapt.Torch;
using SamAdapt.Torch.Serialization;
using SamAdapt.Training.Engine.TestHost;

// The trainer seeds libtorch's global generator: tests that train in-process must not run concurrently.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace SamAdapt.Training.Engine.Tests;

public class TrainerTests
{
    // one intra-op thread: the tiny model gains nothing from more, and a busy machine makes OpenMP spin-waits slow
    public TrainerTests() => torch.set_num_threads(1);

    private static TrainerOptions Options(long iterations = 12) => new()
    {
        Iterations = iterations, BatchSize = 2, Lr = 1e-2, Warmup = 3, ValEvery = 4, CheckpointEvery = 4, LogEvery = 0, MaxNonFinite = 3,
    };

    private sealed class Capture : ITrainingProgress
    {
        public readonly List<string> Messages = new(), Warnings = new();
        public long LastStep;
        public T Run<T>(long total, long start, Func<T> loop) => loop();
        public void Update(in ProgressSnapshot s) => LastStep = s.Step;
        public void Message(string text) => Messages.Add(text);
        public void Warning(string text) => Warnings.Add(text);
    }

    private static (TrainingResult Result, Capture Log) Train(string dir, TrainerOptions o, bool resume = false, IReadOnlySet<long>? nanAt = null,
        TinyConfig? config = null, CancellationToken ct = default, Action<long>? onCheckpoint = null, (int Calls, int DelayMs) slowFirst = default,
        (int FromCall, int DelayMs)? slowLater = null, int stepDelayMs = 0)
    {
        torch.manual_seed(o.Seed);
        using var task = new TinyTask(config ?? new TinyConfig(), o, nanAt)
        { SlowFirstCalls = slowFirst, SlowLaterCalls = slowLater ?? (int.MaxValue, 0), StepDelayMs = stepDelayMs };
        var log = new Capture();
        var trainer = new Trainer(task, new SyntheticSource(7, o.BatchSize, (config ?? new TinyConfig()).Size, 5), o, dir, log) { CheckpointWritten = onCheckpoint };
        return (trainer.Run(resume, ct), log);
    }

    [Fact]
    public void A_run_writes_every_file_of_the_run_folder()
    {
        using var tmp = TestPaths.NewTempDir();
        var dir = Path.Combine(tmp.Path, "run");
        var (r, log) = Train(dir, Options());
        Assert.Equal(TrainingStopReason.Completed, r.Reason);
        Assert.Equal(12, r.Steps);
        foreach (var f in new[] { "config.yaml", "train_log.csv", "val_log.csv", "curves.svg", "last.ckpt", "adapter.safetensors", "best.safetensors" })
            Assert.True(File.Exists(Path.Combine(dir, f)), f);
        Assert.Empty(Directory.GetFiles(dir, "*.tmp"));

        var rows = TrainingLogs.ReadTrainLog(Path.Combine(dir, "train_log.csv"));
        Assert.Equal(Enumerable.Range(1, 12).Select(i => (long)i), rows.Select(x => x.Step));
        Assert.Equal(new long[] { 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3 }, rows.Select(x => x.Epoch));
        Assert.All(rows, x => Assert.True(double.IsFinite(x.Loss) && x.GradNorm > 0 && x.SlicesPerSecond > 0 && !x.Skipped));
        // warm-up 3 then poly decay to 0 at iteration 12 (the lr logged is the one used for that iteration)
        Assert.Equal(1e-2 / 3, rows[0].Lr, 12);
        Assert.Equal(1e-2, rows[2].Lr, 12);
        Assert.Equal(1e-2 * Math.Pow(1 - 8.0 / 9, 0.9), rows[11].Lr, 12); // default poly exponent 0.9
        Assert.Equal(["step,dice_background,dice_disk,dice_square,mean_dice"], File.ReadLines(Path.Combine(dir, "val_log.csv")).Take(1));
        Assert.Equal(4, File.ReadAllLines(Path.Combine(dir, "val_log.csv")).Length); // header + 4, 8, 12

        // adapter: only trainable tensors (not the frozen stem), with the task's metadata
        var (tensors, meta) = SafeTensors.Load(Path.Combine(dir, "adapter.safetensors"));
        Assert.Equal(["body.bias", "body.weight", "head.bias", "head.weight"], tensors.Keys.Order());
        Assert.Equal("3", meta["tiny.classes"]);
        Assert.Equal("tiny", meta["samadapt.method"]);
        Assert.Equal("12", meta["samadapt.step"]);
        var best = SafeTensors.Load(Path.Combine(dir, "best.safetensors"));
        Assert.Equal(r.BestStep.ToString(), best.Metadata["samadapt.step"]);

        var ckpt = TrainingCheckpoint.Load(Path.Combine(dir, "last.ckpt"));
        Assert.Equal(12, ckpt.State.Step);
        Assert.Equal(12, ckpt.State.TotalSteps);
        Assert.Equal(12, ckpt.State.TrainLogRows);
        Assert.NotNull(ckpt.CpuRng);
        Assert.Contains("state.1.0.exp_avg", ckpt.Optimizer.Keys); // head group: index 1 (the frozen stem group has no trainable member)
        Assert.Equal(r.BestMeanDice, ckpt.State.BestMetric);

        Assert.Equal("parameters: 691 total, 611 trainable (88.42%)", log.Messages[0]);
        Assert.Contains(log.Messages, m => m.Contains("stem (frozen)") && m.TrimEnd().EndsWith(" 0"));
        Assert.Contains(log.Messages, m => m.StartsWith("validation at 4: mean Dice"));
    }

    [Fact]
    public void Parameter_report_counts_groups_and_ungrouped_parameters()
    {
        using var task = new TinyTask(new TinyConfig { BallastFloats = 100 }, Options());
        var rep = Trainer.CountParameters(task);
        Assert.Equal(791, rep.Total);
        Assert.Equal(711, rep.Trainable);
        Assert.Equal([("stem (frozen)", 80L, 0L), ("body", 584L, 584L), ("head", 27L, 27L), ("other", 100L, 100L)], rep.Groups);
    }

    [Fact]
    public void A_non_finite_loss_skips_the_step_and_training_goes_on()
    {
        using var tmp = TestPaths.NewTempDir();
        var (r, log) = Train(tmp.Path + "/a", Options(8), nanAt: new HashSet<long> { 2, 5 });
        Assert.Equal(2, r.SkippedSteps);
        var rows = TrainingLogs.ReadTrainLog(tmp.Path + "/a/train_log.csv").ToList();
        Assert.Equal([false, false, true, false, false, true, false, false], rows.Select(x => x.Skipped));
        Assert.True(double.IsNaN(rows[2].Loss));
        Assert.Contains(log.Warnings, w => w.Contains("iteration 3: loss is nan — step skipped") && w.Contains("1/3 in a row"));
        Assert.Contains("non-finite", File.ReadAllText(tmp.Path + "/a/curves.svg"));
    }

    [Fact]
    public void Too_many_non_finite_losses_in_a_row_stop_with_a_clear_error()
    {
        using var tmp = TestPaths.NewTempDir();
        var e = Assert.Throws<NonFiniteLossException>(() => Train(tmp.Path + "/a", Options(20), nanAt: new HashSet<long> { 5, 6, 7, 8 }));
        Assert.Equal(8, e.Step);
        Assert.Contains("training stopped at iteration 8: 3 iterations in a row had a non-finite loss", e.Message);
        Assert.Contains("--lr", e.Message);
        Assert.Contains("--bf16", e.Message);
        Assert.Equal(4, TrainingCheckpoint.Load(tmp.Path + "/a/last.ckpt").State.Step); // the last good checkpoint is kept
    }

    [Fact]
    public void Skipped_steps_leave_the_weights_unchanged()
    {
        using var tmp = TestPaths.NewTempDir();
        var o = Options(4) with { CheckpointEvery = 1, ValEvery = 0 };
        var saved = new Dictionary<long, byte[]>();
        Train(tmp.Path + "/a", o, nanAt: new HashSet<long> { 2 }, onCheckpoint: s => saved[s] = SafeTensors.Load(tmp.Path + "/a/adapter.safetensors").Tensors["head.weight"].Data);
        Assert.Equal(saved[2], saved[3]);
        Assert.NotEqual(saved[1], saved[2]);
    }

    [Fact]
    public void Resume_in_process_continues_identically()
    {
        using var tmp = TestPaths.NewTempDir();
        Train(tmp.Path + "/ref", Options(10));
        using var cts = new CancellationTokenSource();
        var (r1, _) = Train(tmp.Path + "/cut", Options(10), ct: cts.Token, onCheckpoint: s => { if (s == 4) cts.Cancel(); });
        Assert.Equal(TrainingStopReason.Cancelled, r1.Reason);
        Assert.Equal(4, r1.Steps); // cancellation is seen before iteration 5 starts; the final checkpoint is at 4
        var (r2, log) = Train(tmp.Path + "/cut", Options(10), resume: true);
        Assert.Equal(10, r2.Steps);
        Assert.Contains(log.Messages, m => m.StartsWith("resuming") && m.Contains("at iteration 4/10"));
        Assert.Equal(File.ReadLines(tmp.Path + "/ref/train_log.csv").Select(l => l.Split(',')[2]),
                     File.ReadLines(tmp.Path + "/cut/train_log.csv").Select(l => l.Split(',')[2]));
        Assert.Equal(File.ReadAllText(tmp.Path + "/ref/val_log.csv"), File.ReadAllText(tmp.Path + "/cut/val_log.csv"));
    }

    [Fact]
    public void Resume_errors_are_clear()
    {
        using var tmp = TestPaths.NewTempDir();
        Assert.Contains("does not exist", Assert.Throws<TrainingException>(() => Train(tmp.Path + "/missing", Options(), resume: true)).Message);
        Directory.CreateDirectory(tmp.Path + "/empty");
        Assert.Contains("no config.yaml", Assert.Throws<TrainingException>(() => Train(tmp.Path + "/empty", Options(), resume: true)).Message);

        Train(tmp.Path + "/run", Options(4));
        var again = Assert.Throws<TrainingException>(() => Train(tmp.Path + "/run", Options(4)));
        Assert.Contains("already holds a training run", again.Message);
        Assert.Contains("--resume", again.Message);

        var e = Assert.Throws<TrainingException>(() => Train(tmp.Path + "/run", Options(4) with { Lr = 5e-3 }, resume: true, config: new TinyConfig { Dataset = "other" }));
        Assert.Contains("differ from the run's config.yaml in 2 key(s)", e.Message);
        Assert.Contains("trainer.lr: run has 0.01, now 0.005", e.Message);
        Assert.Contains("task.dataset: run has synthetic, now other", e.Message);
        // the allowed keys may change
        var (r, _) = Train(tmp.Path + "/run", Options(4) with { ValEvery = 1, LogEvery = 7 }, resume: true);
        Assert.Equal(4, r.Steps);

        File.Delete(tmp.Path + "/run/last.ckpt");
        Assert.Contains("no last.ckpt", Assert.Throws<TrainingException>(() => Train(tmp.Path + "/run", Options(4), resume: true)).Message);
    }

    [Fact]
    public void A_time_budget_alone_plans_the_schedule_before_the_first_iteration()
    {
        using var tmp = TestPaths.NewTempDir();
        // default warm-up (a share of the planned run) and poly exponent
        var o = Options() with { Iterations = null, TimeBudgetMinutes = 3.0 / 60, Warmup = null, ValEvery = 0, CheckpointEvery = 0 };
        // 96² images: the step's compute, which the calibration times, outweighs the loop's fixed cost per iteration
        var (r, log) = Train(tmp.Path + "/a", o, config: new TinyConfig { Size = 96 });
        var (planned, replans) = Plans(log, o);
        long total = TrainingCheckpoint.Load(tmp.Path + "/a/last.ckpt").State.TotalSteps!.Value;
        Assert.Equal(r.TotalSteps, total);
        Assert.Equal(replans.Count == 0 ? planned : replans[^1].Total, total);
        Assert.True(planned >= 20, $"only {planned} iterations planned");
        Assert.Contains(log.Messages, m => m.StartsWith($"schedule: {planned} iterations"));

        var rows = TrainingLogs.ReadTrainLog(tmp.Path + "/a/train_log.csv").ToList();
        // how many of the planned iterations fit depends on the machine's load; the schedule must not
        long w = o.EffectiveWarmup(planned);
        Assert.True(rows.Count >= w + 2, $"{rows.Count} of {total} planned iterations ran");
        // warm-up: rising from the first iteration, over by a fixed share of the planned run (a re-plan never re-draws it: one ramp)
        Assert.InRange(w, 1, (long)(TrainerOptions.MaxWarmupFraction * planned));
        Assert.Equal(o.Lr / w, rows[0].Lr, 12);
        int peak = rows.FindIndex(x => Math.Abs(x.Lr - o.Lr) < 1e-15);
        Assert.Equal(w - 1, peak);
        for (int i = 1; i <= peak; i++) Assert.True(rows[i].Lr > rows[i - 1].Lr);
        for (int i = peak + 2; i < rows.Count; i++)
            if (!replans.Any(p => p.At == i)) Assert.True(rows[i].Lr < rows[i - 1].Lr, $"lr at {i}: {rows[i].Lr} after {rows[i - 1].Lr} (total {total}, warm-up {w})");
        // every iteration's lr is the formula of the length planned when it ran (row i is schedule step i)
        for (int i = 0; i < rows.Count; i++) Assert.Equal(Lr(o, LengthAt(planned, replans, i), i), rows[i].Lr, 12);
        // at half the planned run: about half the peak with exponent 0.9 (MA-SAM's 7 would leave ≈ 1 %)
        Assert.InRange(Lr(o, total, total / 2), 0.4 * o.Lr, 0.7 * o.Lr);
    }

    [Fact]
    public void A_time_budget_run_re_plans_from_the_iterations_it_has_timed()
    {
        using var tmp = TestPaths.NewTempDir();
        var o = Options() with { Iterations = null, TimeBudgetMinutes = 3.0 / 60, Warmup = null, ValEvery = 0, CheckpointEvery = 0 };
        // the calibration's six calls are 80 ms slower than the iterations that follow: its plan is far too short
        var (r, log) = Train(tmp.Path + "/a", o, slowFirst: (Trainer.CalibrationSteps + 1, 80));
        var (planned, replans) = Plans(log, o);
        Assert.True(replans.Count > 0, "no re-plan: " + string.Join(" | ", log.Messages));
        long firstAt = Math.Max(Trainer.ReplanMinSteps, (long)Math.Ceiling(planned * Trainer.ReplanFraction));
        Assert.Equal(1, replans[0].Number);
        Assert.Equal(firstAt, replans[0].At);
        // longer, at most twice the first plan
        Assert.InRange(replans[0].Total, planned + 1, 2 * planned);
        // a second re-plan (when the length changed again) at half the length the first one planned
        if (replans.FirstOrDefault(p => p.Number == 2) is { Number: 2 } second)
            Assert.Equal(Math.Max(firstAt + Trainer.ReplanMinSteps, (long)Math.Ceiling(replans[0].Total * Trainer.SecondReplanFraction)), second.At);
        long total = TrainingCheckpoint.Load(tmp.Path + "/a/last.ckpt").State.TotalSteps!.Value;
        Assert.Equal(r.TotalSteps, total);
        Assert.Equal(replans[^1].Total, total);
        Assert.InRange(total, planned + 1, 2 * planned);
        var rows = TrainingLogs.ReadTrainLog(tmp.Path + "/a/train_log.csv").ToList();
        Assert.True(rows.Count > replans[^1].At, $"{rows.Count} iterations ran, the last re-plan was at {replans[^1].At}");
        for (int i = 0; i < rows.Count; i++) Assert.Equal(Lr(o, LengthAt(planned, replans, i), i), rows[i].Lr, 12);
        // a fixed length is never re-planned
        var (_, fixedLog) = Train(tmp.Path + "/b", Options(30), slowFirst: (Trainer.CalibrationSteps + 1, 80));
        Assert.DoesNotContain(fixedLog.Messages, m => m.Contains("re-planned") || m.Contains("planned"));
    }

    [Fact]
    public void A_second_re_plan_catches_iterations_that_got_cheaper_after_the_first()
    {
        using var tmp = TestPaths.NewTempDir();
        var o = Options() with { Iterations = null, TimeBudgetMinutes = 3.0 / 60, Warmup = null, ValEvery = 0, CheckpointEvery = 0 };
        // the calibration's six calls and the loop's first 12 are 80 ms slower than the rest: the first re-plan (at iteration 10)
        // still sees only slow iterations, the second (at half the length then planned) mostly fast ones and must lengthen the run
        var (r, log) = Train(tmp.Path + "/a", o, slowFirst: (Trainer.CalibrationSteps + 1 + 12, 80));
        var (planned, replans) = Plans(log, o);
        long firstAt = Math.Max(Trainer.ReplanMinSteps, (long)Math.Ceiling(planned * Trainer.ReplanFraction));
        Assert.True(firstAt <= 12, $"the test needs the first re-plan among the slow iterations (planned {planned})");
        var second = Assert.Single(replans, p => p.Number == 2);
        long before = replans.Any(p => p.Number == 1) ? replans[0].Total : planned;
        Assert.Equal(Math.Max(firstAt + Trainer.ReplanMinSteps, (long)Math.Ceiling(before * Trainer.SecondReplanFraction)), second.At);
        Assert.InRange(second.Total, before + 1, 2 * planned);
        Assert.Equal(replans[^1].Total, r.TotalSteps);
        var rows = TrainingLogs.ReadTrainLog(tmp.Path + "/a/train_log.csv").ToList();
        for (int i = 0; i < rows.Count; i++) Assert.Equal(Lr(o, LengthAt(planned, replans, i), i), rows[i].Lr, 12);
    }

    [Fact]
    public void A_third_re_plan_shortens_a_run_whose_iterations_got_slower_late()
    {
        using var tmp = TestPaths.NewTempDir();
        var o = Options() with { Iterations = null, TimeBudgetMinutes = 6.0 / 60, Warmup = null, ValEvery = 0, CheckpointEvery = 0 };
        // every iteration takes ≥ 20 ms (~240 fit the 6 s), and those from the 144th of the loop on (60 % of that) 8 ms more: the first two
        // re-plans see fast iterations only, the third (at 85 % of the length then planned) slow ones, and must shorten the run so that
        // it still completes within the budget (without it, the budget would stop it before its schedule's end)
        var (r, log) = Train(tmp.Path + "/a", o, slowLater: (Trainer.CalibrationSteps + 1 + 144, 8), stepDelayMs: 20);
        var (planned, replans) = Plans(log, o);
        var third = Assert.Single(replans, p => p.Number == 3);
        long before = replans.Where(p => p.Number < 3).Select(p => p.Total).DefaultIfEmpty(planned).Last();
        Assert.True(third.At > 144, $"the third re-plan at {third.At} came before the slow iterations");
        Assert.True(third.Total < before, $"the third re-plan did not shorten the run: {before} → {third.Total}");
        Assert.Equal(TrainingStopReason.Completed, r.Reason); // the shortened schedule ran to its end within the budget
        Assert.Equal(third.Total, r.Steps);
        var rows = TrainingLogs.ReadTrainLog(tmp.Path + "/a/train_log.csv").ToList();
        for (int i = 0; i < rows.Count; i++) Assert.Equal(Lr(o, LengthAt(planned, replans, i), i), rows[i].Lr, 12);
    }

    // the first plan's length and the re-plans (iteration, new length, which of the three) in order, from the run's messages
    private static (long Planned, List<(long At, long Total, int Number)> Replans) Plans(Capture log, TrainerOptions o)
    {
        var first = Assert.Single(log.Messages, m => m.StartsWith("time budget") && m.EndsWith("iterations planned"));
        long planned = long.Parse(first.Split("→ ")[1].Split(' ')[0], CultureInfo.InvariantCulture);
        var replans = log.Messages.Where(m => m.Contains("re-planned at iteration"))
            .Select(m => m.Split("re-planned at iteration ")[1].Split(": "))
            .Select(p => (At: long.Parse(p[0], CultureInfo.InvariantCulture), Total: long.Parse(p[1].Split(" ")[0], CultureInfo.InvariantCulture),
                Number: int.Parse(p[1].Split("(re-plan ")[1].Split(" ")[0], CultureInfo.InvariantCulture))).ToList();
        Assert.True(replans.Count <= 3, string.Join(" | ", replans));
        // a re-plan never re-draws the warm-up, and each comes after the one before, in order
        foreach (var (at, _, _) in replans) Assert.True(o.EffectiveWarmup(planned) <= at);
        for (int i = 1; i < replans.Count; i++)
        {
            Assert.True(replans[i].At >= replans[i - 1].At + Trainer.ReplanMinSteps);
            Assert.True(replans[i].Number > replans[i - 1].Number);
        }
        return (planned, replans);
    }

    // the length in force at schedule step i: the first plan before the first re-plan, then each re-plan's from its iteration on
    private static long LengthAt(long planned, List<(long At, long Total, int Number)> replans, long i) =>
        replans.Where(r => r.At <= i).Select(r => r.Total).DefaultIfEmpty(planned).Last();

    // the schedule's lr at step i of a run of `total` iterations: linear warm-up, then poly decay
    private static double Lr(TrainerOptions o, long total, long i)
    {
        long w = o.EffectiveWarmup(total);
        return i < w ? o.Lr * (i + 1) / w : o.Lr * Math.Pow(1 - (i - w) / (double)(total - w), o.PolyExponent);
    }

    [Fact]
    public void Warm_up_scales_with_the_planned_length()
    {
        var o = new TrainerOptions();
        Assert.Equal(5, o.EffectiveWarmup(100));
        Assert.Equal(50, o.EffectiveWarmup(1000));
        Assert.Equal(1, o.EffectiveWarmup(10));
        // an explicit warm-up longer than a quarter of the run is capped there (MA-SAM's 250 in a 131-iteration run never ended)
        Assert.Equal(32, (o with { Warmup = 250 }).EffectiveWarmup(131));
        Assert.Equal(250, (o with { Warmup = 250 }).EffectiveWarmup(40000));
    }

    [Fact]
    public void Epochs_set_the_length_in_batches()
    {
        using var tmp = TestPaths.NewTempDir();
        var (r, _) = Train(tmp.Path + "/a", Options() with { Iterations = null, Epochs = 2 });
        Assert.Equal(10, r.Steps);
    }

    [Fact]
    public void Bf16_on_the_cpu_trains_or_is_refused_clearly()
    {
        using var tmp = TestPaths.NewTempDir();
        try
        {
            var (r, _) = Train(tmp.Path + "/a", Options(4) with { Bf16 = true });
            Assert.Equal(4, r.Steps);
            Assert.All(TrainingLogs.ReadTrainLog(tmp.Path + "/a/train_log.csv"), x => Assert.True(double.IsFinite(x.Loss)));
        }
        catch (TrainingException e)
        {
            Assert.Contains("--bf16 on the CPU", e.Message);
        }
    }
}
