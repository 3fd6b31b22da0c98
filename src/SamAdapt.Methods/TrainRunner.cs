using SamAdapt.Imaging.Datasets;
using SamAdapt.Torch;
using System.Globalization;
using SamAdapt.Training.Engine;
using SamAdapt.Training.Engine.Distributed;

namespace SamAdapt.Methods;

/// <summary>Where a training run reports: results on <see cref="Out"/>, progress on <see cref="Log"/>.</summary>
/// <param name="Interactive">Live progress bar (a terminal); null = decide from <see cref="Log"/>.</param>
public sealed record TrainOutput(TextWriter Out, TextWriter Log, bool? Interactive = null);

/// <summary>
/// The train API (what <c>samadapt train</c>, the demo and tests call): looks the method up in <see cref="MethodRegistry"/>,
/// merges a resume with the run folder (<see cref="TrainSettings.Over"/>), checks the dataset, lets the method build its run
/// and drives it with the engine's <see cref="Trainer"/>. Bad settings are <see cref="ArgumentException"/>s (or file/data
/// exceptions) whose message names the option, what was expected and what was found.
/// </summary>
public static class TrainRunner
{
    /// <summary>Runs training; returns the trainer's result.</summary>
    public static TrainingResult Run(TrainSettings settings, TrainOutput output, CancellationToken cancellation = default)
    {
        if (string.IsNullOrWhiteSpace(settings.Out)) throw new ArgumentException("--out is required (the run folder)");
        var runDir = Path.GetFullPath(settings.Out);
        settings.Runtime.ApplyThreads();

        LoadedRunConfig? stored = null;
        if (settings.Resume)
        {
            var cfgPath = Path.Combine(runDir, RunConfig.FileName);
            if (!File.Exists(cfgPath))
                throw new ArgumentException($"--resume: '{runDir}' has no {RunConfig.FileName}; it is not a run folder (start a new run without --resume)");
            try { stored = RunConfig.Load(cfgPath); }
            catch (Exception e) when (e is InvalidDataException or YamlDotNet.Core.YamlException)
            { throw new InvalidDataException($"--resume: cannot read {cfgPath}: {e.Message}", e); }
            if (settings.Method is { } m && !MethodRegistry.Get(m).Name.Equals(stored.Method, StringComparison.Ordinal))
                throw new ArgumentException($"--method {m}: the run in '{runDir}' was trained with '{stored.Method}'");
        }
        else if (settings.Method is null) throw new ArgumentException($"--method is required: one of {MethodRegistry.Known}");

        var method = MethodRegistry.Get(settings.Method ?? stored!.Method);
        if (method.Output != OutputContract.Promptable && settings.PromptTrainingOptionsGiven() is { Count: > 0 } promptOnly)
            throw new ArgumentException($"{string.Join(", ", promptOnly)}: option(s) of the prompt-trained methods (msa, medsam); --method {method.Name} does not use them");
        if (settings.PixelHead is not null && method is not MaskSam.MaskSamMethod)
            throw new ArgumentException($"--pixel-head: an option of masksam; --method {method.Name} does not use it");
        if (stored is not null)
        {
            var recorded = method.StoredSettings(stored);
            // the architecture is the recorded one: a resumed run cannot gain or lose the head its checkpoint was trained with
            if (settings.PixelHead is { } ph && recorded.PixelHead is { } rec && ph != rec)
                throw new ArgumentException($"--pixel-head {(ph ? "true" : "false")}: the run in '{runDir}' was trained {(rec ? "with" : "without")} the pixel head; resume it without --pixel-head");
            settings = settings.Over(recorded);
        }
        if (settings.Dataset is null) throw new ArgumentException("--dataset is required (the dataset folder to train on)");
        SamAdapt.Common.OutputGuard.Check("--out", settings.Out,
            ("--dataset", settings.Dataset), ("--checkpoint", settings.Checkpoint), ("--model", settings.Model));
        if (settings.Slices is < 1 or > 99) throw new ArgumentException($"--slices: expected an odd number 1..99, found {settings.Slices}");
        if (settings.ImageSize is < 16 or > 8192) throw new ArgumentException($"--img-size: expected 16..8192, found {settings.ImageSize}");
        var dataset = LoadDataset(settings.Dataset, check: !settings.Resume, output.Log);

        TrainerOptions trainer;
        try
        {
            trainer = settings.TrainerOptions(stored?.Trainer);
            if (stored is null) trainer = method.TrainerDefaults(settings, trainer); // a resumed run keeps what it recorded
            trainer.Validate();
        }
        catch (ArgumentException e) { throw new ArgumentException(e.Message, e); }
        if (settings.ValFraction is < 0 or >= 1) throw new ArgumentException($"--val-fraction must lie in [0, 1), got {settings.ValFraction}");
        // one batch of input stacks (batch × D × 3 × S × S float32), refused before anything is allocated
        int side = settings.ImageSize ?? 512, depth = settings.Slices ?? 5;
        SamAdapt.Common.ResourceLimits.Check($"--batch {trainer.BatchSize} × --slices {depth} × 3 × {side}² float32 inputs",
            (double)trainer.BatchSize * depth * 3 * side * side, 4 * 8);

        // a multi-process job (torchrun/srun environment, or --nproc's workers): join it; CUDA becomes cuda:LOCAL_RANK
        using var group = DataParallelGroup.JoinFromEnvironment(ref trainer, settings.DistTimeoutSpan());
        if (group != null && trainer.BatchSize % group.WorldSize != 0)
            throw new ArgumentException($"--batch {trainer.BatchSize} is the global batch and must be a multiple of the {group.WorldSize} processes");

        torch.manual_seed(trainer.Seed); // the same initialisation in fresh and resumed runs
        using var run = method.CreateRun(new MethodContext(settings, dataset, trainer, output.Log));
        output.Out.WriteLine(run.Summary);
        // a live progress bar on a terminal; plain lines every LogEvery iterations when the log is a file, a pipe or a test's writer
        bool tty = output.Interactive ?? (output.Log is not StringWriter && !Console.IsErrorRedirected);
        var progress = group is { IsWriter: false } ? TrainingProgress.Create(TextWriter.Null, false, 0) : TrainingProgress.Create(output.Log, tty, trainer.LogEvery);
        var batches = group is null ? run.Batches : new ShardedBatchSource(run.Batches, group.Rank, group.WorldSize);
        // multi-channel images: the input mapping (and a learned projection) wraps the method's task, the same for every method
        var task = run.Batches is Semantic.SliceStackSource { Data: { Options.Input.IsGrey: false } data }
            ? new InputProjectionTask(run.Task, data.Options.Input, data.Projection) : run.Task;
        using var projected = task as InputProjectionTask;
        var t = new Trainer(task, batches, trainer, runDir, progress) { Parallel = group };
        var result = t.Run(settings.Resume, cancellation);
        if (group is { IsWriter: true, AllReduceStats: { Calls: > 0 } st })
            output.Log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"gradient all-reduce over {group.WorldSize} processes: {st.MeanSeconds * 1000:F2} ms per step ({st.Bytes / 1e6:F2} MB), {st.Calls} steps"));
        output.Out.WriteLine($"run folder: {runDir}");
        return result;
    }

    /// <summary>Loads the dataset; a fresh run also validates it and refuses one with problems (listing them).</summary>
    private static SegmentationDataset LoadDataset(string dir, bool check, TextWriter log)
    {
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"--dataset: no such folder: {dir}");
        SegmentationDataset ds;
        try { ds = SegmentationDataset.Load(dir); }
        catch (Exception e) when (e is InvalidDataException or FileNotFoundException or System.Text.Json.JsonException)
        { throw new InvalidDataException($"--dataset: {e.Message}", e); }
        if (!check) return ds;
        log.WriteLine($"checking dataset {ds.Name} ({ds.TrainingCases.Count} training case(s))...");
        var report = new DatasetValidator().Validate(ds);
        if (report.HasProblems)
        {
            var problems = report.AllProblems.Select(p => "  " + p).ToList();
            throw new InvalidDataException($"the dataset {dir} has {problems.Count} problem(s); fix them (see `samadapt dataset check {dir}`):\n" +
                string.Join("\n", problems.Take(30)) + (problems.Count > 30 ? $"\n  … and {problems.Count - 30} more" : ""));
        }
        return ds;
    }
}
