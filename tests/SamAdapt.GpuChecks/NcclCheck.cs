using System.Diagnostics;
using SamAdapt.Torch;
using SamAdapt.Torch.Distributed;

namespace SamAdapt.GpuChecks;

/// <summary>
/// `SamAdapt.GpuChecks nccl`, started once per GPU with RANK/WORLD_SIZE/LOCAL_RANK/MASTER_ADDR/MASTER_PORT (by
/// tests/gpu/gpu-check.sh when two GPUs exist): an NCCL process group over the bridge; broadcast and bucketed all-reduce
/// checked for exact values, and the all-reduce bandwidth of a 256 MiB gradient-like buffer. Exit 0 when correct.
/// </summary>
public static class NcclCheck
{
    public static int Run()
    {
        int Env(string k) => int.Parse(Environment.GetEnvironmentVariable(k) ?? throw new InvalidOperationException($"{k} is not set"));
        int rank = Env("RANK"), world = Env("WORLD_SIZE"), local = Env("LOCAL_RANK"), port = Env("MASTER_PORT");
        var addr = Environment.GetEnvironmentVariable("MASTER_ADDR") ?? "127.0.0.1";
        var dev = Device.CUDA(local);
        var timeout = TimeSpan.FromSeconds(120);
        using var store = new TcpStore(addr, port, world, rank == 0, timeout);
        using var pg = new ProcessGroup(store, Backend.Nccl, rank, world, timeout);
        using var scope = DisposeScope.Begin();
        var b = torch.full([1000], rank == 0 ? 3.0 : -1.0).to(dev);
        pg.Broadcast([b]);
        bool bOk = b.cpu().ToArray<float>().All(v => v == 3f);
        var ts = new[] { torch.full([1 << 20], rank + 1.0).to(dev), torch.full([333], 2.0 * (rank + 1)).to(dev) };
        pg.AllReduce(ts, divisor: world, bucketBytes: 1 << 20);
        double mean = Enumerable.Range(1, world).Average();
        bool rOk = ts[0].cpu().ToArray<float>().All(v => Math.Abs(v - mean) < 1e-5) && ts[1].cpu().ToArray<float>().All(v => Math.Abs(v - 2 * mean) < 1e-5);
        var big = torch.ones([64L << 20], DType.Float32, dev); // 256 MiB
        pg.AllReduce([big]);
        torch.cuda.synchronize(local);
        var sw = Stopwatch.StartNew();
        const int reps = 10;
        for (int i = 0; i < reps; i++) pg.AllReduce([big], divisor: world);
        torch.cuda.synchronize(local);
        double gbps = 256.0 / 1024 * reps / sw.Elapsed.TotalSeconds;
        Console.WriteLine($"nccl rank {rank}/{world}: broadcast {(bOk ? "ok" : "FAIL")}, bucketed all-reduce {(rOk ? "ok" : "FAIL")}, 256 MiB all-reduce {gbps:F1} GiB/s (algorithm bandwidth)");
        return bOk && rOk ? 0 : 1;
    }
}
