using System.Globalization;
using SamAdapt.Torch;
using SamAdapt.Training.Engine;
using SamAdapt.Training.Engine.Distributed;
using SamAdapt.Training.Engine.TestHost;

// Test host: trains TinyTask on synthetic data. Used by SamAdapt.Training.Engine.Tests (launched and SIGKILLed).
//   --run DIR --iterations N [--ckpt-every K] [--val-every K] [--resume] [--seed S] [--ballast N] [--delay-ms MS] [--lr X]
//   [--time-budget MIN] (without --iterations: the trainer plans the length) [--slow-rank R --step-ms MS]
//   [--bf16] [--device cpu|cuda] [--progress]   (--progress: the Spectre.Console bar, as on a terminal)
//   [--batch B] [--dice-weight W] [--dropout P] [--dist-timeout S] [--stall-rank R --stall-at STEP]
//   [--nproc N]: N data-parallel workers (LocalLauncher); without it, RANK/WORLD_SIZE/... in the environment join a job.
//   [--hold-at-step S]: after iteration S is logged (and, when S is a checkpoint step, checkpointed), print "holding S"
//   and wait to be killed: an explicit kill point for fault tests, instead of a timed one
var a = args.ToList();
string? Opt(string name) { int i = a.IndexOf(name); return i >= 0 && i + 1 < a.Count ? a[i + 1] : null; }
long L(string name, long d) => Opt(name) is { } v ? long.Parse(v, CultureInfo.InvariantCulture) : d;
double D(string name, double d) => Opt(name) is { } v ? double.Parse(v, CultureInfo.InvariantCulture) : d;

if (L("--nproc", 1) > 1)
{
    int i = a.IndexOf("--nproc");
    var rest = a.Take(i).Concat(a.Skip(i + 2)).ToList();
    var (exe, prefix) = LocalLauncher.Self();
    var launcher = new LocalLauncher(exe, prefix.Concat(rest).ToList(), (int)L("--nproc", 1)) { Grace = TimeSpan.FromSeconds(D("--dist-timeout", 30)) };
    int rc = launcher.Run(Console.Out, Console.Error);
    if (launcher.Failure != null) Console.Out.WriteLine($"launcher: {launcher.Failure}");
    return rc;
}

torch.set_num_threads(1);
var options = new TrainerOptions
{
    // --time-budget MIN without --iterations: the length is planned from the budget
    Iterations = Opt("--time-budget") != null && Opt("--iterations") == null ? null : L("--iterations", 40),
    TimeBudgetMinutes = Opt("--time-budget") is { } tb ? double.Parse(tb, CultureInfo.InvariantCulture) : null,
    BatchSize = (int)L("--batch", 4),
    DiceWeight = D("--dice-weight", 0.8),
    Lr = Opt("--lr") is { } lr ? double.Parse(lr, CultureInfo.InvariantCulture) : 1e-2,
    Warmup = 5,
    CheckpointEvery = L("--ckpt-every", 10),
    ValEvery = L("--val-every", 10),
    Seed = (ulong)L("--seed", 1234),
    LogEvery = 0,
    Bf16 = a.Contains("--bf16"),
    Device = Opt("--device") ?? "cpu",
};
int delay = (int)L("--delay-ms", 0);
DataParallelGroup? group;
try { group = DataParallelGroup.JoinFromEnvironment(ref options, TimeSpan.FromSeconds(D("--dist-timeout", 30))); }
catch (TrainingException e)
{
    Console.Error.WriteLine("error: " + e.Message);
    return 3;
}
long holdAt = L("--hold-at-step", -1);
void Hold(long step)
{
    Console.Out.WriteLine($"holding {step}");
    Console.Out.Flush();
    Thread.Sleep(Timeout.Infinite);
}
torch.manual_seed(options.Seed);
using var task = new TinyTask(new TinyConfig { BallastFloats = (int)L("--ballast", 0), Dropout = D("--dropout", 0.1) }, options)
{
    // --stall-rank R --stall-at S: rank R hangs (sleeps) at step S, as a deadlocked worker would
    StallAtStep = group?.Rank == (int)L("--stall-rank", -1) ? L("--stall-at", -1) : -1,
    // --slow-rank R --step-ms MS: every iteration of rank R takes MS longer
    StepDelayMs = group?.Rank == (int)L("--slow-rank", -1) ? (int)L("--step-ms", 0) : 0,
};
IBatchSource data = new SyntheticSource(seed: 7, batchSize: options.BatchSize, size: 24, batches: 6);
if (group != null) data = new ShardedBatchSource(data, group.Rank, group.WorldSize);
var trainer = new Trainer(task, data, options, Opt("--run") ?? throw new ArgumentException("--run DIR is required"),
    a.Contains("--progress") ? TrainingProgress.Create(plainEvery: 10) : TrainingProgress.Create(Console.Error, interactive: false, plainEvery: 0))
{
    CheckpointWritten = step =>
    {
        Console.Out.WriteLine($"checkpoint {step}");
        Console.Out.Flush();
        if (delay > 0) Thread.Sleep(delay);
        if (step == holdAt) Hold(step);
    },
    // a step that is not a checkpoint step holds right after its log row (a checkpoint step holds after its checkpoint)
    StepLogged = step => { if (step == holdAt && step % options.CheckpointEvery != 0) Hold(step); },
    Parallel = group,
};
using var _ = group;
try
{
    var r = trainer.Run(resume: a.Contains("--resume"));
    Console.Out.WriteLine($"done {r.Steps}");
    return 0;
}
catch (TrainingException e)
{
    Console.Error.WriteLine("error: " + e.Message);
    return 3;
}
