using System.CommandLine;
using System.Globalization;
using SamAdapt.Imaging.Datasets;
using SamAdapt.Torch;
using SamAdapt.Training.Engine;
using SamAdapt.Training.MaSam;

namespace SamAdapt.Cli.Commands;

/// <summary>
/// `samadapt train --dataset DIR --method ma-sam|lora --out RUN_DIR ...`: validates the dataset, builds MA-SAM (or SAMed
/// LoRA) on a SAM checkpoint or a configuration, and trains it with the engine (config.yaml, logs, curves, checkpoints).
/// With --resume the run's own settings are read back from RUN_DIR/config.yaml; options given on the command line must
/// agree with them (only --device and --time-budget may change).
/// </summary>
public sealed class TrainCommand : ICliCommand
{
    public int Order => 50;

    /// <summary>Default learning rate when the whole model trains from scratch (--model): AdamW at 2e-3 fits the small
    /// presets within a few hundred iterations (docs/training-notes.md); 8e-4 is MA-SAM's for adapters on a pretrained SAM.</summary>
    public const double FromScratchLr = 2e-3;

    /// <summary>The verb's options; null = default (or, with --resume, the run's stored value).</summary>
    public sealed record Args
    {
        public string? Dataset { get; init; }
        public string? Method { get; init; }
        public required string Out { get; init; }
        public string? Checkpoint { get; init; }
        public string? Model { get; init; }
        public int? ImageSize { get; init; }
        public int? Slices { get; init; }
        public string? Labels { get; init; }
        public string? Intensity { get; init; }
        public string? ValCases { get; init; }
        public double? ValFraction { get; init; }
        public long? Iterations { get; init; }
        public long? Epochs { get; init; }
        public double? TimeBudget { get; init; }
        public int? Batch { get; init; }
        public double? Lr { get; init; }
        public long? Warmup { get; init; }
        public double? PolyExp { get; init; }
        public double? WeightDecay { get; init; }
        public double? ClipGrad { get; init; }
        public string? Device { get; init; }
        public bool? Bf16 { get; init; }
        public bool? GradCheckpoint { get; init; }
        public int? Seed { get; init; }
        public long? ValEvery { get; init; }
        public long? CheckpointEvery { get; init; }
        public bool Resume { get; init; }
        /// <summary>Progress lines every this many iterations when stderr is not a terminal.</summary>
        public long? LogEvery { get; init; }
        /// <summary>libtorch intra-op threads (0 = default).</summary>
        public int Threads { get; init; }
        public bool? TrainBase { get; init; }
        public string? Augment { get; init; }
        /// <summary>Share of stacks centred on foreground (null: nnU-Net's 1/3, or the run's stored value).</summary>
        public double? ForegroundProbability { get; init; }
    }

    public Command Build()
    {
        var dataset = new Option<string?>("--dataset") { Description = "nnU-Net v2 raw or Medical Segmentation Decathlon dataset folder (dataset.json, imagesTr/, labelsTr/)" };
        var method = new Option<string?>("--method") { Description = "ma-sam (FacT + 3D adapters + progressive decoder) or lora (SAMed)" };
        var output = new Option<string>("--out") { Description = "Run folder to create (or, with --resume, to continue)", Required = true };
        var ckpt = new Option<string?>("--checkpoint") { Description = "SAM checkpoint (.pth or .safetensors) whose weights form the frozen base" };
        var model = new Option<string?>("--model") { Description = "Train from scratch: a SAM configuration JSON, or the preset 'tiny' (docs/demo.md)" };
        var size = new Option<int?>("--img-size") { Description = "Model input size (default 512; the tiny preset: 128); positional tables are resized" };
        var slices = new Option<int?>("--slices") { Description = "Slices per stack D (odd; default 5)" };
        var labels = new Option<string?>("--labels") { Description = "Label values to learn, e.g. 1,2,3 or 1,2+3 (default: every label of dataset.json)" };
        var intensity = new Option<string?>("--intensity") { Description = "Intensity transform: zscore, nnunet-ct:…, ma-sam, abdomen-btcv, ct-window:LO,HI, percentile-clip:…, ... (default from dataset.json's channel name as nnU-Net: CT → nnunet-ct with the training foreground's statistics, anything else → per-volume zscore)" };
        var valCases = new Option<string?>("--val-cases") { Description = "Validation case ids, comma-separated" };
        var valFrac = new Option<double?>("--val-fraction") { Description = "Fraction of cases held out for validation (default 0.2)" };
        var iters = new Option<long?>("--iterations") { Description = "Training length in optimizer steps" };
        var epochs = new Option<long?>("--epochs") { Description = "Training length in epochs (every training slice once per epoch)" };
        var budget = new Option<double?>("--time-budget") { Description = "Wall-clock budget in minutes (caps, or sets, the length)" };
        var batch = new Option<int?>("--batch") { Description = "Stacks per batch (default 1)" };
        var lr = new Option<double?>("--lr") { Description = "Base learning rate (default 8e-4 with --checkpoint; 2e-3 from scratch)" };
        var warmup = new Option<long?>("--warmup") { Description = "Linear warm-up iterations (default 5% of the planned iterations; at most 25% of them)" };
        var poly = new Option<double?>("--poly-exp") { Description = "Polynomial decay exponent (default 0.9, nnU-Net's; MA-SAM's recipe uses 7)" };
        var wd = new Option<double?>("--weight-decay") { Description = "AdamW weight decay (default 0.1)" };
        var clip = new Option<double?>("--clip-grad") { Description = "Gradient-norm clipping (default 1.0; 0 = off)" };
        var device = new Option<string?>("--device") { Description = "cpu or cuda[:N] (default cpu)" };
        var bf16 = new Option<bool>("--bf16") { Description = "bfloat16 autocast (CUDA)" };
        var gc = new Option<bool>("--grad-checkpoint") { Description = "Gradient checkpointing of the encoder blocks (less memory, ~30% slower)" };
        var seed = new Option<int?>("--seed") { Description = "Random seed (default 1234)" };
        var valEvery = new Option<long?>("--val-every") { Description = "Validate every N iterations (default 500; 0 = only at the end)" };
        var ckEvery = new Option<long?>("--checkpoint-every") { Description = "Write last.ckpt / adapter.safetensors every N iterations (default 500)" };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --out from its last.ckpt" };
        var threads = PredictCommand.ThreadsOption();
        var augment = new Option<string?>("--augment") { Description = "Augmentations: ma-sam (default: rot90/flip, rotation, scale, gamma, intensity) or none" };
        var trainBase = new Option<bool>("--train-base") { Description = "With --model (from scratch): train the base image encoder too (default true: a frozen random encoder carries no usable features and no position; --train-base false trains only adapters and decoder)" };
        var foreground = new Option<double?>("--oversample-foreground") { Description = "Share of training stacks centred on a slice holding a foreground class (class drawn uniformly, as nnU-Net; default 0.33; 0 = plain shuffled slices)" };
        var cmd = new Command("train",
            "Train MA-SAM adapters (or SAMed LoRA) prompt-free on a labelled dataset of volumes. Writes RUN_DIR with config.yaml, " +
            "train_log.csv, val_log.csv, curves.svg, adapter.safetensors, best.safetensors and last.ckpt.");
        foreach (var o in new Option[] { dataset, method, output, ckpt, model, size, slices, labels, intensity, valCases, valFrac, iters, epochs, budget,
                     batch, lr, warmup, poly, wd, clip, device, bf16, gc, seed, valEvery, ckEvery, resume, threads, trainBase, augment, foreground }) cmd.Options.Add(o);
        cmd.SetAction(pr =>
        {
            var a = new Args
            {
                Dataset = pr.GetValue(dataset), Method = pr.GetValue(method), Out = pr.GetValue(output)!, Checkpoint = pr.GetValue(ckpt),
                Model = pr.GetValue(model), ImageSize = pr.GetValue(size), Slices = pr.GetValue(slices), Labels = pr.GetValue(labels),
                Intensity = pr.GetValue(intensity), ValCases = pr.GetValue(valCases), ValFraction = pr.GetValue(valFrac),
                Iterations = pr.GetValue(iters), Epochs = pr.GetValue(epochs), TimeBudget = pr.GetValue(budget), Batch = pr.GetValue(batch),
                Lr = pr.GetValue(lr), Warmup = pr.GetValue(warmup), PolyExp = pr.GetValue(poly), WeightDecay = pr.GetValue(wd),
                ClipGrad = pr.GetValue(clip), Device = pr.GetValue(device),
                Bf16 = pr.GetResult(bf16) is null ? null : pr.GetValue(bf16),
                GradCheckpoint = pr.GetResult(gc) is null ? null : pr.GetValue(gc),
                Seed = pr.GetValue(seed), ValEvery = pr.GetValue(valEvery), CheckpointEvery = pr.GetValue(ckEvery), Resume = pr.GetValue(resume),
                Threads = pr.GetValue(threads), TrainBase = pr.GetResult(trainBase) is { Implicit: false } ? pr.GetValue(trainBase) : null,
                Augment = pr.GetValue(augment), ForegroundProbability = pr.GetValue(foreground),
            };
            return Run(a, pr.InvocationConfiguration.Output, pr.InvocationConfiguration.Error);
        });
        return cmd;
    }

    public static int Run(Args a, TextWriter stdout, TextWriter stderr, bool? interactive = null, CancellationToken cancellation = default)
    {
        var result = Train(a, stdout, stderr, interactive, cancellation);
        return result is null ? 1 : 0;
    }

    /// <summary>Runs training; returns the trainer's result (null when stopped by Ctrl+C before finishing is not an error).</summary>
    public static TrainingResult? Train(Args a, TextWriter stdout, TextWriter stderr, bool? interactive = null, CancellationToken cancellation = default)
    {
        var runDir = Path.GetFullPath(a.Out);
        PredictCommand.ApplyThreads(a.Threads);
        MaSamTaskConfig? stored = null;
        TrainerOptions? storedTrainer = null;
        if (a.Resume)
        {
            var cfgPath = Path.Combine(runDir, RunConfig.FileName);
            if (!File.Exists(cfgPath))
                throw new CliException($"--resume: '{runDir}' has no {RunConfig.FileName}; it is not a run folder (start a new run without --resume)");
            try
            {
                var loaded = RunConfig.Load(cfgPath);
                stored = loaded.Task<MaSamTaskConfig>();
                storedTrainer = loaded.Trainer;
            }
            catch (Exception e) when (e is InvalidDataException or YamlDotNet.Core.YamlException)
            { throw new CliException($"--resume: cannot read {cfgPath}: {e.Message}"); }
        }
        else
        {
            if (a.Dataset is null) throw new CliException("--dataset is required (the dataset folder to train on)");
            if (a.Method is null) throw new CliException("--method is required: ma-sam or lora");
        }

        string datasetDir = a.Dataset ?? stored!.Dataset;
        if (!Directory.Exists(datasetDir)) throw new CliException($"--dataset: no such folder: {datasetDir}");
        SegmentationDataset ds;
        try { ds = SegmentationDataset.Load(datasetDir); }
        catch (Exception e) when (e is InvalidDataException or FileNotFoundException or System.Text.Json.JsonException)
        { throw new CliException($"--dataset: {e.Message}"); }
        if (!a.Resume)
        {
            stderr.WriteLine($"checking dataset {ds.Name} ({ds.TrainingCases.Count} training case(s))...");
            var report = new DatasetValidator().Validate(ds);
            if (report.HasProblems)
            {
                var problems = report.AllProblems.Select(p => "  " + p).ToList();
                throw new CliException($"the dataset {datasetDir} has {problems.Count} problem(s); fix them (see `samadapt dataset check {datasetDir}`):\n" +
                    string.Join("\n", problems.Take(30)) + (problems.Count > 30 ? $"\n  … and {problems.Count - 30} more" : ""));
            }
        }

        var defaults = storedTrainer ?? new TrainerOptions();
        var trainer = new TrainerOptions
        {
            Iterations = a.Iterations ?? (a.Epochs is null && a.Resume ? defaults.Iterations : null),
            Epochs = a.Epochs ?? (a.Iterations is null && a.Resume ? defaults.Epochs : null),
            TimeBudgetMinutes = a.TimeBudget ?? (a.Resume ? defaults.TimeBudgetMinutes : null),
            BatchSize = a.Batch ?? defaults.BatchSize,
            Lr = a.Lr ?? storedTrainer?.Lr ?? (a.Checkpoint is null && a.Model is not null ? FromScratchLr : defaults.Lr),
            Warmup = a.Warmup ?? defaults.Warmup,
            PolyExponent = a.PolyExp ?? defaults.PolyExponent,
            WeightDecay = a.WeightDecay ?? defaults.WeightDecay,
            ClipGrad = a.ClipGrad ?? defaults.ClipGrad,
            Device = a.Device ?? defaults.Device,
            Bf16 = a.Bf16 ?? defaults.Bf16,
            GradCheckpoint = a.GradCheckpoint ?? defaults.GradCheckpoint,
            Seed = a.Seed is { } s ? (ulong)s : defaults.Seed,
            ValEvery = a.ValEvery ?? defaults.ValEvery,
            CheckpointEvery = a.CheckpointEvery ?? defaults.CheckpointEvery,
            LogEvery = a.LogEvery ?? defaults.LogEvery,
        };
        try { trainer.Validate(); }
        catch (ArgumentException e) { throw new CliException(e.Message); }

        var setup = new MaSamSetupOptions
        {
            Dataset = datasetDir,
            Method = a.Method ?? stored!.Method,
            Checkpoint = a.Checkpoint ?? (stored is { BaseCheckpoint: not "" } ? stored.BaseCheckpoint : null),
            Model = a.Model ?? (stored is { ModelConfig: not "" } ? stored.ModelConfig : null),
            ImageSize = a.ImageSize ?? stored?.ImageSize,
            Slices = a.Slices ?? stored?.Slices ?? 5,
            Labels = a.Labels ?? (stored is { Labels: not "all" } ? stored.Labels : null),
            Intensity = a.Intensity ?? stored?.Intensity,
            ValCases = a.ValCases is not null
                ? a.ValCases.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                : stored?.ValCasesRequested is { Count: > 0 } v ? v : null,
            ValFraction = a.ValFraction ?? stored?.ValFraction ?? 0.2,
            BatchSize = trainer.BatchSize,
            Seed = (int)trainer.Seed,
            // a model built from a configuration has a random base: freezing it preserves nothing, so everything trains
            TrainBase = a.TrainBase ?? stored?.TrainBase ?? (a.Checkpoint is null && (a.Model is not null || stored is { BaseCheckpoint: "" })),
            ForegroundProbability = a.ForegroundProbability ?? stored?.ForegroundProbability ?? Training.Data.SampleOptions.NnUNetForegroundProbability,
            Augmentation = a.Augment ?? (stored?.Preprocessing.TryGetValue("augmentation", out var aug) == true ? aug : "ma-sam"),
        };
        if (setup.ValFraction is < 0 or >= 1) throw new CliException($"--val-fraction must lie in [0, 1), got {setup.ValFraction}");

        torch.manual_seed(trainer.Seed); // same initialisation in fresh and resumed runs
        MaSamTaskConfig cfg;
        Training.Data.TrainingData data;
        Sam.Adapters.AdaptedSam model;
        try
        {
            stderr.WriteLine("loading and preprocessing the training cases...");
            (cfg, data, model) = MaSamSetup.Build(setup);
        }
        catch (Exception e) when (e is ArgumentException or FileNotFoundException or InvalidDataException or FormatException or NotSupportedException)
        { throw new CliException(e.Message); }
        if (stored is not null) cfg.IntensitySource = stored.IntensitySource;

        using var task = new MaSamTask(cfg, model, data, trainer);
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{cfg.Method} on {cfg.DatasetName}: {cfg.ClassNames.Count - 1} classes ({string.Join(", ", cfg.ClassNames.Skip(1))}), " +
            $"{cfg.TrainCases.Count} training / {cfg.ValidationCases.Count} validation case(s), {data.SamplesPerEpoch} training slices, " +
            $"{cfg.ImageSize}² input, {cfg.Slices}-slice stacks, base: {(cfg.BaseCheckpoint != "" ? cfg.BaseCheckpoint : $"{cfg.ModelConfig} (from scratch)")}"));
        stdout.WriteLine($"intensity: {cfg.Intensity} ({cfg.IntensitySource})");
        stdout.WriteLine("trained: " + (cfg.TrainBase
            ? "everything (image encoder, adapters, decoder): the base is random, so freezing it would preserve nothing"
            : cfg.BaseCheckpoint != "" ? "adapters, prompt encoder and mask decoder; the pretrained image encoder stays frozen"
            : "adapters, prompt encoder and mask decoder only (--train-base false): the random image encoder stays frozen"));
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"sampling: {cfg.ForegroundProbability:P0} of the training stacks centred on a foreground class (class drawn uniformly)"));
        if (data.Split.MissingValidationClasses.Count > 0)
            stdout.WriteLine("note: no validation case holds " + string.Join(", ", data.Split.MissingValidationClasses.Select(c => cfg.ClassNames[c])) +
                " (each is in too few cases to spare one); their validation Dice is shown as n/a");
        // a live progress bar on a terminal; plain lines every --log-every iterations when stderr is a file, a pipe or a test's writer
        bool tty = interactive ?? (stderr is not StringWriter && !Console.IsErrorRedirected);
        var progress = TrainingProgress.Create(stderr, tty, trainer.LogEvery);
        var t = new Trainer(task, new SliceStackSource(data), trainer, runDir, progress);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cts.Cancel(); };
        Console.CancelKeyPress += onCancel;
        try
        {
            var r = t.Run(a.Resume, cts.Token);
            stdout.WriteLine($"run folder: {runDir}");
            return r;
        }
        catch (TrainingException e) { throw new CliException(e.Message); }
        finally { Console.CancelKeyPress -= onCancel; }
    }
}
