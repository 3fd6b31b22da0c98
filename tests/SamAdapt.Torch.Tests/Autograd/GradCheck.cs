namespace SamAdapt.Torch.Tests.Autograd;

/// <summary>
/// Compares autograd gradients with central finite differences in float64. The function's output is reduced with a
/// fixed, non-uniform weight tensor (so every output element's gradient path is exercised with a distinct weight),
/// then every element of every input that requires grad is perturbed by ±eps.
/// </summary>
public static class GradCheck
{
    public static void Check(string what, Func<Tensor[], Tensor> f, params Tensor[] inputs) => Check(what, f, 1e-6, 1e-6, inputs);

    public static void Check(string what, Func<Tensor[], Tensor> f, double eps, double tol, params Tensor[] inputs)
    {
        using var scope = DisposeScope.Begin();
        foreach (var x in inputs)
            if (x.requires_grad) Assert.Equal(DType.Float64, x.dtype);
        var data = inputs.Select(x => x.dtype == DType.Float64 ? x.ToArray<double>() : null).ToArray();
        var needs = inputs.Select(x => x.requires_grad).ToArray();
        Assert.Contains(true, needs);

        // analytical
        var leaves = inputs.Select((x, i) => needs[i] ? x.detach().clone().requires_grad_() : x).ToArray();
        var y = f(leaves);
        Assert.True(y.requires_grad, $"{what}: output does not require grad");
        var w = Tensor.FromArray<double>(Data.Uniform((int)y.numel(), 12345, 0.5, 1.5), y.shape);
        (y.to(DType.Float64) * w).sum().backward();
        var analytic = new double[inputs.Length][];
        for (int i = 0; i < inputs.Length; i++)
        {
            if (!needs[i]) continue;
            var g = leaves[i].grad;
            Assert.True(g is not null, $"{what}: input {i} got no gradient");
            analytic[i] = g!.ToArray<double>();
        }

        // numerical
        using var _ = torch.no_grad();
        double Eval()
        {
            using var s = DisposeScope.Begin();
            var xs = inputs.Select((x, i) => data[i] != null && needs[i] ? Tensor.FromArray<double>(data[i]!, x.shape) : x).ToArray();
            return (f(xs).to(DType.Float64) * w).sum().item();
        }

        bool anyNonZero = false;
        for (int i = 0; i < inputs.Length; i++)
        {
            if (!needs[i]) continue;
            var d = data[i]!;
            var numeric = new double[d.Length];
            for (int j = 0; j < d.Length; j++)
            {
                var orig = d[j];
                d[j] = orig + eps;
                var fp = Eval();
                d[j] = orig - eps;
                var fm = Eval();
                d[j] = orig;
                numeric[j] = (fp - fm) / (2 * eps);
            }
            Approx.Equal(numeric, analytic[i], tol, tol, $"{what}: d/d(input {i})");
            anyNonZero |= analytic[i].Any(v => Math.Abs(v) > 1e-3);
        }
        Assert.True(anyNonZero, $"{what}: all gradients are ~0, the check would be vacuous");
    }
}
