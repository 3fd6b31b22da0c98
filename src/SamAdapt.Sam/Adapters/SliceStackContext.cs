namespace SamAdapt.Sam.Adapters;

/// <summary>
/// Shared per-forward state of the 3D adapters: the number of slices D per stack of the current batch. The batch of B·D images
/// is sample-major, slice-minor (image b·D + d is slice d of stack b). <see cref="AdaptedSam"/> sets <see cref="Depth"/> before
/// each forward; gradient checkpointing recomputes blocks in backward with the value still set, so do not change it between a
/// forward and its backward.
/// </summary>
public sealed class SliceStackContext
{
    private int _depth = 1;

    public SliceStackContext(int depth = 1) { Depth = depth; }

    /// <summary>Slices per stack D (≥ 1).</summary>
    public int Depth
    {
        get => _depth;
        set => _depth = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), $"slices per stack must be ≥ 1, got {value}");
    }

    /// <summary>Number of stacks B in a batch of <paramref name="batch"/> = B·D images; throws when D does not divide it.</summary>
    public long StacksIn(long batch)
    {
        if (batch % _depth != 0)
            throw new ArgumentException($"a batch of {batch} images is not a whole number of {_depth}-slice stacks (the batch must be B·D, sample-major, slice-minor)");
        return batch / _depth;
    }
}
