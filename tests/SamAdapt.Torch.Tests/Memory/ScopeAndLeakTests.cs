using System.Runtime.CompilerServices;
using SamAdapt.Torch.NN;

namespace SamAdapt.Torch.Tests.Memory;

/// <summary>
/// Lifetimes: dispose scopes, explicit Dispose, escape hatches, finalizers, and a long loop whose native memory must
/// stay flat. These read process-wide counters, so they run alone.
/// </summary>
[Collection(SerialCollection.Name)]
public class ScopeAndLeakTests
{
    private static long RssBytes() => long.Parse(File.ReadAllText("/proc/self/statm").Split(' ')[1]) * Environment.SystemPageSize;

    private static void Settle()
    {
        for (int i = 0; i < 3; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
    }

    [Fact]
    public void TenThousandScopedIterationsDoNotGrowNativeMemory()
    {
        using var w = torch.randn([16, 16], requiresGrad: true);
        using var bias = torch.zeros([16], requiresGrad: true);

        void Iteration(int i)
        {
            using var s = DisposeScope.Begin();
            var x = torch.rand(8, 16);
            var y = F.silu(F.linear(x, w, bias)) + x.sum(1, keepdim: true);      // autograd graph
            var (vals, idx) = y.max(1);                                         // two outputs
            var parts = y.split(4, 1);                                          // a list output
            var z = torch.cat([vals.unsqueeze(1), parts[1], idx.unsqueeze(1).to(DType.Float32)], 1);
            z.mul_(0.5).add_(1);                                                // in-place ops (discarded outputs)
            _ = torch.allclose(z, z);                                           // scalar output
            z.sum().backward();
            w.grad = null;
            bias.grad = null;
            if (i % 100 == 0)
            {
                // the error path must not leak either (sparingly: libtorch captures a C++ backtrace per error, ~ms)
                var e = Assert.Throws<TorchException>(() => x.matmul(x));
                Assert.Contains("cannot be multiplied", e.Message);
            }
        }

        // One intra-op thread while looping: this test is about memory, and on a busy 2-core machine every OpenMP
        // parallel region can wait milliseconds for its second thread (this collection runs alone, so nothing else
        // sees the change).
        var threads = torch.get_num_threads();
        torch.set_num_threads(1);
        long live0, native0, rss0, live1, native1, rss1;
        try
        {
            for (int i = 0; i < 1000; i++) Iteration(i);
            Settle();
            (live0, native0, rss0) = (Tensor.LiveCount, Tensor.NativeHandleCount, RssBytes());
            for (int i = 0; i < 10_000; i++) Iteration(i);
            Settle();
            (live1, native1, rss1) = (Tensor.LiveCount, Tensor.NativeHandleCount, RssBytes());
        }
        finally
        {
            torch.set_num_threads(threads);
        }

        Assert.Equal(live0, live1);
        Assert.Equal(native0, native1);
        Assert.True(rss1 - rss0 < 20L << 20, $"RSS grew by {(rss1 - rss0) / 1048576.0:F1} MB over 10,000 scoped iterations");
    }

    [Fact]
    public void TensorsOutsideScopesAreFreedByDispose()
    {
        Assert.Null(DisposeScope.Current);
        long live0 = Tensor.LiveCount, native0 = Tensor.NativeHandleCount;
        var t = torch.ones(3);
        Assert.Equal(live0 + 1, Tensor.LiveCount);
        Assert.Equal(native0 + 1, Tensor.NativeHandleCount);
        t.Dispose();
        Assert.True(t.IsDisposed);
        Assert.Equal(live0, Tensor.LiveCount);
        Assert.Equal(native0, Tensor.NativeHandleCount);
        t.Dispose(); // twice is safe and does not double-count
        Assert.Equal(live0, Tensor.LiveCount);
        Assert.Equal(native0, Tensor.NativeHandleCount);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Abandon(int n)
    {
        for (int i = 0; i < n; i++) _ = torch.zeros(4) + 1;
    }

    [Fact]
    public void FinalizerReleasesAbandonedTensors()
    {
        Settle();
        long live0 = Tensor.LiveCount, native0 = Tensor.NativeHandleCount;
        Abandon(200);
        Settle();
        Assert.Equal(live0, Tensor.LiveCount);
        Assert.Equal(native0, Tensor.NativeHandleCount);
    }

    [Fact]
    public void ScopeDisposesEverythingCreatedInIt()
    {
        long native0 = Tensor.NativeHandleCount;
        Tensor a, b;
        using (var s = DisposeScope.Begin())
        {
            a = torch.ones(2);
            b = a * 3;
            var c = b.sum();
            Assert.Equal(3, s.Count);
            c.Dispose(); // explicit dispose inside a scope unregisters it
            Assert.Equal(2, s.Count);
        }
        Assert.True(a.IsDisposed);
        Assert.True(b.IsDisposed);
        Assert.Equal(native0, Tensor.NativeHandleCount);
    }

    [Fact]
    public void MoveToOuterScopeAndDetachFromScope()
    {
        Tensor moved, detached, local;
        using (var outer = DisposeScope.Begin())
        {
            using (DisposeScope.Begin())
            {
                moved = torch.ones(2).MoveToOuterScope();
                detached = torch.ones(2).DetachFromScope();
                local = torch.ones(2);
            }
            Assert.True(local.IsDisposed);
            Assert.False(moved.IsDisposed);
            Assert.False(detached.IsDisposed);
            Assert.Equal(1, outer.Count);
            Assert.Equal(new float[] { 1, 1 }, moved.ToArray<float>());
        }
        Assert.True(moved.IsDisposed);
        Assert.False(detached.IsDisposed);
        Assert.Equal(new float[] { 1, 1 }, detached.ToArray<float>());
        detached.Dispose();
        Assert.True(detached.IsDisposed);

        // moving out of the outermost scope leaves the tensor owned by the caller
        Tensor free;
        using (DisposeScope.Begin()) free = torch.zeros(1).MoveToOuterScope();
        Assert.False(free.IsDisposed);
        free.Dispose();
    }

    [Fact]
    public void DisposeEverythingButKeepsTheGivenTensors()
    {
        using var s = DisposeScope.Begin();
        var keep = torch.ones(2);
        var drop = torch.zeros(2);
        s.DisposeEverythingBut(keep);
        Assert.False(keep.IsDisposed);
        Assert.True(drop.IsDisposed);
        Assert.Equal(1, s.Count);
    }

    [Fact]
    public void UsingADisposedTensorThrowsAHelpfulObjectDisposedException()
    {
        Tensor t;
        using (DisposeScope.Begin())
        {
            t = torch.ones(2, 2);
            Assert.Equal(DType.Float32, t.dtype); // cached while alive ...
            Assert.Equal(2, t.dim());
        }
        Assert.Throws<ObjectDisposedException>(() => t.shape); // ... but not served after disposal
        Assert.Throws<ObjectDisposedException>(() => t.dtype);
        Assert.Throws<ObjectDisposedException>(() => t.numel());
        var e = Assert.Throws<ObjectDisposedException>(() => t.sum());
        Assert.Contains("disposed", e.Message);
        Assert.Contains("MoveToOuterScope", e.Message);
        Assert.Throws<ObjectDisposedException>(() => t.ToArray<float>());
        Assert.Throws<ObjectDisposedException>(() => t.item());
        Assert.Throws<ObjectDisposedException>(() => t.grad);
        Assert.Throws<ObjectDisposedException>(() => t.requires_grad);
        Assert.Equal("Tensor(disposed)", t.ToString());
        using var ok = torch.ones(2, 2);
        Assert.Throws<ObjectDisposedException>(() => ok + t);
        Assert.Throws<ObjectDisposedException>(() => torch.cat([ok, t]));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference FailWithADisposedArgument()
    {
        var live = torch.zeros(2);
        var dead = torch.zeros(2);
        dead.Dispose();
        Assert.Throws<ObjectDisposedException>(() => live.add(dead));
        Assert.Throws<ObjectDisposedException>(() => torch.stack([live, dead]));
        return new WeakReference(live);
    }

    [Fact]
    public void AFailedArgumentListDoesNotPinTheOtherTensors()
    {
        // the operator call's keep-alive list must not hold on to tensors after an argument turned out to be disposed
        var weak = FailWithADisposedArgument();
        Settle();
        Assert.False(weak.IsAlive, "a tensor passed next to a disposed one stayed reachable (keep-alive slot leaked)");
    }

    [Fact]
    public void ScopeDisposedOutOfOrderThrowsAndLeavesTheScopesUsable()
    {
        var before = DisposeScope.Current;
        var outer = DisposeScope.Begin();
        var a = torch.ones(1);
        var inner = DisposeScope.Begin();
        var b = torch.ones(1);
        Assert.Throws<InvalidOperationException>(() => outer.Dispose());
        Assert.Same(inner, DisposeScope.Current);
        Assert.False(a.IsDisposed);
        inner.Dispose();
        Assert.True(b.IsDisposed);
        Assert.Same(outer, DisposeScope.Current);
        outer.Dispose(); // the proper order still works and frees the outer scope's tensors
        Assert.True(a.IsDisposed);
        Assert.Same(before, DisposeScope.Current);
    }

    [Fact]
    public void ScopesArePerThread()
    {
        using var s = DisposeScope.Begin();
        Tensor? other = null;
        var th = new Thread(() => other = torch.ones(1));
        th.Start();
        th.Join();
        Assert.Equal(0, s.Count);
        Assert.Null(other!.Scope);
        other.Dispose();
    }
}
