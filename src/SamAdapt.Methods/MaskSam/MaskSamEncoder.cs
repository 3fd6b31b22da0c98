using SamAdapt.Sam.Modeling;
using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Methods.MaskSam;

/// <summary>
/// Runs SAM's image encoder the MaskSAM way (docs/methods/masksam.md, "Encoder"): patch embedding, top-left crop of pos_embed, a
/// learned temporal embedding per slice, the blocks with their <see cref="DepthConvAdapter"/> hooks (Space_Adapter after attention,
/// MLP_Adapter ×0.5 parallel to the MLP), and the outputs after every global-attention block plus the neck.
/// <para>Default: each block runs as <see cref="Block.forward(Tensor, EncoderContext)"/> (hooks on whole frames). With
/// <see cref="MaskSamConfig.ReferenceWindowAdapters"/>, windowed blocks run the reference's order: zero padding and window partition
/// before norm1, the attention adapter on the windows (depth = slices per stack taken over consecutive windows).</para>
/// </summary>
public static class MaskSamEncoder
{
    /// <summary>
    /// <paramref name="images"/> (B·T, 3, S, S) frame-minor → [global block outputs (B·T, C, g, g) ×4, neck (B·T, D, g, g)].
    /// </summary>
    public static Tensor[] Forward(ImageEncoderViT enc, Tensor temporal, Tensor images, int frames, bool referenceWindows)
    {
        using var scope = DisposeScope.Begin();
        var x = enc.patch_embed.forward(images);                                         // (B·T, g, g, C)
        long n = x.size(0), g = x.size(1), c = x.size(3);
        x = x + enc.pos_embed.slice(1, 0, g).slice(2, 0, g);
        x = (x.view(n / frames, frames, g, g, c) + temporal.view(1, frames, 1, 1, c)).view(n, g, g, c);
        var context = new EncoderContext(frames);
        var outs = new List<Tensor>();
        foreach (var blk in enc.blocks)
        {
            x = referenceWindows && blk.window_size > 0 ? ReferenceBlock(blk, x, frames) : blk.forward(x, context);
            if (blk.window_size == 0) outs.Add(x.permute(0, 3, 1, 2));
        }
        outs.Add(enc.neck.forward(x.permute(0, 3, 1, 2)));
        return outs.Select(t => t.contiguous().MoveToOuterScope()).ToArray();
    }

    /// <summary>The reference's windowed block: pad + partition, norm1, attention, Space_Adapter on windows, un-partition, MLP branch.</summary>
    private static Tensor ReferenceBlock(Block blk, Tensor x, int frames)
    {
        using var scope = DisposeScope.Begin();
        var space = (DepthConvAdapter)(blk.Hook("Space_Adapter") ?? throw new InvalidOperationException("block without Space_Adapter"));
        var mlpAdapter = (DepthConvAdapter)(blk.Hook("MLP_Adapter") ?? throw new InvalidOperationException("block without MLP_Adapter"));
        int h = (int)x.size(1), w = (int)x.size(2);
        var (windows, pad) = Block.WindowPartition(x, blk.window_size);
        var a = blk.attn.forward(blk.norm1.forward(windows));
        a = space.Forward(a, frames);
        a = Block.WindowUnpartition(a, blk.window_size, pad, (h, w));
        var y = x + a;
        var nrm = blk.norm2.forward(y);
        y = y + blk.mlp.forward(nrm) + mlpAdapter.Forward(nrm, frames);
        return y.MoveToOuterScope();
    }
}
