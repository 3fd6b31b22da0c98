using SamAdapt.Methods.MaskSam;
using SamAdapt.Sam.Modeling;
using SamAdapt.Torch;

namespace SamAdapt.Methods.Tests.MaskSam;

/// <summary>
/// The encoder's depth adapters in the default (fixed) mode, through the Block hooks: they convolve across the slices of a stack
/// (a slice's change reaches its neighbour, never another stack), and with their output projection at zero
/// the block is SAM's, bit for bit. Random weights: only structural properties are asserted.
/// </summary>
public class MaskSamAdapterTests
{
    private static MaskSamModel SmallModel(bool referenceWindows = false)
    {
        torch.manual_seed(3);
        var c = MaskSamTinyRun.Config() with { ReferenceWindowAdapters = referenceWindows };
        var m = new MaskSamModel(c);
        m.eval();
        return m;
    }

    [Fact]
    public void Default_mode_adapters_mix_neighbouring_slices_of_a_stack_only()
    {
        using var model = SmallModel();
        var blk = model.sam_model.image_encoder.blocks[0];
        Assert.True(blk.window_size > 0); // a windowed block: the reference would convolve across windows here
        using var scope = DisposeScope.Begin();
        using var _ = torch.no_grad();
        int t = model.Config.Frames; // 3
        long g = model.Config.TokenGrid, e = model.Config.Sam.EncoderEmbedDim;
        var x = torch.randn(2 * t, g, g, e);
        var y = x.clone();
        y.select(0, 0).add_(torch.randn(g, g, e)); // change slice 0 of stack 0 (not by a constant: LayerNorm would remove it)
        var ctx = new EncoderContext(t);
        var a = blk.forward(x, ctx);
        var b = blk.forward(y, ctx);
        double Diff(int row) => (a.select(0, row) - b.select(0, row)).abs().max().item();
        Assert.True(Diff(0) > 0);
        Assert.True(Diff(1) > 1e-6, "the neighbouring slice must see the change through the depth convolution");
        for (int r = t; r < 2 * t; r++) Assert.Equal(0.0, Diff(r)); // the other stack never mixes
    }

    [Fact]
    public void With_zero_output_projections_a_block_is_sams_bit_for_bit()
    {
        using var model = SmallModel();
        var blk = model.sam_model.image_encoder.blocks[0];
        using var scope = DisposeScope.Begin();
        using var _ = torch.no_grad();
        foreach (var name in new[] { "Space_Adapter", "MLP_Adapter" })
        {
            var h = (DepthConvAdapter)blk.Hook(name)!;
            h.D_fc2.weight.zero_();
            h.D_fc2.bias!.zero_();
        }
        var c = model.Config.Sam;
        var plain = new Block(c.EncoderEmbedDim, c.EncoderNumHeads, c.MlpRatio, c.WindowSize, (c.ImageEmbeddingSize, c.ImageEmbeddingSize));
        var own = blk.state_dict().Where(kv => !kv.Key.Contains("Adapter", StringComparison.Ordinal)).ToDictionary(kv => kv.Key, kv => kv.Value);
        plain.load_state_dict(own, strict: true);
        long g = model.Config.TokenGrid;
        var x = torch.randn(model.Config.Frames, g, g, c.EncoderEmbedDim);
        Assert.True(torch.equal(plain.forward(x), blk.forward(x, new EncoderContext(model.Config.Frames))));
        plain.Dispose();
    }

    [Fact]
    public void Reference_mode_groups_windows_and_differs_from_the_default()
    {
        using var fixedModel = SmallModel();
        using var refModel = SmallModel(referenceWindows: true);
        refModel.load_state_dict(fixedModel.state_dict(), strict: true);
        using var scope = DisposeScope.Begin();
        using var _ = torch.no_grad();
        var s = fixedModel.Config.InputSize;
        var images = torch.rand(fixedModel.Config.Frames, 3, s, s);
        var a = MaskSamEncoder.Forward(fixedModel.sam_model.image_encoder, fixedModel.sam_model.encoder_temporal_embedding.weight, images, fixedModel.Config.Frames, false);
        var b = MaskSamEncoder.Forward(refModel.sam_model.image_encoder, refModel.sam_model.encoder_temporal_embedding.weight, images, refModel.Config.Frames, true);
        Assert.Equal(a[0].shape, b[0].shape);
        Assert.False(torch.allclose(a[0], b[0], 1e-3, 1e-4));
    }
}
