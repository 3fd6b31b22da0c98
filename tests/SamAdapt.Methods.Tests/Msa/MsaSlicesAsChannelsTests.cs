using SamAdapt.Methods.Msa;
using SamAdapt.Sam;
using SamAdapt.Sam.Modeling;
using SamAdapt.Torch;

namespace SamAdapt.Methods.Tests.Msa;

/// <summary>
/// 2.5-D input (<see cref="MsaOptions.SlicesAsChannels"/>, docs/methods/msa.md, "2.5-D input"): the 3 slices of a stack are the encoder's
/// 3 input channels and only the centre slice is embedded; without it <see cref="MsaSam.EmbedCentres"/> is the centre rows of <see cref="MsaSam.EmbedImages"/>.
/// </summary>
public class MsaSlicesAsChannelsTests
{
    private static SamConfig Tiny => MsaTestModels.Tiny;

    /// <summary>B stacks of 3 grey slices (B·3, 3, 64, 64), each slice's value replicated over the 3 channels as the sample pipeline does.</summary>
    private static Tensor GreyStacks(int stacks) => torch.rand([stacks * 3, 1, 64, 64]).expand([stacks * 3, 3, 64, 64]).contiguous();

    [Fact]
    public void The_three_slices_of_a_stack_are_the_encoders_three_channels()
    {
        torch.manual_seed(5);
        using var model = new MsaSam(Tiny, new MsaOptions { Slices = 3, SlicesAsChannels = true });
        Assert.DoesNotContain(model.state_dict().Keys, k => k.Contains("Depth_Adapter", StringComparison.Ordinal));
        using var _ = torch.no_grad();
        using var scope = DisposeScope.Begin();
        var x = GreyStacks(2);
        var emb = model.EmbedCentres(x, 3);
        Assert.Equal(new long[] { 2, 16, 4, 4 }, emb.shape);
        // by hand: stack b's image has channel c = slice c's grey value (slices k−1, k, k+1)
        for (int b = 0; b < 2; b++)
        {
            var image = torch.cat([x.slice(0, 3 * b, 3 * b + 1).slice(1, 0, 1), x.slice(0, 3 * b + 1, 3 * b + 2).slice(1, 0, 1), x.slice(0, 3 * b + 2, 3 * b + 3).slice(1, 0, 1)], 1);
            var expected = model.image_encoder.forward(image, new EncoderContext(1));
            Assert.True((emb.slice(0, b, b + 1) - expected).abs().max().item() < 1e-5);
        }
        // a neighbouring slice changes the centre's embedding; the channel order matters (k−1 and k+1 swapped differ)
        var changed = x.clone();
        changed.slice(0, 0, 1).fill_(0.0);
        Assert.True((model.EmbedCentres(changed, 3).slice(0, 0, 1) - emb.slice(0, 0, 1)).abs().max().item() > 1e-4);
        Assert.True((model.EmbedCentres(changed, 3).slice(0, 1, 2) - emb.slice(0, 1, 2)).abs().max().item() < 1e-6);
        var swapped = torch.cat([x.slice(0, 2, 3), x.slice(0, 1, 2), x.slice(0, 0, 1), x.slice(0, 3, 6)], 0);
        Assert.True((model.EmbedCentres(swapped, 3).slice(0, 0, 1) - emb.slice(0, 0, 1)).abs().max().item() > 1e-4);
    }

    [Fact]
    public void Without_the_option_the_centre_embeddings_are_the_centre_rows_of_the_stack_embedding()
    {
        torch.manual_seed(6);
        using var model = new MsaSam(Tiny, new MsaOptions { Slices = 3, DepthBranch = true });
        using var _ = torch.no_grad();
        using var scope = DisposeScope.Begin();
        var x = torch.rand([6, 3, 64, 64]);
        var all = model.EmbedImages(x, 3);
        var centres = model.EmbedCentres(x, 3);
        Assert.Equal(new long[] { 2, 16, 4, 4 }, centres.shape);
        Assert.True((centres.slice(0, 0, 1) - all.slice(0, 1, 2)).abs().max().item() < 1e-6);
        Assert.True((centres.slice(0, 1, 2) - all.slice(0, 4, 5)).abs().max().item() < 1e-6);
    }

    [Theory]
    [InlineData(1, false, "needs --slices 3, got 1")]
    [InlineData(5, false, "needs --slices 3, got 5")]
    [InlineData(3, true, "cannot be combined")]
    public void Bad_combinations_are_refused(int slices, bool depth, string expected)
    {
        var e = Assert.Throws<ArgumentException>(() => new MsaOptions { Slices = slices, SlicesAsChannels = true, DepthBranch = depth }.Validate());
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void The_option_round_trips_through_the_recorded_json()
    {
        var o = new MsaOptions { Slices = 3, SlicesAsChannels = true };
        Assert.True(MsaOptions.FromJson(o.ToJson()).SlicesAsChannels);
        Assert.False(MsaOptions.FromJson(new MsaOptions().ToJson()).SlicesAsChannels);
    }
}
