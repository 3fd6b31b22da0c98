using SamAdapt.Torch.NN;
using static SamAdapt.Torch.Tests.Data;

namespace SamAdapt.Torch.Tests.Numerics;

/// <summary>
/// Runs the same inputs through SamAdapt and through Debian's Python torch (the same libtorch 1.13 CPU build) and
/// requires equal results (≤ 1e-6; most are bit-identical because the same kernels run).
/// </summary>
public class PyTorchParityTests
{
    private const double Tol = 1e-6;

    [Fact]
    public void InterpolateAllModesAndGridSample()
    {
        using var scope = DisposeScope.Begin();
        using var py = new PyTorchExchange();
        var x = RandF([2, 3, 7, 9], 1);
        var x1 = RandF([2, 3, 10], 2);
        var x3 = RandF([1, 2, 4, 5, 6], 3);
        var grid = RandF([2, 5, 6, 2], 4, -1.2, 1.2);
        py.Put("x", x); py.Put("x1", x1); py.Put("x3", x3); py.Put("grid", grid);

        var ours = new Dictionary<string, Tensor>
        {
            ["nearest_up"] = F.interpolate(x, [11, 13]),
            ["nearest_down"] = F.interpolate(x, [4, 5]),
            ["nearest1"] = F.interpolate(x1, [7]),
            ["nearest3"] = F.interpolate(x3, [3, 7, 4]),
            ["linear1"] = F.interpolate(x1, [13], InterpolationMode.Linear),
            ["linear1_ac"] = F.interpolate(x1, [13], InterpolationMode.Linear, alignCorners: true),
            ["bilinear_up"] = F.interpolate(x, [11, 13], InterpolationMode.Bilinear),
            ["bilinear_up_ac"] = F.interpolate(x, [11, 13], InterpolationMode.Bilinear, alignCorners: true),
            ["bilinear_down"] = F.interpolate(x, [4, 5], InterpolationMode.Bilinear),
            ["bilinear_aa"] = F.interpolate(x, [4, 5], InterpolationMode.Bilinear, antialias: true),
            ["bilinear_aa_ac"] = F.interpolate(x, [3, 4], InterpolationMode.Bilinear, alignCorners: true, antialias: true),
            ["bicubic_up"] = F.interpolate(x, [11, 13], InterpolationMode.Bicubic),
            ["bicubic_up_ac"] = F.interpolate(x, [11, 13], InterpolationMode.Bicubic, alignCorners: true),
            ["bicubic_aa"] = F.interpolate(x, [3, 4], InterpolationMode.Bicubic, antialias: true),
            ["trilinear"] = F.interpolate(x3, [3, 7, 4], InterpolationMode.Trilinear),
            ["trilinear_ac"] = F.interpolate(x3, [6, 3, 9], InterpolationMode.Trilinear, alignCorners: true),
        };
        string[] modes = ["bilinear", "nearest", "bicubic"], pads = ["zeros", "border", "reflection"];
        foreach (var m in modes)
            foreach (var p in pads)
                foreach (var ac in new[] { false, true })
                    ours[$"gs_{m}_{p}_{ac}"] = F.grid_sample(x, grid, m, p, ac);

        py.Run("""
            x, x1, x3, grid = load('x'), load('x1'), load('x3'), load('grid')
            save('nearest_up', F.interpolate(x, size=(11, 13), mode='nearest'))
            save('nearest_down', F.interpolate(x, size=(4, 5), mode='nearest'))
            save('nearest1', F.interpolate(x1, size=(7,), mode='nearest'))
            save('nearest3', F.interpolate(x3, size=(3, 7, 4), mode='nearest'))
            save('linear1', F.interpolate(x1, size=(13,), mode='linear', align_corners=False))
            save('linear1_ac', F.interpolate(x1, size=(13,), mode='linear', align_corners=True))
            save('bilinear_up', F.interpolate(x, size=(11, 13), mode='bilinear', align_corners=False))
            save('bilinear_up_ac', F.interpolate(x, size=(11, 13), mode='bilinear', align_corners=True))
            save('bilinear_down', F.interpolate(x, size=(4, 5), mode='bilinear', align_corners=False))
            save('bilinear_aa', F.interpolate(x, size=(4, 5), mode='bilinear', align_corners=False, antialias=True))
            save('bilinear_aa_ac', F.interpolate(x, size=(3, 4), mode='bilinear', align_corners=True, antialias=True))
            save('bicubic_up', F.interpolate(x, size=(11, 13), mode='bicubic', align_corners=False))
            save('bicubic_up_ac', F.interpolate(x, size=(11, 13), mode='bicubic', align_corners=True))
            save('bicubic_aa', F.interpolate(x, size=(3, 4), mode='bicubic', align_corners=False, antialias=True))
            save('trilinear', F.interpolate(x3, size=(3, 7, 4), mode='trilinear', align_corners=False))
            save('trilinear_ac', F.interpolate(x3, size=(6, 3, 9), mode='trilinear', align_corners=True))
            for m in ['bilinear', 'nearest', 'bicubic']:
                for p in ['zeros', 'border', 'reflection']:
                    for ac in [False, True]:
                        save('gs_%s_%s_%s' % (m, p, ac), F.grid_sample(x, grid, mode=m, padding_mode=p, align_corners=ac))
            """);
        foreach (var (name, t) in ours)
            Approx.Equal(py.Get(name), t, Tol, 0, name);
    }

    [Fact]
    public void ConvTransposeAndNormalisations()
    {
        using var scope = DisposeScope.Begin();
        using var py = new PyTorchExchange();
        var x = RandF([2, 4, 5, 6], 10);
        var w2 = RandF([4, 3, 3, 2], 11);   // groups=2 → out channels 6
        var b2 = RandF([6], 12);
        var x3 = RandF([1, 2, 3, 4, 3], 13);
        var w3 = RandF([2, 3, 3, 1, 2], 14);
        var gw = RandF([4], 15, 0.5, 1.5);
        var gb = RandF([4], 16);
        var rm = RandF([4], 17);
        var rv = RandF([4], 18, 0.5, 2);
        foreach (var (n, t) in new[] { ("x", x), ("w2", w2), ("b2", b2), ("x3", x3), ("w3", w3), ("gw", gw), ("gb", gb), ("rm", rm), ("rv", rv) })
            py.Put(n, t);

        var rmTrain = rm.clone();
        var rvTrain = rv.clone();
        var ours = new Dictionary<string, Tensor>
        {
            ["ct2"] = F.conv_transpose2d(x, w2, b2, stride: [2, 3], padding: [1, 0], outputPadding: [1, 2], groups: 2, dilation: [1, 2]),
            ["ct3"] = F.conv_transpose3d(x3, w3, null, stride: [1, 2, 2], padding: [1, 0, 1], outputPadding: [0, 1, 0]),
            ["gn"] = F.group_norm(x, 2, gw, gb, 1e-4),
            ["gn_plain"] = F.group_norm(x, 4),
            ["in"] = F.instance_norm(x, gw, gb),
            ["in_running"] = F.instance_norm(x, null, null, rm, rv, useInputStats: false),
            ["bn_eval"] = F.batch_norm(x, rm, rv, gw, gb, training: false),
            ["bn_train"] = F.batch_norm(x, rmTrain, rvTrain, gw, gb, training: true, momentum: 0.2),
            ["bn_rm"] = rmTrain,
            ["bn_rv"] = rvTrain,
            ["ln"] = F.layer_norm(x, [5, 6], null, null, 1e-3),
            ["conv2"] = F.conv2d(x, w2.permute(1, 0, 2, 3).contiguous(), null, stride: [1, 2], padding: [2, 1], dilation: [2, 1]),
        };
        py.Run("""
            x, w2, b2, x3, w3 = load('x'), load('w2'), load('b2'), load('x3'), load('w3')
            gw, gb, rm, rv = load('gw'), load('gb'), load('rm'), load('rv')
            save('ct2', F.conv_transpose2d(x, w2, b2, stride=(2, 3), padding=(1, 0), output_padding=(1, 2), groups=2, dilation=(1, 2)))
            save('ct3', F.conv_transpose3d(x3, w3, None, stride=(1, 2, 2), padding=(1, 0, 1), output_padding=(0, 1, 0)))
            save('gn', F.group_norm(x, 2, gw, gb, 1e-4))
            save('gn_plain', F.group_norm(x, 4))
            save('in', F.instance_norm(x, weight=gw, bias=gb))
            save('in_running', F.instance_norm(x, rm.clone(), rv.clone(), use_input_stats=False))
            save('bn_eval', F.batch_norm(x, rm, rv, gw, gb, training=False))
            rmt, rvt = rm.clone(), rv.clone()
            save('bn_train', F.batch_norm(x, rmt, rvt, gw, gb, training=True, momentum=0.2))
            save('bn_rm', rmt)
            save('bn_rv', rvt)
            save('ln', F.layer_norm(x, (5, 6), None, None, 1e-3))
            save('conv2', F.conv2d(x, w2.permute(1, 0, 2, 3).contiguous(), None, stride=(1, 2), padding=(2, 1), dilation=(2, 1)))
            """);
        foreach (var (name, t) in ours)
            Approx.Equal(py.Get(name), t, Tol, 0, name);
    }

    [Fact]
    public void SortingIndexingEncodingAndAttention()
    {
        using var scope = DisposeScope.Begin();
        using var py = new PyTorchExchange();
        var x = RandF([3, 10], 20);
        var labels = torch.tensor(new long[] { 3, 0, 2, 2, 4, 1 }, 2, 3);
        var table = RandF([5, 4], 21);
        var q = RandF([2, 3, 4], 22);
        var k = RandF([2, 5, 4], 23);
        var v = RandF([2, 5, 3], 24);
        var mask = RandF([3, 5], 25) > -0.5;
        foreach (var (n, t) in new[] { ("x", x), ("labels", labels), ("table", table), ("q", q), ("k", k), ("v", v), ("mask", mask) })
            py.Put(n, t);

        var (tv, ti) = x.topk(4, 1);
        var (sv, si) = x.topk(3, 0, largest: false);
        var (ov, oi) = x.sort(1, descending: true);
        var (ov0, oi0) = x.sort(0);
        var ours = new Dictionary<string, Tensor>
        {
            ["topk_v"] = tv, ["topk_i"] = ti, ["topk_small_v"] = sv, ["topk_small_i"] = si,
            ["sort_v"] = ov, ["sort_i"] = oi, ["sort0_v"] = ov0, ["sort0_i"] = oi0,
            ["one_hot"] = F.one_hot(labels), ["one_hot7"] = F.one_hot(labels, 7),
            ["emb"] = F.embedding(labels, table), ["emb_pad"] = F.embedding(labels, table, paddingIdx: 2),
            ["argmax"] = x.argmax(1), ["cumsum"] = x.cumsum(1), ["lse"] = x.logsumexp(0),
            ["sdpa"] = F.scaled_dot_product_attention(q, k, v, mask),
            ["sdpa_causal"] = F.scaled_dot_product_attention(q, k, v, isCausal: true, scale: 0.7),
        };
        py.Run("""
            x, labels, table, q, k, v, mask = load('x'), load('labels'), load('table'), load('q'), load('k'), load('v'), load('mask')
            tv, ti = x.topk(4, 1); save('topk_v', tv); save('topk_i', ti)
            sv, si = x.topk(3, 0, largest=False); save('topk_small_v', sv); save('topk_small_i', si)
            ov, oi = x.sort(1, descending=True); save('sort_v', ov); save('sort_i', oi)
            ov, oi = x.sort(0); save('sort0_v', ov); save('sort0_i', oi)
            save('one_hot', F.one_hot(labels)); save('one_hot7', F.one_hot(labels, 7))
            save('emb', F.embedding(labels, table)); save('emb_pad', F.embedding(labels, table, padding_idx=2))
            save('argmax', x.argmax(1)); save('cumsum', x.cumsum(1)); save('lse', x.logsumexp(0))
            def sdpa(q, k, v, mask=None, causal=False, scale=None):
                s = scale if scale is not None else q.shape[-1] ** -0.5
                a = (q * s) @ k.transpose(-2, -1)
                if causal:
                    a = a.masked_fill(torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool).triu(1), float('-inf'))
                if mask is not None:
                    a = a.masked_fill(~mask, float('-inf'))
                return a.softmax(-1) @ v
            save('sdpa', sdpa(q, k, v, mask))
            save('sdpa_causal', sdpa(q, k, v, causal=True, scale=0.7))
            """);
        foreach (var (name, t) in ours)
        {
            var theirs = py.Get(name);
            Assert.True(theirs.dtype == t.dtype, $"{name}: dtype {t.dtype}, PyTorch {theirs.dtype}");
            Approx.Equal(theirs, t, Tol, 0, name);
        }
    }
}

/// <summary>Seeded randomness: same seed → same numbers in C#, and equal to Python's (it is the same CPU generator).</summary>
[Collection(SerialCollection.Name)]
public class SeededRandomnessParityTests
{
    [Fact]
    public void DropoutMaskAndFactoriesFollowManualSeed()
    {
        using var scope = DisposeScope.Begin();
        using var py = new PyTorchExchange();
        Tensor[] Draw()
        {
            torch.manual_seed(1234);
            var d = F.dropout(torch.ones(4, 1000), 0.3, true);
            var rn = torch.randn(3, 7);
            var ru = torch.rand(20);
            var ri = torch.randint(0, 10, [15]);
            var rp = torch.randperm(12);
            var be = torch.bernoulli(torch.full([50], 0.5), 0.25);
            return [d, rn, ru, ri, rp, be];
        }
        var a = Draw();
        var b = Draw();
        for (int i = 0; i < a.Length; i++) Assert.True(torch.equal(a[i], b[i]), $"draw {i} differs between two runs with the same seed");

        // dropout really drops (≈30%) and scales the rest by 1/(1-p)
        var kept = a[0].ne(0).sum().item();
        Assert.InRange(kept, 4000 * 0.65, 4000 * 0.75);
        Assert.Equal(1 / 0.7, a[0].max().item(), 6);

        py.Run("""
            torch.manual_seed(1234)
            save('d', F.dropout(torch.ones(4, 1000), 0.3, True))
            save('rn', torch.randn(3, 7))
            save('ru', torch.rand(20))
            save('ri', torch.randint(0, 10, (15,)))
            save('rp', torch.randperm(12))
            save('be', torch.bernoulli(torch.full((50,), 0.5), 0.25))
            """);
        string[] names = ["d", "rn", "ru", "ri", "rp", "be"];
        for (int i = 0; i < names.Length; i++)
            Assert.True(torch.equal(py.Get(names[i]), a[i]), $"{names[i]} differs from PyTorch with the same seed");
    }
}
