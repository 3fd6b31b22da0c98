using System.Diagnostics;
using System.Globalization;
using SamAdapt.Torch;
using SamAdapt.Torch.Optim;
using SamAdapt.Torch.Serialization;
using SamAdapt.Training.Engine.Distributed;

namespace SamAdapt.Training.Engine;

/// <summary>A problem the user can fix (bad run folder, mismatching resume, diverging training); the message says what to do.</summary>
public class TrainingException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Training stopped because too many consecutive iterations had a NaN/inf loss or gradient norm.</summary>
public sealed class NonFiniteLossException(string message, long step) : TrainingException(message)
{
    /// <summary>Iterations completed when training stopped.</summary>
    public long Step { get; } = step;
}

public enum TrainingStopReason { Completed, TimeBudget, Cancelled }

public sealed record TrainingResult(
    string RunDir, TrainingStopReason Reason, long Steps, long TotalSteps, double ElapsedSeconds, long SkippedSteps,
    double? BestMeanDice, long? BestStep, ValidationResult? LastValidation);

/// <summary>Parameter counts for the start-of-run report: the whole model and each group.</summary>
public sealed record ParameterReport(long Total, long Trainable, IReadOnlyList<(string Group, long Total, long Trainable)> Groups)
{
    public IEnumerable<string> Lines()
    {
        string N(long v) => v.ToString("N0", CultureInfo.InvariantCulture);
        double pct = Total == 0 ? 0 : 100.0 * Trainable / Total;
        yield return string.Create(CultureInfo.InvariantCulture, $"parameters: {N(Total)} total, {N(Trainable)} trainable ({pct:F2}%)");
        int w = Math.Max(5, Groups.Count == 0 ? 5 : Groups.Max(g => g.Group.Length));
        if (Groups.Count > 0) yield return $"  {"group".PadRight(w)}  {"total",14}  {"trainable",14}";
        foreach (var (g, t, tr) in Groups) yield return $"  {g.PadRight(w)}  {N(t),14}  {N(tr),14}";
    }
}

/// <summary>
/// The model-agnostic training loop of <c>samadapt train</c>. One <see cref="Run"/> trains <see cref="ITrainingTask"/>
/// on an <see cref="IBatchSource"/> into a run folder:
/// <list type="bullet">
/// <item><c>config.yaml</c> — method, trainer options, the task's config, versions (checked on resume);</item>
/// <item><c>train_log.csv</c> (every iteration), <c>val_log.csv</c> (every <see cref="TrainerOptions.ValEvery"/>), <c>curves.svg</c>;</item>
/// <item><c>last.ckpt</c> (everything to resume), <c>adapter.safetensors</c> (saved tensors + metadata), <c>best.safetensors</c> (best mean validation Dice).</item>
/// </list>
/// AdamW with linear warm-up and polynomial decay, gradient clipping, optional bf16 autocast, non-finite steps
/// skipped (and training stopped after <see cref="TrainerOptions.MaxNonFinite"/> in a row). Every file is replaced
/// atomically. With a fixed seed a resumed run continues bit-identically (CPU): batches are a function of (epoch,
/// index), and weights, optimizer state, schedule position and RNG state come back from last.ckpt.
/// </summary>
public sealed class Trainer
{
    public const string AdapterFile = "adapter.safetensors";
    public const string BestFile = "best.safetensors";
    public const string CurvesFile = "curves.svg";

    /// <summary>Forward/backward passes a time-budget-only run times (after one untimed pass) before it plans its length.</summary>
    public const int CalibrationSteps = 5;

    /// <summary>A time-budget run re-plans its length three times: after this share of its first plan (and at least
    /// <see cref="ReplanMinSteps"/> iterations), from the iterations it has timed by then, then at <see cref="SecondReplanFraction"/>
    /// and <see cref="ThirdReplanFraction"/> of the length then planned, each from the iterations since the previous re-plan
    /// (see <see cref="Replan"/>).</summary>
    public const double ReplanFraction = 0.1;
    public const double SecondReplanFraction = 0.5;
    public const double ThirdReplanFraction = 0.85;
    /// <summary>Where the re-plans after the first come, in order (their count + 1 is the number of re-plans).</summary>
    private static readonly double[] LaterReplanFractions = [SecondReplanFraction, ThirdReplanFraction];
    public const int ReplanMinSteps = 10;

    private readonly ITrainingTask _task;
    private readonly IBatchSource _data;
    private readonly TrainerOptions _o;
    private readonly string _dir;
    private readonly ITrainingProgress _progress;

    public Trainer(ITrainingTask task, IBatchSource data, TrainerOptions options, string runDir, ITrainingProgress? progress = null)
    {
        _task = task ?? throw new ArgumentNullException(nameof(task));
        _data = data ?? throw new ArgumentNullException(nameof(data));
        _o = options ?? throw new ArgumentNullException(nameof(options));
        _dir = Path.GetFullPath(runDir ?? throw new ArgumentNullException(nameof(runDir)));
        _progress = progress ?? TrainingProgress.Create(plainEvery: options.LogEvery);
    }

    public string RunDir => _dir;
    public string CheckpointPath => Path.Combine(_dir, TrainingCheckpoint.FileName);

    /// <summary>Called after each checkpoint is written, with the iterations completed (for tests and tooling).</summary>
    public Action<long>? CheckpointWritten { get; init; }

    /// <summary>Called after each iteration's train_log.csv row is written, with the iterations completed (fault tests
    /// use it to stop the process at an exact point).</summary>
    public Action<long>? StepLogged { get; init; }

    /// <summary>Extra string metadata stored in adapter/best files (e.g. the CLI's version).</summary>
    public IReadOnlyDictionary<string, string>? ExtraMetadata { get; init; }

    /// <summary>
    /// Data-parallel training (<see cref="IDataParallel"/>): null for one process. Each rank's batch source must give
    /// its own shard (<see cref="ShardedBatchSource"/>); rank 0 alone writes the run folder.
    /// </summary>
    public IDataParallel? Parallel { get; init; }

    private bool Writer => Parallel?.IsWriter ?? true;

    // ------------------------------------------------------------------ run state
    private Device _device;
    private TrainingContext _ctx = null!;
    private Optimizer _opt = null!;
    private List<Tensor> _trainable = null!;
    private TrainingLogs _logs = null!;
    private ILrSchedule _schedule = null!;
    private long? _total;
    private double _elapsedBase;
    // time-budget plan: whether this run's length came from PlanFromBudget in this process (a fresh run), and the
    // validation time it measured
    private bool _plannedHere;
    private double _plannedValSeconds;
    private Stopwatch _clock = new();
    private double? _best;
    private long? _bestStep, _lastValStep;
    private int _nonFinite;
    private long _skipped;
    private ValidationResult? _lastVal;

    private double Elapsed => _elapsedBase + _clock.Elapsed.TotalSeconds;

    /// <summary>Parameter counts of the task's model and groups (what the run prints at start).</summary>
    public static ParameterReport CountParameters(ITrainingTask task)
    {
        var all = task.Model.named_parameters().ToList();
        long total = all.Sum(p => p.Value.numel()), trainable = all.Where(p => p.Value.requires_grad).Sum(p => p.Value.numel());
        var groups = task.ParameterGroups.Select(g => (g.Name, g.Parameters.Sum(p => p.Value.numel()), g.Parameters.Where(p => p.Value.requires_grad).Sum(p => p.Value.numel()))).ToList();
        var grouped = new HashSet<Tensor>(task.ParameterGroups.SelectMany(g => g.Parameters.Select(p => p.Value)), ReferenceEqualityComparer.Instance);
        var other = all.Where(p => !grouped.Contains(p.Value)).ToList();
        if (other.Count > 0) groups.Add(("other", other.Sum(p => p.Value.numel()), other.Where(p => p.Value.requires_grad).Sum(p => p.Value.numel())));
        return new ParameterReport(total, trainable, groups);
    }

    /// <summary>
    /// Trains (or, with <paramref name="resume"/>, continues from <c>RUN_DIR/last.ckpt</c>) until the length, the time
    /// budget or cancellation ends it; then validates, checkpoints and writes the outputs.
    /// </summary>
    /// <exception cref="TrainingException">A folder/resume problem, or training diverged (<see cref="NonFiniteLossException"/>).</exception>
    public TrainingResult Run(bool resume = false, CancellationToken cancellation = default)
    {
        try { _o.Validate(); }
        catch (ArgumentException e) { throw new TrainingException(e.Message, e); }
        try { _device = DeviceCheck.Resolve(_o.Device); }
        catch (ArgumentException e) { throw new TrainingException(e.Message, e); }
        if (_o.Bf16 && !_device.IsCuda && !CpuBf16AutocastWorks())
            throw new TrainingException("--bf16 on the CPU: this libtorch does not run bfloat16 autocast on the CPU; drop --bf16 or train with --device cuda");
        if (_data.BatchesPerEpoch < 1) throw new TrainingException("the training data yields no batches (is the training split empty?)");
        if (_task.ClassNames.Count < 1) throw new TrainingException("the task has no classes");

        var config = new RunConfig(_task.Method, _o, _task.Config);
        TrainingCheckpoint? ckpt = null;
        if (resume) ckpt = OpenForResume(config);
        else if (Writer) StartNewRunDir(config);
        try { return RunStarted(ckpt, cancellation); }
        catch when (!resume && Writer && !File.Exists(CheckpointPath))
        {
            // failed before its first checkpoint: nothing can be resumed, so do not leave a folder that blocks a new start
            RemoveUnstartedRun();
            throw;
        }
    }

    /// <summary>Removes config.yaml (and logs without rows) of a new run that failed before its first checkpoint.</summary>
    private void RemoveUnstartedRun()
    {
        try
        {
            File.Delete(Path.Combine(_dir, RunConfig.FileName));
            foreach (var name in new[] { TrainingLogs.TrainFile, TrainingLogs.ValFile })
            {
                var p = Path.Combine(_dir, name);
                if (File.Exists(p) && File.ReadLines(p).Skip(1).All(l => l.Length == 0)) File.Delete(p);
            }
            FileUtil.RemoveStaleTempFiles(_dir);
            if (!Directory.EnumerateFileSystemEntries(_dir).Any()) Directory.Delete(_dir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    private TrainingResult RunStarted(TrainingCheckpoint? ckpt, CancellationToken cancellation)
    {
        bool resume = ckpt != null;
        _ctx = new TrainingContext(_device, _o.Bf16, _o.GradCheckpoint, _o, resume);
        _task.Prepare(_ctx);
        _task.Model.train();
        BuildOptimizer(out var report);
        _logs = new TrainingLogs(_dir, _task.ClassNames);
        try
        {
            long start = 0;
            _total = _o.Iterations ?? (_o.Epochs.HasValue ? _o.Epochs.Value * _data.BatchesPerEpoch : null);
            if (ckpt != null)
            {
                start = Restore(ckpt);
                if (Writer) _logs.ResumeAt(start);
            }
            else
            {
                if (Writer) _logs.StartNew();
                torch.manual_seed(_o.Seed);
            }
            // every rank starts from rank 0's weights (a no-op for weights loaded from the same files, essential for random ones)
            Parallel?.BroadcastFromWriter(_task.Model.parameters().Concat(_task.Model.named_buffers().Select(b => b.Value)).ToList());
            foreach (var line in report.Lines()) _progress.Message(line);
            _clock = Stopwatch.StartNew();
            if (_total is null)
            {
                _total = PlanFromBudget(_o.TimeBudgetMinutes!.Value * 60, fresh: ckpt == null);
                _plannedHere = ckpt == null;
            }
            _schedule = MakeSchedule();
            _progress.Message(FormattableString.Invariant(
                $"schedule: {_total} iterations, lr {_o.Lr:G3}, linear warm-up {_o.ScheduleWarmup(_total.Value)} iterations, then poly decay (exponent {_o.PolyExponent:G3})"));
            _progress.Message(ckpt != null
                ? $"resuming '{_dir}' at iteration {start}/{TotalText()} ({_o.Device}{(_o.Bf16 ? ", bf16" : "")})"
                : $"training {_task.Method} into '{_dir}': {TotalText()} iterations, {_data.BatchesPerEpoch} batches/epoch, {_o.Device}{(_o.Bf16 ? ", bf16" : "")}");
            bool profile = OpProfiler.RequestedByEnvironment;
            if (profile) OpProfiler.Start();
            var reason = _progress.Run(_total ?? 0, start, () => Loop(start, cancellation));
            if (profile)
            {
                OpProfiler.Stop();
                _progress.Message("time per op over the whole run (SAMADAPT_PROFILE=1; CPU time is the calling thread's):");
                foreach (var line in OpProfiler.Format(OpProfiler.Report(), 30, 1, byCpu: torch.get_num_threads() == 1).TrimEnd().Split('\n')) _progress.Message(line);
            }
            return Finish(reason);
        }
        finally
        {
            _logs.Dispose();
            _opt.Dispose();
        }
    }

    private string TotalText() => _total?.ToString(CultureInfo.InvariantCulture) ?? $"(time budget {_o.TimeBudgetMinutes} min)";

    // ------------------------------------------------------------------ setup

    private void StartNewRunDir(RunConfig config)
    {
        if (File.Exists(Path.Combine(_dir, TrainingCheckpoint.FileName)) || File.Exists(Path.Combine(_dir, RunConfig.FileName)))
            throw new TrainingException($"'{_dir}' already holds a training run (config.yaml / last.ckpt): continue it with --resume, or choose another --out");
        try { Directory.CreateDirectory(_dir); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        { throw new TrainingException($"cannot create the run folder '{_dir}': {e.Message}", e); }
        config.Save(Path.Combine(_dir, RunConfig.FileName));
    }

    private TrainingCheckpoint OpenForResume(RunConfig config)
    {
        if (!Directory.Exists(_dir))
            throw new TrainingException($"cannot resume: the run folder '{_dir}' does not exist (check --out; start a new run without --resume)");
        var cfgPath = Path.Combine(_dir, RunConfig.FileName);
        if (!File.Exists(cfgPath))
            throw new TrainingException($"cannot resume: '{_dir}' has no {RunConfig.FileName}, so it is not a SamAdapt run folder");
        if (Writer) FileUtil.RemoveStaleTempFiles(_dir);
        LoadedRunConfig stored;
        try { stored = RunConfig.Load(cfgPath); }
        catch (InvalidDataException e) { throw new TrainingException($"cannot resume: {e.Message}", e); }
        var diffs = RunConfig.Differences(stored.Flat, config.Flatten(), TrainerOptions.ResumeMayChange);
        if (diffs.Count > 0)
            throw new TrainingException(
                $"cannot resume '{_dir}': the given settings differ from the run's {RunConfig.FileName} in {diffs.Count} key(s):\n  " +
                string.Join("\n  ", diffs) + "\nresume with the run's own settings (or start a new run in another folder)");
        var path = Path.Combine(_dir, TrainingCheckpoint.FileName);
        if (!File.Exists(path))
            throw new TrainingException($"cannot resume: '{_dir}' has no {TrainingCheckpoint.FileName} (the run stopped before its first checkpoint); start it again without --resume after removing the folder");
        try { return TrainingCheckpoint.Load(path); }
        catch (Exception e) when (e is InvalidDataException or NotSupportedException)
        { throw new TrainingException($"cannot resume: {e.Message}", e); }
    }

    private void BuildOptimizer(out ParameterReport report)
    {
        report = CountParameters(_task);
        List<ParamGroup> groups;
        try { groups = OptimizerGroups.Build(_task.ParameterGroups, _task.Model.named_parameters(), _o); }
        catch (ArgumentException e) { throw new TrainingException(e.Message); }
        if (groups.Count == 0)
            throw new TrainingException("the model has no trainable parameters (every parameter is frozen)");
        _trainable = groups.SelectMany(g => g.Params).ToList();
        _opt = new AdamW(groups, _o.Beta1, _o.Beta2);
    }

    /// <summary>The schedule of the planned length (<see cref="_total"/> is known here: iterations, epochs, or the
    /// time-budget plan made by <see cref="PlanFromBudget"/> before the first iteration).</summary>
    private ILrSchedule MakeSchedule()
    {
        long total = _total ?? throw new InvalidOperationException("the run's length must be planned before its schedule");
        return TrainerOptions.IsReference(_o.Recipe)
            ? new ReferenceWarmupPolyDecay(_o.ScheduleWarmup(total), total, _o.PolyExponent)
            : new WarmupPolyDecay(_o.ScheduleWarmup(total), total, _o.PolyExponent);
    }

    /// <summary>
    /// A re-plan of a time-budget run, at iteration <paramref name="step"/>: the rest of the budget divided by the mean time of
    /// the iterations timed for it (<paramref name="perStep"/> s: for the first, those run so far less the first two; for the
    /// others, those since the previous one; <paramref name="number"/> counts them from 1), less the final validation and a 2 % margin, with the periodic validations counted as in
    /// <see cref="PlanFromBudget"/>. The schedule continues with the new length (its poly decay stretches or shrinks from here on;
    /// rows before keep the lr they had). Kept within twice <paramref name="firstPlan"/>, and skipped where the new length's
    /// warm-up would not be over yet, so the warm-up ramp is never re-drawn; the checkpoints written from here on carry the new
    /// length, so a resumed run keeps it.
    /// </summary>
    private void Replan(long step, double perStep, double budgetSeconds, long firstPlan, int number)
    {
        long old = _total!.Value;
        double perWithVal = perStep + (_o.ValEvery > 0 ? _plannedValSeconds / _o.ValEvery : 0);
        double remaining = budgetSeconds * 0.98 - Elapsed - _plannedValSeconds;
        long total = step + Math.Max(1, (long)Math.Floor(remaining / Math.Max(perWithVal, 1e-6)));
        total = Math.Min(total, 2 * firstPlan);
        if (Parallel != null) total = (long)Parallel.FromWriter(total); // every rank re-plans here; rank 0's length holds
        if (total == old || _o.ScheduleWarmup(total) > step) return;
        _total = total;
        _schedule = MakeSchedule();
        _progress.Message(FormattableString.Invariant(
            $"time budget: iterations take {perStep:F3} s here (planned: {old}) → re-planned at iteration {step}: {total} iterations (re-plan {number} of {LaterReplanFractions.Length + 1})"));
    }

    /// <summary>
    /// Plans a time-budget-only run once, before its first iteration: times <see cref="CalibrationSteps"/> iterations on
    /// the first batches (after one untimed one; optimizer steps at lr 0, then a fresh optimizer and the RNG state
    /// restored, so the run itself is unaffected), and one validation pass, then fits as many iterations as the rest of
    /// the budget holds, counting the validations they will trigger. The median step time is used: the first passes
    /// of a process are slower (allocator and thread-pool warm-up), and a mean over them overestimated the step time
    /// (runs stopped at 6.5 of 10 minutes). Six steps on the first batches still misjudge steps whose cost varies (MSA's
    /// interactive prompts, MaskSAM's matching: plans that ended at 6.5 and 8.9 of 10 minutes), so the loop re-plans three times
    /// from its own timings (<see cref="Replan"/>). With several ranks, every rank runs the calibration (its steps include the
    /// gradient all-reduce), rank 0 alone times the validation it will run, and every rank takes rank 0's plan
    /// (<see cref="IDataParallel.FromWriter"/>), as it does at each re-plan: all ranks run one schedule of one length.
    /// </summary>
    private long PlanFromBudget(double budgetSeconds, bool fresh)
    {
        var times = new List<double>();
        var cpuRng = torch.get_rng_state();
        var cudaRng = _device.IsCuda ? torch.get_rng_state(_device) : null;
        long slices = 1;
        try
        {
            for (int i = 0; i <= CalibrationSteps; i++)
            {
                var t0 = Stopwatch.GetTimestamp();
                using (var scope = DisposeScope.Begin())
                {
                    _opt.zero_grad();
                    using var source = _data.GetBatch(0, i % _data.BatchesPerEpoch);
                    using var moved = source.Input.device != _device ? source.To(_device) : null;
                    var batch = moved ?? source;
                    slices = batch.Slices;
                    Tensor loss;
                    using (_o.Bf16 ? torch.autocast(_device.Type, DType.BFloat16) : null)
                        loss = _task.Loss(batch, _ctx);
                    bool finite = double.IsFinite(loss.item());
                    if (fresh && (finite || Parallel != null))
                    {
                        if (finite) loss.backward();
                        // the gradient all-reduce belongs to the step time too (every rank runs it, so the collectives stay paired)
                        Parallel?.AverageGradients(_trainable);
                        // the optimizer's cost belongs to the step time: a step at lr 0 leaves the weights exactly as they are
                        // (AdamW: p·(1 − 0·wd) − 0·update), and the optimizer is rebuilt afterwards, so its state starts fresh
                        GradClip.ClipGradNorm(_trainable, _o.ClipGrad > 0 ? _o.ClipGrad : double.PositiveInfinity);
                        foreach (var g in _opt.Groups) g.Lr = 0;
                        _opt.step();
                    }
                }
                if (_device.IsCuda) torch.cuda.synchronize(_device.Index);
                if (i > 0) times.Add(Stopwatch.GetElapsedTime(t0).TotalSeconds);
            }
        }
        finally
        {
            if (fresh) { _opt.Dispose(); BuildOptimizer(out _); }
            else _opt.zero_grad();
            torch.set_rng_state(cpuRng);
            if (cudaRng != null) torch.set_rng_state(cudaRng, _device);
        }
        times.Sort();
        double per = Math.Max(times[times.Count / 2], 1e-6);
        // validation runs on the writer alone, whose plan every rank follows
        var v0 = Stopwatch.GetTimestamp();
        if (Writer) Validate(0, record: false);
        double val = Stopwatch.GetElapsedTime(v0).TotalSeconds;
        double remaining = Math.Max(0, budgetSeconds - Elapsed);
        // n iterations cost n·per plus (⌊n / ValEvery⌋ + 1)·val (the periodic validations and the final one)
        _plannedValSeconds = val;
        double perWithVal = per + (_o.ValEvery > 0 ? val / _o.ValEvery : 0);
        long n = Math.Max(1, (long)Math.Floor((remaining - val) / perWithVal));
        if (Parallel != null) n = (long)Parallel.FromWriter(n);
        _progress.Message(FormattableString.Invariant(
            $"time budget {_o.TimeBudgetMinutes} min: calibrated {per:F3} s/iteration ({slices / per:F1} slices/s), validation {val:F1} s → {n} iterations planned"));
        return n;
    }

    private static bool CpuBf16AutocastWorks()
    {
        try
        {
            using var scope = DisposeScope.Begin();
            using var _ = torch.autocast(DeviceType.CPU, DType.BFloat16);
            var y = torch.ones(2, 2).matmul(torch.ones(2, 2));
            return y.dtype == DType.BFloat16;
        }
        catch (TorchException) { return false; }
    }

    private long Restore(TrainingCheckpoint ckpt)
    {
        var s = ckpt.State;
        if (s.Problem() is { } problem) throw new TrainingException($"cannot resume: last.ckpt field {problem}");
        if (s.Method != _task.Method)
            throw new TrainingException($"cannot resume: last.ckpt was written by method '{s.Method}', the task is '{_task.Method}'");
        if (s.BatchesPerEpoch != _data.BatchesPerEpoch)
            throw new TrainingException($"cannot resume: the run had {s.BatchesPerEpoch} batches per epoch, the data now gives {_data.BatchesPerEpoch} (did the dataset or the batch size change?)");
        var own = _task.SavedState();
        var missing = own.Keys.Where(k => !ckpt.Model.ContainsKey(k)).ToList();
        var unexpected = ckpt.Model.Keys.Where(k => !own.ContainsKey(k)).ToList();
        var misshaped = own.Where(kv => ckpt.Model.TryGetValue(kv.Key, out var h) && !h.Shape.SequenceEqual(kv.Value.shape)).Select(kv => kv.Key).ToList();
        if (missing.Count + unexpected.Count + misshaped.Count > 0)
            throw new TrainingException("cannot resume: last.ckpt does not fit the model — " + new Torch.NN.LoadResult(missing, unexpected, misshaped).Describe());
        using (var scope = DisposeScope.Begin())
        using (torch.no_grad())
        {
            foreach (var (k, dst) in own) dst.copy_(ckpt.Model[k].ToTensor());
            var optState = ckpt.Optimizer.ToDictionary(kv => kv.Key, kv => kv.Value.ToTensor());
            try { _opt.load_state_dict(optState); }
            catch (Exception e) when (e is InvalidDataException or FormatException or OverflowException or ArgumentException or KeyNotFoundException)
            { throw new TrainingException($"cannot resume: the optimizer state in last.ckpt does not fit: {e.Message}", e); }
            if (ckpt.CpuRng != null) torch.set_rng_state(ckpt.CpuRng.ToTensor());
            if (_device.IsCuda && ckpt.CudaRng != null) torch.set_rng_state(ckpt.CudaRng.ToTensor(), _device);
        }
        _total ??= s.TotalSteps;
        if (s.TotalSteps.HasValue && _total != s.TotalSteps)
            throw new TrainingException($"cannot resume: the run's schedule has {s.TotalSteps} iterations, the options give {_total}");
        if (_total is { } total && s.Step > total)
            throw new TrainingException($"cannot resume: last.ckpt field step: expected ≤ {total} (the run's length), found {s.Step}");
        _elapsedBase = s.ElapsedSeconds;
        _best = s.BestMetric;
        _bestStep = s.BestStep;
        _lastValStep = s.LastValStep;
        _nonFinite = s.ConsecutiveNonFinite;
        if (s.LastValDice is { } lastDice && lastDice.Length == _task.ClassNames.Count) _lastVal = new ValidationResult(_task.ClassNames, lastDice);
        _skipped = s.SkippedSteps;
        return s.Step;
    }

    // ------------------------------------------------------------------ the loop

    private TrainingStopReason Loop(long start, CancellationToken ct)
    {
        long step = start;
        double? budget = _o.TimeBudgetMinutes * 60;
        double emaSec = double.NaN;
        var reason = TrainingStopReason.Completed;
        // three re-plans of a fresh time-budget run (several ranks re-plan at the same iterations and take rank 0's length): after
        // the first plan's first tenth, timed without the loop's first two iterations (warm-up of the process); at half the length
        // then planned, timed from the first re-plan on (steps that get cheaper after a slow start, as MaskSAM's); and at 85 % of
        // it, timed from the second (steps that got slower later: a busier machine)
        long firstPlan = _total ?? 0;
        long replanAt = _plannedHere && start == 0 && budget.HasValue
            ? Math.Max(ReplanMinSteps, (long)Math.Ceiling(firstPlan * ReplanFraction)) : long.MaxValue;
        int replans = 0;
        double timedSeconds = 0;
        long timedSteps = 0;
        while (_total is null || step < _total)
        {
            // (several ranks decide together, after the forward pass: see Parallel.Agree below)
            if (Parallel == null && ct.IsCancellationRequested) { reason = TrainingStopReason.Cancelled; break; }
            if (Parallel == null && budget is { } b && Elapsed >= b) { reason = TrainingStopReason.TimeBudget; break; }
            _ctx.Step = step;
            long epoch = step / _data.BatchesPerEpoch;
            int index = (int)(step % _data.BatchesPerEpoch);
            var t0 = Stopwatch.GetTimestamp();
            double lossV, norm = double.NaN, lr;
            long slices;
            using (var scope = DisposeScope.Begin())
            {
                _schedule.Apply(_opt, step);
                lr = _o.Lr * _schedule.Factor(step); // the base lr of this iteration (groups may scale it)
                _opt.zero_grad();
                using var source = _data.GetBatch(epoch, index);
                using var moved = source.Input.device != _device ? source.To(_device) : null;
                var batch = moved ?? source;
                slices = batch.Slices;
                Tensor loss;
                using (_o.Bf16 ? torch.autocast(_device.Type, DType.BFloat16) : null)
                    loss = _task.Loss(batch, _ctx);
                if (loss.numel() != 1) throw new InvalidOperationException($"the task's loss must be a scalar, got shape [{string.Join(", ", loss.shape)}]");
                lossV = loss.item();
                if (Parallel != null)
                {
                    // one small all-reduce: the mean loss (a non-finite loss on any rank skips the step everywhere) and stop votes
                    bool outOfTime = budget is { } b2 && Elapsed >= b2;
                    var agreed = Parallel.Agree(step, lossV, ct.IsCancellationRequested || outOfTime);
                    if (agreed.Stop) { reason = outOfTime ? TrainingStopReason.TimeBudget : TrainingStopReason.Cancelled; break; }
                    lossV = agreed.MeanLoss;
                    slices *= Parallel.WorldSize;
                }
                if (double.IsFinite(lossV))
                {
                    loss.backward();
                    Parallel?.AverageGradients(_trainable); // identical gradients on every rank: the clipping norm below is the global one
                    norm = GradClip.ClipGradNorm(_trainable, _o.ClipGrad > 0 ? _o.ClipGrad : double.PositiveInfinity);
                    if (double.IsFinite(norm)) _opt.step();
                }
            }
            bool skipped = !double.IsFinite(lossV) || !double.IsFinite(norm);
            if (skipped) _opt.zero_grad();
            if (_device.IsCuda) torch.cuda.synchronize(_device.Index);
            double sec = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            step++;
            if (step > 2 && step <= replanAt) { timedSeconds += sec; timedSteps++; }
            double sps = sec > 0 ? slices / sec : 0;
            if (Writer) _logs.Append(new TrainLogRow(step, epoch + 1, lossV, lr, norm, sps, Elapsed, skipped));
            StepLogged?.Invoke(step);

            if (skipped)
            {
                _nonFinite++;
                _skipped++;
                var what = !double.IsFinite(lossV) ? $"loss is {Csv.R(lossV)}" : FormattableString.Invariant($"gradient norm is {Csv.R(norm)} (loss {lossV:G6})");
                _progress.Warning($"iteration {step}: {what} — step skipped, weights unchanged ({_nonFinite}/{_o.MaxNonFinite} in a row)");
                if (_nonFinite >= _o.MaxNonFinite)
                {
                    if (Writer) WriteCurves();
                    var last = File.Exists(CheckpointPath) ? "last.ckpt holds the last checkpoint before this" : "no checkpoint was written yet";
                    throw new NonFiniteLossException(
                        $"training stopped at iteration {step}: {_nonFinite} iterations in a row had a non-finite loss or gradient norm (last: {what}). " +
                        $"Skipped steps do not change the weights; {last}. Lower --lr, keep --clip-grad (e.g. 1.0), use --bf16 rather than fp16 " +
                        "(bfloat16 has float32's range), and check the data for NaN/inf values.", step);
                }
            }
            else _nonFinite = 0;

            // speed: ETA
            if (step - start > 1) emaSec = double.IsNaN(emaSec) ? sec : 0.9 * emaSec + 0.1 * sec;
            TimeSpan? eta = double.IsNaN(emaSec) || _total is null ? null : TimeSpan.FromSeconds(emaSec * (_total.Value - step));
            if (budget is { } bb && eta.HasValue) eta = TimeSpan.FromSeconds(Math.Min(eta.Value.TotalSeconds, Math.Max(0, bb - Elapsed)));
            _progress.Update(new ProgressSnapshot(step, _total ?? step, lossV, lr, EmaSlices(slices, emaSec, sps), eta, _skipped));

            if (step == replanAt)
            {
                replans++;
                if (step < _total!.Value && timedSteps > 0) Replan(step, timedSeconds / timedSteps, budget!.Value, firstPlan, replans);
                (timedSeconds, timedSteps) = (0, 0);
                replanAt = replans <= LaterReplanFractions.Length
                    ? Math.Max(step + ReplanMinSteps, (long)Math.Ceiling(_total!.Value * LaterReplanFractions[replans - 1])) : long.MaxValue;
            }
            bool end = _total.HasValue && step >= _total.Value;
            if (_o.ValEvery > 0 && step % _o.ValEvery == 0 && !end && Writer) Validate(step);
            if (_o.CheckpointEvery > 0 && step % _o.CheckpointEvery == 0 && !end && Writer) WriteCheckpoint(step);
        }
        _completed = step;
        return reason;
    }

    private static double EmaSlices(long slices, double emaSec, double sps) => double.IsNaN(emaSec) || emaSec <= 0 ? sps : slices / emaSec;

    private long _completed;

    private TrainingResult Finish(TrainingStopReason reason)
    {
        long step = _completed;
        if (Writer)
        {
            if (reason != TrainingStopReason.Cancelled && step > 0 && _lastValStep != step) Validate(step);
            WriteCheckpoint(step);
        }
        var msg = reason switch
        {
            TrainingStopReason.TimeBudget => $"time budget reached after {step} iterations",
            TrainingStopReason.Cancelled => $"interrupted after {step} iterations; continue with --resume",
            _ => $"finished {step} iterations",
        };
        _progress.Message($"{msg} in {TimeSpan.FromSeconds(Elapsed):hh\\:mm\\:ss}" +
                          (_best.HasValue ? string.Create(CultureInfo.InvariantCulture, $"; best mean Dice {_best:F4} at iteration {_bestStep}") : "") +
                          (_skipped > 0 ? $"; {_skipped} non-finite iteration(s) skipped" : ""));
        return new TrainingResult(_dir, reason, step, _total ?? step, Elapsed, _skipped, _best, _bestStep, _lastVal);
    }

    // ------------------------------------------------------------------ validation and files

    /// <param name="record">False for the timing pass of <see cref="PlanFromBudget"/>: nothing is logged or saved.</param>
    private void Validate(long step, bool record = true)
    {
        ValidationResult? r;
        using (var scope = DisposeScope.Begin())
        {
            var cpuRng = torch.get_rng_state();
            var cudaRng = _device.IsCuda ? torch.get_rng_state(_device) : null;
            _task.Model.eval();
            try
            {
                _ctx.Step = step;
                using var _ = torch.no_grad();
                using var __ = _o.Bf16 ? torch.autocast(_device.Type, DType.BFloat16) : null;
                r = _task.Validate(_ctx);
            }
            finally
            {
                _task.Model.train();
                torch.set_rng_state(cpuRng);
                if (cudaRng != null) torch.set_rng_state(cudaRng, _device);
            }
        }
        if (!record) return;
        _lastValStep = step;
        if (r == null) return;
        if (r.Dice.Count != _task.ClassNames.Count)
            throw new InvalidOperationException($"validation returned {r.Dice.Count} Dice values for {_task.ClassNames.Count} classes");
        _lastVal = r;
        var mean = r.Mean;
        _logs.Append(new ValLogRow(step, r.Dice, mean));
        bool better = double.IsFinite(mean) && (_best is null || mean > _best.Value);
        if (better)
        {
            _best = mean;
            _bestStep = step;
            SaveWeights(Path.Combine(_dir, BestFile), step, "best", r);
        }
        // a class in neither the validation labels nor the predictions has no Dice: "n/a", not a NaN that reads like a value
        var perClass = string.Join(", ", r.ClassNames.Zip(r.Dice, (n, d) => double.IsNaN(d) ? $"{n} n/a" : FormattableString.Invariant($"{n} {d:F3}")));
        _progress.Message(FormattableString.Invariant($"validation at {step}: mean Dice {mean:F4}{(better ? " (best)" : "")}  [{perClass}]"));
        WriteCurves();
    }

    private void SaveWeights(string path, long step, string kind, ValidationResult? val)
    {
        var meta = new Dictionary<string, string>(_task.AdapterMetadata)
        {
            ["samadapt.method"] = _task.Method,
            ["samadapt.kind"] = kind,
            ["samadapt.step"] = step.ToString(CultureInfo.InvariantCulture),
        };
        if (val != null) meta["samadapt.val_mean_dice"] = Csv.R(val.Mean);
        if (ExtraMetadata != null) foreach (var (k, v) in ExtraMetadata) meta[k] = v;
        var host = TrainingCheckpoint.ToHost(_task.SavedState());
        SafeTensors.Save(path, host.OrderBy(kv => kv.Key, StringComparer.Ordinal), meta);
    }

    private void WriteCheckpoint(long step)
    {
        var state = new TrainerState
        {
            Step = step,
            Epoch = step / _data.BatchesPerEpoch,
            BatchIndex = step % _data.BatchesPerEpoch,
            BatchesPerEpoch = _data.BatchesPerEpoch,
            TotalSteps = _total,
            ElapsedSeconds = Elapsed,
            BestMetric = _best,
            BestStep = _bestStep,
            LastValStep = _lastValStep,
            LastValDice = _lastVal?.Dice.ToArray(),
            ConsecutiveNonFinite = _nonFinite,
            SkippedSteps = _skipped,
            TrainLogRows = _logs.TrainRows.Count,
            ValLogRows = _logs.ValRows.Count,
            Method = _task.Method,
            Seed = _o.Seed,
            Device = _o.Device,
        };
        TrainingCheckpoint ckpt;
        using (var scope = DisposeScope.Begin())
        {
            var opt = _opt.state_dict();
            try
            {
                ckpt = new TrainingCheckpoint
                {
                    State = state,
                    Model = TrainingCheckpoint.ToHost(_task.SavedState()),
                    Optimizer = TrainingCheckpoint.ToHost(opt),
                    CpuRng = torch.get_rng_state().ToHost(),
                    CudaRng = _device.IsCuda ? torch.get_rng_state(_device).ToHost() : null,
                };
            }
            finally
            {
                // state_dict() creates the group/step scalars afresh; the per-parameter state tensors are the optimizer's own
                foreach (var (k, t) in opt) if (!k.StartsWith("state.", StringComparison.Ordinal)) t.Dispose();
            }
        }
        ckpt.Save(CheckpointPath);
        SaveWeights(Path.Combine(_dir, AdapterFile), step, "adapter", _lastVal);
        WriteCurves();
        CheckpointWritten?.Invoke(step);
    }

    private void WriteCurves() =>
        FileUtil.WriteAllTextAtomic(Path.Combine(_dir, CurvesFile),
            CurvesSvg.Render(_logs.TrainRows, _logs.ValRows, _task.ClassNames, $"{_task.Method} — {Path.GetFileName(_dir)}"));
}
