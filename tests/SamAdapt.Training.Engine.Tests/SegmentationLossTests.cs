using System.Globalization;
using SamAdapt.Tests;
using SamAdapt.Torch;

namespace SamAdapt.Training.Engine.Tests;

public class SegmentationLossTests
{
    /// <summary>The loss computed with plain loops in double precision, straight from the formula.</summary>
    private static (double Ce, double Dice) Reference(float[] logits, long[] target, int n, int c, int hw, long ignore = -100)
    {
        double ceSum = 0; int ceCount = 0;
        var inter = new double[c]; var pSq = new double[c]; var gSq = new double[c];
        for (int b = 0; b < n; b++)
            for (int i = 0; i < hw; i++)
            {
                long t = target[b * hw + i];
                if (t == ignore) continue;
                double max = double.NegativeInfinity;
                for (int k = 0; k < c; k++) max = Math.Max(max, logits[(b * c + k) * hw + i]);
                double z = 0;
                for (int k = 0; k < c; k++) z += Math.Exp(logits[(b * c + k) * hw + i] - max);
                for (int k = 0; k < c; k++)
                {
                    double p = Math.Exp(logits[(b * c + k) * hw + i] - max) / z;
                    double g = t == k ? 1 : 0;
                    inter[k] += p * g; pSq[k] += p * p; gSq[k] += g * g;
                    if (t == k) ceSum += -Math.Log(p);
                }
                ceCount++;
            }
        double meanDice = Enumerable.Range(0, c).Average(k => (2 * inter[k] + 1e-5) / (pSq[k] + gSq[k] + 1e-5));
        return (ceSum / ceCount, 1 - meanDice);
    }

    [Fact]
    public void Matches_a_hand_computation_of_the_two_pixel_case()
    {
        // one image, 2 classes, 2 pixels; logits (0, ln 3) → p = (1/4, 3/4), target 1; logits (0, 0) → p = (1/2, 1/2), target 0
        using var scope = DisposeScope.Begin();
        var logits = Tensor.FromArray<float>([0f, 0f, (float)Math.Log(3), 0f], [1, 2, 1, 2]);
        var target = Tensor.FromArray<long>([1, 0], [1, 1, 2]);
        var parts = new SegmentationLoss().Compute(logits, target);
        double ce = (-Math.Log(0.75) - Math.Log(0.5)) / 2;
        // class 0: I = 0.25·0 + 0.5·1 = 0.5, Σp² = 1/16 + 1/4, Σg² = 1; class 1: I = 0.75, Σp² = 9/16 + 1/4, Σg² = 1
        double d0 = (2 * 0.5 + 1e-5) / (1.0 / 16 + 0.25 + 1 + 1e-5), d1 = (2 * 0.75 + 1e-5) / (9.0 / 16 + 0.25 + 1 + 1e-5);
        double dice = 1 - (d0 + d1) / 2;
        Assert.Equal(ce, parts.CrossEntropy.item(), 6);
        Assert.Equal(dice, parts.Dice.item(), 6);
        Assert.Equal(0.2 * ce + 0.8 * dice, parts.Total.item(), 6);
    }

    [Fact]
    public void Matches_loops_on_random_data_with_ignored_pixels_and_custom_weights()
    {
        using var scope = DisposeScope.Begin();
        var rng = new Random(5);
        int n = 3, c = 4, h = 5, w = 6, hw = h * w;
        var x = Enumerable.Range(0, n * c * hw).Select(_ => (float)(rng.NextDouble() * 6 - 3)).ToArray();
        var t = Enumerable.Range(0, n * hw).Select(_ => rng.Next(10) == 0 ? -100L : rng.Next(c)).ToArray();
        var (ce, dice) = Reference(x, t, n, c, hw);
        var loss = new SegmentationLoss(ceWeight: 0.5, diceWeight: 1.5).Compute(Tensor.FromArray<float>(x, [n, c, h, w]), Tensor.FromArray<long>(t, [n, h, w]));
        Assert.Equal(ce, loss.CrossEntropy.item(), 5);
        Assert.Equal(dice, loss.Dice.item(), 5);
        Assert.Equal(0.5 * ce + 1.5 * dice, loss.Total.item(), 5);
    }

    [Fact]
    public void Matches_Debian_PyTorch_value_and_gradient()
    {
        DebianPython.RequireModule("torch", "python3-torch");
        using var scope = DisposeScope.Begin();
        var rng = new Random(11);
        int n = 2, c = 5, h = 4, w = 7;
        var x = Enumerable.Range(0, n * c * h * w).Select(_ => (float)(rng.NextDouble() * 8 - 4)).ToArray();
        var t = Enumerable.Range(0, n * h * w).Select(_ => (long)rng.Next(c)).ToArray();
        using var dir = TestPaths.NewTempDir();
        File.WriteAllBytes(dir.File("x.bin"), System.Runtime.InteropServices.MemoryMarshal.AsBytes(x.AsSpan()).ToArray());
        File.WriteAllBytes(dir.File("t.bin"), System.Runtime.InteropServices.MemoryMarshal.AsBytes(t.AsSpan()).ToArray());
        const string script = """
import sys, numpy as np, torch, torch.nn.functional as F
d, n, c, h, w = sys.argv[1], *map(int, sys.argv[2:6])
x = torch.from_numpy(np.fromfile(d + '/x.bin', dtype=np.float32).reshape(n, c, h, w).copy()).requires_grad_(True)
t = torch.from_numpy(np.fromfile(d + '/t.bin', dtype=np.int64).reshape(n, h, w).copy())
ce = F.cross_entropy(x, t, ignore_index=-100)
p = torch.softmax(x, dim=1)
g = F.one_hot(t, c).permute(0, 3, 1, 2).float()
dims = (0, 2, 3)
dice = 1 - ((2 * (p * g).sum(dims) + 1e-5) / ((p * p).sum(dims) + (g * g).sum(dims) + 1e-5)).mean()
loss = 0.2 * ce + 0.8 * dice
loss.backward()
print(repr(loss.item()))
x.grad.numpy().astype(np.float32).tofile(d + '/g.bin')
""";
        var output = DebianPython.Run(script, dir.Path, n.ToString(), c.ToString(), h.ToString(), w.ToString());
        double pyLoss = double.Parse(output.Trim(), CultureInfo.InvariantCulture);
        var pyGrad = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(dir.File("g.bin"))).ToArray();

        var logits = Tensor.FromArray<float>(x, [n, c, h, w], requiresGrad: true);
        var loss = new SegmentationLoss().Forward(logits, Tensor.FromArray<long>(t, [n, h, w]));
        loss.backward();
        var grad = logits.grad!.ToArray<float>();
        Assert.Equal(pyLoss, loss.item(), 6);
        for (int i = 0; i < grad.Length; i++) Assert.True(Math.Abs(grad[i] - pyGrad[i]) < 1e-6, $"gradient {i}: {grad[i]} vs PyTorch {pyGrad[i]}");
    }

    [Fact]
    public void Bf16_logits_give_a_float32_loss_close_to_the_float32_one()
    {
        using var scope = DisposeScope.Begin();
        torch.manual_seed(3);
        var x = torch.randn(2, 3, 8, 8);
        var t = torch.randint(0, 3, [2, 8, 8]);
        var l32 = new SegmentationLoss().Forward(x, t);
        var l16 = new SegmentationLoss().Forward(x.to(DType.BFloat16), t);
        Assert.Equal(DType.Float32, l16.dtype);
        Assert.Equal(l32.item(), l16.item(), 2);
    }

    [Fact]
    public void Mismatched_shapes_are_refused_with_both_shapes()
    {
        using var scope = DisposeScope.Begin();
        var e = Assert.Throws<ArgumentException>(() => new SegmentationLoss().Forward(torch.zeros(2, 3, 4, 4), torch.zeros([2, 5, 4], DType.Int64)));
        Assert.Contains("[2, 5, 4]", e.Message);
        Assert.Contains("[2, 3, 4, 4]", e.Message);
    }
}
