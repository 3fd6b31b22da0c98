using System.CommandLine;
using SamAdapt.Methods;
using SamAdapt.Training.Engine;
using SamAdapt.Training.Engine.Distributed;

namespace SamAdapt.Cli.Commands;

/// <summary>
/// `samadapt train --dataset DIR --method NAME --out RUN_DIR ...`: binds the options to <see cref="TrainSettings"/> and calls
/// the train API (<see cref="TrainRunner"/>). Methods come from <see cref="MethodRegistry"/>. With --resume the run's own
/// settings are read back from RUN_DIR/config.yaml; options given on the command line must agree with them (only --device
/// and --time-budget may change).
/// </summary>
public sealed class TrainCommand : ICliCommand
{
    public int Order => 50;

    public Command Build()
    {
        var dataset = new Option<string?>("--dataset") { Description = "nnU-Net v2 raw or Medical Segmentation Decathlon dataset folder (dataset.json, imagesTr/, labelsTr/)" };
        var method = new Option<string?>("--method")
        {
            Description = "Adaptation method: " + string.Join("; ", MethodRegistry.All.Select(m => $"{m.Name} ({m.Description})")),
        };
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
        var recipe = new Option<string?>("--recipe") { Description = "samadapt (default) or reference: the MA-SAM code's exact schedule (start at lr/warmup, set after each step), weight decay on norms/biases/tokens, no clipping (docs/methods/ma-sam.md)" };
        var gc = new Option<bool>("--grad-checkpoint") { Description = "Gradient checkpointing of the encoder blocks (less memory, ~30% slower)" };
        var seed = new Option<int?>("--seed") { Description = "Random seed (default 1234)" };
        var valEvery = new Option<long?>("--val-every") { Description = "Validate every N iterations (default 500; 0 = only at the end)" };
        var ckEvery = new Option<long?>("--checkpoint-every") { Description = "Write last.ckpt / adapter.safetensors every N iterations (default 500)" };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --out from its last.ckpt" };
        var augment = new Option<string?>("--augment") { Description = "Augmentations: ma-sam (default: rot90/flip, rotation, scale, gamma, intensity) or none" };
        var nproc = new Option<int?>("--nproc") { Description = "Data-parallel training with N worker processes on this machine (default 1); --batch is the global batch, split over them. Processes started by torchrun/srun join through RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT instead" };
        var distTimeout = new Option<double?>("--dist-timeout") { Description = "Multi-process runs: seconds to wait for a late or dead rank before stopping with an error (default 600; must exceed rank 0's validation time)" };
        var trainBase = new Option<bool>("--train-base") { Description = "With --model (from scratch): train the base image encoder too (default true: a frozen random encoder carries no usable features and no position; --train-base false trains only adapters and decoder)" };
        var foreground = new Option<double?>("--oversample-foreground") { Description = "Share of training stacks centred on a slice holding a foreground class (class drawn uniformly, as nnU-Net; default 0.33; 0 = plain shuffled slices)" };
        var inputProjection = new Option<string?>("--input-projection") { Description = "How C image channels become SAM's 3: learned (a 1×1 convolution C→3 trained with the method) or select:i,j,k (three chosen channels); default: grey replicated when C = 1, as RGB when C = 3, learned otherwise (docs/imaging.md)" };
        // prompt-trained methods (msa, medsam)
        var activation = new Option<string?>("--adapter-activation") { Description = "msa: adapter activation, gelu (default, the released code) or relu (the paper)" };
        var decAdapters = new Option<bool>("--decoder-adapters") { Description = "msa: add the paper's three adapters per two-way decoder block (hyper-prompting, MLP, image); off in the released code" };
        var slicesAsChannels = new Option<bool>("--slices-as-channels") { Description = "msa: 2.5-D input: the 3 slices of a stack (k−1, k, k+1; needs --slices 3) are SAM's 3 input channels, the centre slice is segmented (no depth branch)" };
        var multimask = new Option<bool>("--multimask-clicks") { Description = "msa: decode a single click with SAM's 3 mask outputs: training takes the lowest loss and trains the IoU head, prediction keeps the highest predicted IoU (SAM's ambiguity rule; off in the released code)" };
        var auxSemantic = new Option<double?>("--aux-semantic") { Description = "msa: add a prompt-free semantic head on the image embedding, trained with this weight on MA-SAM's loss beside the prompted masks (teaches the embedding the anatomy a single click stands for; not used by prompted prediction; default 0 = off)" };
        var trains = new Option<string?>("--trains") { Description = "msa: parts that train, comma-separated: adapters, decoder, prompt-encoder, image-encoder, or reference (adapters,decoder) / all (default: reference with --checkpoint, all from scratch)" };
        var loss = new Option<string?>("--loss") { Description = "msa/medsam: dice-bce (default), bce (the reference's 2D BCE, pos_weight 2) or dice (its 3D Dice-CE)" };
        var prompts = new Option<string?>("--train-prompts") { Description = $"msa: training prompt mixture kind[:weight],…; kinds box (IoU 0.5–1 with the tight box), jitter-box (±10 %), click (1..--max-clicks positives), iterative (centre click + 0..--prompt-rounds corrections with the previous mask fed back) (default {Methods.Msa.TrainPromptMix.DefaultText})" };
        var maxClicks = new Option<int?>("--max-clicks") { Description = "msa: most positive clicks of a training click prompt (default 3)" };
        var rounds = new Option<int?>("--prompt-rounds") { Description = "msa: most correction rounds of a training interactive session (default 4)" };
        var perStack = new Option<int?>("--targets-per-stack") { Description = "msa: most training targets (slice × class) per stack and step, drawn at random (default 0 = all); with --batch > 1 spreads the decoder's work over more images" };
        // masksam
        var pixelHead = new Option<bool>("--pixel-head") { Description = "masksam: add a per-pixel class head on the prompt generator, averaged with the mask classification in the output (not in the reference; default true from --model, false from --checkpoint)" };
        var runtime = new RuntimeOptions(defaultDevice: null);
        var cmd = new Command("train",
            "Train an adaptation method (ma-sam, lora, full, msa, medsam, masksam, ...) on a labelled dataset of volumes. Writes RUN_DIR with config.yaml, " +
            "train_log.csv, val_log.csv, curves.svg, adapter.safetensors, best.safetensors and last.ckpt.");
        foreach (var o in new Option[] { dataset, method, output, ckpt, model, size, slices, labels, intensity, valCases, valFrac, iters, epochs, budget,
                     batch, lr, warmup, poly, wd, clip, recipe, gc, seed, valEvery, ckEvery, resume, trainBase, augment, foreground, nproc, distTimeout, inputProjection,
                     activation, decAdapters, slicesAsChannels, multimask, auxSemantic, trains, loss, prompts, maxClicks, rounds, perStack, pixelHead }) cmd.Options.Add(o);
        runtime.AddTo(cmd);
        cmd.SetAction(pr =>
        {
            var s = new TrainSettings
            {
                Dataset = pr.GetValue(dataset), Method = pr.GetValue(method), Out = pr.GetValue(output)!, Checkpoint = pr.GetValue(ckpt),
                Model = pr.GetValue(model), ImageSize = pr.GetValue(size), Slices = pr.GetValue(slices), Labels = pr.GetValue(labels),
                Intensity = pr.GetValue(intensity),
                ValCases = pr.GetValue(valCases)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                ValFraction = pr.GetValue(valFrac),
                Iterations = pr.GetValue(iters), Epochs = pr.GetValue(epochs), TimeBudget = pr.GetValue(budget), Batch = pr.GetValue(batch),
                Lr = pr.GetValue(lr), Warmup = pr.GetValue(warmup), PolyExp = pr.GetValue(poly), WeightDecay = pr.GetValue(wd),
                ClipGrad = pr.GetValue(clip), Recipe = pr.GetValue(recipe),
                GradCheckpoint = pr.GetResult(gc) is null ? null : pr.GetValue(gc),
                Seed = pr.GetValue(seed), ValEvery = pr.GetValue(valEvery), CheckpointEvery = pr.GetValue(ckEvery), Resume = pr.GetValue(resume),
                TrainBase = pr.GetResult(trainBase) is { Implicit: false } ? pr.GetValue(trainBase) : null,
                ForegroundProbability = pr.GetValue(foreground),
                Augment = pr.GetValue(augment),
                InputProjection = pr.GetValue(inputProjection),
                Runtime = runtime.Bind(pr),
                DistTimeout = pr.GetValue(distTimeout),
                AdapterActivation = pr.GetValue(activation),
                DecoderAdapters = pr.GetResult(decAdapters) is { Implicit: false } ? pr.GetValue(decAdapters) : null,
                SlicesAsChannels = pr.GetResult(slicesAsChannels) is { Implicit: false } ? pr.GetValue(slicesAsChannels) : null,
                MultimaskClicks = pr.GetResult(multimask) is { Implicit: false } ? pr.GetValue(multimask) : null,
                AuxSemantic = pr.GetValue(auxSemantic),
                Trains = pr.GetValue(trains), Loss = pr.GetValue(loss), TrainPrompts = pr.GetValue(prompts),
                MaxClicks = pr.GetValue(maxClicks), PromptRounds = pr.GetValue(rounds), TargetsPerStack = pr.GetValue(perStack),
                PixelHead = pr.GetResult(pixelHead) is { Implicit: false } ? pr.GetValue(pixelHead) : null,
            };
            int? workers = pr.GetValue(nproc);
            if (workers is < 1) throw new CliException($"--nproc must be ≥ 1, got {workers}");
            if (workers is > 1) return LaunchWorkers(workers.Value, s, pr.InvocationConfiguration.Output, pr.InvocationConfiguration.Error);
            Train(s, pr.InvocationConfiguration.Output, pr.InvocationConfiguration.Error);
            return 0;
        });
        return cmd;
    }

    /// <summary>--nproc N: this same command line (without --nproc) as N worker processes joined over 127.0.0.1.</summary>
    private static int LaunchWorkers(int workers, TrainSettings settings, TextWriter stdout, TextWriter stderr)
    {
        TimeSpan timeout;
        try { timeout = settings.DistTimeoutSpan(); }
        catch (ArgumentException e) { throw new CliException(e.Message); }
        var (exe, prefix) = LocalLauncher.Self();
        var args = prefix.Concat(LocalLauncher.ArgumentsWithout(Environment.GetCommandLineArgs().Skip(1), "--nproc")).ToList();
        var launcher = new LocalLauncher(exe, args, workers) { Grace = TimeSpan.FromSeconds(Math.Min(60, timeout.TotalSeconds)) };
        stderr.WriteLine($"starting {workers} data-parallel worker processes (rank 0 writes the run folder)");
        using var cts = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cts.Cancel(); }; // the workers get Ctrl+C too and stop together
        Console.CancelKeyPress += onCancel;
        try { return launcher.Run(stdout, stderr, cts.Token); }
        finally { Console.CancelKeyPress -= onCancel; }
    }

    /// <summary>
    /// Runs <see cref="TrainRunner.Run"/> with Ctrl+C stopping at the next step (a checkpoint is written); the user's input
    /// errors come back as <see cref="CliException"/>.
    /// </summary>
    public static TrainingResult Train(TrainSettings settings, TextWriter stdout, TextWriter stderr, bool? interactive = null, CancellationToken cancellation = default)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cts.Cancel(); };
        Console.CancelKeyPress += onCancel;
        try { return TrainRunner.Run(settings, new TrainOutput(stdout, stderr, interactive), cts.Token); }
        catch (Exception e) when (e is TrainingException or ArgumentException or InvalidDataException or FileNotFoundException
                                      or DirectoryNotFoundException or FormatException or NotSupportedException)
        { throw new CliException(e.Message); }
        finally { Console.CancelKeyPress -= onCancel; }
    }
}
