using SamAdapt.Torch.NN;

namespace SamAdapt.Torch.Tests.Core;

/// <summary>
/// Every public op of Tensor.Ops.cs, Torch.cs and NN/Functional.cs is called at least once with a hand-checked result
/// (a wrong ATen schema name or overload would fail here with "operator not found").
/// </summary>
public class OpCoverageTests
{
    private static float[] A(Tensor t) => t.ToArray<float>();
    private static long[] L(Tensor t) => t.ToArray<long>();
    private static bool[] B(Tensor t) => t.ToArray<bool>();
    private static Tensor T(params float[] v) => torch.tensor(v);

    private static void Near(float[] expected, Tensor actual, double tol = 1e-5) =>
        Approx.Equal(expected.Select(v => (double)v).ToArray(), Data.D(actual), tol);

    [Fact]
    public void Unary()
    {
        using var scope = DisposeScope.Begin();
        var x = T(-1.5f, 0.25f, 2f);
        Near([1.5f, -0.25f, -2f], x.neg());
        Near([MathF.Exp(-1.5f), MathF.Exp(0.25f), MathF.Exp(2f)], x.exp());
        Near([MathF.Log(0.25f), MathF.Log(2f)], x.slice(0, 1, null).log());
        Near([MathF.Log(1.25f), MathF.Log(3f)], x.slice(0, 1, null).log1p());
        Near([0.5f, MathF.Sqrt(2)], x.slice(0, 1, null).sqrt());
        Near([2f, 1 / MathF.Sqrt(2)], x.slice(0, 1, null).rsqrt());
        Near([1.5f, 0.25f, 2f], x.abs());
        Near([MathF.Sin(-1.5f), MathF.Sin(0.25f), MathF.Sin(2f)], x.sin());
        Near([MathF.Cos(-1.5f), MathF.Cos(0.25f), MathF.Cos(2f)], x.cos());
        Near([MathF.Tanh(-1.5f), MathF.Tanh(0.25f), MathF.Tanh(2f)], x.tanh());
        Near([1 / (1 + MathF.Exp(1.5f)), 1 / (1 + MathF.Exp(-0.25f)), 1 / (1 + MathF.Exp(-2f))], x.sigmoid());
        Near([(float)-0.966105146, (float)0.276326390, (float)0.995322265], x.erf());
        Assert.Equal([-2f, 0f, 2f], A(x.floor()));
        Assert.Equal([-1f, 1f, 2f], A(x.ceil()));
        Assert.Equal([-2f, 0f, 2f], A(x.round())); // half to even
        Assert.Equal([-1f, 1f, 1f], A(x.sign()));
        Assert.Equal([2.25f, 0.0625f, 4f], A(x.square()));
        Near([-1 / 1.5f, 4f, 0.5f], x.reciprocal());
        Assert.Equal([false, true], B(torch.tensor(new[] { true, false }).logical_not()));
        var nan = T(float.NaN, 1f, float.PositiveInfinity);
        Assert.Equal([true, false, false], B(nan.isnan()));
        Assert.Equal([false, true, false], B(nan.isfinite()));
        var g = torch.ones([2], requiresGrad: true);
        var d = (g * 2).detach();
        Assert.False(d.requires_grad);
        Assert.Equal([1f, 3f, 2f, 4f], A(torch.tensor(new float[] { 1, 2, 3, 4 }, 2, 2).t().contiguous()));
    }

    [Fact]
    public void Binary()
    {
        using var scope = DisposeScope.Begin();
        var a = T(1, 2, 3, 4);
        var b = T(4, 3, 2, 1);
        Assert.Equal([9f, 8f, 7f, 6f], A(a.add(b, 2)));
        Assert.Equal([11f, 12f, 13f, 14f], A(a.add(10)));
        Assert.Equal([-7f, -4f, -1f, 2f], A(a.sub(b, 2)));
        Assert.Equal([0f, 1f, 2f, 3f], A(a.sub(1)));
        Assert.Equal([9f, 8f, 7f, 6f], A(a.rsub(10)));
        Assert.Equal([4f, 6f, 6f, 4f], A(a.mul(b)));
        Assert.Equal([0.5f, 1f, 1.5f, 2f], A(a.mul(0.5)));
        Assert.Equal([0.25f, 2 / 3f, 1.5f, 4f], A(a.div(b)));
        Assert.Equal([0.5f, 1f, 1.5f, 2f], A(a.div(2)));
        Assert.Equal([0f, 0f, 1f, 4f], A(a.div(b, "trunc")));
        Assert.Equal([-1f, -1f, -2f, -4f], A(a.neg().div(b, "floor")));
        Assert.Equal([1f, 4f, 9f, 16f], A(a.pow(2)));
        Assert.Equal([1f, 8f, 9f, 4f], A(a.pow(b)));
        Assert.Equal([1f, 0f, 1f, 0f], A(a.remainder(2)));
        Assert.Equal([4f, 3f, 3f, 4f], A(a.maximum(b)));
        Assert.Equal([1f, 2f, 2f, 1f], A(a.minimum(b)));
        Assert.Equal([false, false, false, false], B(a.eq(b)));
        Assert.Equal([false, true, false, false], B(a.eq(2)));
        Assert.Equal([true, true, true, true], B(a.ne(b)));
        Assert.Equal([true, false, true, true], B(a.ne(2)));
        Assert.Equal([true, true, false, false], B(a.lt(b)));
        Assert.Equal([true, false, false, false], B(a.lt(2)));
        Assert.Equal([true, true, false, false], B(a.le(b.sub(1))));
        Assert.Equal([true, true, false, false], B(a.le(2)));
        Assert.Equal([false, false, true, true], B(a.gt(b)));
        Assert.Equal([false, false, true, true], B(a.gt(2)));
        Assert.Equal([false, false, true, true], B(a.ge(b)));
        Assert.Equal([false, true, true, true], B(a.ge(2)));
        var p = torch.tensor(new[] { true, true, false, false });
        var q = torch.tensor(new[] { true, false, true, false });
        Assert.Equal([true, false, false, false], B(p.logical_and(q)));
        Assert.Equal([true, true, true, false], B(p.logical_or(q)));
        Assert.Equal([false, true, true, false], B(p.logical_xor(q)));
        Assert.Equal([true, false, false, false], B(p & q));
        Assert.Equal([true, true, true, false], B(p | q));
        Assert.Equal([false, false, true, true], B(!p));
        Assert.Equal([1f, 2f, 2.5f, 2.5f], A(a.clamp(null, 2.5)));
        Assert.Equal([2f, 2f, 3f, 4f], A(a.clamp(2)));
        Assert.Equal([2f, 2f, 3f, 3f], A(a.clamp(2, 3)));
        Assert.Equal([-1f, 2f, -1f, 4f], A(a.masked_fill(torch.tensor(new[] { true, false, true, false }), -1)));
        Assert.Equal([7f, 2f, 7f, 4f], A(a.masked_fill(torch.tensor(new[] { true, false, true, false }), torch.scalar_tensor(7))));
        Assert.Equal([2.5f, 2.5f, 2.5f, 2.5f], A(a.lerp(b, 0.5)));
        // matrix products
        var m = torch.tensor(new float[] { 1, 2, 3, 4 }, 2, 2);
        Assert.Equal([7f, 10f, 15f, 22f], A(m.mm(m)));
        Assert.Equal([7f, 10f, 15f, 22f], A(torch.matmul(m, m)));
        Assert.Equal([7f, 10f, 15f, 22f], A(m.unsqueeze(0).bmm(m.unsqueeze(0))));
        // operators
        Assert.Equal([5f, 5f, 5f, 5f], A(a + b));
        Assert.Equal([2f, 3f, 4f, 5f], A(a + 1));
        Assert.Equal([2f, 3f, 4f, 5f], A(1 + a));
        Assert.Equal([-3f, -1f, 1f, 3f], A(a - b));
        Assert.Equal([0f, 1f, 2f, 3f], A(a - 1));
        Assert.Equal([0f, -1f, -2f, -3f], A(1 - a));
        Assert.Equal([4f, 6f, 6f, 4f], A(a * b));
        Assert.Equal([2f, 4f, 6f, 8f], A(a * 2));
        Assert.Equal([2f, 4f, 6f, 8f], A(2 * a));
        Assert.Equal([0.25f, 2 / 3f, 1.5f, 4f], A(a / b));
        Assert.Equal([0.5f, 1f, 1.5f, 2f], A(a / 2));
        Assert.Equal([-1f, -2f, -3f, -4f], A(-a));
        Assert.Equal([false, false, true, true], B(a > 2));
        Assert.Equal([true, false, false, false], B(a < 2));
        Assert.Equal([false, true, true, true], B(a >= 2));
        Assert.Equal([true, true, false, false], B(a <= 2));
        Assert.Equal([false, false, true, true], B(a > b));
        Assert.Equal([true, true, false, false], B(a < b));
        Assert.Equal([false, false, true, true], B(a >= b));
        Assert.Equal([true, true, false, false], B(a <= b));
        // integer tensors keep their dtype with integral scalars
        Assert.Equal(DType.Int64, (torch.arange(3) + 2).dtype);
        Assert.Equal(DType.Float32, (torch.arange(3) + 0.5).dtype);
    }

    [Fact]
    public void InPlace()
    {
        using var scope = DisposeScope.Begin();
        var x = T(1, 2, 3);
        Assert.Same(x, x.add_(T(1, 1, 1), 2));
        Assert.Equal([3f, 4f, 5f], A(x));
        Assert.Equal([4f, 5f, 6f], A(x.add_(1)));
        Assert.Equal([3f, 4f, 5f], A(x.sub_(T(1, 1, 1))));
        Assert.Equal([6f, 8f, 10f], A(x.mul_(T(2, 2, 2))));
        Assert.Equal([3f, 4f, 5f], A(x.mul_(0.5)));
        Assert.Equal([1f, 2f, 2.5f], A(x.div_(T(3, 2, 2))));
        Assert.Equal([0.5f, 1f, 1.25f], A(x.div_(2)));
        Assert.Equal([4f, 4f, 4f], A(x.fill_(4)));
        Assert.Equal([2f, 2f, 2f], A(x.sqrt_()));
        Assert.Equal([0f, 0f, 0f], A(x.zero_()));
        Assert.Equal([1f, 2f, 3f], A(x.copy_(torch.tensor(new long[] { 1, 2, 3 }))));
        Assert.Equal([1f + 2 * 2, 2f + 2 * 4, 3f + 2 * 6], A(x.addcmul_(T(1, 2, 3), T(2, 2, 2), 2)));
        Assert.Equal([5f + 1, 10f + 1, 15f + 1], A(x.addcdiv_(T(2, 4, 6), T(2, 4, 6))));
        Assert.Equal([3f, 6f, 8f], A(x.lerp_(T(0, 1, 0), 0.5)));
        Assert.Equal([3f, 4f, 4f], A(x.clamp_(null, 4)));
        Assert.Equal([3f, -1f, -1f], A(x.masked_fill_(x.ge(4), -1)));
        var u = torch.empty([1000]).uniform_(2, 3);
        Assert.True(u.min().item() >= 2 && u.max().item() < 3);
        var n = torch.empty([4000]).normal_(5, 2);
        Assert.InRange(n.mean().item(), 4.8, 5.2);
        Assert.InRange(n.std().item(), 1.8, 2.2);
        var z = torch.zeros(2, 3);
        z.index_put_([torch.tensor(new long[] { 1, 1 }), torch.tensor(new long[] { 0, 2 })], T(5, 6));
        Assert.Equal([0f, 0f, 0f, 5f, 0f, 6f], A(z));
        z.index_put_([torch.tensor(new long[] { 1 }), torch.tensor(new long[] { 0 })], T(1), accumulate: true);
        Assert.Equal(6f, A(z)[3]);
        z.index_put_([torch.tensor(new[] { true, false })], T(9));
        Assert.Equal([9f, 9f, 9f, 6f, 0f, 6f], A(z));
    }

    [Fact]
    public void ShapeAndIndexing()
    {
        using var scope = DisposeScope.Begin();
        var x = torch.arange(6).to(DType.Float32);
        var m = x.view(2, 3);
        Assert.Equal(new long[] { 2, 3 }, m.shape);
        Assert.Equal(new long[] { 3, 2 }, x.reshape(3, -1).shape);
        Assert.Equal([0f, 3f, 1f, 4f, 2f, 5f], A(m.permute(1, 0).contiguous()));
        Assert.Equal([0f, 1f, 2f, 0f, 1f, 2f], A(x.slice(0, 0, 3).repeat(2)));
        Assert.Equal([2f, 1f, 0f, 5f, 4f, 3f], A(m.flip(1)));
        Assert.Equal(new long[] { 4, 2, 3 }, m.expand(4, 2, 3).shape);
        Assert.Equal(new long[] { 2, 3 }, x.slice(0, 0, 3).expand_as(m).shape);
        Assert.Equal(new long[] { 3, 2 }, x.view_as(torch.zeros(3, 2)).shape);
        Assert.Equal([0f, 3f, 1f, 4f, 2f, 5f], A(m.transpose(0, 1).contiguous()));
        Assert.Equal(new long[] { 2, 1, 3 }, m.unsqueeze(1).shape);
        Assert.Equal(new long[] { 2, 3 }, m.unsqueeze(1).squeeze(1).shape);
        Assert.Equal(new long[] { 2, 3 }, m.view(1, 2, 1, 3).squeeze().shape);
        Assert.Equal(new long[] { 2, 12 }, torch.zeros(2, 3, 4).flatten(1).shape);
        Assert.Equal(new long[] { 24 }, torch.zeros(2, 3, 4).flatten().shape);
        Assert.Equal([3f, 4f, 5f], A(m.select(0, 1)));
        Assert.Equal([1f, 4f], A(m.narrow(1, 1, 1).flatten()));
        Assert.Equal([0f, 2f, 4f], A(x.slice(0, null, null, 2)));
        Assert.Equal([4f, 5f], A(x.slice(0, -2, null)));
        var sp = x.split(4);
        Assert.Equal(2, sp.Length);
        Assert.Equal([4f, 5f], A(sp[1]));
        var ch = x.chunk(3);
        Assert.Equal(3, ch.Length);
        Assert.Equal([2f, 3f], A(ch[1]));
        var ub = m.unbind(1);
        Assert.Equal(3, ub.Length);
        Assert.Equal([2f, 5f], A(ub[2]));
        Assert.Equal([1f, 4f], A(m.index(null, torch.tensor(new long[] { 1 })).flatten()));
        Assert.Equal([0f, 2f, 4f], A(x.masked_select(x.remainder(2).eq(0))));
        Assert.Equal([1L, 3L, 5L], L(x.remainder(2).nonzero().flatten()));
        Assert.Equal([4f, 5f, 0f, 1f, 2f, 3f], A(x.roll([2], [0])));
        Assert.Equal([2f, 5f, 1f, 4f, 0f, 3f], A(m.rot90(1, [0, 1]).contiguous()));
        Assert.Equal([0f, 0f, 1f, 1f], A(x.slice(0, 0, 2).repeat_interleave(2)));
        Assert.Equal(new long[] { 4, 3 }, m.repeat_interleave(2, 0).shape);
        Assert.Equal([2f, 0f, 3f, 3f], A(m.gather(1, torch.tensor(new long[] { 2, 0, 0, 0 }, 2, 2))));
        Assert.Equal([0f, 9f, 0f, 0f, 0f, 8f], A(torch.zeros(2, 3).scatter(1, torch.tensor(new long[] { 1, 2 }, 2, 1), torch.tensor(new float[] { 9, 8 }, 2, 1))));
        Assert.Equal([2f, 0f, 0f], A(torch.zeros(3).scatter_add(0, torch.tensor(new long[] { 0, 0 }), T(1, 1))));
        Assert.Equal([2f, 0f, 5f, 3f], A(m.index_select(1, torch.tensor(new long[] { 2, 0 })).flatten()));
        Assert.False(m.t().is_contiguous());
        Assert.True(m.t().contiguous().is_contiguous());
        var c = m.clone();
        c.fill_(1);
        Assert.Equal(0f, A(m)[0]);
        Assert.Equal([0f, 2f, 4f], A(x.as_strided([3], [2])));
        Assert.Equal([1f, 3f], A(x.as_strided([2], [2], 1)));
        Assert.Equal(new long[] { 3, 1 }, m.stride());
        Assert.Equal(3, m.select(0, 1).storage_offset());
        Assert.Equal([0f, 1f, 2f, 0f, 4f, 5f], A(m.triu()));
        Assert.Equal([0f, 0f, 0f, 3f, 0f, 0f], A(m.tril(-1)));
        Assert.Equal(2, m.dim());
        Assert.Equal(3, m.size(-1));
        Assert.Equal(6, m.numel());
    }

    [Fact]
    public void Reductions()
    {
        using var scope = DisposeScope.Begin();
        var m = torch.tensor(new float[] { 1, 5, 2, 4, 3, 6 }, 2, 3);
        Assert.Equal(21.0, m.sum().item());
        Assert.Equal([8f, 13f], A(m.sum(1)));
        Assert.Equal(new long[] { 1, 3 }, m.sum(0, keepdim: true).shape);
        Assert.Equal(21.0, m.sum([0, 1]).item());
        Assert.Equal(3.5, m.mean().item());
        Assert.Equal([2.5f, 4f, 4f], A(m.mean(0)));
        Assert.Equal(3.5, m.mean([0, 1]).item());
        Assert.Equal([5f, 6f], A(m.amax([1])));
        Assert.Equal([1f, 3f], A(m.amin([1])));
        Assert.Equal(6.0, m.max().item());
        Assert.Equal(1.0, m.min().item());
        Assert.Equal(720.0, m.prod().item());
        Assert.True(m.gt(5).any().item() != 0);
        Assert.False(m.gt(5).all().item() != 0);
        var (mx, ix) = m.max(1);
        Assert.Equal([5f, 6f], A(mx));
        Assert.Equal([1L, 2L], L(ix));
        var (mn, ixn) = m.min(0, keepdim: true);
        Assert.Equal([1f, 3f, 2f], A(mn.flatten()));
        Assert.Equal([0L, 1L, 0L], L(ixn.flatten()));
        Assert.Equal(5L, m.argmax().item());
        Assert.Equal([1L, 2L], L(m.argmax(1)));
        Assert.Equal(0L, m.argmin().item());
        Assert.Equal([0L, 1L, 0L], L(m.argmin(0)));
        Assert.Equal([1f, 6f, 8f, 4f, 7f, 13f], A(m.cumsum(1)));
        Assert.Equal(DType.Float64, m.cumsum(0, DType.Float64).dtype);
        var (sv, si) = m.sort(1);
        Assert.Equal([1f, 2f, 5f, 3f, 4f, 6f], A(sv));
        Assert.Equal([0L, 2L, 1L, 1L, 0L, 2L], L(si));
        var (tv, ti) = m.flatten().topk(2);
        Assert.Equal([6f, 5f], A(tv));
        Assert.Equal([5L, 1L], L(ti));
        Near([MathF.Log(MathF.Exp(1) + MathF.Exp(5) + MathF.Exp(2)), MathF.Log(MathF.Exp(4) + MathF.Exp(3) + MathF.Exp(6))], m.logsumexp(1));
        Near([3.5f], m.var().view(1));            // sample variance of 1..6
        Near([35f / 12f], m.var(correction: 0).view(1));
        Near([MathF.Sqrt(3.5f)], m.std().view(1));
        Near([13f / 3, 7f / 3], m.var([1]));
        Near([MathF.Sqrt(91f)], m.norm().view(1));
        Near([21f], m.norm(1).view(1));
        Near([MathF.Sqrt(17f), MathF.Sqrt(34f), MathF.Sqrt(40f)], m.norm(2, [0]));
    }

    [Fact]
    public void ConversionAndFactories()
    {
        using var scope = DisposeScope.Begin();
        var x = T(1.7f, -2.2f);
        Assert.Equal([1L, -2L], L(x.@long()));
        Assert.Equal(DType.Float32, torch.arange(2).@float().dtype);
        Assert.Equal(DType.Float64, x.to(DType.Float64).dtype);
        var same = x.to(DType.Float32);
        same.fill_(0); // no copy: shares storage
        Assert.Equal(0f, A(x)[0]);
        var copy = x.to(DType.Float32, copy: true);
        copy.fill_(5);
        Assert.Equal(0f, A(x)[0]);
        Assert.Equal(Device.CPU, x.cpu().device);
        Assert.Equal(DType.Float16, x.to(Device.CPU, DType.Float16).dtype);
        Assert.Equal([(Half)0, (Half)0], x.to(DType.Float16).ToArray<Half>());
        Assert.Equal(DType.BFloat16, x.to(DType.BFloat16).dtype);
        Assert.Equal([1, 0], torch.tensor(new[] { 1, 0 }).ToArray<int>());
        Assert.Equal(1.5f, T(1.5f).ItemFloat());
        Assert.Equal(7L, torch.tensor(new long[] { 7 }).ItemLong());
        Assert.Equal(new byte[] { 0, 0, 0x80, 0x3f }, T(1f).ToBytes());
        Assert.Equal([(sbyte)-3], Tensor.FromArray<sbyte>([(sbyte)-3], [1]).ToArray<sbyte>());
        Assert.Equal([(short)300], Tensor.FromArray<short>([(short)300], [1]).ToArray<short>());
        Assert.Equal([(byte)200], Tensor.FromArray<byte>([(byte)200], [1]).ToArray<byte>());
        Assert.Equal(DType.Int16, Tensor.DTypeOf<short>());
        Assert.Contains("shape=[2]", x.ToString());
        Assert.Contains("float32", x.ToString());
        var empty = Tensor.FromArray<float>(ReadOnlySpan<float>.Empty, [0, 3]);
        Assert.Equal(0, empty.numel());
        Assert.Empty(empty.ToArray<float>());
        var scalar = Tensor.FromArray<float>([4f], []);
        Assert.Equal(0, scalar.dim());
        Assert.Equal(4.0, scalar.item());

        Assert.Equal([0f, 0f], A(torch.zeros(2)));
        Assert.Equal([1f, 1f], A(torch.ones(2)));
        Assert.Equal(DType.Int32, torch.zeros([2], DType.Int32).dtype);
        Assert.Equal(DType.Float64, torch.ones([2], DType.Float64).dtype);
        Assert.True(torch.zeros([1], requiresGrad: true).requires_grad);
        Assert.True(torch.rand(100).max().item() < 1);
        Assert.InRange(torch.randn(4000).mean().item(), -0.1, 0.1);
        Assert.Equal(new long[] { 2, 3 }, torch.empty([2, 3]).shape);
        Assert.Equal([7f, 7f], A(torch.full([2], 7)));
        Assert.Equal(DType.Int64, torch.full([2], 7, DType.Int64).dtype);
        Assert.Equal(3.0, torch.scalar_tensor(3).item());
        Assert.Equal([0L, 1L, 2L], L(torch.arange(3)));
        Assert.Equal([1L, 3L], L(torch.arange(1, 5, 2)));
        Assert.Equal([0f, 0.5f, 1f], A(torch.arange(0, 1.1, 0.5)));
        Assert.Equal([0f, 0.25f, 0.5f, 0.75f, 1f], A(torch.linspace(0, 1, 5)));
        Assert.Equal([1f, 0f, 0f, 1f], A(torch.eye(2)));
        var ri = torch.randint(3, 6, [200]);
        Assert.True(ri.min().item() >= 3 && ri.max().item() <= 5);
        Assert.Equal([0L, 1L, 2L, 3L, 4L], L(torch.randperm(5).sort().values));
        var like = torch.ones([2, 2], DType.Float64);
        Assert.Equal(DType.Float64, torch.zeros_like(like).dtype);
        Assert.Equal([0.0, 0, 0, 0], torch.zeros_like(like).ToArray<double>());
        Assert.Equal([1f, 1f, 1f, 1f], A(torch.ones_like(like, DType.Float32)));
        Assert.Equal([2.0, 2, 2, 2], torch.full_like(like, 2).ToArray<double>());
        Assert.Equal(new long[] { 2, 2 }, torch.randn_like(like).shape);
        Assert.True(torch.rand_like(like).max().item() < 1);
        var bern = torch.bernoulli(torch.zeros(1000), 0.3);
        Assert.InRange(bern.mean().item(), 0.2, 0.4);
        Assert.Equal([1.0, 2], torch.tensor(new double[] { 1, 2 }).ToArray<double>());
        Assert.Equal(new long[] { 2, 2 }, torch.tensor(new long[] { 1, 2, 3, 4 }, 2, 2).shape);
        Assert.Equal([true], torch.tensor(new[] { true }).ToArray<bool>());
    }

    [Fact]
    public void MultiTensorOps()
    {
        using var scope = DisposeScope.Begin();
        var a = T(1, 2);
        var b = T(3, 4);
        Assert.Equal([1f, 2f, 3f, 4f], A(torch.cat([a, b])));
        Assert.Equal(new long[] { 2, 2 }, torch.stack([a, b]).shape);
        Assert.Equal([1f, 3f, 2f, 4f], A(torch.stack([a, b], 1)));
        Assert.Equal([1f, 4f], A(torch.where(torch.tensor(new[] { true, false }), a, b)));
        Assert.Equal(11.0, torch.einsum("i,i->", a, b).item());
        Assert.Equal([3f, 4f, 6f, 8f], A(torch.einsum("i,j->ij", a, b)));
        Assert.True(torch.allclose(a, a + 1e-7));
        Assert.False(torch.allclose(a, a + 1e-3));
        Assert.True(torch.allclose(a, a + 1e-3, atol: 1e-2));
        Assert.True(torch.allclose(T(float.NaN), T(float.NaN), equalNan: true));
        Assert.True(torch.equal(a, T(1, 2)));
        Assert.False(torch.equal(a, b));
    }

    [Fact]
    public void Functional()
    {
        using var scope = DisposeScope.Begin();
        var x = torch.tensor(new float[] { 1, 2, 3, 4 }, 1, 1, 4);
        // convolutions with a hand-checkable kernel
        Assert.Equal([3f, 5f, 7f], A(F.conv1d(x, torch.ones(1, 1, 2), T(0)).flatten()));
        Assert.Equal([1f + 2, 3f + 4], A(F.conv1d(x, torch.ones(1, 1, 2), null, [2]).flatten()));
        var img = torch.arange(9).to(DType.Float32).view(1, 1, 3, 3);
        Assert.Equal([8f, 12f, 20f, 24f], A(F.conv2d(img, torch.ones(1, 1, 2, 2)).flatten()));
        Assert.Equal(36.0, F.conv2d(img, torch.ones(1, 1, 3, 3), padding: [1, 1]).max().item());
        Assert.Equal(36.0, F.conv3d(img.unsqueeze(2), torch.ones(1, 1, 1, 3, 3)).item());
        Assert.Equal([1f, 1f, 1f, 1f], A(F.conv_transpose2d(torch.ones(1, 1, 1, 1), torch.ones(1, 1, 2, 2)).flatten()));
        Assert.Equal(new long[] { 1, 1, 2, 2, 2 }, F.conv_transpose3d(torch.ones(1, 1, 1, 1, 1), torch.ones(1, 1, 2, 2, 2)).shape);
        Assert.Equal([11f, 17f], A(F.linear(torch.tensor(new float[] { 1, 2, 3, 4 }, 2, 2), T(1, 2).view(1, 2), T(6)).flatten()));
        // padding
        Assert.Equal([9f, 1f, 2f, 3f, 4f, 9f, 9f], A(F.pad(x, [1, 2], PaddingMode.Zeros, 9).flatten()));
        Assert.Equal([2f, 1f, 2f, 3f, 4f, 3f], A(F.pad(x, [1, 1], PaddingMode.Reflect).flatten()));
        Assert.Equal([1f, 1f, 2f, 3f, 4f, 4f, 4f], A(F.pad(x, [1, 2], PaddingMode.Replicate).flatten()));
        Assert.Equal([4f, 1f, 2f, 3f, 4f, 1f], A(F.pad(x, [1, 1], PaddingMode.Circular).flatten()));
        Assert.Equal(new long[] { 1, 1, 5, 5 }, F.pad(img, [1, 1, 1, 1], PaddingMode.Replicate).shape);
        Assert.Equal(new long[] { 1, 1, 5, 5, 5 }, F.pad(img.unsqueeze(2).expand(1, 1, 3, 3, 3).contiguous(), [1, 1, 1, 1, 1, 1], PaddingMode.Reflect).shape);
        // normalisation
        var v = torch.tensor(new float[] { 1, 3, 5, 7 }, 1, 2, 2);
        Near([-1, 1, -1, 1], F.layer_norm(v, [2], eps: 0).flatten(), 1e-5);
        Near([-1, 1, -1, 1], F.instance_norm(v, eps: 0).flatten(), 1e-5);
        Near([-1.3416f, -0.4472f, 0.4472f, 1.3416f], F.group_norm(v, 1, eps: 0).flatten(), 1e-4);
        Near([0f, 2f, 4f, 6f], F.batch_norm(v, torch.ones(2), torch.ones(2), eps: 0).flatten());
        // activations
        var s = T(-1, 0, 1);
        Near([-0.158655f, 0, 0.841345f], F.gelu(s));
        Near([-0.158808f, 0, 0.841192f], F.gelu(s, "tanh"));
        Assert.Equal([0f, 0f, 1f], A(F.relu(s)));
        Near([-1 / (1 + MathF.E), 0, 1 / (1 + 1 / MathF.E)], F.silu(s));
        Near([-0.1f, 0, 1], F.leaky_relu(s, 0.1));
        Near([1 / (1 + MathF.E), 0.5f, 1 / (1 + 1 / MathF.E)], F.sigmoid(s));
        var sm = F.softmax(s, 0);
        Near([1], sm.sum().view(1));
        Near(A(sm).Select(v => MathF.Log(v)).ToArray(), F.log_softmax(s, 0));
        Assert.Equal(DType.Float64, F.softmax(s, 0, DType.Float64).dtype);
        Assert.Equal(DType.Float64, F.log_softmax(s, 0, DType.Float64).dtype);
        Assert.True(torch.equal(s, F.dropout(s, 0.5, training: false)));
        Assert.Equal([0f, 0f, 0f], A(F.dropout(s, 1, training: true)));
        // embedding and encodings
        var table = torch.tensor(new float[] { 0, 1, 10, 11, 20, 21 }, 3, 2);
        Assert.Equal([20f, 21f, 0f, 1f], A(F.embedding(torch.tensor(new long[] { 2, 0 }), table).flatten()));
        Assert.Equal([0L, 1L, 1L, 0L], L(F.one_hot(torch.tensor(new long[] { 1, 0 })).flatten()));
        Assert.Equal([0L, 1L, 0L, 1L, 0L, 0L], L(F.one_hot(torch.tensor(new long[] { 1, 0 }), 3).flatten()));
        // losses, hand-computed
        var logits = torch.tensor(new float[] { 2, 0, 0, 0, 3, 0 }, 2, 3);
        var tgt = torch.tensor(new long[] { 0, 1 });
        double l0 = -Math.Log(Math.Exp(2) / (Math.Exp(2) + 2)), l1 = -Math.Log(Math.Exp(3) / (Math.Exp(3) + 2));
        Assert.Equal((l0 + l1) / 2, F.cross_entropy(logits, tgt).item(), 5);
        Assert.Equal(l0 + l1, F.cross_entropy(logits, tgt, reduction: Reduction.Sum).item(), 5);
        Assert.Equal((l0 + l1) / 2, F.nll_loss(F.log_softmax(logits, 1), tgt).item(), 5);
        Assert.Equal(l1, F.nll_loss(F.log_softmax(logits, 1), torch.tensor(new long[] { -100, 1 })).item(), 5);
        var z = T(0, 0);
        Assert.Equal(Math.Log(2), F.binary_cross_entropy_with_logits(z, T(1, 0)).item(), 6);
        Assert.Equal(1.5 * Math.Log(2), F.binary_cross_entropy_with_logits(z, T(1, 0), posWeight: T(2, 2)).item(), 6);
        Assert.Equal(2.5, F.mse_loss(T(1, 2), T(0, 4)).item(), 6);
        Assert.Equal(3.0, F.l1_loss(T(1, 2), T(0, 4), Reduction.Sum).item(), 6);
        Assert.Equal([1f, 4f], A(F.mse_loss(T(1, 2), T(0, 4), Reduction.None)));
        // resampling and pooling
        Assert.Equal([0f, 0f, 1f, 1f, 2f, 2f], A(F.interpolate(torch.arange(3).to(DType.Float32).view(1, 1, 3), [6]).flatten()));
        Assert.Equal([0f, 0.5f, 1f, 1.5f, 2f], A(F.interpolate(torch.arange(3).to(DType.Float32).view(1, 1, 3), [5], InterpolationMode.Linear, alignCorners: true).flatten()));
        Assert.Equal(new long[] { 1, 1, 6, 6 }, F.interpolate(img, [6, 6], InterpolationMode.Bicubic).shape);
        var gs = F.grid_sample(img, torch.zeros(1, 1, 1, 2), alignCorners: true);
        Assert.Equal(4.0, gs.item(), 5); // the centre pixel
        Assert.Equal(4.0, F.grid_sample(img, torch.zeros(1, 1, 1, 2), "nearest").item());
        Assert.Equal(4.0, F.grid_sample(img, torch.zeros(1, 1, 1, 2), "bicubic", "reflection").item(), 5);
        Assert.Equal([4f, 5f, 7f, 8f], A(F.max_pool2d(img, 2, 1).flatten()));
        Assert.Equal([8f], A(F.max_pool2d(img, 3).flatten()));
        Assert.Equal([2f, 3f, 5f, 6f], A(F.avg_pool2d(img, 2, 1).flatten()));
        Assert.Equal([4f], A(F.adaptive_avg_pool2d(img, [1, 1]).flatten()));
        // attention: with one key, the output is that key's value whatever the scores
        var q = torch.rand(1, 2, 4);
        var k = torch.rand(1, 1, 4);
        var val = T(3, 7).view(1, 1, 2);
        Assert.Equal([3f, 7f, 3f, 7f], A(F.scaled_dot_product_attention(q, k, val).flatten()));
        Assert.Equal([3f, 7f, 3f, 7f], A(F.scaled_dot_product_attention(q, k, val, dropoutP: 0, forceComposite: true).flatten()));
    }
}
