using SamAdapt.Torch.Optim;
using static SamAdapt.Torch.Tests.Data;

namespace SamAdapt.Torch.Tests.Optim;

public class OptimizerTests
{
    private const int Steps = 4;

    private static Tensor[] Params() => [RandF([3, 4], 1).DetachFromScope(), RandF([5], 2).DetachFromScope()];

    /// <summary>Gradient of parameter i at step s (step 2 leaves the second parameter without a gradient).</summary>
    private static Tensor? Grad(int i, int s) => i == 1 && s == 2 ? null : RandF(i == 0 ? [3, 4] : [5], 100 + 10 * s + i, -2, 2);

    private static Tensor[] Run(Func<Tensor[], Optimizer> make, int steps = Steps)
    {
        var ps = Params();
        using var opt = make(ps);
        for (int s = 0; s < steps; s++)
        {
            using var scope = DisposeScope.Begin();
            for (int i = 0; i < ps.Length; i++) ps[i].grad = Grad(i, s);
            opt.step();
        }
        Assert.Equal(steps, opt.StepCount);
        return ps;
    }

    [Fact]
    public void AdamWAndSgdMatchTorchOptim()
    {
        using var scope = DisposeScope.Begin();
        using var py = new PyTorchExchange();
        var init = Params();
        py.Put("p0", init[0]);
        py.Put("p1", init[1]);
        for (int s = 0; s < Steps; s++)
            for (int i = 0; i < 2; i++)
                if (Grad(i, s) is { } g) py.Put($"g{i}_{s}", g);

        var ours = new Dictionary<string, Tensor[]>
        {
            ["adamw_groups"] = Run(ps => new AdamW([new ParamGroup([ps[0]], 1e-2, 0.1), new ParamGroup([ps[1]], 5e-3, 0)], 0.9, 0.99, 1e-7)),
            ["adamw_default"] = Run(ps => new AdamW(ps)),
            ["sgd_plain"] = Run(ps => new SGD(ps, lr: 0.1)),
            ["sgd_momentum"] = Run(ps => new SGD([new ParamGroup([ps[0]], 0.1, 1e-2), new ParamGroup([ps[1]], 0.05, 1e-2)], momentum: 0.9, dampening: 0.1)),
            ["sgd_nesterov"] = Run(ps => new SGD(ps, lr: 0.05, momentum: 0.9, weightDecay: 1e-3, nesterov: true)),
        };

        py.Run($$"""
            steps = {{Steps}}
            def run(name, make):
                ps = [load('p0').requires_grad_(), load('p1').requires_grad_()]
                opt = make(ps)
                for s in range(steps):
                    for i, p in enumerate(ps):
                        p.grad = load('g%d_%d' % (i, s)) if os.path.exists(os.path.join(D, 'g%d_%d.bin' % (i, s))) else None
                    opt.step()
                for i, p in enumerate(ps):
                    save('%s_%d' % (name, i), p)
            run('adamw_groups', lambda ps: torch.optim.AdamW([{'params': [ps[0]], 'lr': 1e-2, 'weight_decay': 0.1},
                                                              {'params': [ps[1]], 'lr': 5e-3, 'weight_decay': 0.0}], betas=(0.9, 0.99), eps=1e-7))
            run('adamw_default', lambda ps: torch.optim.AdamW(ps))
            run('sgd_plain', lambda ps: torch.optim.SGD(ps, lr=0.1))
            run('sgd_momentum', lambda ps: torch.optim.SGD([{'params': [ps[0]], 'lr': 0.1}, {'params': [ps[1]], 'lr': 0.05}],
                                                           lr=0.1, momentum=0.9, dampening=0.1, weight_decay=1e-2))
            run('sgd_nesterov', lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=1e-3, nesterov=True))
            """);
        foreach (var (name, ps) in ours)
        {
            for (int i = 0; i < ps.Length; i++)
            {
                Approx.Equal(py.Get($"{name}_{i}"), ps[i], 1e-6, 0, $"{name} param {i}");
                Assert.False(torch.equal(init[i], ps[i]), $"{name}: parameter {i} did not move");
                ps[i].Dispose();
            }
        }
        foreach (var p in init) p.Dispose();
    }

    [Fact]
    public void ClipGradNormMatchesTorch()
    {
        using var scope = DisposeScope.Begin();
        using var py = new PyTorchExchange();
        var ps = Params();
        var g0 = Grad(0, 0)!;
        var g1 = Grad(1, 0)!;
        py.Put("g0", g0);
        py.Put("g1", g1);
        var norms = new List<double>();
        double[] maxNorms = [0.5, 100.0];
        for (int k = 0; k < maxNorms.Length; k++)
        {
            ps[0].grad = g0.clone();
            ps[1].grad = g1.clone();
            var n = GradClip.ClipGradNorm(ps, maxNorms[k]);
            norms.Add(n);
            py.Put($"ours0_{k}", ps[0].grad!);
            py.Put($"ours1_{k}", ps[1].grad!);
            // afterwards the global norm is min(maxNorm, norm)
            var after = torch.stack([ps[0].grad!.norm(), ps[1].grad!.norm()]).norm().item();
            Assert.Equal(Math.Min(maxNorms[k], n), after, 4);
        }
        Assert.True(norms[0] > 0.5, "the test needs a norm above the clip threshold");
        var output = py.Run("""
            for k, m in enumerate([0.5, 100.0]):
                ps = [torch.zeros(3, 4, requires_grad=True), torch.zeros(5, requires_grad=True)]
                ps[0].grad, ps[1].grad = load('g0'), load('g1')
                n = torch.nn.utils.clip_grad_norm_(ps, m)
                print(repr(float(n)))
                for i in range(2):
                    d = (ps[i].grad - load('ours%d_%d' % (i, k))).abs().max().item()
                    assert d <= 1e-6, 'grad %d after clipping to %s differs by %g' % (i, m, d)
            """);
        var theirs = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(s => double.Parse(s, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        Approx.Equal(theirs, norms.ToArray(), 1e-6, 1e-6, "pre-clip norm");
        foreach (var p in ps) p.Dispose();

        // no gradients: 0; non-finite gradients: reported, grads untouched
        using var q = torch.zeros(2).requires_grad_();
        Assert.Equal(0, GradClip.ClipGradNorm([q], 1));
        q.grad = torch.tensor(new float[] { float.PositiveInfinity, 1 });
        Assert.True(double.IsInfinity(GradClip.ClipGradNorm([q], 1)));
        Assert.Equal(1f, q.grad!.ToArray<float>()[1]);
    }

    [Fact]
    public void StateDictRoundTripResumesIdentically()
    {
        using var scope = DisposeScope.Begin();
        Func<Tensor[], Optimizer>[] makers =
        [
            ps => new AdamW([new ParamGroup([ps[0]], 1e-2, 0.1), new ParamGroup([ps[1]], 5e-3)]),
            ps => new SGD(ps, lr: 0.05, momentum: 0.9, weightDecay: 1e-3, nesterov: true),
        ];
        for (int m = 0; m < makers.Length; m++)
        {
            var make = makers[m];
            // uninterrupted: 6 steps
            var full = Params();
            using (var opt = make(full))
                for (int s = 0; s < 6; s++) Step(opt, full, s);

            // interrupted after 3 steps: save params and optimizer state (copies, as a checkpoint file would), resume in a new optimizer
            var first = Params();
            Dictionary<string, Tensor> saved;
            using (var opt = make(first))
            {
                for (int s = 0; s < 3; s++) Step(opt, first, s);
                saved = opt.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
                Assert.Contains("step", saved.Keys);
                Assert.Contains("group.0.lr", saved.Keys);
            }
            var resumed = first.Select(p => p.detach().clone().DetachFromScope().requires_grad_()).ToArray();
            using (var opt = make(resumed))
            {
                opt.load_state_dict(saved);
                Assert.Equal(3, opt.StepCount);
                for (int s = 3; s < 6; s++) Step(opt, resumed, s);
            }
            for (int i = 0; i < 2; i++)
                Assert.True(torch.equal(full[i], resumed[i]), $"optimizer {m}: parameter {i} differs after resuming");

            // a fresh optimizer without the state does NOT reproduce the run (the state matters)
            var cold = first.Select(p => p.detach().clone().DetachFromScope().requires_grad_()).ToArray();
            using (var opt = make(cold))
                for (int s = 3; s < 6; s++) Step(opt, cold, s);
            Assert.False(torch.equal(full[0], cold[0]));
        }

        static void Step(Optimizer opt, Tensor[] ps, int s)
        {
            using var sc = DisposeScope.Begin();
            for (int i = 0; i < ps.Length; i++) ps[i].grad = Grad(i, s);
            opt.step();
        }
    }

    [Fact]
    public void StateDictKeysAndReloadIntoTheSameOptimizer()
    {
        using var scope = DisposeScope.Begin();
        var ps = Params();
        using var opt = new AdamW(ps, lr: 1e-2);
        foreach (var p in ps) p.grad = torch.ones_like(p);
        opt.step();
        var sd = opt.state_dict();
        Assert.Equal(
            ["group.0.lr", "group.0.weight_decay", "state.0.0.exp_avg", "state.0.0.exp_avg_sq", "state.0.0.step",
             "state.0.1.exp_avg", "state.0.1.exp_avg_sq", "state.0.1.step", "step"],
            sd.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(1.0, sd["state.0.1.step"].item());
        Assert.Equal(0.01, sd["group.0.lr"].item(), 12);
        var expAvg = sd["state.0.0.exp_avg"].clone();

        // reloading an optimizer from its own state dict (the tensors it still owns) must work
        opt.Groups[0].Lr = 0.5;
        opt.load_state_dict(sd);
        Assert.Equal(0.01, opt.Groups[0].Lr, 12);
        Assert.True(torch.equal(expAvg, opt.state_dict()["state.0.0.exp_avg"]));
        opt.step();
        Assert.Equal(2, opt.StepCount);

        // bad layouts are refused with a message naming the key
        var bad = new Dictionary<string, Tensor> { ["state.0.7.exp_avg"] = torch.zeros(3) };
        Assert.Contains("state.0.7.exp_avg", Assert.Throws<InvalidDataException>(() => opt.load_state_dict(bad)).Message);
        var misshaped = new Dictionary<string, Tensor> { ["state.0.0.exp_avg"] = torch.zeros(7) };
        Assert.Contains("has shape [7]", Assert.Throws<InvalidDataException>(() => opt.load_state_dict(misshaped)).Message);
        Assert.Contains("bogus", Assert.Throws<InvalidDataException>(() => opt.load_state_dict(new Dictionary<string, Tensor> { ["bogus"] = torch.zeros(1) })).Message);
        foreach (var p in ps) p.Dispose();
    }

    [Fact]
    public void ZeroGradAndNoParameters()
    {
        using var scope = DisposeScope.Begin();
        var ps = Params();
        using var opt = new SGD(ps, lr: 1);
        foreach (var p in ps) p.grad = torch.ones_like(p);
        opt.zero_grad();
        Assert.All(ps, p => Assert.Null(p.grad));
        var before = ps[0].clone();
        opt.step(); // nothing to do without gradients
        Assert.True(torch.equal(before, ps[0]));
        Assert.Throws<ArgumentException>(() => new SGD(Array.Empty<Tensor>(), lr: 1));
        using var bad = new SGD([new ParamGroup(ps, 0.1)], momentum: 0, dampening: 0, nesterov: true);
        ps[0].grad = torch.ones_like(ps[0]);
        Assert.Throws<InvalidOperationException>(() => bad.step());
        foreach (var p in ps) p.Dispose();
    }

    [Fact]
    public void WarmupPolyDecayFactors()
    {
        var s = new WarmupPolyDecay(2, 10, 0.9);
        Assert.Equal(0.5, s.Factor(0), 12);
        Assert.Equal(1.0, s.Factor(1), 12);
        Assert.Equal(1.0, s.Factor(2), 12);
        Assert.Equal(Math.Pow(1 - 1 / 8.0, 0.9), s.Factor(3), 12);
        Assert.Equal(Math.Pow(0.5, 0.9), s.Factor(6), 12);
        Assert.Equal(0.0, s.Factor(10), 12);
        Assert.Equal(0.0, s.Factor(25), 12);
        var noWarmup = new WarmupPolyDecay(0, 4, 2);
        Assert.Equal(new[] { 1.0, 0.5625, 0.25, 0.0625, 0 }, Enumerable.Range(0, 5).Select(i => noWarmup.Factor(i)).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => new WarmupPolyDecay(1, 0, 1));
        Assert.Equal(1.0, new ConstantLr().Factor(1234));

        using var scope = DisposeScope.Begin();
        var ps = Params();
        using var opt = new AdamW([new ParamGroup([ps[0]], 1e-3), new ParamGroup([ps[1]], 4e-3)]);
        s.Apply(opt, 0);
        Assert.Equal(0.5e-3, opt.Groups[0].Lr, 15);
        Assert.Equal(2e-3, opt.Groups[1].Lr, 15);
        s.Apply(opt, 6);
        Assert.Equal(4e-3 * Math.Pow(0.5, 0.9), opt.Groups[1].Lr, 15);
        Assert.Equal(4e-3, opt.Groups[1].BaseLr);
        foreach (var p in ps) p.Dispose();
    }
}
