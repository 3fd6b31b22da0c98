using SamAdapt.Sam.Adapters;
using SamAdapt.Sam.Tests.Modeling;
using SamAdapt.Torch;
using Xunit.Abstractions;

namespace SamAdapt.Sam.Tests.Adapters;

/// <summary>
/// Tests that depend on libtorch's process-wide RNG (dropout masks, seeded training runs) run alone: xUnit runs other test
/// classes in parallel threads, which would draw from the same generator between a seed and its use.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GlobalRngCollection
{
    public const string Name = "global RNG";
}

[Collection(GlobalRngCollection.Name)]
public class GradientCheckpointingTests(ITestOutputHelper output)
{
    [Fact]
    public void Gradient_checkpointing_gives_the_same_gradients()
    {
        using var m = AdaptedSam.FromSamCheckpoint(SamTinyFixture.PthPath, new AdapterConfig { NumClasses = 2 }, 128);
        m.train(); // FacT dropout active: the recomputation must replay the same masks
        using var scope = DisposeScope.Begin();
        torch.manual_seed(21);
        var x = torch.rand(10, 3, 128, 128);
        var w = torch.randn(10, 3, 128, 128);
        // give FacT a non-zero path so its dropout matters
        using (torch.no_grad()) m.fact!.FacTv.weight.normal_(0, 0.05);

        Dictionary<string, Tensor> Grads(bool checkpointing)
        {
            m.zero_grad();
            m.GradientCheckpointing = checkpointing;
            torch.manual_seed(99);
            var o = m.forward(x, 5);
            (o.Logits * w).sum().backward();
            return m.named_parameters().Where(p => p.Value.grad is not null).ToDictionary(p => p.Name, p => p.Value.grad!.clone());
        }

        var plain = Grads(false);
        var ckpt = Grads(true);
        Assert.Equal(plain.Keys.OrderBy(k => k), ckpt.Keys.OrderBy(k => k));
        Assert.Contains("image_encoder.blocks.0.adapter_1.conv.weight", plain.Keys);
        double worst = 0;
        foreach (var (k, g) in plain)
        {
            double scale = Math.Max(g.abs().max().item(), 1e-12);
            worst = Math.Max(worst, (g - ckpt[k]).abs().max().item() / scale);
        }
        output.WriteLine($"largest relative gradient difference with checkpointing: {worst:E2}");
        Assert.True(worst <= 1e-6, $"checkpointed gradients differ by {worst:E2}");
    }

}
