using SamAdapt.Methods.Msa;
using SamAdapt.Sam;
using SamAdapt.Sam.Modeling;
using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Methods.Tests.Msa;

/// <summary>The depth branch's per-token semantics (docs/methods/msa.md): equal to an explicit loop over stacks and token positions.</summary>
public class MsaDepthBranchTests
{
    private static SamConfig Tiny => new()
    {
        ImageSize = 80, PatchSize = 16, EncoderEmbedDim = 24, EncoderDepth = 2, EncoderNumHeads = 2, GlobalAttnIndexes = [1], WindowSize = 3,
        PromptEmbedDim = 16, DecoderMlpDim = 32, DecoderNumHeads = 2, IouHeadHiddenDim = 16,
    };

    [Theory]
    [InlineData(0, 4)] // windowed block (5×5 tokens, window 3: padded): the branch must ignore the partition
    [InlineData(1, 4)] // global block
    [InlineData(0, 6)] // D = 6 → a 2×3 depth grid
    public void Depth_branch_equals_a_per_token_loop(int blockIndex, int d)
    {
        torch.manual_seed(11);
        using var model = new MsaSam(Tiny, new MsaOptions { DepthBranch = true, Slices = d });
        var block = model.image_encoder.blocks[blockIndex];
        var branch = (MsaDepthBranch)block.Hook("Depth_Adapter")!;
        using var _ = torch.no_grad();
        using var scope = DisposeScope.Begin();
        int b = 2, g = model.SamConfig.ImageEmbeddingSize, c = model.SamConfig.EncoderEmbedDim;
        var x = torch.randn([b * d, g, g, c]);
        var y = branch.forward(x, new EncoderContext(d));
        Assert.Equal(x.shape, y.shape);
        var (dh, dw) = MsaDepthBranch.ClosestFactors(d);
        double worst = 0;
        for (int s = 0; s < b; s++)
            for (int i = 0; i < g; i++)
                for (int j = 0; j < g; j++)
                {
                    // the D slices of stack s at token (i, j), as one (1, dh, dw, C) sequence through norm1, attention and the adapter
                    var seq = x.slice(0, s * d, (s + 1) * d).select(1, i).select(1, j).reshape(1, dh, dw, c);
                    var a = branch.D_fc1.forward(block.attn.forward(block.norm1.forward(seq)));
                    var expected = branch.D_fc2.forward(F.gelu(a)).reshape(d, c);
                    var actual = y.slice(0, s * d, (s + 1) * d).select(1, i).select(1, j);
                    worst = Math.Max(worst, (actual - expected).abs().max().item());
                }
        Assert.True(worst < 1e-5, $"depth branch differs from the per-token loop by {worst:E2}");
    }

    [Fact]
    public void Reference_windowing_mixes_windows_and_differs_from_the_per_token_branch()
    {
        torch.manual_seed(12);
        using var model = new MsaSam(Tiny, new MsaOptions { DepthBranch = true, Slices = 4 });
        var block = model.image_encoder.blocks[0];
        var branch = (MsaDepthBranch)block.Hook("Depth_Adapter")!;
        using var _ = torch.no_grad();
        using var scope = DisposeScope.Begin();
        var x = torch.randn([8, 5, 5, 24]);
        var perToken = branch.forward(x, new EncoderContext(4));
        branch.ReferenceWindowing = true;
        var reference = branch.forward(x, new EncoderContext(4));
        Assert.True((perToken - reference).abs().max().item() > 1e-3);
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(4, 1, 4)]
    [InlineData(9, 1, 9)]
    [InlineData(16, 2, 8)]
    [InlineData(96, 8, 12)]
    [InlineData(6, 2, 3)]
    public void Closest_factors_follow_the_reference(int d, int h, int w) => Assert.Equal((h, w), MsaDepthBranch.ClosestFactors(d));
}
