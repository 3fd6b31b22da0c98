using SamAdapt.Torch.NN;
using static SamAdapt.Torch.Tests.Data;

namespace SamAdapt.Torch.Tests.NN;

/// <summary>Gradient checkpointing. Serial: it seeds the global generator and counts process-wide callback handles.</summary>
[Collection(SerialCollection.Name)]
public class CheckpointTests
{
    private sealed class Mlp : UnaryModule
    {
        public readonly Linear fc1, fc2;
        public double DropP;

        public Mlp(double dropP = 0)
        {
            fc1 = register_module("fc1", new Linear(4, 8));
            fc2 = register_module("fc2", new Linear(8, 3));
            DropP = dropP;
            to(DType.Float64);
        }

        public override Tensor forward(Tensor x)
        {
            var h = F.gelu(fc1.forward(x));
            if (DropP > 0) h = F.dropout(h, DropP, training);
            return fc2.forward(h);
        }
    }

    private static void Settle()
    {
        for (int i = 0; i < 3; i++) { GC.Collect(); GC.WaitForPendingFinalizers(); }
    }

    /// <summary>Runs forward (plain or checkpointed) and backward with fixed output weights; returns output and grads.</summary>
    private static (double[] Y, double[][] Grads) ForwardBackward(Mlp m, Tensor x, bool checkpointed, Action? betweenForwardAndBackward = null)
    {
        using var scope = DisposeScope.Begin();
        m.zero_grad();
        var leaf = x.detach().clone().requires_grad_(x.requires_grad);
        var y = checkpointed ? Checkpoint.Run(m.forward, leaf) : m.forward(leaf);
        betweenForwardAndBackward?.Invoke();
        var w = Tensor.FromArray<double>(Uniform((int)y.numel(), 5, 0.5, 1.5), y.shape);
        (y * w).sum().backward();
        var grads = m.parameters().Select(p => p.grad!.ToArray<double>()).ToList();
        if (x.requires_grad) grads.Add(leaf.grad!.ToArray<double>());
        return (y.ToArray<double>(), grads.ToArray());
    }

    private static void AssertSame((double[] Y, double[][] Grads) a, (double[] Y, double[][] Grads) b)
    {
        Assert.Equal(a.Y, b.Y);
        Assert.Equal(a.Grads.Length, b.Grads.Length);
        for (int i = 0; i < a.Grads.Length; i++) Assert.Equal(a.Grads[i], b.Grads[i]);
    }

    [Fact]
    public void GradientsEqualTheNonCheckpointedOnesExactly()
    {
        using var scope = DisposeScope.Begin();
        using var m = new Mlp();
        var x = Rand([5, 4], 1, requiresGrad: true);
        var plain = ForwardBackward(m, x, false);
        var ckpt = ForwardBackward(m, x, true);
        Assert.Equal(5, ckpt.Grads.Length);  // 4 parameters + the input
        AssertSame(plain, ckpt);
        Assert.Contains(ckpt.Grads[^1], v => v != 0);
    }

    [Fact]
    public void InputsWithoutGradButTrainableParametersInside()
    {
        using var scope = DisposeScope.Begin();
        using var m = new Mlp();
        var x = Rand([5, 4], 2);
        var plain = ForwardBackward(m, x, false);
        var ckpt = ForwardBackward(m, x, true);
        Assert.Equal(4, ckpt.Grads.Length);
        AssertSame(plain, ckpt);

        // a frozen layer and a trainable one inside the checkpoint
        m.fc1.freeze();
        m.zero_grad();
        Checkpoint.Run(m.forward, x).sum().backward();
        Assert.Null(m.fc1.weight.grad);
        var g = m.fc2.weight.grad!.ToArray<double>();
        m.zero_grad();
        m.forward(x).sum().backward();
        Assert.Equal(m.fc2.weight.grad!.ToArray<double>(), g);
    }

    [Fact]
    public void DropoutInsideIsReplayedWithTheSameMask()
    {
        using var scope = DisposeScope.Begin();
        using var m = new Mlp(0.5);
        var x = Rand([6, 4], 3, requiresGrad: true);
        double[]? afterPlain = null, afterCkpt = null;

        torch.manual_seed(7);
        var plain = ForwardBackward(m, x, false, () => torch.rand(100));
        afterPlain = torch.rand(5).ToArray<float>().Select(v => (double)v).ToArray();

        torch.manual_seed(7);
        var ckpt = ForwardBackward(m, x, true, () => torch.rand(100));   // the RNG moves on before backward
        afterCkpt = torch.rand(5).ToArray<float>().Select(v => (double)v).ToArray();

        AssertSame(plain, ckpt);
        Assert.Equal(afterPlain, afterCkpt);   // the replay restores the generator afterwards
        // the mask really dropped something (else the test would prove nothing)
        m.eval();
        Assert.NotEqual(plain.Y, ForwardBackward(m, x, false).Y);
    }

    [Fact]
    public void SeveralInputsAndOutputs()
    {
        using var scope = DisposeScope.Begin();
        var a = Rand([3, 4], 4, requiresGrad: true);
        var b = Rand([3, 4], 5, requiresGrad: true);
        var c = Rand([4], 6); // no grad
        Func<Tensor[], Tensor[]> f = xs => [xs[0] * xs[1].sin() + xs[2], (xs[0].matmul(xs[1].t())).sum() * 2];

        var outs = f([a, b, c]);
        (outs[0].sum() + outs[1] * 3).backward();
        var (ga, gb) = (a.grad!.ToArray<double>(), b.grad!.ToArray<double>());
        a.grad = null; b.grad = null;

        var cOuts = Checkpoint.Run(f, a, b, c);
        Assert.Equal(2, cOuts.Length);
        Assert.True(torch.equal(outs[0], cOuts[0]));
        Assert.True(torch.equal(outs[1], cOuts[1]));
        (cOuts[0].sum() + cOuts[1] * 3).backward();
        Assert.Equal(ga, a.grad!.ToArray<double>());
        Assert.Equal(gb, b.grad!.ToArray<double>());
        Assert.Null(c.grad);
    }

    [Fact]
    public void OutsideGradModeItIsAPlainCall()
    {
        using var scope = DisposeScope.Begin();
        using var m = new Mlp();
        long states = Checkpoint.LiveStates;
        using (torch.no_grad())
        {
            var y = Checkpoint.Run(m.forward, Rand([2, 4], 7));
            Assert.False(y.requires_grad);
            Assert.Equal(states, Checkpoint.LiveStates);
        }
    }

    [Fact]
    public void CallbackHandlesAreReleasedWithTheGraph()
    {
        using var m = new Mlp();
        using var x = Rand([5, 4], 8, requiresGrad: true);
        for (int i = 0; i < 5; i++) ForwardBackward(m, x, true); // warm-up
        Settle();
        long states0 = Checkpoint.LiveStates, native0 = Tensor.NativeHandleCount, live0 = Tensor.LiveCount;
        for (int i = 0; i < 300; i++)
        {
            if (i % 2 == 0) ForwardBackward(m, x, true);
            else
            {
                // forward only: the graph (and the handle) go away when the output is disposed
                using var s = DisposeScope.Begin();
                var y = Checkpoint.Run(m.forward, x);
                Assert.Equal(states0 + 1, Checkpoint.LiveStates);
            }
        }
        Settle();
        Assert.Equal(states0, Checkpoint.LiveStates);
        Assert.Equal(native0, Tensor.NativeHandleCount);
        Assert.Equal(live0, Tensor.LiveCount);
    }

    [Fact]
    public void AnExceptionInTheForwardSurfacesAsAnException()
    {
        using var scope = DisposeScope.Begin();
        long states0 = Checkpoint.LiveStates;
        var x = Rand([2, 2], 9, requiresGrad: true);
        var e = Assert.ThrowsAny<Exception>(() => Checkpoint.Run(new Func<Tensor, Tensor>(_ => throw new InvalidOperationException("boom in forward")), x));
        Assert.Contains("boom in forward", e.ToString());
        Settle();
        Assert.Equal(states0, Checkpoint.LiveStates);
        // a libtorch error inside the function too
        var e2 = Assert.ThrowsAny<Exception>(() => Checkpoint.Run(t => t.matmul(torch.zeros([3, 3], DType.Float64)), x));
        Assert.Contains("cannot be multiplied", e2.ToString());
        Assert.Equal(2.0, (x * 2).sum().item() / x.sum().item(), 12); // still healthy
    }

    [Fact]
    public void AnExceptionDuringRecomputationSurfacesFromBackward()
    {
        long states0 = Checkpoint.LiveStates;
        using (var scope = DisposeScope.Begin())
        {
            var x = Rand([2, 2], 10, requiresGrad: true);
            int calls = 0;
            var y = Checkpoint.Run(t => ++calls == 1 ? t * 2 : throw new InvalidOperationException("boom in recompute"), x);
            var e = Assert.Throws<TorchException>(() => y.sum().backward());
            Assert.Contains("boom in recompute", e.Message);
            Assert.Equal(2, calls);
            // the generator state was restored despite the failure: the process keeps working normally
            Assert.Equal(8.0, (x.detach() * 0 + 2).sum().item());
        }
        Settle();
        Assert.Equal(states0, Checkpoint.LiveStates);
    }

    [Fact]
    public void UnderAutocastTheRecomputationUsesTheSamePrecision()
    {
        using var scope = DisposeScope.Begin();
        using var lin = new Linear(4, 3);
        var x = RandF([5, 4], 11);
        Tensor[] Grads(bool checkpointed)
        {
            lin.zero_grad();
            Tensor y;
            using (torch.autocast(DeviceType.CPU, DType.BFloat16))
                y = checkpointed ? Checkpoint.Run(lin.forward, x) : lin.forward(x);
            Assert.Equal(DType.BFloat16, y.dtype);
            y.to(DType.Float32).sum().backward();
            return [lin.weight.grad!, lin.bias!.grad!];
        }
        var plain = Grads(false);
        var ckpt = Grads(true);
        Assert.True(torch.equal(plain[0], ckpt[0]));
        Assert.True(torch.equal(plain[1], ckpt[1]));
        Assert.False(torch.is_autocast_enabled(DeviceType.CPU));
    }

    [Fact]
    public void IsRunningIsTrueInBothPassesOfTheCheckpointedFunctionOnly()
    {
        using var scope = DisposeScope.Begin();
        var seen = new List<(bool Running, bool Grad)>();
        var x = RandF([3, 4], 1).requires_grad_();
        Assert.False(Checkpoint.IsRunning);
        var y = Checkpoint.Run(t =>
        {
            seen.Add((Checkpoint.IsRunning, torch.is_grad_enabled()));
            return (t * t).sum();
        }, x);
        Assert.False(Checkpoint.IsRunning);
        y.backward();
        Assert.False(Checkpoint.IsRunning);
        // the first pass without recording, the recomputation with it
        Assert.Equal([(true, false), (true, true)], seen);
        Approx.Equal(x.detach() * 2, x.grad!, 1e-6, 0, "d/dx");
    }
}
