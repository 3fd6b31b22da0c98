using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Sam.Modeling;

/// <summary>Where a <see cref="BlockHook"/> acts in an encoder <see cref="Block"/> (docs/sam.md, "Extension points").</summary>
public enum BlockHookPoint
{
    /// <summary>Residual, before norm1/attention: <c>x = x + hook(x)</c> (MA-SAM's adapter_1).</summary>
    BeforeAttention,
    /// <summary>On the attention branch, after attention (and window un-partitioning), before its residual add:
    /// <c>x = shortcut + hook(attn(norm1(x)))</c> (MSA's adapter after attention, a depth branch re-running the block's attention).</summary>
    AfterAttention,
    /// <summary>Residual, before norm2/MLP: <c>x = x + hook(x)</c> (MA-SAM's adapter_2).</summary>
    BeforeMlp,
    /// <summary>Parallel to the MLP on the same normalised input: <c>x = x + mlp(norm2(x)) + hook(norm2(x))</c> (MSA's MLP adapter).</summary>
    ParallelToMlp,
    /// <summary>Parallel to the attention branch on the block's input: <c>x = shortcut + afterAttentionHooks(attn(norm1(x))) + hook(x)</c>
    /// (MSA's depth branch, which runs the block's own norm1 and attention across the slices of a stack).</summary>
    ParallelToAttention,
}

/// <summary>
/// A module attached to an encoder block at a <see cref="BlockHookPoint"/>. Channels-last (B, H, W, E) in and out; the
/// per-call <see cref="EncoderContext"/> (e.g. slices per stack) comes with every call.
/// </summary>
public abstract class BlockHook : Module
{
    /// <summary>The block this hook is attached to (set by <see cref="Block.Attach"/>), e.g. for re-using its attention.</summary>
    public Block? Owner { get; internal set; }

    public abstract Tensor forward(Tensor x, EncoderContext context);
}
