using System.Text.Json.Nodes;
using SamAdapt.Methods.MaskSam;
using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Methods.Tests.MaskSam;

/// <summary>
/// <see cref="MaskSamConfig.OutputStride"/> (docs/methods/masksam.md, "Architecture"): the prompt generator's last stage and final_conv
/// stop at S / stride and the mask logits are bilinearly interpolated to S; stride 1 (the default, absent from old run folders) is the
/// reference's full-resolution layout.
/// </summary>
public class MaskSamOutputStrideTests
{
    private static MaskSamConfig Small(int stride, int size = 64) => MaskSamMethod.TinyPreset(size, 3, 3) with
    {
        Sam = MaskSamMethod.TinyPreset(size, 3, 3).Sam with { EncoderEmbedDim = 32, EncoderNumHeads = 2 },
        NumQueries = 5, FinalConvChannels = 8, OutputStride = stride,
    };

    [Fact]
    public void The_reference_default_is_full_resolution_and_the_tiny_preset_halves_it()
    {
        Assert.Equal(1, new MaskSamConfig().OutputStride);
        Assert.Equal(2, MaskSamMethod.TinyPreset(96, 3, 9).OutputStride);
    }

    [Fact]
    public void Output_stride_round_trips_and_reads_as_1_when_absent()
    {
        var c = Small(2);
        var json = MaskSamConfigJson.ToJson(c);
        Assert.Equal(2, MaskSamConfigJson.FromJson(json).OutputStride);
        var old = JsonNode.Parse(json)!.AsObject();
        Assert.True(old.Remove("output_stride"));
        Assert.Equal(1, MaskSamConfigJson.FromJson(old.ToJsonString()).OutputStride);
    }

    [Theory]
    [InlineData(3, 16)]
    [InlineData(8, 16)]
    [InlineData(4, 8)]   // patch 8: the decoder's masks are at S/2 already
    public void Strides_finer_than_the_decoder_masks_or_not_a_power_of_two_are_rejected(int stride, int patch)
    {
        var c = Small(stride) with { Sam = Small(1).Sam with { PatchSize = patch } };
        var e = Assert.Throws<ArgumentException>(() => c.Validate());
        Assert.Contains("output stride", e.Message);
    }

    [Fact]
    public void Stride_2_drops_one_transposed_convolution_of_final_conv()
    {
        using var full = new MaskSamModel(Small(1));
        using var half = new MaskSamModel(Small(2));
        static int Transposed(MaskSamModel m) => m.state_dict().Count(kv => kv.Key.StartsWith("final_conv.", StringComparison.Ordinal)
            && kv.Key.EndsWith(".weight", StringComparison.Ordinal) && kv.Value.dim() == 5 && kv.Value.size(3) == 2);
        Assert.Equal(2, Transposed(full));
        Assert.Equal(1, Transposed(half));
        // the generator keeps its modules and widths: the same parameter names and shapes (only the skips' in-plane scales differ)
        var a = full.state_dict().Where(kv => kv.Key.StartsWith("prompt_generator.", StringComparison.Ordinal)).ToDictionary(kv => kv.Key, kv => kv.Value.shape);
        var b = half.state_dict().Where(kv => kv.Key.StartsWith("prompt_generator.", StringComparison.Ordinal)).ToDictionary(kv => kv.Key, kv => kv.Value.shape);
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        Assert.Contains(b, kv => kv.Value.Length == 5 && kv.Value[2] == 1 && kv.Value[3] == 1 && kv.Value[4] == 1 && kv.Key.Contains("transpconvs", StringComparison.Ordinal));
    }

    [Fact]
    public void Masks_are_the_bilinear_interpolation_of_the_half_resolution_heads()
    {
        torch.manual_seed(3);
        using var scope = DisposeScope.Begin();
        const int size = 64;
        var c = Small(2, size);
        using var model = new MaskSamModel(c);
        model.eval();
        using var _ = torch.no_grad();
        var fwd = model.forward(torch.randn([2, 1, 3, size, size]));
        long n = 6, q = 5, h = size / 2;
        Assert.Equal([n, q, size, size], fwd.Predictions.Masks.shape);
        Assert.Equal([n, q, size, size], fwd.Predictions.AuxMaskLogits.shape);
        Assert.Equal([2L, c.GeneratorChannels[0], 3, h, h], fwd.Generator.Stages[^1].shape);

        // final masks: final_conv on the decoder's low-res masks at S/2, then bilinear (align_corners false) to S
        long lr = fwd.LowResMasks.size(2);
        var half = model.final_conv.forward(fwd.LowResMasks.view(2, 3, q, lr, lr).permute(0, 2, 1, 3, 4));   // (B, Q, T, S/2, S/2)
        Assert.Equal([2L, q, 3, h, h], half.shape);
        var expected = UpsampleByHand(half.permute(0, 2, 1, 3, 4).reshape(n, q, h, h), size);
        Assert.True(torch.allclose(fwd.Predictions.Masks, expected, 1e-5, 1e-5));

        // auxiliary logits: the 1×1×1 head on the last stage, interpolated the same way
        var seg = model.prompt_generator.image_decoder_seg_layers[0].forward(fwd.Generator.Stages[^1]);
        var aux = UpsampleByHand(seg.permute(0, 2, 1, 3, 4).reshape(n, q, h, h), size);
        Assert.True(torch.allclose(fwd.Predictions.AuxMaskLogits, aux, 1e-5, 1e-5));
    }

    /// <summary>
    /// ×2 bilinear up-sampling with align_corners false written out: output pixel i samples source coordinate (i + 0.5) / 2 − 0.5,
    /// clamped at 0, between its two neighbours.
    /// </summary>
    private static Tensor UpsampleByHand(Tensor x, int size)
    {
        long h = x.size(2);
        var w = new float[size * h];
        for (int i = 0; i < size; i++)
        {
            double src = Math.Max(0, (i + 0.5) * h / size - 0.5);
            int i0 = (int)Math.Floor(src), i1 = (int)Math.Min(i0 + 1, h - 1);
            double f = src - i0;
            w[i * h + i0] += (float)(1 - f);
            w[i * h + i1] += (float)f;
        }
        var m = Tensor.FromArray<float>(w, [size, h]);                         // (S, h) interpolation matrix
        return m.matmul(x).matmul(m.t());                                      // rows then columns
    }
}
