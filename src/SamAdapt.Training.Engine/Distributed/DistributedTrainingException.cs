namespace SamAdapt.Training.Engine.Distributed;

/// <summary>
/// A multi-process run cannot go on: another rank died, hung past the timeout, or could not be reached. The message
/// names the rank(s) at fault where they can be told; the run folder holds the last complete checkpoint (continue
/// with --resume).
/// </summary>
public sealed class DistributedTrainingException(string message, IReadOnlyList<int> suspectRanks, Exception? inner = null)
    : TrainingException(message, inner)
{
    /// <summary>Ranks found dead or behind (empty when none could be told apart).</summary>
    public IReadOnlyList<int> SuspectRanks { get; } = suspectRanks;
}
