using SamAdapt.Methods.MaskSam;
using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Methods.Tests.MaskSam;

/// <summary>
/// The prompt generator and final_conv up-sample by the encoder's stride (docs/methods/masksam.md): every patch size in {4, 8, 16}
/// yields full-resolution masks; SAM's patch 16 keeps the reference's layout (parity with the fixture is tested elsewhere).
/// </summary>
public class MaskSamStrideTests
{
    private static MaskSamConfig Tiny(int patch, int size) => MaskSamMethod.TinyPreset(size, 3, 3) with
    {
        Sam = MaskSamMethod.TinyPreset(size, 3, 3).Sam with { PatchSize = patch, EncoderDepth = 4, EncoderEmbedDim = 32, EncoderNumHeads = 2 },
        NumQueries = 5, FinalConvChannels = 8, OutputStride = 1,
    };

    [Theory]
    [InlineData(16, 64)]
    [InlineData(8, 48)]
    [InlineData(4, 32)]
    public void Every_head_and_the_last_generator_stage_come_out_at_the_input_resolution(int patch, int size)
    {
        torch.manual_seed(1);
        using var scope = DisposeScope.Begin();
        var c = Tiny(patch, size);
        using var model = new MaskSamModel(c);
        model.eval();
        using var _ = torch.no_grad();
        var fwd = model.forward(torch.randn([2, 1, 3, size, size]));
        long n = 6, q = 5, g = size / patch;
        Assert.Equal([n, q, size, size], fwd.Predictions.Masks.shape);
        Assert.Equal([n, q, size, size], fwd.Predictions.AuxMaskLogits.shape);
        Assert.Equal([n, q, 4], fwd.Predictions.AuxBoxes.shape);
        Assert.Equal([n * q, 1, 4 * g, 4 * g], fwd.LowResMasks.shape);
        Assert.Equal([n * q, 1, 4 * g, 4 * g], fwd.MaskPrompt.shape);       // SAM's mask input: 4 × the token grid
        Assert.Equal([2L, c.GeneratorChannels[0], 3, size, size], fwd.Generator.Stages[^1].shape);
        Assert.Equal(5, fwd.Generator.Stages.Length);
        // stages double in-plane only in the last log2(patch) steps
        for (int s = 1; s < 5; s++)
            Assert.Equal(fwd.Generator.Stages[s - 1].size(3) * PromptGenerator.StageScale(c, s), fwd.Generator.Stages[s].size(3));
        var sem = MaskSamModel.Semantic(fwd.Predictions.Logits, fwd.Predictions.Masks, 3);
        Assert.Equal([2L, 3, 3, size, size], sem.shape);
    }

    [Theory]
    [InlineData(16, 2)]
    [InlineData(8, 1)]
    [InlineData(4, 0)]
    public void Final_conv_has_one_transposed_convolution_per_doubling_from_the_decoder_masks(int patch, int expected)
    {
        using var model = new MaskSamModel(Tiny(patch, 64));
        var keys = model.state_dict().Keys.Where(k => k.StartsWith("final_conv.", StringComparison.Ordinal)).ToList();
        var transposed = keys.Count(k => k.EndsWith(".weight", StringComparison.Ordinal) && model.state_dict()[k].dim() == 5
            && model.state_dict()[k].size(2) == 1 && model.state_dict()[k].size(3) == 2);
        Assert.Equal(expected, transposed);
        // the last convolution maps back to the queries
        var last = keys.Where(k => k.EndsWith(".weight", StringComparison.Ordinal)).OrderBy(k => int.Parse(k.Split('.')[1])).Last();
        Assert.Equal(5, model.state_dict()[last].size(0));
    }

    [Fact]
    public void Patch_16_keeps_the_reference_key_layout()
    {
        using var model = new MaskSamModel(Tiny(16, 64));
        var sd = model.state_dict();
        Assert.Equal([8L, 8, 1, 2, 2], sd["final_conv.1.weight"].shape);
        Assert.Equal([8L, 8, 1, 2, 2], sd["final_conv.4.weight"].shape);
        Assert.Equal([5L, 8, 3, 3, 3], sd["final_conv.7.weight"].shape);
        Assert.All(sd.Where(kv => kv.Key.Contains("image_decoder_transpconvs", StringComparison.Ordinal) && kv.Key.EndsWith("weight", StringComparison.Ordinal)),
            kv => Assert.Equal(2, kv.Value.size(3)));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(32)]
    public void Other_strides_are_rejected_with_a_clear_message(int patch)
    {
        var e = Assert.Throws<ArgumentException>(() => Tiny(patch, 64).Validate());
        Assert.Contains("patch 4, 8 or 16", e.Message);
    }
}
