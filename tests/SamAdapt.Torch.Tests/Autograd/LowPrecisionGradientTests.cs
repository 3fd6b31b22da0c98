using SamAdapt.Torch.NN;
using static SamAdapt.Torch.Tests.Data;

namespace SamAdapt.Torch.Tests.Autograd;

/// <summary>
/// Gradients of every differentiable op the project uses, computed in float32 and bfloat16, against the same op in
/// float64 on the same (rounded) input values. Each op runs with contiguous operands, with an incoming gradient laid
/// out in another order than the output (as one arriving through a transpose), with non-contiguous inputs, and with
/// both. Finite differences (<see cref="FiniteDifferenceTests"/>) only check float64 kernels; a low-precision kernel
/// can be wrong while float64 is right (libtorch 1.13's float32 GELU backward with a transposed gradient was).
/// </summary>
public class LowPrecisionGradientTests
{
    /// <summary>One op under test. <paramref name="Distinct"/>: inputs get pairwise distinct values exactly
    /// representable in bfloat16 (for ops whose gradient depends on ties or orderings: max, sort, relu, ...).</summary>
    public sealed record Case(string Name, Func<Tensor[], Tensor> F, long[][] Shapes, double Lo = -2, double Hi = 2,
        bool Distinct = false, bool Bf16 = true, double Bf16Tol = 3e-2);

    private enum Layout { Contiguous, StridedGrad, StridedInputs, Both }

    private static Case C(string name, Func<Tensor[], Tensor> f, params long[][] shapes) => new(name, f, shapes);
    private static Case Pos(string name, Func<Tensor[], Tensor> f, params long[][] shapes) => new(name, f, shapes, 0.5, 2);
    private static Case Dist(string name, Func<Tensor[], Tensor> f, params long[][] shapes) => new(name, f, shapes, Distinct: true);
    // libtorch 1.13 has no CPU bfloat16 kernel for these (they throw "not implemented for 'BFloat16'"), so they are
    // checked in float32 only; conv_transpose's bfloat16 CPU path fails its own shape check in 1.13.
    private static Case F32(string name, Func<Tensor[], Tensor> f, params long[][] shapes) => new(name, f, shapes, Bf16: false);

    private static Tensor Longs(long[] shape, int seed, long high)
    {
        var r = new Random(seed);
        var v = new long[Numel(shape)];
        for (int i = 0; i < v.Length; i++) v[i] = r.NextInt64(high);
        return Tensor.FromArray<long>(v, shape);
    }

    private static Tensor Like(Tensor x, long[] shape, int seed, double lo = 0.25, double hi = 1) => Rand(shape, seed, lo, hi).to(x.dtype);

    private static readonly long[] S4 = [3, 4, 5, 6];

    public static readonly Case[] Cases =
    [
        // activations and element-wise math
        C("gelu", a => F.gelu(a[0]), S4),
        C("gelu tanh", a => F.gelu(a[0], "tanh"), S4),
        Dist("relu", a => F.relu(a[0]), [4, 5, 6]),
        Dist("leaky_relu", a => F.leaky_relu(a[0], 0.1), [4, 5, 6]),
        C("silu", a => F.silu(a[0]), S4),
        C("sigmoid", a => a[0].sigmoid(), S4),
        C("tanh", a => a[0].tanh(), S4),
        C("exp", a => a[0].exp(), S4),
        Pos("log", a => a[0].log(), S4),
        Pos("log1p", a => a[0].log1p(), S4),
        Pos("sqrt", a => a[0].sqrt(), S4),
        Pos("rsqrt", a => a[0].rsqrt(), S4),
        Pos("reciprocal", a => a[0].reciprocal(), S4),
        Pos("pow scalar", a => a[0].pow(2.5), S4),
        Pos("pow tensor", a => a[0].pow(a[1]), S4, S4),
        Dist("abs", a => a[0].abs(), [4, 5, 6]),
        C("neg", a => -a[0], S4),
        C("erf", a => a[0].erf(), S4),
        C("sin cos", a => a[0].sin() * a[1].cos(), S4, S4),
        C("square", a => a[0].square(), S4),
        Dist("clamp", a => a[0].clamp(-0.5, 0.75), [4, 5, 6]),
        C("add sub rsub", a => a[0].add(a[1], 0.5).sub(a[1] * a[0]) + (1.5 - a[1]), S4, S4),
        C("mul broadcast", a => a[0] * a[1], S4, [1, 4, 1, 6]),
        Pos("div", a => a[0] / a[1], S4, S4),
        Pos("div broadcast", a => a[0] / a[1], S4, [5, 1]),
        Dist("maximum minimum", a => a[0].maximum(a[1]) + a[1].minimum(a[0]) * 0.5, [4, 4, 4], [4, 4, 4]),
        C("lerp", a => a[0].lerp(a[1], 0.3), S4, S4),
        C("where", a => torch.where(a[0] > 0.1, a[0], a[1]), S4, S4),
        C("masked_fill", a => a[0].masked_fill(Rand(S4, 21) > 0.5, -1.0), S4),
        C("masked_fill tensor", a => a[0].masked_fill(Rand(S4, 22) > 0.5, torch.scalar_tensor(0.25, a[0].dtype)), S4),
        C("in-place add_ mul_", a => a[0].clone().add_(a[1]).mul_(a[1]).mul_(0.5), S4, S4),
        C("to float64 and back", a => a[0].to(DType.Float64).mul(2.0).to(a[0].dtype), S4),

        // reductions
        C("sum", a => a[0].sum(), S4),
        C("sum dims", a => a[0].sum([1, 3], keepdim: true), S4),
        C("mean", a => a[0].mean(), S4),
        C("mean dims", a => a[0].mean([0, 2]), S4),
        Dist("amax amin", a => a[0].amax([1]) + a[0].amin([2], keepdim: false).sum(), [4, 5, 6]),
        Dist("max min all", a => a[0].max() - a[0].min(), [4, 5, 6]),
        Dist("max min dim", a => a[0].max(1).values + a[0].min(1).values, [4, 5, 6]),
        new("prod", a => a[0].prod(), [[2, 3, 4]], 0.8, 1.25, Bf16: false),
        C("cumsum", a => a[0].cumsum(2), S4),
        C("logsumexp", a => a[0].logsumexp(1), S4),
        C("var std", a => a[0].var([1]) + a[0].std([2, 3], keepdim: true).sum(), S4),
        C("norm", a => a[0].norm(2, [3]), S4),

        // linear algebra
        C("linear", a => F.linear(a[0], a[1], a[2]), S4, [7, 6], [7]),
        C("matmul broadcast", a => a[0].matmul(a[1]), S4, [4, 6, 3]),
        C("bmm", a => a[0].bmm(a[1]), [4, 5, 6], [4, 6, 3]),
        C("mm t", a => a[0].mm(a[1].t()), [5, 6], [7, 6]),
        C("einsum rel-pos", a => torch.einsum("bhwc,hkc->bhwk", a[0], a[1]), [2, 5, 4, 6], [5, 3, 6]),
        C("scaled_dot_product_attention", a => F.scaled_dot_product_attention(a[0], a[1], a[2], forceComposite: true), [2, 3, 7, 4], [2, 3, 7, 4], [2, 3, 7, 4]),
        C("attention with additive bias", a => F.scaled_dot_product_attention(a[0], a[1], a[2], a[3], forceComposite: true), [2, 7, 4], [2, 7, 4], [2, 7, 4], [2, 7, 7]),

        // convolutions
        C("conv1d", a => F.conv1d(a[0], a[1], a[2], padding: [1]), [2, 3, 9], [4, 3, 3], [4]),
        C("conv2d", a => F.conv2d(a[0], a[1], a[2], padding: [1, 1]), [2, 3, 7, 6], [4, 3, 3, 3], [4]),
        C("conv2d stride patch", a => F.conv2d(a[0], a[1], a[2], stride: [2, 2]), [2, 3, 8, 6], [4, 3, 2, 2], [4]),
        C("conv2d groups", a => F.conv2d(a[0], a[1], null, padding: [1, 1], groups: 2), [2, 4, 5, 5], [4, 2, 3, 3]),
        C("conv3d slice kernel", a => F.conv3d(a[0], a[1], a[2], padding: [1, 0, 0]), [2, 3, 4, 5, 3], [4, 3, 3, 1, 1], [4]),
        F32("conv_transpose2d", a => F.conv_transpose2d(a[0], a[1], a[2], stride: [2, 2]), [2, 4, 3, 5], [4, 3, 2, 2], [3]),
        F32("conv_transpose3d", a => F.conv_transpose3d(a[0], a[1], a[2], stride: [1, 2, 2]), [2, 4, 2, 3, 3], [4, 3, 1, 2, 2], [3]),

        // normalisation
        C("layer_norm", a => F.layer_norm(a[0], [6], a[1], a[2], 1e-6), S4, [6], [6]),
        C("layer_norm 2d", a => F.layer_norm(a[0], [5, 6], a[1], a[2]), S4, [5, 6], [5, 6]),
        C("group_norm", a => F.group_norm(a[0], 2, a[1], a[2]), S4, [4], [4]),
        C("instance_norm", a => F.instance_norm(a[0], a[1], a[2]), S4, [4], [4]),
        C("batch_norm training", a => F.batch_norm(a[0], null, null, a[1], a[2], training: true), S4, [4], [4]),

        // softmax and losses
        C("softmax", a => F.softmax(a[0], -1), S4),
        C("softmax dim 1", a => F.softmax(a[0], 1), S4),
        C("log_softmax", a => F.log_softmax(a[0], 1), S4),
        C("cross_entropy", a => F.cross_entropy(a[0], Longs([3, 5, 6], 1, 4)), S4),
        C("cross_entropy weighted smoothed", a => F.cross_entropy(a[0], Longs([3, 5, 6], 2, 4), Like(a[0], [4], 3), labelSmoothing: 0.1), S4),
        C("cross_entropy none", a => F.cross_entropy(a[0], Longs([3, 5, 6], 4, 4), reduction: Reduction.None), S4),
        C("nll_loss", a => F.nll_loss(F.log_softmax(a[0], 1), Longs([9], 5, 6)), [9, 6]),
        C("bce with logits", a => F.binary_cross_entropy_with_logits(a[0], a[1].sigmoid()), S4, S4),
        F32("mse_loss", a => F.mse_loss(a[0], a[1]), S4, S4),
        C("l1_loss", a => F.l1_loss(a[0], a[1]), S4, S4),

        // resampling and padding
        C("interpolate nearest 1d", a => F.interpolate(a[0], [11]), [2, 3, 5]),
        C("interpolate nearest 2d", a => F.interpolate(a[0], [9, 11]), [2, 3, 5, 6]),
        C("interpolate nearest 3d", a => F.interpolate(a[0], [3, 9, 11]), [2, 3, 2, 5, 6]),
        C("interpolate linear", a => F.interpolate(a[0], [11], InterpolationMode.Linear), [2, 3, 5]),
        C("interpolate bilinear", a => F.interpolate(a[0], [9, 11], InterpolationMode.Bilinear), [2, 3, 5, 6]),
        C("interpolate bilinear align", a => F.interpolate(a[0], [9, 11], InterpolationMode.Bilinear, alignCorners: true), [2, 3, 5, 6]),
        C("interpolate bilinear down", a => F.interpolate(a[0], [3, 4], InterpolationMode.Bilinear), [2, 3, 9, 8]),
        // 16 taps with negative weights: cancellation makes bfloat16 rounding weigh more
        new("interpolate bicubic", a => F.interpolate(a[0], [9, 11], InterpolationMode.Bicubic), [[2, 3, 5, 6]], Bf16Tol: 0.1),
        C("interpolate trilinear", a => F.interpolate(a[0], [3, 9, 11], InterpolationMode.Trilinear), [2, 3, 2, 5, 6]),
        F32("interpolate bilinear antialias", a => F.interpolate(a[0], [3, 4], InterpolationMode.Bilinear, antialias: true), [2, 3, 9, 8]),
        F32("interpolate bicubic antialias", a => F.interpolate(a[0], [3, 4], InterpolationMode.Bicubic, antialias: true), [2, 3, 9, 8]),
        F32("grid_sample", a => F.grid_sample(a[0], a[1].tanh()), [2, 3, 5, 6], [2, 4, 7, 2]),
        Dist("max_pool2d", a => F.max_pool2d(a[0], 2), [2, 2, 4, 6]),
        C("avg_pool2d", a => F.avg_pool2d(a[0], 2), [2, 3, 6, 8]),
        C("adaptive_avg_pool2d", a => F.adaptive_avg_pool2d(a[0], [3, 2]), [2, 3, 9, 6]),
        C("pad constant", a => F.pad(a[0], [1, 2, 0, 3]), S4),
        F32("pad reflect 1d 2d 3d", a => F.pad(a[0].flatten(0, 1), [1, 2], PaddingMode.Reflect).sum() + F.pad(a[0], [1, 2, 2, 1], PaddingMode.Reflect).sum()
            + F.pad(a[0].unsqueeze(0), [1, 1, 1, 1, 1, 1], PaddingMode.Reflect).sum(), S4),
        F32("pad replicate 1d 2d 3d", a => F.pad(a[0].flatten(0, 1), [1, 2], PaddingMode.Replicate).sum() + F.pad(a[0], [1, 2, 2, 1], PaddingMode.Replicate).sum()
            + F.pad(a[0].unsqueeze(0), [1, 1, 1, 1, 1, 1], PaddingMode.Replicate).sum(), S4),

        // shapes, indexing, gathering
        C("permute reshape flatten view", a => a[0].permute(0, 2, 3, 1).reshape(3, 30, 4).flatten(1).contiguous().view(3, 5, 24), S4),
        C("expand repeat", a => a[0].expand(3, 4, 5, 6) * 1.0 + a[0].repeat(3, 1, 1, 1).sum(0, keepdim: true), [1, 4, 5, 6]),
        C("repeat_interleave", a => a[0].repeat_interleave(2, 1), S4),
        C("flip roll rot90", a => a[0].flip(3) + a[0].roll([1, 2], [1, 3]) + a[0].rot90(2, [2, 3]), S4),
        C("tril triu", a => a[0].tril(-1) + a[0].triu(1) * 2.0, S4),
        C("narrow select slice", a => a[0].narrow(1, 1, 2).select(2, 3).narrow(2, 0, 3) * a[0].slice(3, 1, null, 2).select(2, 0).narrow(1, 0, 2), S4),
        C("split chunk unbind", a => a[0].split(2, 1)[1] * a[0].chunk(2, 1)[0].sum(3, keepdim: true) + a[0].unbind(2)[4].unsqueeze(2).narrow(1, 0, 2), S4),
        C("squeeze unsqueeze", a => a[0].unsqueeze(0).squeeze(0).squeeze(1).unsqueeze(3), [3, 1, 5, 6]),
        C("cat stack", a => torch.cat([a[0], a[1]], 1).sum(1) + torch.stack([a[0], a[1]], 2).sum([1, 2]), S4, S4),
        C("index", a => a[0].index(Longs([2], 6, 3), null, Longs([2], 7, 5)), S4),
        C("index_select", a => a[0].index_select(2, Longs([4], 8, 5)), S4),
        C("gather", a => a[0].gather(1, Longs([3, 2, 5, 6], 9, 4)), S4),
        C("scatter", a => a[0].scatter(1, Longs([3, 1, 5, 6], 10, 4), a[1].narrow(1, 0, 1)), S4, S4),
        C("scatter_add", a => a[0].scatter_add(1, Longs(S4, 11, 4), a[1]), S4, S4),
        C("index_put_ accumulate", a => a[0].clone().index_put_([Longs([3], 12, 3)], a[1].narrow(0, 0, 3), accumulate: true), S4, S4),
        C("masked_select", a => a[0].masked_select(Rand([6], 13) > 0), S4),
        // as_strided addresses storage, so a strided input is contiguous first (what StridedCopy does)
        C("as_strided", a => a[0].contiguous().as_strided([3, 4], [2, 3], 1), S4),
        Dist("topk sort", a => a[0].topk(3, 2).values + a[0].sort(2).values.narrow(2, 0, 3), [3, 3, 7]),
        Dist("max dim keepdim argmax gather", a => a[0].gather(1, a[0].argmax(1, keepdim: true)), [3, 5, 7]),
        C("contiguous clone", a => a[0].transpose(1, 2).contiguous().clone(), S4),
    ];

    public static TheoryData<string> Float32Names() => new(Cases.Select(c => c.Name));
    public static TheoryData<string> BFloat16Names() => new(Cases.Where(c => c.Bf16).Select(c => c.Name));

    [Theory]
    [MemberData(nameof(Float32Names))]
    public void Float32_gradient_matches_float64(string name) => Verify(Find(name), DType.Float32, 1e-4);

    [Theory]
    [MemberData(nameof(BFloat16Names))]
    public void BFloat16_gradient_matches_float64(string name) => Verify(Find(name), DType.BFloat16, Find(name).Bf16Tol);

    [Fact]
    public void Case_names_are_unique() => Assert.Equal(Cases.Length, Cases.Select(c => c.Name).Distinct().Count());

    [Fact]
    public void The_check_sees_a_wrong_gradient()
    {
        // a graph whose float32 gradient differs from its float64 one by construction (detach in float32 only):
        // the check must report it
        var wrong = new Case("wrong", a => a[0].dtype == DType.Float64 ? a[0] * a[0] : a[0].detach() * a[0], [S4]);
        var e = Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => Verify(wrong, DType.Float32, 1e-4));
        Assert.Contains("wrong", e.Message);
    }

    [Fact]
    public void Strided_layouts_really_are_strided()
    {
        using var scope = DisposeScope.Begin();
        var x = Rand(S4, 1).to(DType.Float32);
        var r = Strided(x);
        Assert.False(r.is_contiguous());
        Assert.Equal(D(x), D(r));
        var v = Strided(Rand([5], 2));
        Assert.False(v.is_contiguous());
        Assert.Equal(D(Rand([5], 2)), D(v));
    }

    private static Case Find(string name) => Cases.Single(c => c.Name == name);

    /// <summary>The same values in reversed storage order (a vector: every other element of a buffer twice its size).</summary>
    private static Tensor Strided(Tensor t)
    {
        if (t.dim() == 0) return t;
        if (t.dim() == 1) return torch.stack([t, t], 1).select(1, 0);
        var rev = Enumerable.Range(0, t.dim()).Reverse().Select(i => (long)i).ToArray();
        return t.permute(rev).contiguous().permute(rev);
    }

    private static double[] Values(long[] shape, int seed, Case c)
    {
        int n = (int)Numel(shape);
        if (!c.Distinct) return Uniform(n, seed, c.Lo, c.Hi);
        // k/32 for distinct integers k in [-64, 64): exactly representable in bfloat16, no ties
        Assert.True(n <= 128, $"{c.Name}: a Distinct case takes at most 128 elements per input");
        var k = Enumerable.Range(-64, 128).ToArray();
        new Random(seed).Shuffle(k);
        return k.Take(n).Select(v => v / 32.0).ToArray();
    }

    private static void Verify(Case c, DType dtype, double tol)
    {
        foreach (var layout in Enum.GetValues<Layout>())
        {
            using var scope = DisposeScope.Begin();
            // inputs rounded to the low precision once; the float64 reference starts from the rounded values
            var rounded = c.Shapes.Select((s, i) => Tensor.FromArray<double>(Values(s, 100 + i, c), s).to(dtype).to(DType.Float64)).ToArray();
            var refIn = rounded.Select(t => t.detach().requires_grad_()).ToArray();
            var lowIn = rounded.Select(t =>
            {
                var l = t.to(dtype);
                return (layout is Layout.StridedInputs or Layout.Both ? Strided(l) : l).detach().requires_grad_();
            }).ToArray();

            var yRef = c.F(refIn);
            var y = c.F(lowIn);
            Assert.Equal(dtype, y.dtype);
            Assert.True(y.shape.SequenceEqual(yRef.shape), $"{c.Name}: output shape differs between {dtype} and float64");
            var gRef = Tensor.FromArray<double>(Uniform((int)yRef.numel(), 7, -1, 1), yRef.shape).to(dtype).to(DType.Float64);
            var g = gRef.to(dtype);
            if (layout is Layout.StridedGrad or Layout.Both) g = Strided(g);
            yRef.backward(gRef);
            y.backward(g);

            for (int i = 0; i < refIn.Length; i++)
            {
                var want = refIn[i].grad;
                var got = lowIn[i].grad;
                Assert.True(want is not null && got is not null, $"{c.Name} ({dtype}, {layout}): input {i} got no gradient");
                double[] w = D(want!), a = D(got!);
                double num = 0, den = 0;
                for (int j = 0; j < w.Length; j++) { num += (a[j] - w[j]) * (a[j] - w[j]); den += w[j] * w[j]; }
                double rel = Math.Sqrt(num) / Math.Max(Math.Sqrt(den), 1e-30);
                Assert.True(den > 0, $"{c.Name}: the float64 gradient of input {i} is zero, the case checks nothing");
                Assert.True(rel <= tol, $"{c.Name} ({dtype}, {layout}): gradient of input {i} is off by {rel:E2} (relative L2) from float64, tolerance {tol:E0}");
            }
        }
    }
}
