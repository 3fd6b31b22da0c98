using SamAdapt.Torch.NN;
using static SamAdapt.Torch.Tests.Data;

namespace SamAdapt.Torch.Tests.Autograd;

public class FiniteDifferenceTests
{
    private static Tensor R(long[] shape, int seed, double lo = -1, double hi = 1) => Rand(shape, seed, lo, hi, requiresGrad: true);

    [Fact]
    public void HelperDetectsAWrongGradient()
    {
        // x.detach() * x has numerical derivative 2x but autograd (correctly for this graph) reports x: the check must fail
        var e = Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => GradCheck.Check("detached", a => a[0].detach() * a[0], R([2, 2], 99, 0.5, 1)));
        Assert.Contains("d/d(input 0)", e.Message);
    }

    [Fact]
    public void Linear() =>
        GradCheck.Check("linear", a => F.linear(a[0], a[1], a[2]), R([2, 3], 1), R([4, 3], 2), R([4], 3));

    [Fact]
    public void Conv2dWithGroupsPaddingStride() =>
        GradCheck.Check("conv2d", a => F.conv2d(a[0], a[1], a[2], stride: [2, 1], padding: [1, 1], groups: 2),
            R([1, 4, 5, 4], 4), R([4, 2, 3, 3], 5), R([4], 6));

    [Fact]
    public void Conv2dDilated() =>
        GradCheck.Check("conv2d dilated", a => F.conv2d(a[0], a[1], null, padding: [2, 2], dilation: [2, 2]),
            R([1, 2, 5, 5], 7), R([3, 2, 3, 3], 8));

    [Fact]
    public void Conv3dWithSliceKernel() =>
        GradCheck.Check("conv3d (3,1,1)", a => F.conv3d(a[0], a[1], a[2], padding: [1, 0, 0]),
            R([1, 2, 4, 3, 2], 9), R([3, 2, 3, 1, 1], 10), R([3], 11));

    [Fact]
    public void ConvTranspose2d() =>
        GradCheck.Check("conv_transpose2d", a => F.conv_transpose2d(a[0], a[1], a[2], stride: [2, 2], padding: [1, 1], outputPadding: [1, 0]),
            R([1, 2, 3, 3], 12), R([2, 3, 3, 3], 13), R([3], 14));

    [Fact]
    public void ConvTranspose3d() =>
        GradCheck.Check("conv_transpose3d", a => F.conv_transpose3d(a[0], a[1], a[2], stride: [2, 2, 1]),
            R([1, 2, 2, 2, 2], 15), R([2, 2, 2, 2, 1], 16), R([2], 17));

    [Fact]
    public void LayerNorm() =>
        GradCheck.Check("layer_norm", a => F.layer_norm(a[0], [5], a[1], a[2]), R([3, 5], 18), R([5], 19), R([5], 20));

    [Fact]
    public void GroupNorm() =>
        GradCheck.Check("group_norm", a => F.group_norm(a[0], 2, a[1], a[2]), R([2, 4, 3], 21), R([4], 22), R([4], 23));

    [Fact]
    public void GeluExactAndTanh()
    {
        GradCheck.Check("gelu", a => F.gelu(a[0]), R([3, 4], 24, -3, 3));
        GradCheck.Check("gelu tanh", a => F.gelu(a[0], "tanh"), R([3, 4], 25, -3, 3));
    }

    [Fact]
    public void SoftmaxAndLogSoftmax()
    {
        GradCheck.Check("softmax", a => F.softmax(a[0], 1), R([2, 4, 3], 26, -2, 2));
        GradCheck.Check("log_softmax", a => F.log_softmax(a[0], -1), R([2, 4, 3], 27, -2, 2));
    }

    [Fact]
    public void MatmulBmmEinsum()
    {
        GradCheck.Check("matmul broadcast", a => a[0].matmul(a[1]), R([2, 3, 4], 28), R([4, 2], 29));
        GradCheck.Check("bmm", a => a[0].bmm(a[1]), R([2, 3, 4], 30), R([2, 4, 2], 31));
        GradCheck.Check("einsum", a => torch.einsum("bij,bjk->bik", a[0], a[1]), R([2, 2, 3], 32), R([2, 3, 2], 33));
        GradCheck.Check("einsum vec", a => torch.einsum("ij,j->i", a[0], a[1]), R([3, 4], 34), R([4], 35));
    }

    [Fact]
    public void InterpolateBilinearBothAlignments()
    {
        GradCheck.Check("bilinear", a => F.interpolate(a[0], [5, 4], InterpolationMode.Bilinear, alignCorners: false), R([1, 2, 3, 3], 36));
        GradCheck.Check("bilinear ac", a => F.interpolate(a[0], [5, 4], InterpolationMode.Bilinear, alignCorners: true), R([1, 2, 3, 3], 37));
        GradCheck.Check("bilinear down", a => F.interpolate(a[0], [2, 3], InterpolationMode.Bilinear), R([1, 1, 5, 5], 38));
    }

    [Fact]
    public void InterpolateTrilinear() =>
        GradCheck.Check("trilinear", a => F.interpolate(a[0], [3, 4, 3], InterpolationMode.Trilinear, alignCorners: false), R([1, 1, 2, 3, 2], 39));

    [Fact]
    public void GridSampleInputAndGrid()
    {
        GradCheck.Check("grid_sample", a => F.grid_sample(a[0], a[1]), R([1, 2, 3, 4], 40), R([1, 2, 3, 2], 41, -0.9, 0.9));
        GradCheck.Check("grid_sample border ac", a => F.grid_sample(a[0], a[1], "bilinear", "border", alignCorners: true),
            R([1, 1, 4, 3], 42), R([1, 3, 2, 2], 43, -1.2, 1.2));
    }

    [Fact]
    public void PadModes()
    {
        GradCheck.Check("pad zeros", a => F.pad(a[0], [1, 2, 2, 1], PaddingMode.Zeros, 0.5), R([1, 2, 3, 4], 44));
        GradCheck.Check("pad reflect", a => F.pad(a[0], [1, 2, 2, 1], PaddingMode.Reflect), R([1, 2, 3, 4], 45));
        GradCheck.Check("pad replicate", a => F.pad(a[0], [1, 2, 2, 1], PaddingMode.Replicate), R([1, 2, 3, 4], 46));
        GradCheck.Check("pad circular", a => F.pad(a[0], [1, 2, 2, 1], PaddingMode.Circular), R([1, 2, 3, 4], 47));
        GradCheck.Check("pad reflect 3d", a => F.pad(a[0], [1, 1, 1, 0, 0, 1], PaddingMode.Reflect), R([1, 1, 2, 3, 3], 48));
    }

    [Fact]
    public void CrossEntropyVariants()
    {
        using var scope = DisposeScope.Begin();
        var target = torch.tensor(new long[] { 0, 4, 2, 1 });
        var weight = torch.tensor(new double[] { 1, 0.5, 2, 1, 0.25 });
        GradCheck.Check("cross_entropy", a => F.cross_entropy(a[0], target), R([4, 5], 49, -2, 2));
        GradCheck.Check("cross_entropy weighted smoothed", a => F.cross_entropy(a[0], target, weight, labelSmoothing: 0.1), R([4, 5], 50, -2, 2));
        GradCheck.Check("cross_entropy sum ignore", a => F.cross_entropy(a[0], torch.tensor(new long[] { 0, -100, 2, 1 }), reduction: Reduction.Sum), R([4, 5], 51, -2, 2));
        var probs = F.softmax(Rand([4, 5], 52), 1);
        GradCheck.Check("cross_entropy soft targets", a => F.cross_entropy(a[0], probs), R([4, 5], 53, -2, 2));
        var target2d = torch.tensor(new long[] { 0, 2, 1, 1, 2, 0 }, 1, 2, 3);
        GradCheck.Check("cross_entropy 2d", a => F.cross_entropy(a[0], target2d), R([1, 3, 2, 3], 54, -2, 2));
    }

    [Fact]
    public void BinaryCrossEntropyWithLogits()
    {
        using var scope = DisposeScope.Begin();
        var target = Rand([3, 4], 55, 0, 1);
        var posWeight = torch.tensor(new double[] { 1, 2, 0.5, 3 });
        GradCheck.Check("bce_with_logits", a => F.binary_cross_entropy_with_logits(a[0], target), R([3, 4], 56, -3, 3));
        GradCheck.Check("bce_with_logits pos_weight none", a => F.binary_cross_entropy_with_logits(a[0], target, posWeight: posWeight, reduction: Reduction.None),
            R([3, 4], 57, -3, 3));
    }

    [Fact]
    public void ScaledDotProductAttentionComposite()
    {
        using var scope = DisposeScope.Begin();
        var mask = torch.tensor(new[] { true, true, false, true, true, false, true, true, true, true, true, false, true, false, true }, 3, 5);
        GradCheck.Check("sdpa", a => F.scaled_dot_product_attention(a[0], a[1], a[2], forceComposite: true),
            R([1, 2, 3, 4], 58), R([1, 2, 5, 4], 59), R([1, 2, 5, 4], 60));
        GradCheck.Check("sdpa bool mask", a => F.scaled_dot_product_attention(a[0], a[1], a[2], mask, forceComposite: true),
            R([1, 1, 3, 4], 61), R([1, 1, 5, 4], 62), R([1, 1, 5, 4], 63));
        GradCheck.Check("sdpa causal scaled", a => F.scaled_dot_product_attention(a[0], a[1], a[2], isCausal: true, scale: 0.3, forceComposite: true),
            R([2, 4, 3], 64), R([2, 4, 3], 65), R([2, 4, 3], 66));
        GradCheck.Check("sdpa additive mask", a => F.scaled_dot_product_attention(a[0], a[1], a[2], a[3], forceComposite: true),
            R([1, 3, 2], 67), R([1, 4, 2], 68), R([1, 4, 2], 69), R([3, 4], 70));
    }

    [Fact]
    public void CumsumSinCos()
    {
        GradCheck.Check("cumsum", a => a[0].cumsum(1), R([2, 5], 71));
        GradCheck.Check("sin*cos", a => a[0].sin() * a[0].cos() + a[0].exp().log1p(), R([2, 5], 72, -2, 2));
    }

    [Fact]
    public void IndexingWithMasksAndIndices()
    {
        using var scope = DisposeScope.Begin();
        var mask = torch.tensor(new[] { true, false, true, true, false, false, true, false, true, true, false, true }, 3, 4);
        var rows = torch.tensor(new long[] { 2, 0, 2 });
        GradCheck.Check("index mask", a => a[0].index(mask), R([3, 4], 73));
        GradCheck.Check("index rows (repeated)", a => a[0].index(rows), R([3, 4], 74));
        GradCheck.Check("index [:, cols]", a => a[0].index(null, torch.tensor(new long[] { 3, 1 })), R([3, 4], 75));
        GradCheck.Check("masked_fill + where", a => torch.where(mask, a[0].masked_fill(mask.logical_not(), 0.5), a[1]), R([3, 4], 76), R([3, 4], 77));
        GradCheck.Check("gather/index_select", a => a[0].gather(1, torch.tensor(new long[] { 0, 3, 1, 1, 2, 2 }, 3, 2)) + a[0].index_select(1, torch.tensor(new long[] { 2, 0 })),
            R([3, 4], 78));
    }

    [Fact]
    public void ShapeChains()
    {
        GradCheck.Check("cat/stack/slice/permute",
            a =>
            {
                var c = torch.cat([a[0], a[1].slice(0, 1, null)], 0);           // (2+1, 3, 2)
                var s = torch.stack([c, c.flip(2)], 1);                          // (3, 2, 3, 2)
                return s.permute(3, 0, 2, 1).reshape(2, -1).slice(1, 1, null, 2).transpose(0, 1).contiguous() * a[0].sum();
            },
            R([2, 3, 2], 79), R([2, 3, 2], 80));
        GradCheck.Check("narrow/split/chunk/unbind/expand",
            a =>
            {
                var parts = a[0].split(2, 1);
                var ch = a[0].chunk(2, 0);
                var u = a[0].unbind(0);
                return parts[0].sum(1) + ch[1].narrow(1, 1, 2).sum(1) + u[0].unsqueeze(0).expand(3, 4).sum(1) + a[0].repeat(1, 2).mean(1);
            },
            R([3, 4], 81));
    }

    [Fact]
    public void ReductionsAndNorms()
    {
        GradCheck.Check("mean/var/std/logsumexp/norm",
            a => a[0].mean(1) + a[0].var([1]) + a[0].std([1], correction: 0) + a[0].logsumexp(1) + a[0].norm(2, [1]),
            R([3, 4], 82));
        GradCheck.Check("amax/max(dim)/prod", a => a[0].amax([1]) + a[0].max(1).values + a[0].prod().expand(3), R([3, 4], 83, 0.5, 1.5));
    }

    [Fact]
    public void ActivationsAndLosses()
    {
        using var scope = DisposeScope.Begin();
        var target = Rand([2, 3], 84);
        GradCheck.Check("silu/sigmoid/tanh/leaky", a => F.silu(a[0]) + a[0].sigmoid() * a[0].tanh() + F.leaky_relu(a[0], 0.2), R([2, 3], 85, -2, 2));
        GradCheck.Check("mse/l1", a => F.mse_loss(a[0], target) + F.l1_loss(a[0], target, Reduction.Sum), R([2, 3], 86, 1.5, 2));
        GradCheck.Check("pow/sqrt/rsqrt/div", a => a[0].pow(3) + a[0].sqrt() + a[0].rsqrt() / a[1] + a[0].pow(a[1]), R([2, 3], 87, 0.5, 2), R([2, 3], 88, 0.5, 2));
    }

    [Fact]
    public void PoolingAndEmbedding()
    {
        using var scope = DisposeScope.Begin();
        GradCheck.Check("avg_pool2d/adaptive", a => F.avg_pool2d(a[0], 2).sum() + F.adaptive_avg_pool2d(a[0], [2, 3]).sum(), R([1, 2, 4, 6], 89));
        var idx = torch.tensor(new long[] { 1, 3, 1, 0 }, 2, 2);
        GradCheck.Check("embedding", a => F.embedding(idx, a[0]), R([4, 3], 90));
    }
}
