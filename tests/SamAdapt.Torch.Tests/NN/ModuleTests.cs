using SamAdapt.Torch.NN;
using SamAdapt.Torch.Optim;

namespace SamAdapt.Torch.Tests.NN;

public class ModuleTests
{
    /// <summary>Registers a child before its own parameter and buffers, to check that own members still come first.</summary>
    private sealed class Block : UnaryModule
    {
        public readonly Linear proj;
        public readonly Tensor scale;
        public readonly Sequential mlp;
        public readonly ModuleList<LayerNorm> norms;

        public Block()
        {
            proj = register_module("proj", new Linear(4, 4));
            scale = register_parameter("scale", torch.ones(4));
            register_buffer("running", torch.zeros(4));
            register_buffer("cache", torch.zeros(2), persistent: false);
            register_parameter_slot("unused_bias");
            mlp = register_module("mlp", new Sequential(new Linear(4, 8), new GELU(), new Dropout(0.5), new Linear(8, 4, hasBias: false)));
            norms = register_module("norms", new ModuleList<LayerNorm>([new LayerNorm(4), new LayerNorm(4)]));
        }

        public override Tensor forward(Tensor x) => norms[1].forward(mlp.forward(norms[0].forward(proj.forward(x)))) * scale;
    }

    private sealed class Net : UnaryModule
    {
        public readonly Block block;
        public readonly Tensor pos;

        public Net()
        {
            block = register_module("block", new Block());
            pos = register_parameter("pos_embed", torch.zeros(1, 4));
        }

        public override Tensor forward(Tensor x) => block.forward(x + pos);
    }

    private static readonly string[] NetKeys =
    [
        "pos_embed",
        "block.scale", "block.running",
        "block.proj.weight", "block.proj.bias",
        "block.mlp.0.weight", "block.mlp.0.bias", "block.mlp.3.weight",
        "block.norms.0.weight", "block.norms.0.bias", "block.norms.1.weight", "block.norms.1.bias",
    ];

    [Fact]
    public void StateDictKeysFollowPyTorchOrder()
    {
        using var net = new Net();
        Assert.Equal(NetKeys, net.state_dict().Keys.ToArray());
        // parameters: the same order without buffers; buffers listed with non-persistent ones
        Assert.Equal(NetKeys.Where(k => k != "block.running"), net.named_parameters().Select(p => p.Name));
        Assert.Equal(["block.running", "block.cache"], net.named_buffers().Select(b => b.Name));
        Assert.Equal(["block.running"], net.named_buffers(persistentOnly: true).Select(b => b.Name));
        Assert.Equal(["", "block", "block.proj", "block.mlp", "block.mlp.0", "block.mlp.1", "block.mlp.2", "block.mlp.3",
            "block.norms", "block.norms.0", "block.norms.1"], net.named_modules().Select(m => m.Name));
        Assert.Equal(["block"], net.named_children().Select(c => c.Name));
        // the state dict holds the module's own tensors, not copies
        Assert.Same(net.block.scale, net.state_dict()["block.scale"]);
    }

    [Fact]
    public void StateDictKeysMatchPyTorchsForTheSameStructure()
    {
        // the same module tree built in PyTorch yields the same keys in the same order
        using var py = new PyTorchExchange();
        var output = py.Run("""
            import torch.nn as nn
            class Block(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.proj = nn.Linear(4, 4)
                    self.scale = nn.Parameter(torch.ones(4))
                    self.register_buffer('running', torch.zeros(4))
                    self.register_buffer('cache', torch.zeros(2), persistent=False)
                    self.register_parameter('unused_bias', None)
                    self.mlp = nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Dropout(0.5), nn.Linear(8, 4, bias=False))
                    self.norms = nn.ModuleList([nn.LayerNorm(4), nn.LayerNorm(4)])
            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.block = Block()
                    self.pos_embed = nn.Parameter(torch.zeros(1, 4))
            print('\n'.join(Net().state_dict().keys()))
            """);
        Assert.Equal(NetKeys, output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void LoadStateDictStrictAndNonStrict()
    {
        using var scope = DisposeScope.Begin();
        using var src = new Net();
        using var dst = new Net();
        using (torch.no_grad()) foreach (var p in src.parameters()) p.uniform_(-1, 1);

        // exact match: everything copied, values equal, tensors keep their identity
        var w = dst.block.proj.weight;
        Assert.True(dst.load_state_dict(src.state_dict()).IsExact);
        Assert.Same(w, dst.block.proj.weight);
        foreach (var (k, v) in src.state_dict()) Assert.True(torch.equal(v, dst.state_dict()[k]), k);

        // strict: missing, unexpected and mis-shaped keys are all named, and nothing is modified
        using var dst2 = new Net();
        var before = dst2.block.scale.clone();
        var sd = new Dictionary<string, Tensor>(src.state_dict());
        sd.Remove("block.mlp.3.weight");
        sd["block.extra"] = torch.zeros(3);
        sd["block.proj.bias"] = torch.zeros(5);
        var e = Assert.Throws<InvalidDataException>(() => dst2.load_state_dict(sd));
        Assert.Contains("1 missing key(s): block.mlp.3.weight", e.Message);
        Assert.Contains("1 unexpected key(s): block.extra", e.Message);
        Assert.Contains("block.proj.bias (checkpoint [5], model [4])", e.Message);
        Assert.True(torch.equal(before, dst2.block.scale));

        // non-strict: loads the rest and reports the rest
        var r = dst2.load_state_dict(sd, strict: false);
        Assert.Equal(["block.mlp.3.weight"], r.Missing);
        Assert.Equal(["block.extra"], r.Unexpected);
        Assert.Single(r.Mismatched);
        Assert.False(r.IsExact);
        Assert.True(torch.equal(src.block.scale, dst2.block.scale));
        Assert.True(torch.equal(src.block.proj.weight, dst2.block.proj.weight));
        Assert.False(torch.equal(src.block.proj.bias!, dst2.block.proj.bias!));     // mis-shaped: left alone
        Assert.False(torch.equal(src.block.mlp[3].state_dict()["weight"], dst2.block.mlp[3].state_dict()["weight"]));

        // dtype conversion on load
        var sd64 = src.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.to(DType.Float64));
        using var dst3 = new Net();
        dst3.load_state_dict(sd64);
        Assert.Equal(DType.Float32, dst3.block.scale.dtype);
        Assert.True(torch.equal(src.block.scale, dst3.block.scale));
    }

    [Fact]
    public void FreezeUnfreezeByRegexAndCounts()
    {
        using var net = new Net();
        long total = net.parameters().Sum(p => p.numel());
        Assert.Equal(4 + 4 + (16 + 4) + (32 + 8) + 32 + 4 * 4, total);
        Assert.Equal(new ParameterCount(total, total), net.count_parameters());

        net.freeze();
        Assert.Equal(new ParameterCount(total, 0), net.count_parameters());
        Assert.Equal(3, net.set_requires_grad(@"^block\.mlp\.", true));
        Assert.Equal(new ParameterCount(total, 32 + 8 + 32), net.count_parameters());
        Assert.Equal(new ParameterCount(32 + 8 + 32, 32 + 8 + 32), net.count_parameters(@"\.mlp\."));
        net.unfreeze(@"norms\.\d+\.bias$");
        Assert.Equal(32 + 8 + 32 + 8, net.count_parameters().Trainable);
        Assert.True(net.block.norms[1].bias.requires_grad);
        Assert.False(net.block.norms[1].weight.requires_grad);
        net.unfreeze();
        Assert.Equal(total, net.count_parameters().Trainable);
    }

    [Fact]
    public void TrainEvalPropagatesAndDropoutIsIdentityInEval()
    {
        using var scope = DisposeScope.Begin();
        using var net = new Net();
        Assert.All(net.named_modules(), m => Assert.True(m.Module.training));
        net.eval();
        Assert.All(net.named_modules(), m => Assert.False(m.Module.training));
        var drop = net.block.mlp[2];
        var x = torch.rand(64, 8) + 1;
        var y = drop.forward(x);
        Assert.True(torch.equal(x, y));
        Assert.NotSame(x, y); // a fresh handle, so callers can dispose uniformly
        net.train();
        Assert.True(drop.training);
        var z = drop.forward(x);
        var zeros = z.eq(0).sum().item();
        Assert.InRange(zeros, 64 * 8 * 0.3, 64 * 8 * 0.7);
        Assert.True(torch.allclose(z.masked_select(z.ne(0)), x.masked_select(z.ne(0)) * 2));
        // whole model in eval is deterministic
        net.eval();
        var input = torch.rand(3, 4);
        Assert.True(torch.equal(net.forward(input), net.forward(input)));
    }

    [Fact]
    public void ToDTypeKeepsParameterIdentitySoExistingOptimizersStillUpdate()
    {
        using var scope = DisposeScope.Begin();
        using var lin = new Linear(3, 2);
        var weight = lin.weight;
        using var opt = new SGD(lin.parameters(), lr: 0.1);
        lin.to(DType.Float64);
        Assert.Same(weight, lin.weight);
        Assert.Equal(DType.Float64, lin.weight.dtype);
        Assert.Equal(DType.Float64, lin.bias!.dtype);
        Assert.True(lin.weight.requires_grad);
        Assert.True(lin.weight.is_leaf);

        var before = lin.weight.clone();
        var x = torch.ones([4, 3], DType.Float64);
        lin.forward(x).sum().backward();
        Assert.Equal(DType.Float64, lin.weight.grad!.dtype);
        opt.step();
        // d(sum)/dW = 4 for every weight: the optimizer's reference is the module's parameter
        Assert.True(torch.allclose(lin.weight, before - 0.4));
        Assert.Same(lin.weight, opt.Groups[0].Params[0]);

        // buffers follow too; integer tensors keep their dtype
        using var net = new Net();
        net.to(DType.Float64);
        Assert.All(net.state_dict().Values, t => Assert.Equal(DType.Float64, t.dtype));
        Assert.Equal(DType.Float64, net.named_buffers().Single(b => b.Name == "block.cache").Value.dtype);
        net.to(Device.CPU); // a no-op move keeps working
        Assert.Equal(DType.Float64, net.pos.dtype);
    }

    [Fact]
    public void ZeroGradAndDisposeReleaseParameters()
    {
        var net = new Net();
        using (DisposeScope.Begin())
        {
            net.forward(torch.rand(2, 4)).sum().backward();
            Assert.NotNull(net.block.proj.weight.grad);
            net.zero_grad();
            Assert.Null(net.block.proj.weight.grad);
        }
        var w = net.block.proj.weight;
        net.Dispose();
        Assert.True(w.IsDisposed);
        Assert.True(net.pos.IsDisposed);
    }

    [Fact]
    public void LayersComputeWhatTheyClaim()
    {
        using var scope = DisposeScope.Begin();
        using var lin = new Linear(3, 2);
        Assert.Equal(3, lin.in_features);
        Assert.Equal(2, lin.out_features);
        var x = torch.rand(5, 3);
        Assert.True(torch.allclose(lin.forward(x), x.matmul(lin.weight.t()) + lin.bias!));
        // default init bounds: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        Assert.True(lin.weight.abs().max().item() <= 1 / Math.Sqrt(3));

        using var conv = Conv.Conv2d(2, 4, 3, stride: 2, padding: 1, groups: 2);
        Assert.Equal(new long[] { 4, 1, 3, 3 }, conv.weight.shape);
        var img = torch.rand(1, 2, 7, 7);
        Assert.True(torch.equal(conv.forward(img), F.conv2d(img, conv.weight, conv.bias, [2, 2], [1, 1], null, 2)));
        using var convR = Conv.Conv2d(1, 1, 3, padding: 1, mode: PaddingMode.Reflect);
        var one = torch.rand(1, 1, 4, 4);
        Assert.True(torch.allclose(convR.forward(one), F.conv2d(F.pad(one, [1, 1, 1, 1], PaddingMode.Reflect), convR.weight, convR.bias)));
        using var conv3 = Conv.Conv3d(2, 3, [3, 1, 1], padding: [1, 0, 0]);
        Assert.Equal(new long[] { 1, 3, 4, 5, 6 }, conv3.forward(torch.rand(1, 2, 4, 5, 6)).shape);
        Assert.Throws<ArgumentException>(() => Conv.Conv2d(3, 4, 3, groups: 2));

        using var ct = ConvTranspose.ConvTranspose2d(4, 2, 2, stride: 2);
        Assert.Equal(new long[] { 4, 2, 2, 2 }, ct.weight.shape);
        Assert.Equal(new long[] { 1, 2, 6, 6 }, ct.forward(torch.rand(1, 4, 3, 3)).shape);
        using var ct3 = new ConvTranspose(3, 2, 2, [2, 2, 2], [2, 2, 2]);
        Assert.Equal(new long[] { 1, 2, 4, 4, 4 }, ct3.forward(torch.rand(1, 2, 2, 2, 2)).shape);

        using var ln = new LayerNorm(4);
        var v = torch.rand(3, 4);
        var n = ln.forward(v);
        Assert.True(n.mean(1).abs().max().item() < 1e-6);
        using var gn = new GroupNorm(2, 4);
        Assert.True(torch.allclose(gn.forward(torch.rand(2, 4, 3)).reshape(2, 2, 6).mean(2), torch.zeros(2, 2), atol: 1e-6));
        Assert.Throws<ArgumentException>(() => new GroupNorm(3, 4));

        using var emb = new Embedding(5, 3);
        Assert.True(torch.equal(emb.forward(torch.tensor(new long[] { 4, 0 })), emb.weight.index(torch.tensor(new long[] { 4, 0 }))));

        var a = torch.tensor(new float[] { -1, 0, 2 });
        using var relu = new ReLU();
        using var sig = new Sigmoid();
        using var id = new Identity();
        using var gelu = new GELU("tanh");
        Assert.Equal(new float[] { 0, 0, 2 }, relu.forward(a).ToArray<float>());
        Assert.Equal(0.5f, sig.forward(a).ToArray<float>()[1]);
        Assert.Equal(a.ToArray<float>(), id.forward(a).ToArray<float>());
        Assert.True(torch.equal(gelu.forward(a), F.gelu(a, "tanh")));
        using var empty = new Sequential();
        Assert.Equal(0, empty.Count);
        Assert.Equal(a.ToArray<float>(), empty.forward(a).ToArray<float>());
    }
}
