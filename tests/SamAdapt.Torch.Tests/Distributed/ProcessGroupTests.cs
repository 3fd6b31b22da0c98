using System.Net;
using System.Net.Sockets;
using SamAdapt.Torch.Distributed;

namespace SamAdapt.Torch.Tests.Distributed;

/// <summary>
/// c10d through the bridge: a TCP store and Gloo process groups of two ranks, each rank on its own thread of this
/// process (Gloo's rendezvous and collectives run over 127.0.0.1 as they would between processes).
/// </summary>
public class ProcessGroupTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    /// <summary>Runs body(rank, group) on two threads (ranks 0 and 1 of one group); rethrows the first failure.</summary>
    private static T[] TwoRanks<T>(Func<int, ProcessGroup, T> body, TimeSpan? timeout = null)
    {
        int port = FreePort();
        var results = new T[2];
        var errors = new Exception?[2];
        var threads = Enumerable.Range(0, 2).Select(rank => new Thread(() =>
        {
            try
            {
                using var store = new TcpStore("127.0.0.1", port, 2, rank == 0, Timeout);
                using var pg = new ProcessGroup(store, Backend.Gloo, rank, 2, timeout ?? Timeout, "127.0.0.1");
                results[rank] = body(rank, pg);
            }
            catch (Exception e) { errors[rank] = e; }
        })).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) Assert.True(t.Join(TimeSpan.FromSeconds(60)), "a rank did not finish");
        foreach (var e in errors) if (e != null) throw new Xunit.Sdk.XunitException($"rank failed: {e}");
        return results;
    }

    [Fact]
    public void Store_SetGetAndAdd_AreSharedBetweenClients()
    {
        int port = FreePort();
        using var server = new TcpStore("127.0.0.1", port, 2, true, Timeout);
        using var client = new TcpStore("127.0.0.1", port, 2, false, Timeout);
        server.Set("greeting", "hello");
        Assert.Equal("hello", client.GetString("greeting", Timeout));
        Assert.Equal(3, client.Add("counter", 3));
        Assert.Equal(5, server.Add("counter", 2));
        Assert.True(client.Contains("counter"));
        Assert.False(client.Contains("absent"));
    }

    [Fact]
    public void Store_GetOfAMissingKey_TimesOutWithAnError()
    {
        int port = FreePort();
        using var server = new TcpStore("127.0.0.1", port, 1, true, Timeout);
        var e = Assert.Throws<TorchException>(() => server.Get("never-set", TimeSpan.FromMilliseconds(300)));
        Assert.Contains("imeout", e.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Store_BadPort_IsRejectedWithItsValue()
    {
        var e = Assert.Throws<TorchException>(() => new TcpStore("127.0.0.1", 70000, 1, true, Timeout));
        Assert.Contains("70000", e.Message);
    }

    [Fact]
    public void Broadcast_CopiesRank0sValuesToEveryRank()
    {
        var got = TwoRanks((rank, pg) =>
        {
            using var a = torch.full([3, 2], rank == 0 ? 7.5 : -1.0);
            using var b = torch.tensor(rank == 0 ? new long[] { 1, 2, 3 } : [0, 0, 0]);
            pg.Broadcast([a, b]);
            return (a.ToArray<float>(), b.ToArray<long>());
        });
        foreach (var (a, b) in got)
        {
            Assert.All(a, v => Assert.Equal(7.5f, v));
            Assert.Equal(new long[] { 1, 2, 3 }, b);
        }
    }

    [Theory]
    [InlineData(8L)]           // a bucket per tensor (each is larger than the bucket)
    [InlineData(64L)]          // a few tensors per bucket
    [InlineData(1L << 20)]     // everything in one bucket
    public void AllReduce_AveragesEveryTensorWhateverTheBucketSize(long bucketBytes)
    {
        // rank r holds (r+1)·(base): the mean over the two ranks is 1.5·base, for every tensor, dtype and shape
        static float[] Base(int n, int seed) => Enumerable.Range(0, n).Select(i => (float)Math.Sin(seed * 31 + i)).ToArray();
        var shapes = new long[][] { [3, 4], [5], [2, 3, 2], [1] };
        var got = TwoRanks((rank, pg) =>
        {
            var ts = shapes.Select((s, i) => torch.tensor(Base((int)s.Aggregate(1L, (x, y) => x * y), i), s).mul(rank + 1)).ToList();
            using var d = torch.tensor(new double[] { 10 * (rank + 1), -4 });
            ts.Add(d);
            pg.AllReduce(ts, divisor: 2, bucketBytes: bucketBytes);
            var r = ts.Select(t => t.to(DType.Float64).ToArray<double>()).ToArray();
            foreach (var t in ts) t.Dispose();
            return r;
        });
        for (int rank = 0; rank < 2; rank++)
        {
            for (int i = 0; i < shapes.Length; i++)
            {
                var expect = Base(got[rank][i].Length, i);
                for (int k = 0; k < expect.Length; k++) Assert.Equal(1.5 * expect[k], got[rank][i][k], 5);
            }
            Assert.Equal(new[] { 15.0, -4.0 }, got[rank][shapes.Length]);
        }
    }

    [Fact]
    public void AllReduceSum_AndBarrier_WorkAcrossRanks()
    {
        var got = TwoRanks((rank, pg) =>
        {
            pg.Barrier();
            return pg.AllReduceSum([rank + 1.0, rank == 1 ? 1 : 0]);
        });
        Assert.All(got, s => Assert.Equal(new[] { 3.0, 1.0 }, s));
    }

    [Fact]
    public void ACollectiveWhosePeerNeverArrives_FailsWithinTheTimeout()
    {
        var got = TwoRanks((rank, pg) =>
        {
            if (rank == 1) return "";   // rank 1 skips the all-reduce
            using var t = torch.ones(4);
            var e = Assert.Throws<TorchException>(() => pg.AllReduce([t]));
            return e.Message;
        }, timeout: TimeSpan.FromSeconds(2));
        Assert.Contains("rank 0", got[0]);
        Assert.Contains("all-reduce", got[0]);
    }

    [Fact]
    public void NcclOnACpuBuild_IsRefusedWithAClearMessage()
    {
        if (torch.cuda.is_available()) return; // a CUDA build has NCCL: covered by tests/gpu/gpu-check.sh
        int port = FreePort();
        using var store = new TcpStore("127.0.0.1", port, 1, true, Timeout);
        var e = Assert.Throws<TorchException>(() => new ProcessGroup(store, Backend.Nccl, 0, 1, Timeout));
        Assert.Contains("NCCL", e.Message);
    }
}
