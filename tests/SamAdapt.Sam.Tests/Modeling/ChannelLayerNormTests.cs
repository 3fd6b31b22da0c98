using SamAdapt.Sam.Modeling;
using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Sam.Tests.Modeling;

/// <summary>One channel LayerNorm serves SAM's LayerNorm2d (4-D maps) and MaskSAM's LayerNorm3d (5-D maps).</summary>
public class ChannelLayerNormTests
{
    private static ChannelLayerNorm Norm(long c)
    {
        var n = new ChannelLayerNorm(c);
        using var _ = torch.no_grad();
        n.weight.copy_(torch.randn([c]));
        n.bias.copy_(torch.randn([c]));
        return n;
    }

    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    public void Normalises_each_position_over_the_channels_then_scales_and_shifts(int rank)
    {
        torch.manual_seed(3);
        using var scope = DisposeScope.Begin();
        using var norm = Norm(6);
        long[] shape = rank == 4 ? [2, 6, 5, 7] : [2, 6, 3, 5, 7];
        var x = torch.randn(shape) * 3 + 1;
        var y = norm.forward(x);
        Assert.Equal(shape, y.shape);
        // the fused layer_norm over a channels-last view is the definition (equal up to rounding)
        var perm = Enumerable.Range(0, rank).Where(d => d != 1).Append(1).Select(d => (long)d).ToArray();
        var back = Enumerable.Range(0, rank).Select(d => d == 0 ? 0L : d == 1 ? rank - 1 : d - 1).ToArray();
        var expected = F.layer_norm(x.permute(perm), [6], norm.weight, norm.bias, 1e-6).permute(back);
        Assert.True(torch.allclose(y, expected, rtol: 1e-5, atol: 1e-5), $"max |diff| {(y - expected).abs().max().item()}");
    }

    [Fact]
    public void A_5d_map_gives_bit_for_bit_the_4d_result_of_its_flattened_depth()
    {
        torch.manual_seed(4);
        using var scope = DisposeScope.Begin();
        using var norm = Norm(8);
        var x = torch.randn([2, 8, 3, 4, 5]);
        var y5 = norm.forward(x);
        var y4 = norm.forward(x.reshape(2, 8, 12, 5)).reshape(2, 8, 3, 4, 5);
        Assert.True(torch.equal(y5, y4));
        Assert.Equal(["bias", "weight"], norm.state_dict().Keys.Order().ToArray());
    }

    [Fact]
    public void Rejects_input_without_a_channel_axis()
    {
        using var norm = new ChannelLayerNorm(3);
        using var x = torch.zeros([3]);
        Assert.Throws<ArgumentException>(() => norm.forward(x));
    }
}
