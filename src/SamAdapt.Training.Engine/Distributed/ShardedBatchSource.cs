using SamAdapt.Torch;

namespace SamAdapt.Training.Engine.Distributed;

/// <summary>
/// One rank's share of a global batch source: the batch at (epoch, index) is the global batch's rows
/// [rank·n/W, (rank+1)·n/W) of its first axis (n rows, W ranks), so the ranks' shards are disjoint, together are the
/// global batch, and are as deterministic as the source (a pure function of seed, epoch, index). Rows are sample-major
/// ([B·D, ...] for D-slice stacks), so with B divisible by W every shard holds whole samples. Extras with the batch's
/// row count are sliced the same way; others are passed whole. Every rank builds the global batch and keeps its part.
/// </summary>
public sealed class ShardedBatchSource : IBatchSource
{
    private readonly IBatchSource _global;

    public ShardedBatchSource(IBatchSource global, int rank, int worldSize)
    {
        _global = global ?? throw new ArgumentNullException(nameof(global));
        if (worldSize < 1 || rank < 0 || rank >= worldSize) throw new ArgumentOutOfRangeException(nameof(rank), $"rank {rank} is outside a world of {worldSize}");
        Rank = rank;
        WorldSize = worldSize;
    }

    public int Rank { get; }
    public int WorldSize { get; }

    /// <summary>The same as the global source's: every rank takes every step.</summary>
    public int BatchesPerEpoch => _global.BatchesPerEpoch;

    public Batch GetBatch(long epoch, int index)
    {
        using var full = _global.GetBatch(epoch, index);
        long rows = full.Input.size(0);
        if (rows % WorldSize != 0 || full.Slices % WorldSize != 0)
            throw new TrainingException($"a global batch of {rows} rows ({full.Slices} slices) cannot be split evenly over {WorldSize} processes: make --batch a multiple of the process count");
        long n = rows / WorldSize, start = Rank * n;
        Tensor Part(Tensor t)
        {
            if (t.dim() == 0 || t.size(0) != rows) return t.clone();
            using var view = t.narrow(0, start, n);
            return view.clone();
        }
        return new Batch(Part(full.Input), Part(full.Target), full.Slices / WorldSize,
            full.Extras.ToDictionary(kv => kv.Key, kv => Part(kv.Value)));
    }
}
