namespace SamAdapt.Sam.Modeling;

/// <summary>
/// Per-call values of one image-encoder forward, handed to every block and its hooks (docs/sam.md, "Extension points"):
/// the number of slices D per stack of the batch, whose B·D images are sample-major, slice-minor (image b·D + d is slice d
/// of stack b). Immutable and passed with the call, so concurrent forwards on one model never share it; gradient
/// checkpointing recomputes a block with the context of its own forward.
/// </summary>
public sealed record EncoderContext
{
    /// <summary>Single images (D = 1): what plain SAM uses.</summary>
    public static EncoderContext Single { get; } = new(1);

    public EncoderContext(int depth)
    {
        Depth = depth >= 1 ? depth : throw new ArgumentOutOfRangeException(nameof(depth), $"slices per stack must be ≥ 1, got {depth}");
    }

    /// <summary>Slices per stack D (≥ 1).</summary>
    public int Depth { get; }

    /// <summary>Number of stacks B in a batch of <paramref name="batch"/> = B·D images; throws when D does not divide it.</summary>
    public long StacksIn(long batch)
    {
        if (batch % Depth != 0)
            throw new ArgumentException($"a batch of {batch} images is not a whole number of {Depth}-slice stacks (the batch must be B·D, sample-major, slice-minor)");
        return batch / Depth;
    }
}
