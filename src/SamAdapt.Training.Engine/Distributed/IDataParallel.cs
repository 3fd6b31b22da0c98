using SamAdapt.Torch;

namespace SamAdapt.Training.Engine.Distributed;

/// <summary>What the ranks agreed on at a step: the loss averaged over ranks, and whether any rank asked to stop.</summary>
public readonly record struct StepAgreement(double MeanLoss, bool Stop);

/// <summary>
/// The trainer's data-parallel hook. With one attached, <see cref="Trainer"/> (a) makes every rank start from the
/// writer's weights, (b) agrees with the other ranks on each step's loss (so a non-finite loss is skipped everywhere)
/// and on stopping (cancellation or time budget on any rank), (c) averages the gradients before clipping (so the
/// clipping norm is the global one and every rank takes the same optimizer step), and (d) writes logs, validation and
/// checkpoints on the writer (rank 0) only, and (e) runs the length rank 0 plans from a time budget. Without one, the trainer runs exactly as a single process.
/// </summary>
public interface IDataParallel
{
    /// <summary>This process's rank, 0 ≤ Rank &lt; WorldSize.</summary>
    int Rank { get; }

    int WorldSize { get; }

    /// <summary>Rank 0 alone writes the run folder.</summary>
    bool IsWriter => Rank == 0;

    /// <summary>Overwrites every rank's tensors with rank 0's (parameters and buffers at start and after a resume).</summary>
    void BroadcastFromWriter(IReadOnlyList<Tensor> tensors);

    /// <summary>Called once per step by every rank, after the forward pass and before backward.</summary>
    /// <param name="step">The 0-based iteration (for diagnostics: a rank that falls behind is named by its step).</param>
    /// <param name="loss">This rank's loss (may be NaN/inf).</param>
    /// <param name="stop">This rank wants to stop before this step's update (cancelled, out of time).</param>
    StepAgreement Agree(long step, double loss, bool stop);

    /// <summary>Called by every rank at the same point: returns rank 0's <paramref name="value"/> on every rank (a time-budget run's
    /// planned length, so that all ranks run the same schedule).</summary>
    double FromWriter(double value);

    /// <summary>Replaces each parameter's gradient by its mean over the ranks (an undefined gradient counts as zeros).</summary>
    void AverageGradients(IReadOnlyList<Tensor> parameters);
}
