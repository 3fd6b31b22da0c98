using SamAdapt.Torch.NN;
using static SamAdapt.Torch.Tests.Data;

namespace SamAdapt.Torch.Tests.Core;

/// <summary>
/// samadapt::rel_pos_attention (native/src/attention.cpp): the CPU float32 kernel (query rows in blocks, one parallel pass)
/// against an independent float64 formulation without any matrix product (broadcast multiply and sum, exp and normalise by
/// hand), for blocks that do not divide the rows, non-contiguous operands and no relative terms; the composite path under
/// autograd (values and gradients) and in float64; shape errors.
/// </summary>
public class RelPosAttentionTests
{
    private const long Entries = 5, Kh = 3, Kw = 4, N = 7, Dim = 6, Dv = 5;

    // softmax(q·scale·kᵀ + rel_h + rel_w)·v in float64, no GEMM
    private static Tensor Reference(Tensor q, Tensor k, Tensor v, Tensor? relH, Tensor? relW, double scale)
    {
        using var scope = DisposeScope.Begin();
        var (qd, kd, vd) = (q.to(DType.Float64), k.to(DType.Float64), v.to(DType.Float64));
        var logits = (qd.unsqueeze(2) * scale * kd.unsqueeze(1)).sum(3);                              // (B', N, Nk)
        if (relH is not null && relW is not null)
        {
            long b = q.size(0), n = q.size(1), kh = relH.size(2), kw = relW.size(2);
            logits = (logits.view(b, n, kh, kw) + relH.to(DType.Float64).unsqueeze(3) + relW.to(DType.Float64).unsqueeze(2))
                .view(b, n, kh * kw);
        }
        var e = (logits - logits.amax([2], true)).exp();
        var p = e / e.sum([2], true);
        return (p.unsqueeze(3) * vd.unsqueeze(1)).sum(2).MoveToOuterScope();                          // (B', N, dv)
    }

    private static (Tensor Q, Tensor K, Tensor V, Tensor RelH, Tensor RelW) Inputs(int seed, bool transposed)
    {
        var q = RandF([Entries, N, Dim], seed, -2, 2);
        var k = RandF([Entries, Kh * Kw, Dim], seed + 1, -2, 2);
        // v stored (B', dv, Nk) and viewed transposed: the kernel must not assume row-major operands
        var v = transposed ? RandF([Entries, Dv, Kh * Kw], seed + 2).transpose(1, 2) : RandF([Entries, Kh * Kw, Dv], seed + 2);
        return (q, k, v, RandF([Entries, N, Kh], seed + 3, -3, 3), RandF([Entries, N, Kw], seed + 4, -3, 3));
    }

    [Theory]
    [InlineData(0L, false, true, false)]  // the kernel's own block
    [InlineData(1L, false, true, false)]  // one row per task
    [InlineData(3L, true, true, false)]   // 7 rows in blocks of 3: the last block has 1
    [InlineData(7L, true, false, false)]  // whole entries, no relative terms
    [InlineData(100L, false, false, false)]
    [InlineData(0L, false, true, true)]   // ATen's softmax kernel instead of the fused one
    [InlineData(3L, true, false, true)]
    public void Cpu_kernel_matches_the_float64_reference(long blockRows, bool transposed, bool relative, bool atenSoftmax)
    {
        using var scope = DisposeScope.Begin();
        using var ng = torch.no_grad();
        var (q, k, v, relH, relW) = Inputs(3, transposed);
        double scale = 0.4;
        var expected = Reference(q, k, v, relative ? relH : null, relative ? relW : null, scale);
        var got = F.rel_pos_attention(q, k, v, relative ? relH : null, relative ? relW : null, scale, blockRows, atenSoftmax);
        Assert.Equal([Entries, N, Dv], got.shape);
        Assert.Equal(DType.Float32, got.dtype);
        Approx.Equal(expected, got, 1e-5, 1e-5, $"block {blockRows}");
        // the relative terms matter: without them the result is different
        if (relative)
        {
            var plain = F.rel_pos_attention(q, k, v, null, null, scale, blockRows, atenSoftmax);
            Assert.True((plain - got).abs().max().item() > 1e-2);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Wide_rows_and_logits_far_below_the_maximum_match_the_reference(bool atenSoftmax)
    {
        // rows of 5 × 19 keys (whole vectors and tails in every grid row) and a scale that puts most logits more than 87
        // below their row's maximum (exp underflows to 0)
        using var scope = DisposeScope.Begin();
        using var ng = torch.no_grad();
        long b = 3, n = 9, kh = 5, kw = 19;
        var q = RandF([b, n, Dim], 31, -2, 2);
        var k = RandF([b, kh * kw, Dim], 32, -2, 2);
        var v = RandF([b, kh * kw, Dv], 33);
        var relH = RandF([b, n, kh], 34, -3, 3);
        var relW = RandF([b, n, kw], 35, -3, 3);
        foreach (var scale in new[] { 0.3, 30.0 })
        {
            var expected = Reference(q, k, v, relH, relW, scale);
            var got = F.rel_pos_attention(q, k, v, relH, relW, scale, 4, atenSoftmax);
            Approx.Equal(expected, got, 1e-5, 1e-5, $"scale {scale}");
        }
    }

    [Theory]
    [InlineData(0L, false)]   // the kernel's own block: all 23 rows in one task (row tiles of 6: the last has 5)
    [InlineData(5L, true)]    // tasks of 5 rows: tiles of 5; v stored transposed
    [InlineData(13L, false)]  // 13 + 10 rows: tiles 6 + 6 + 1 and 6 + 4
    public void Panel_products_of_global_attention_shapes_match_the_reference(long blockRows, bool transposed)
    {
        // keys and v's columns in multiples of 16 take the kernel's own products (packed key panels, register tiles of 6 rows,
        // cache blocks of 256 keys): 4 × 80 = 320 keys are a full block and a partial one, v 32 wide is two column tiles,
        // head depth 7 is not a multiple of the vector width
        using var scope = DisposeScope.Begin();
        using var ng = torch.no_grad();
        long b = 3, n = 23, kh = 4, kw = 80, d = 7, dv = 32;
        var q = RandF([b, n, d], 41, -2, 2);
        var k = RandF([b, kh * kw, d], 42, -2, 2);
        var v = transposed ? RandF([b, dv, kh * kw], 43).transpose(1, 2) : RandF([b, kh * kw, dv], 43);
        var relH = RandF([b, n, kh], 44, -3, 3);
        var relW = RandF([b, n, kw], 45, -3, 3);
        foreach (var relative in new[] { true, false })
        {
            var expected = Reference(q, k, v, relative ? relH : null, relative ? relW : null, 0.4);
            var got = F.rel_pos_attention(q, k, v, relative ? relH : null, relative ? relW : null, 0.4, blockRows);
            Assert.Equal([b, n, dv], got.shape);
            Approx.Equal(expected, got, 1e-5, 1e-5, $"block {blockRows}, relative {relative}");
            // and the same as ATen's softmax with BLAS's products (the other path of the kernel)
            Approx.Equal(F.rel_pos_attention(q, k, v, relative ? relH : null, relative ? relW : null, 0.4, blockRows, atenSoftmax: true), got,
                1e-5, 1e-5, "panel vs BLAS products");
        }
    }

    [Theory]
    [InlineData(4L, 8L, false)]  // 32 keys, head depth 16: the kernel's own products
    [InlineData(3L, 3L, false)]  // 9 keys (a window): BLAS's products
    [InlineData(4L, 8L, true)]   // under autograd: the composite form
    public void Fused_projection_form_matches_the_reference(long h, long w, bool grad)
    {
        // qkv (B, H, W, 3E) with E = 3 heads × 16; per head the reference on q, k, v cut out of it and the decomposed terms
        // computed in float64 from the gathered tables: rel_h[i, y'] = Σ_c q[i, c]·table_h[y(i), y', c], likewise rel_w
        using var scope = DisposeScope.Begin();
        long b = 2, heads = 3, d = 16, e = heads * d, n = h * w;
        var qkv = RandF([b, h, w, 3 * e], 51, -2, 2);
        var tableH = RandF([h, h, d], 52, -0.5, 0.5);
        var tableW = RandF([w, w, d], 53, -0.5, 0.5);
        double scale = 0.25;
        var parts = qkv.reshape(b, n, 3, heads, d).permute(2, 0, 3, 1, 4).reshape(3, b * heads, n, d).unbind(0);
        var qd = parts[0].to(DType.Float64).reshape(b * heads, h, w, d);
        var relH = (qd.unsqueeze(3) * tableH.to(DType.Float64).view(1, h, 1, h, d)).sum(4).reshape(b * heads, n, h);
        var relW = (qd.unsqueeze(3) * tableW.to(DType.Float64).view(1, 1, w, w, d)).sum(4).reshape(b * heads, n, w);
        var expected = Reference(parts[0], parts[1], parts[2], relH, relW, scale).view(b, heads, h, w, d).permute(0, 2, 3, 1, 4).reshape(b, h, w, e);
        Tensor got;
        if (grad)
        {
            var leaf = qkv.detach().clone().requires_grad_();
            got = F.rel_pos_attention_qkv(leaf, heads, tableH, tableW, scale);
            Assert.True(got.requires_grad);
        }
        else
        {
            using var ng = torch.no_grad();
            got = F.rel_pos_attention_qkv(qkv, heads, tableH, tableW, scale);
        }
        Assert.Equal([b, h, w, e], got.shape);
        Approx.Equal(expected, got.detach(), 1e-5, 1e-5, $"{h}×{w}, grad {grad}");
        // without the tables: plain attention, and different
        using (torch.no_grad())
        {
            var plain = F.rel_pos_attention_qkv(qkv, heads, null, null, scale);
            var plainExpected = Reference(parts[0], parts[1], parts[2], null, null, scale).view(b, heads, h, w, d).permute(0, 2, 3, 1, 4).reshape(b, h, w, e);
            Approx.Equal(plainExpected, plain, 1e-5, 1e-5, "no relative terms");
            Assert.True((plain - got.detach()).abs().max().item() > 1e-2);
        }
        var bad = Assert.Throws<TorchException>(() => F.rel_pos_attention_qkv(qkv, 5, tableH, tableW, scale));
        Assert.Contains("multiple of num_heads", bad.Message);
    }

    [Fact]
    public void Composite_path_under_autograd_matches_the_reference_in_value_and_gradient()
    {
        using var scope = DisposeScope.Begin();
        var (q0, k0, v0, h0, w0) = Inputs(11, false);
        Tensor[] leaves = [q0, k0, v0, h0, w0];
        var mine = leaves.Select(t => t.detach().clone().requires_grad_()).ToArray();
        var refs = leaves.Select(t => t.detach().to(DType.Float64).requires_grad_()).ToArray();
        var y = F.rel_pos_attention(mine[0], mine[1], mine[2], mine[3], mine[4], 0.3);
        var yr = Reference(refs[0], refs[1], refs[2], refs[3], refs[4], 0.3);
        Approx.Equal(yr.detach(), y.detach(), 1e-5, 1e-5, "value");
        var g = RandF([Entries, N, Dv], 12);
        y.backward(g);
        yr.backward(g.to(DType.Float64));
        string[] names = ["q", "k", "v", "rel_h", "rel_w"];
        for (int i = 0; i < leaves.Length; i++)
        {
            Assert.True(refs[i].grad!.abs().max().item() > 1e-3, $"the gradient of {names[i]} is ~0: the comparison would be vacuous");
            Approx.Equal(refs[i].grad!, mine[i].grad!, 1e-5, 1e-4, $"d/d({names[i]})");
        }
    }

    [Fact]
    public void Float64_takes_the_composite_path()
    {
        using var scope = DisposeScope.Begin();
        using var ng = torch.no_grad();
        var (q, k, v, relH, relW) = Inputs(21, true);
        var got = F.rel_pos_attention(q.to(DType.Float64), k.to(DType.Float64), v.to(DType.Float64), relH.to(DType.Float64),
            relW.to(DType.Float64), 0.5);
        Assert.Equal(DType.Float64, got.dtype);
        Approx.Equal(Reference(q, k, v, relH, relW, 0.5), got, 1e-12, 1e-12, "float64");
    }

    [Fact]
    public void Mismatched_shapes_are_refused_with_a_message()
    {
        using var scope = DisposeScope.Begin();
        var (q, k, v, relH, relW) = Inputs(1, false);
        var e = Assert.Throws<TorchException>(() => F.rel_pos_attention(q, k, v, relH, relW.narrow(2, 0, 3), 1.0));
        Assert.Contains("do not cover", e.Message);
        e = Assert.Throws<TorchException>(() => F.rel_pos_attention(q, k.narrow(1, 0, 5), v, null, null, 1.0));
        Assert.Contains("do not match", e.Message);
        e = Assert.Throws<TorchException>(() => F.rel_pos_attention(q, k, v, relH, null, 1.0));
        Assert.Contains("go together", e.Message);
    }
}
