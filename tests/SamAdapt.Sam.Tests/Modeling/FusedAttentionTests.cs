using SamAdapt.Sam.Modeling;
using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Sam.Tests.Modeling;

/// <summary>
/// The encoder attention's libtorch-2.x form: scaled-dot-product attention with SAM's decomposed relative-position terms
/// as the additive mask. On libtorch 1.13 (no fused kernel) F.scaled_dot_product_attention runs its composite, so the
/// mask formulation is checked here; the fused kernel itself is compared on a CUDA machine by tests/gpu/gpu-check.sh.
/// </summary>
public class FusedAttentionTests
{
    private static Attention Make(bool relPos, int seed)
    {
        torch.manual_seed((ulong)seed);
        var attn = new Attention(dim: 16, numHeads: 2, useRelPos: relPos, inputSize: (5, 6));
        using (torch.no_grad())
            foreach (var (_, p) in attn.named_parameters()) p.normal_(0, 0.5); // rel-pos tables are zeros at init: give them values
        return attn;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Relative_positions_as_an_additive_mask_equal_the_reference_attention(bool relPos)
    {
        using var scope = DisposeScope.Begin();
        using var attn = Make(relPos, 11);
        var x = torch.randn(3, 5, 6, 16);
        attn.UseFusedAttention = false;
        var reference = attn.forward(x);
        attn.UseFusedAttention = true;
        var fused = attn.forward(x);
        Assert.Equal(reference.shape, fused.shape);
        double diff = (reference - fused).abs().max().item(), mag = reference.abs().max().item();
        Assert.True(diff <= 1e-5 * Math.Max(1, mag), $"max |Δ| = {diff} (max |y| = {mag})");
        Assert.True(mag > 0.1, "the attention output is ~0: the comparison would be vacuous");
        // and the bias matters: without the relative-position terms the output differs
        if (relPos)
        {
            using var plain = Make(false, 11);
            var own = attn.named_parameters().ToDictionary(p => p.Name, p => p.Value);
            using (torch.no_grad())
                foreach (var (n, p) in plain.named_parameters()) p.copy_(own[n]);
            Assert.True((plain.forward(x) - reference).abs().max().item() > 1e-3);
        }
    }

    [Fact]
    public void Default_follows_the_libtorch_build_and_keeps_1_13_exact()
    {
        using var attn = Make(true, 3);
        Assert.Equal(F.fused_attention_available, attn.UseFusedAttention);
        if (torch.version.StartsWith("1.", StringComparison.Ordinal)) Assert.False(attn.UseFusedAttention);
    }
}
