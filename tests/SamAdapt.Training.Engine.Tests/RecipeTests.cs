using SamAdapt.Torch;
using SamAdapt.Torch.NN;
using SamAdapt.Torch.Optim;

namespace SamAdapt.Training.Engine.Tests;

/// <summary>
/// The two training recipes (docs/methods/ma-sam.md §2): the reference's learning-rate schedule against a literal
/// simulation of its training loop, and which tensors each recipe weight-decays.
/// </summary>
public class RecipeTests
{
    /// <summary>
    /// The reference trainer's loop as documented: the optimizer is created at base/W (base without warm-up); each iteration steps at the
    /// current rate and then sets the rate for the next one from its own iteration number it: base·(it+1)/W while it &lt; W, else
    /// base·(1 − (it − W)/T)^p (W = 0: base·(1 − it/T)^p).
    /// </summary>
    private static double[] SimulateReferenceLoop(long warmup, long total, double power, int steps)
    {
        var rates = new double[steps];
        double lr = warmup > 0 ? 1.0 / warmup : 1.0;
        for (int it = 0; it < steps; it++)
        {
            rates[it] = lr; // optimizer.step() runs at the current rate
            if (warmup > 0 && it < warmup) lr = (it + 1.0) / warmup;
            else lr = Math.Pow(1.0 - (it - warmup) / (double)total, power);
        }
        return rates;
    }

    [Theory]
    [InlineData(5, 20, 7.0)]
    [InlineData(0, 12, 0.9)]
    [InlineData(250, 1000, 7.0)]
    public void Reference_schedule_equals_the_reference_loop(long warmup, long total, double power)
    {
        var s = new ReferenceWarmupPolyDecay(warmup, total, power);
        var expected = SimulateReferenceLoop(warmup, total, power, (int)total);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], s.Factor(i), 12);
        if (warmup > 0)
        {
            Assert.Equal(1.0 / warmup, s.Factor(0));
            Assert.Equal(s.Factor(0), s.Factor(1));     // the first rate is used twice
            Assert.Equal(1.0, s.Factor(warmup));       // the base is reached one step later than WarmupPolyDecay's
            Assert.Equal(1.0, s.Factor(warmup + 1));
        }
        Assert.True(s.Factor(total - 1) > 0, "the reference decay divides by the total and does not reach 0");
        var ours = new WarmupPolyDecay(warmup, total, power);
        Assert.Contains(Enumerable.Range(0, (int)total), i => Math.Abs(ours.Factor(i) - s.Factor(i)) > 1e-6);
    }

    [Fact]
    public void Decay_exemptions_are_biases_norms_and_tokens()
    {
        using var scope = DisposeScope.Begin();
        Tensor T(params long[] shape) => torch.zeros(shape);
        Assert.True(OptimizerGroups.IsDecayExempt("mask_decoder.output_upscaling.0.bias", T(16)));
        Assert.True(OptimizerGroups.IsDecayExempt("image_encoder.blocks.0.adapter_1.norm.weight", T(48)));
        Assert.True(OptimizerGroups.IsDecayExempt("mask_decoder.mask_tokens.weight", T(4, 64)));
        Assert.True(OptimizerGroups.IsDecayExempt("mask_decoder.iou_token.weight", T(1, 64)));
        Assert.True(OptimizerGroups.IsDecayExempt("prompt_encoder.no_mask_embed.weight", T(1, 64)));
        Assert.True(OptimizerGroups.IsDecayExempt("prompt_encoder.point_embeddings.2.weight", T(1, 64)));
        Assert.True(OptimizerGroups.IsDecayExempt("image_encoder.pos_embed", T(1, 8, 8, 48)));
        Assert.False(OptimizerGroups.IsDecayExempt("image_encoder.blocks.0.adapter_1.down.weight", T(16, 48)));
        Assert.False(OptimizerGroups.IsDecayExempt("image_encoder.fact.FacTu.weight", T(4, 48)));
        Assert.False(OptimizerGroups.IsDecayExempt("image_encoder.blocks.0.adapter_1.conv.weight", T(16, 16, 3, 1, 1)));
        Assert.False(OptimizerGroups.IsDecayExempt("image_encoder.patch_embed.proj.weight", T(48, 3, 16, 16)));
    }

    [Fact]
    public void Samadapt_recipe_splits_off_the_exempt_tensors_and_reference_decays_everything()
    {
        using var net = new Sequential(new Linear(6, 4), new LayerNorm(4), new Linear(4, 2));
        var frozen = net.named_parameters().First(p => p.Name == "2.bias").Value;
        frozen.requires_grad_(false);
        var specs = new[] { new ParameterGroupSpec("head", net.named_parameters().Where(p => !p.Name.StartsWith("2.", StringComparison.Ordinal)).ToList()) };

        var ours = OptimizerGroups.Build(specs, net.named_parameters(), new TrainerOptions { WeightDecay = 0.1 });
        Assert.Equal(["head", "head" + OptimizerGroups.NoDecaySuffix, "other"], ours.Select(g => g.Name));
        Assert.Equal([0.1, 0.0, 0.1], ours.Select(g => g.WeightDecay));
        Assert.Single(ours[0].Params);                          // 0.weight
        Assert.Equal(3, ours[1].Params.Count);                  // 0.bias, 1.weight, 1.bias
        Assert.Single(ours[2].Params);                          // 2.weight; the frozen 2.bias is left out
        Assert.DoesNotContain(ours.SelectMany(g => g.Params), p => ReferenceEquals(p, frozen));

        var reference = OptimizerGroups.Build(specs, net.named_parameters(), new TrainerOptions { WeightDecay = 0.1, Recipe = TrainerOptions.RecipeReference });
        Assert.Equal(["head", "other"], reference.Select(g => g.Name));
        Assert.All(reference, g => Assert.Equal(0.1, g.WeightDecay));
        Assert.Equal(4, reference[0].Params.Count);

        Assert.Throws<ArgumentException>(() => new TrainerOptions { Iterations = 1, Recipe = "fast" }.Validate());
    }
}
