using SamAdapt.Training.Engine;

namespace SamAdapt.Methods;

/// <summary>
/// Everything a training run is started with (the <c>train</c> verb binds its options here; the demo and tests fill it in
/// code). Null means "the default", or with <see cref="Resume"/> "the run's stored value": <see cref="Over"/> is the one place
/// where a resume merges the command line with the run folder. Each property names the option it binds.
/// </summary>
public sealed record TrainSettings
{
    /// <summary>--out: the run folder to create (or, with --resume, to continue).</summary>
    public string Out { get; init; } = "";
    /// <summary>--resume: continue the run in <see cref="Out"/> from its last.ckpt.</summary>
    public bool Resume { get; init; }

    // ---- task (what the method builds) ----
    /// <summary>--method: a name of <see cref="MethodRegistry"/>.</summary>
    public string? Method { get; init; }
    /// <summary>--dataset: nnU-Net v2 raw / MSD dataset folder.</summary>
    public string? Dataset { get; init; }
    /// <summary>--checkpoint: SAM checkpoint (.pth / .safetensors) forming the base.</summary>
    public string? Checkpoint { get; init; }
    /// <summary>--model: a SAM configuration JSON or a preset name ("tiny"), to train from scratch.</summary>
    public string? Model { get; init; }
    /// <summary>--img-size: model input size.</summary>
    public int? ImageSize { get; init; }
    /// <summary>--slices: slices per stack D.</summary>
    public int? Slices { get; init; }
    /// <summary>--labels: label values to learn (e.g. "1,2+3"); null = every label.</summary>
    public string? Labels { get; init; }
    /// <summary>--intensity: intensity transform.</summary>
    public string? Intensity { get; init; }
    /// <summary>--val-cases: validation case ids.</summary>
    public IReadOnlyList<string>? ValCases { get; init; }
    /// <summary>--val-fraction: fraction of cases held out.</summary>
    public double? ValFraction { get; init; }
    /// <summary>--train-base: also train the base image encoder (from-scratch models).</summary>
    public bool? TrainBase { get; init; }
    /// <summary>--input-projection: how C image channels become SAM's 3 (learned, select:i,j,k; null = the default rule of
    /// <see cref="SamAdapt.Training.Data.InputMapping.Resolve"/>).</summary>
    public string? InputProjection { get; init; }
    /// <summary>--augment: augmentation pipeline.</summary>
    public string? Augment { get; init; }
    /// <summary>--oversample-foreground: share of training stacks centred on a slice holding a foreground class
    /// (null = nnU-Net's 1/3).</summary>
    public double? ForegroundProbability { get; init; }
    /// <summary>Why <see cref="Intensity"/> was chosen ("--intensity" or the dataset default's reason); not an option: a
    /// resumed run keeps its own.</summary>
    public string? IntensitySource { get; init; }
    /// <summary>Adapter rank (FacT / LoRA); null = the method's default.</summary>
    public int? Rank { get; init; }
    /// <summary>3D-adapter bottleneck; null = the method's default.</summary>
    public int? Bottleneck { get; init; }

    // ---- prompt-trained methods (msa, medsam; docs/methods/msa.md) ----
    /// <summary>--adapter-activation: gelu (the released MSA code) or relu (the paper).</summary>
    public string? AdapterActivation { get; init; }
    /// <summary>--decoder-adapters: the MSA paper's three adapters per two-way decoder block.</summary>
    public bool? DecoderAdapters { get; init; }
    /// <summary>--slices-as-channels: msa 2.5-D input, the 3 slices of a stack (k−1, k, k+1) as SAM's 3 input channels.</summary>
    public bool? SlicesAsChannels { get; init; }
    /// <summary>--multimask-clicks: msa decodes a single click with SAM's 3 outputs (lowest loss in training, highest predicted IoU in prediction).</summary>
    public bool? MultimaskClicks { get; init; }
    /// <summary>--aux-semantic: msa's auxiliary semantic head and the weight of its loss (0 = no head).</summary>
    public double? AuxSemantic { get; init; }
    /// <summary>--trains: the parts that train (adapters, decoder, prompt-encoder, image-encoder; reference; all).</summary>
    public string? Trains { get; init; }
    /// <summary>--loss: dice-bce, bce (the reference's 2D BCE, pos_weight 2) or dice (its 3D Dice-CE).</summary>
    public string? Loss { get; init; }
    /// <summary>--train-prompts: the training prompt mixture, e.g. box:0.4,click:0.3,iterative:0.3.</summary>
    public string? TrainPrompts { get; init; }
    /// <summary>--max-clicks: most positive clicks of a training click prompt.</summary>
    public int? MaxClicks { get; init; }
    /// <summary>--prompt-rounds: most correction rounds of a training interactive session.</summary>
    public int? PromptRounds { get; init; }
    /// <summary>--targets-per-stack: most training targets per stack and step (0 = every target).</summary>
    public int? TargetsPerStack { get; init; }

    // ---- masksam ----
    /// <summary>--pixel-head: masksam's pixel head (docs/methods/masksam.md); default on from a configuration, off from a checkpoint.</summary>
    public bool? PixelHead { get; init; }

    /// <summary>The prompt-trained methods' options that were given (their command-line names), for refusing them elsewhere;
    /// with <paramref name="msaOnly"/> only those of MSA's model and prompt mixture, which medsam's fixed recipe refuses
    /// (it takes <c>--loss</c>, <c>--max-clicks</c>, <c>--prompt-rounds</c> and <c>--targets-per-stack</c>).</summary>
    public IReadOnlyList<string> PromptTrainingOptionsGiven(bool msaOnly = false) => new (string Name, bool Given, bool MsaOnly)[]
    {
        ("--adapter-activation", AdapterActivation is not null, true), ("--decoder-adapters", DecoderAdapters is not null, true),
        ("--slices-as-channels", SlicesAsChannels is not null, true), ("--multimask-clicks", MultimaskClicks is not null, true),
        ("--aux-semantic", AuxSemantic is not null, true), ("--trains", Trains is not null, true), ("--loss", Loss is not null, false),
        ("--train-prompts", TrainPrompts is not null, true), ("--max-clicks", MaxClicks is not null, false),
        ("--prompt-rounds", PromptRounds is not null, false), ("--targets-per-stack", TargetsPerStack is not null, false),
    }.Where(o => o.Given && (o.MsaOnly || !msaOnly)).Select(o => o.Name).ToList();

    // ---- trainer ----
    public long? Iterations { get; init; }
    public long? Epochs { get; init; }
    /// <summary>--time-budget in minutes.</summary>
    public double? TimeBudget { get; init; }
    /// <summary>--batch: stacks per batch.</summary>
    public int? Batch { get; init; }
    public double? Lr { get; init; }
    public long? Warmup { get; init; }
    public double? PolyExp { get; init; }
    public double? WeightDecay { get; init; }
    public double? ClipGrad { get; init; }
    /// <summary>--recipe: "samadapt" or "reference" (<see cref="Training.Engine.TrainerOptions.Recipe"/>); reference also turns
    /// clipping off unless --clip-grad is given.</summary>
    public string? Recipe { get; init; }
    public int? Seed { get; init; }
    public long? ValEvery { get; init; }
    public long? CheckpointEvery { get; init; }
    /// <summary>Progress lines every this many iterations when the log is not a terminal.</summary>
    public long? LogEvery { get; init; }
    public bool? GradCheckpoint { get; init; }
    /// <summary>--dist-timeout in seconds: how long a multi-process run waits for a late or dead rank (null = 10 minutes).</summary>
    public double? DistTimeout { get; init; }

    /// <summary><see cref="DistTimeout"/> checked (positive, finite) as a span.</summary>
    public TimeSpan DistTimeoutSpan() => DistTimeout is { } s
        ? (s > 0 && double.IsFinite(s) ? TimeSpan.FromSeconds(s) : throw new ArgumentException($"--dist-timeout must be a positive number of seconds, got {s}"))
        : TimeSpan.FromMinutes(10);

    // ---- runtime (shared by every verb: --device, --threads, --bf16) ----
    public RuntimeSettings Runtime { get; init; } = new();

    /// <summary>Default learning rate when the whole model trains from scratch (--model): AdamW at 2e-3 fits the small
    /// presets within a few hundred iterations (docs/training-notes.md); 8e-4 is MA-SAM's for adapters on a pretrained SAM.</summary>
    public const double FromScratchLr = 2e-3;

    /// <summary>
    /// These settings with every unset task value taken from <paramref name="stored"/> (a run folder's, see
    /// <see cref="ISegmentationMethod.StoredSettings"/>). Trainer values merge in <see cref="TrainerOptions(TrainerOptions?)"/>.
    /// </summary>
    public TrainSettings Over(TrainSettings stored) => this with
    {
        Method = Method ?? stored.Method,
        Dataset = Dataset ?? stored.Dataset,
        Checkpoint = Checkpoint ?? stored.Checkpoint,
        Model = Model ?? stored.Model,
        ImageSize = ImageSize ?? stored.ImageSize,
        Slices = Slices ?? stored.Slices,
        Labels = Labels ?? stored.Labels,
        Intensity = Intensity ?? stored.Intensity,
        ValCases = ValCases ?? stored.ValCases,
        ValFraction = ValFraction ?? stored.ValFraction,
        TrainBase = TrainBase ?? stored.TrainBase,
        Augment = Augment ?? stored.Augment,
        InputProjection = InputProjection ?? stored.InputProjection,
        ForegroundProbability = ForegroundProbability ?? stored.ForegroundProbability,
        IntensitySource = Intensity is null ? stored.IntensitySource : IntensitySource,
        Rank = Rank ?? stored.Rank,
        Bottleneck = Bottleneck ?? stored.Bottleneck,
        AdapterActivation = AdapterActivation ?? stored.AdapterActivation,
        DecoderAdapters = DecoderAdapters ?? stored.DecoderAdapters,
        SlicesAsChannels = SlicesAsChannels ?? stored.SlicesAsChannels,
        MultimaskClicks = MultimaskClicks ?? stored.MultimaskClicks,
        AuxSemantic = AuxSemantic ?? stored.AuxSemantic,
        Trains = Trains ?? stored.Trains,
        Loss = Loss ?? stored.Loss,
        TrainPrompts = TrainPrompts ?? stored.TrainPrompts,
        MaxClicks = MaxClicks ?? stored.MaxClicks,
        PromptRounds = PromptRounds ?? stored.PromptRounds,
        TargetsPerStack = TargetsPerStack ?? stored.TargetsPerStack,
        PixelHead = PixelHead ?? stored.PixelHead,
    };

    /// <summary>
    /// The trainer options: given values, else <paramref name="stored"/>'s (a resumed run's), else the engine's defaults.
    /// A resumed run keeps its length unless the other length option is given.
    /// </summary>
    public TrainerOptions TrainerOptions(TrainerOptions? stored)
    {
        var d = stored ?? new TrainerOptions();
        bool resume = stored is not null;
        // a new run with --recipe reference takes the reference code's schedule unless --warmup/--poly-exp are given
        bool reference = !resume && Recipe is { } r && Training.Engine.TrainerOptions.IsReference(r);
        var o = new TrainerOptions
        {
            Iterations = Iterations ?? (Epochs is null && resume ? d.Iterations : null),
            Epochs = Epochs ?? (Iterations is null && resume ? d.Epochs : null),
            TimeBudgetMinutes = TimeBudget ?? (resume ? d.TimeBudgetMinutes : null),
            BatchSize = Batch ?? d.BatchSize,
            Lr = Lr ?? (!resume && Checkpoint is null && Model is not null ? FromScratchLr : d.Lr),
            Warmup = Warmup ?? (reference ? Training.Engine.TrainerOptions.ReferenceWarmup : d.Warmup),
            PolyExponent = PolyExp ?? (reference ? Training.Engine.TrainerOptions.ReferencePolyExponent : d.PolyExponent),
            WeightDecay = WeightDecay ?? d.WeightDecay,
            ClipGrad = ClipGrad ?? (Recipe is { } rc && Training.Engine.TrainerOptions.IsReference(rc) && !resume ? 0 : d.ClipGrad),
            Recipe = Recipe ?? d.Recipe,
            Device = Runtime.Device ?? d.Device,
            Bf16 = Runtime.Bf16 ?? d.Bf16,
            GradCheckpoint = GradCheckpoint ?? d.GradCheckpoint,
            Seed = Seed is { } s ? (ulong)s : d.Seed,
            ValEvery = ValEvery ?? d.ValEvery,
            CheckpointEvery = CheckpointEvery ?? d.CheckpointEvery,
            LogEvery = LogEvery ?? d.LogEvery,
        };
        o.Validate();
        return o;
    }
}

/// <summary>The runtime options every verb shares: --device, --threads, --bf16 (null = the verb's default).</summary>
public sealed record RuntimeSettings
{
    /// <summary>"cpu" or "cuda[:N]".</summary>
    public string? Device { get; init; }
    /// <summary>libtorch intra-op threads (0 = libtorch's default).</summary>
    public int Threads { get; init; }
    /// <summary>bfloat16 autocast.</summary>
    public bool? Bf16 { get; init; }

    /// <summary>Applies <see cref="Threads"/> to libtorch (0 leaves the default); negative is an <see cref="ArgumentException"/>.</summary>
    public void ApplyThreads()
    {
        if (Threads < 0) throw new ArgumentException($"--threads must be ≥ 0, got {Threads}");
        if (Threads > 0) SamAdapt.Torch.torch.set_num_threads(Threads);
    }

    /// <summary>The device to run on (<see cref="SamAdapt.Torch.DeviceCheck.Resolve"/>): parsed and checked to exist.</summary>
    public SamAdapt.Torch.Device ResolveDevice(string fallback = "cpu") => SamAdapt.Torch.DeviceCheck.Resolve(Device ?? fallback);
}
