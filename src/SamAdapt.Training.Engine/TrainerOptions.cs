namespace SamAdapt.Training.Engine;

/// <summary>
/// Everything the training loop needs besides the task. Defaults: AdamW β 0.9/0.999, weight decay 0.1, lr 8e-4, loss
/// 0.2·CE + 0.8·Dice, seed 1234 (MA-SAM's recipe, methods.md §2.4), but a schedule that scales with the planned length:
/// linear warm-up over <see cref="AutoWarmupFraction"/> of the run, then poly decay with exponent 0.9 (nnU-Net's).
/// MA-SAM's own 250 warm-up iterations and exponent 7 (tuned for its ~40k-iteration GPU runs) never leave warm-up, or
/// bring the lr near zero by mid-run, in the few hundred iterations a CPU run makes (docs/training-notes.md); give
/// <c>--warmup 250 --poly-exp 7</c> to reproduce them. Exactly one of <see cref="Iterations"/> and <see cref="Epochs"/>
/// sets the length; <see cref="TimeBudgetMinutes"/> caps it (and sets it, planned once from a calibration of the step
/// time before the first iteration, when neither is given).
/// </summary>
public sealed record TrainerOptions
{
    /// <summary>Total optimizer iterations (steps), or null.</summary>
    public long? Iterations { get; init; }

    /// <summary>Total epochs (iterations = epochs × batches per epoch), or null.</summary>
    public long? Epochs { get; init; }

    /// <summary>Wall-clock budget in minutes over the whole run (resumed sessions included), or null.</summary>
    public double? TimeBudgetMinutes { get; init; }

    /// <summary>Samples (slice stacks) per batch; the batch source is built with it.</summary>
    public int BatchSize { get; init; } = 1;

    public double Lr { get; init; } = 8e-4;
    /// <summary>Linear warm-up iterations; null = <see cref="AutoWarmupFraction"/> of the planned length. Never more
    /// than <see cref="MaxWarmupFraction"/> of it (see <see cref="EffectiveWarmup"/>).</summary>
    public long? Warmup { get; init; }
    public double PolyExponent { get; init; } = 0.9;

    /// <summary>Share of the planned iterations used for warm-up when <see cref="Warmup"/> is not given.</summary>
    public const double AutoWarmupFraction = 0.05;

    /// <summary>Warm-up never takes more than this share of the planned iterations (a longer one would never end in short runs).</summary>
    public const double MaxWarmupFraction = 0.25;

    /// <summary>The warm-up iterations of a run planned at <paramref name="totalSteps"/>: <see cref="Warmup"/> (or
    /// <see cref="AutoWarmupFraction"/> of the run, at least 1) capped at <see cref="MaxWarmupFraction"/> of the run.</summary>
    public long EffectiveWarmup(long totalSteps)
    {
        if (totalSteps <= 1) return 0;
        long cap = (long)Math.Floor(MaxWarmupFraction * totalSteps);
        long w = Warmup ?? Math.Max(1, (long)Math.Round(AutoWarmupFraction * totalSteps, MidpointRounding.AwayFromZero));
        return Math.Min(w, cap);
    }
    public double WeightDecay { get; init; } = 0.1;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.999;

    /// <summary>Global gradient-norm limit; 0 disables clipping (the norm is still measured to catch non-finite gradients).</summary>
    public double ClipGrad { get; init; } = 1.0;

    /// <summary>"cpu", "cuda" or "cuda:N".</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>bfloat16 autocast for the forward pass (CUDA, and CPU where libtorch supports it). Weights and optimizer stay fp32.</summary>
    public bool Bf16 { get; init; }

    /// <summary>Gradient (activation) checkpointing; passed to the task.</summary>
    public bool GradCheckpoint { get; init; }

    public ulong Seed { get; init; } = 1234;

    /// <summary>Validate every this many iterations (0: only at the end).</summary>
    public long ValEvery { get; init; } = 500;

    /// <summary>Write last.ckpt and adapter.safetensors every this many iterations (0: only at the end).</summary>
    public long CheckpointEvery { get; init; } = 500;

    /// <summary>Stop with an error after this many consecutive steps whose loss or gradient norm is NaN/inf (each is skipped).</summary>
    public int MaxNonFinite { get; init; } = 20;

    /// <summary>Loss weights: <c>CeWeight·CE + DiceWeight·soft Dice</c>.</summary>
    public double CeWeight { get; init; } = 0.2;
    public double DiceWeight { get; init; } = 0.8;

    /// <summary>
    /// "samadapt" (default) or "reference" (docs/methods/ma-sam.md §2): the reference reproduces the MA-SAM code's
    /// training exactly — its warm-up/decay schedule (<see cref="SamAdapt.Torch.Optim.ReferenceWarmupPolyDecay"/>) and weight decay on
    /// every trained tensor (norms, biases and tokens included); "samadapt" uses <see cref="SamAdapt.Torch.Optim.WarmupPolyDecay"/> and
    /// exempts biases, norms and tokens from weight decay (<see cref="OptimizerGroups"/>).
    /// </summary>
    public string Recipe { get; init; } = RecipeSamAdapt;

    public const string RecipeSamAdapt = "samadapt";
    public const string RecipeReference = "reference";

    /// <summary>True when <paramref name="recipe"/> names the reference recipe.</summary>
    /// <summary>The reference MA-SAM code's warm-up (iterations) and poly exponent: <c>--recipe reference</c>'s defaults.</summary>
    public const long ReferenceWarmup = 250;
    public const double ReferencePolyExponent = 7;

    /// <summary>The warm-up the schedule uses for a run planned at <paramref name="totalSteps"/>: the reference recipe's
    /// as given (default <see cref="ReferenceWarmup"/>, uncapped, as the reference code does), else <see cref="EffectiveWarmup"/>.</summary>
    public long ScheduleWarmup(long totalSteps) => IsReference(Recipe) ? Warmup ?? ReferenceWarmup : EffectiveWarmup(totalSteps);

    public static bool IsReference(string recipe) => string.Equals(recipe, RecipeReference, StringComparison.OrdinalIgnoreCase);

    /// <summary>When stderr is not a terminal, print a progress line every this many iterations.</summary>
    public long LogEvery { get; init; } = 50;

    /// <summary>Keys of config.yaml (dotted, e.g. "trainer.device") that may change when resuming; all others must match.</summary>
    public static readonly IReadOnlySet<string> ResumeMayChange = new HashSet<string>(StringComparer.Ordinal)
    {
        "trainer.device", "trainer.val_every", "trainer.checkpoint_every", "trainer.max_non_finite", "trainer.log_every",
        "trainer.time_budget_minutes", // a cap on wall time; a schedule length derived from it is kept in last.ckpt
    };

    /// <summary>Checks the values; throws <see cref="ArgumentException"/> with a message naming the option.</summary>
    public void Validate()
    {
        static void Require(bool ok, string message) { if (!ok) throw new ArgumentException(message); }
        int lengths = (Iterations.HasValue ? 1 : 0) + (Epochs.HasValue ? 1 : 0);
        Require(lengths <= 1, "give either --iterations or --epochs, not both");
        Require(lengths == 1 || TimeBudgetMinutes.HasValue, "say how long to train: --iterations N, --epochs N or --time-budget MINUTES");
        Require(Iterations is null or > 0, $"--iterations must be positive (got {Iterations})");
        Require(Epochs is null or > 0, $"--epochs must be positive (got {Epochs})");
        Require(TimeBudgetMinutes is null || (TimeBudgetMinutes > 0 && double.IsFinite(TimeBudgetMinutes.Value)), $"--time-budget must be a positive number of minutes (got {TimeBudgetMinutes})");
        Require(BatchSize > 0, $"--batch must be positive (got {BatchSize})");
        Require(Lr > 0 && double.IsFinite(Lr), $"--lr must be positive (got {Lr})");
        Require(Warmup is null or >= 0, $"--warmup must be ≥ 0 (got {Warmup})");
        Require(PolyExponent >= 0, $"--poly-exp must be ≥ 0 (got {PolyExponent})");
        Require(WeightDecay >= 0, $"--weight-decay must be ≥ 0 (got {WeightDecay})");
        Require(Beta1 is >= 0 and < 1 && Beta2 is >= 0 and < 1, $"AdamW betas must lie in [0, 1) (got {Beta1}, {Beta2})");
        Require(Recipe is not null && (IsReference(Recipe) || string.Equals(Recipe, RecipeSamAdapt, StringComparison.OrdinalIgnoreCase)),
            $"--recipe must be {RecipeSamAdapt} or {RecipeReference} (got '{Recipe}')");
        Require(ClipGrad >= 0, $"--clip-grad must be ≥ 0 (0 disables clipping; got {ClipGrad})");
        Require(ValEvery >= 0 && CheckpointEvery >= 0 && LogEvery >= 0, "validation, checkpoint and log intervals must be ≥ 0");
        Require(MaxNonFinite > 0, $"the non-finite-loss limit must be positive (got {MaxNonFinite})");
        Require(CeWeight >= 0 && DiceWeight >= 0 && CeWeight + DiceWeight > 0, $"loss weights must be ≥ 0 and not both 0 (got CE {CeWeight}, Dice {DiceWeight})");
        try { Torch.Device.Parse(Device); }
        catch (FormatException e) { throw new ArgumentException($"--device: {e.Message}"); }
    }
}
