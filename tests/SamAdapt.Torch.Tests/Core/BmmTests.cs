using static SamAdapt.Torch.Tests.Data;

namespace SamAdapt.Torch.Tests.Core;

/// <summary>
/// samadapt::bmm (BLAS per batch entry on the CPU) and the matmul routing to it, against an independent formulation
/// (broadcast multiply and sum, which never calls a matrix product), in value and gradient, for every operand layout
/// the BLAS path distinguishes: row-major, transposed view, non-unit-stride copy, broadcast batch (stride 0), empty.
/// </summary>
public class BmmTests
{
    // (B, m, k)·(B, k, n) without any GEMM: (B, m, k, 1) * (B, 1, k, n) summed over k
    private static Tensor Reference(Tensor a, Tensor b) => (a.unsqueeze(3) * b.unsqueeze(1)).sum(2);

    public static TheoryData<string, string, string> Layouts()
    {
        var d = new TheoryData<string, string, string>();
        foreach (var dt in new[] { "float32", "float64" })
            foreach (var la in new[] { "rowmajor", "transposed", "strided", "broadcast" })
                foreach (var lb in new[] { "rowmajor", "transposed", "strided" })
                    d.Add(dt, la, lb);
        return d;
    }

    /// <summary>A (B, r, c) tensor with values from <paramref name="seed"/> in the given layout.</summary>
    private static Tensor Make(string layout, long bsz, long r, long c, int seed, DType dtype)
    {
        var values = Rand([bsz, r, c], seed).to(dtype);
        return layout switch
        {
            "rowmajor" => values,
            "transposed" => values.transpose(1, 2).contiguous().transpose(1, 2),
            "strided" => torch.stack([values, values], 3).select(3, 0),           // unit stride nowhere in the last two dims
            "broadcast" => values.narrow(0, 0, 1).expand(bsz, r, c),               // batch stride 0
            _ => throw new ArgumentException(layout),
        };
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Bmm_matches_the_reference_in_value_and_gradient(string dtypeName, string layoutA, string layoutB)
    {
        using var scope = DisposeScope.Begin();
        var dtype = dtypeName == "float32" ? DType.Float32 : DType.Float64;
        double tol = dtype == DType.Float32 ? 1e-5 : 1e-12;
        foreach (var (bsz, m, k, n) in new[] { (3L, 4L, 5L, 6L), (7L, 1L, 3L, 2L), (2L, 70L, 66L, 68L) })
        {
            var a = Make(layoutA, bsz, m, k, 1, dtype).detach().requires_grad_();
            var b = Make(layoutB, bsz, k, n, 2, dtype).detach().requires_grad_();
            var ar = a.detach().clone().requires_grad_();
            var br = b.detach().clone().requires_grad_();
            var y = a.bmm(b);
            var yr = Reference(ar, br);
            Approx.Equal(yr, y, tol, tol, $"{layoutA}·{layoutB} {bsz}x{m}x{k}x{n} value");
            var g = Rand([bsz, m, n], 3).to(dtype).transpose(1, 2).contiguous().transpose(1, 2); // a transposed incoming gradient
            y.backward(g);
            yr.backward(g);
            Approx.Equal(ar.grad!, a.grad!, tol * k, tol, "d/d(self)");
            Approx.Equal(br.grad!, b.grad!, tol * m, tol, "d/d(mat2)");
        }
    }

    [Fact]
    public void Empty_and_zero_inner_dimension()
    {
        using var scope = DisposeScope.Begin();
        var z = torch.zeros([2, 3, 0]).bmm(torch.zeros([2, 0, 4]));
        Assert.Equal([2L, 3, 4], z.shape);
        Assert.All(D(z), v => Assert.Equal(0.0, v));
        Assert.Equal([0L, 3, 4], torch.zeros([0, 3, 5]).bmm(torch.zeros([0, 5, 4])).shape);
    }

    [Fact]
    public void Bad_shapes_are_reported()
    {
        using var scope = DisposeScope.Begin();
        // libtorch's own messages (shapes the BLAS path does not take go to aten::bmm)
        var e = Assert.Throws<TorchException>(() => torch.zeros([2, 3, 4]).bmm(torch.zeros([2, 5, 4])));
        Assert.Contains("Expected size for first two dimensions of batch2 tensor to be: [2, 4] but got: [2, 5]", e.Message);
        e = Assert.Throws<TorchException>(() => torch.zeros([3, 4]).bmm(torch.zeros([3, 4])));
        Assert.Contains("batch1 must be a 3D tensor", e.Message);
    }

    [Fact]
    public void Matmul_with_equal_batch_dims_goes_through_bmm_and_keeps_the_shape()
    {
        using var scope = DisposeScope.Begin();
        var a = Rand([2, 3, 4, 5], 4).to(DType.Float32);
        var b = Rand([2, 3, 6, 5], 5).to(DType.Float32).transpose(-2, -1);   // (2, 3, 5, 6), a transposed view
        var y = a.matmul(b);
        Assert.Equal([2L, 3, 4, 6], y.shape);
        Approx.Equal(Reference(a.reshape(6, 4, 5), b.reshape(6, 5, 6)).view(2, 3, 4, 6), y, 1e-5, 1e-5, "4-D matmul");
        // different batch dims (broadcast) still go through aten::matmul
        var yb = a.matmul(Rand([5, 6], 6).to(DType.Float32));
        Assert.Equal([2L, 3, 4, 6], yb.shape);
    }

    [Fact]
    public void Bmm_under_bf16_autocast_computes_in_bfloat16_like_aten()
    {
        using var scope = DisposeScope.Begin();
        using var ac = torch.autocast(DeviceType.CPU, DType.BFloat16);
        var y = Rand([2, 3, 4], 7).to(DType.Float32).bmm(Rand([2, 4, 5], 8).to(DType.Float32));
        Assert.Equal(DType.BFloat16, y.dtype);
    }
}
