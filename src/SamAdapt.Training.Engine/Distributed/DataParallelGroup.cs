using System.Globalization;
using SamAdapt.Torch;
using SamAdapt.Torch.Distributed;

namespace SamAdapt.Training.Engine.Distributed;

/// <summary>
/// <see cref="IDataParallel"/> over libtorch's c10d: rank 0 hosts a <see cref="TcpStore"/> at MASTER_ADDR:MASTER_PORT,
/// every rank joins a process group (Gloo for CPU training, NCCL for CUDA), gradients are averaged with a bucketed
/// all-reduce. Failure handling: every collective waits at most <see cref="Timeout"/>; each rank bumps a heartbeat
/// counter in the store from a background thread and records the step it reached, so when a collective fails (a
/// peer's connection closed, or the timeout passed) the error names the rank(s) that stopped beating or fell behind.
/// </summary>
public sealed class DataParallelGroup : IDataParallel, IDisposable
{
    /// <summary>How often each rank's heartbeat counter is bumped.</summary>
    public static readonly TimeSpan HeartbeatInterval = TimeSpan.FromMilliseconds(500);

    private readonly TcpStore _store;
    private readonly TcpStore _beatStore;
    private readonly ProcessGroup _pg;
    private readonly Thread _beat;
    private readonly CancellationTokenSource _stopBeat = new();
    private readonly Device _device;
    private readonly long _bucketBytes;
    private long _step = -1;
    private int _reduceCalls;
    private double _reduceSeconds;
    private long _reduceBytes;

    /// <param name="settings">This rank, the world, the store's address.</param>
    /// <param name="device">The training device: CUDA selects NCCL, the CPU Gloo.</param>
    /// <param name="timeout">Longest wait of any collective (and of the rendezvous): a rank that does not arrive
    /// within it is reported as hung. It must exceed rank 0's validation and checkpoint time, during which the other
    /// ranks wait.</param>
    /// <param name="bucketBytes">All-reduce bucket size.</param>
    public DataParallelGroup(DistributedSettings settings, Device device, TimeSpan timeout, long bucketBytes = ProcessGroup.DefaultBucketBytes)
    {
        Settings = settings ?? throw new ArgumentNullException(nameof(settings));
        _device = device;
        Timeout = timeout;
        _bucketBytes = bucketBytes;
        try
        {
            _store = new TcpStore(settings.MasterAddr, settings.MasterPort, settings.WorldSize, settings.Rank == 0, timeout);
            _beatStore = new TcpStore(settings.MasterAddr, settings.MasterPort, settings.WorldSize, false, timeout);
            var backend = device.IsCuda ? Backend.Nccl : Backend.Gloo;
            _pg = new ProcessGroup(_store, backend, settings.Rank, settings.WorldSize, timeout, backend == Backend.Gloo ? GlooDevice(settings) : null);
        }
        catch (TorchException e)
        {
            Dispose();
            throw new DistributedTrainingException(
                $"rank {settings.Rank}: could not join the {settings.WorldSize}-process group at {settings.MasterAddr}:{settings.MasterPort} " +
                $"within {timeout.TotalSeconds:0.#} s ({e.Message}). Check that every rank was started with the same MASTER_ADDR/MASTER_PORT/WORLD_SIZE and that the port is reachable.",
                [], e);
        }
        _beat = new Thread(Beat) { IsBackground = true, Name = $"samadapt-heartbeat-{settings.Rank}" };
        _beat.Start();
    }

    /// <summary>
    /// Joins the job the environment describes (<see cref="DistributedSettings.FromEnvironment"/>), or returns null for
    /// a single process. A CUDA device becomes this node's <c>cuda:LOCAL_RANK</c> (one GPU per process) in the
    /// returned options.
    /// </summary>
    public static DataParallelGroup? JoinFromEnvironment(ref TrainerOptions options, TimeSpan timeout)
    {
        var settings = DistributedSettings.FromEnvironment();
        if (settings is null) return null;
        var device = Device.Parse(options.Device);
        if (device.IsCuda)
        {
            device = Device.Parse($"cuda:{settings.LocalRank}");
            options = options with { Device = $"cuda:{settings.LocalRank}" };
        }
        return new DataParallelGroup(settings, device, timeout);
    }

    public DistributedSettings Settings { get; }
    public int Rank => Settings.Rank;
    public int WorldSize => Settings.WorldSize;
    public bool IsWriter => Rank == 0;
    public TimeSpan Timeout { get; }

    /// <summary>Gloo's network device: $GLOO_SOCKET_IFNAME, else loopback for a loopback store, else the host name's address.</summary>
    private static string? GlooDevice(DistributedSettings s)
    {
        var ifname = Environment.GetEnvironmentVariable("GLOO_SOCKET_IFNAME");
        if (!string.IsNullOrWhiteSpace(ifname)) return "if:" + ifname.Split(',')[0].Trim();
        return s.MasterAddr is "127.0.0.1" or "localhost" or "::1" ? "127.0.0.1" : null;
    }

    private string BeatKey(int rank) => $"samadapt/heartbeat/{rank}";
    private string StepKey(int rank) => $"samadapt/step/{rank}";

    private void Beat()
    {
        try
        {
            while (!_stopBeat.Token.WaitHandle.WaitOne(HeartbeatInterval))
                _beatStore.Add(BeatKey(Rank), 1);
        }
        catch (TorchException)
        {
            // the store is gone (rank 0 ended or died): the main thread finds out at its next collective
        }
    }

    public void BroadcastFromWriter(IReadOnlyList<Tensor> tensors) => Guard("broadcast of the weights", () => _pg.Broadcast(tensors, 0));

    public StepAgreement Agree(long step, double loss, bool stop)
    {
        _step = step;
        double[] sum = Guard($"step {step}", () =>
        {
            _store.Set(StepKey(Rank), step.ToString(CultureInfo.InvariantCulture));
            return _pg.AllReduceSum([loss, stop ? 1 : 0], _device);
        });
        return new StepAgreement(sum[0] / WorldSize, sum[1] > 0);
    }

    public double FromWriter(double value) =>
        Guard("agreeing on the planned length", () => _pg.AllReduceSum([IsWriter ? value : 0], _device))[0];

    public void AverageGradients(IReadOnlyList<Tensor> parameters)
    {
        using var scope = DisposeScope.Begin();
        var grads = new List<Tensor>(parameters.Count);
        foreach (var p in parameters)
        {
            var g = p.grad;
            if (g is null)
            {
                // a parameter this rank's shard did not reach: zeros, so every rank sends the same buckets
                g = torch.zeros_like(p);
                p.grad = g;
            }
            grads.Add(g);
        }
        long t0 = System.Diagnostics.Stopwatch.GetTimestamp();
        Guard($"gradient all-reduce at step {_step}", () => _pg.AllReduce(grads, WorldSize, _bucketBytes));
        _reduceSeconds += System.Diagnostics.Stopwatch.GetElapsedTime(t0).TotalSeconds;
        _reduceCalls++;
        _reduceBytes = grads.Sum(g => g.numel() * (g.dtype is DType.Float64 or DType.Int64 ? 8L : g.dtype is DType.Float16 or DType.BFloat16 ? 2L : 4L));
    }

    /// <summary>The gradient all-reduce so far: calls, mean wall time per call, bytes per call (for logs and benchmarks).</summary>
    public (int Calls, double MeanSeconds, long Bytes) AllReduceStats => (_reduceCalls, _reduceCalls == 0 ? 0 : _reduceSeconds / _reduceCalls, _reduceBytes);

    private void Guard(string what, Action a) => Guard(what, () => { a(); return 0; });

    private T Guard<T>(string what, Func<T> f)
    {
        try { return f(); }
        catch (TorchException e) { throw Diagnose(what, e); }
    }

    /// <summary>Works out which ranks are gone or behind: heartbeats that stopped, steps that lag this rank's.</summary>
    private DistributedTrainingException Diagnose(string what, TorchException cause)
    {
        var suspects = new List<string>();
        var ranks = new List<int>();
        try
        {
            var others = Enumerable.Range(0, WorldSize).Where(r => r != Rank).ToList();
            var before = others.ToDictionary(r => r, r => _store.Add(BeatKey(r), 0));
            Thread.Sleep(HeartbeatInterval * 4);
            foreach (var r in others)
            {
                long after = _store.Add(BeatKey(r), 0);
                if (after == before[r]) { suspects.Add($"rank {r} stopped responding (no heartbeat for {(HeartbeatInterval * 4).TotalSeconds:0.#} s: it died or hangs)"); ranks.Add(r); continue; }
                if (_store.Contains(StepKey(r)) && long.TryParse(_store.GetString(StepKey(r), TimeSpan.FromSeconds(5)), NumberStyles.Integer, CultureInfo.InvariantCulture, out var s) && s < _step)
                {
                    suspects.Add($"rank {r} is alive but still at step {s} (this rank is at step {_step}): it is stuck or much slower");
                    ranks.Add(r);
                }
            }
        }
        catch (TorchException)
        {
            suspects.Add($"rank 0, which hosts the TCP store at {Settings.MasterAddr}:{Settings.MasterPort}, cannot be reached: it died or hangs");
            ranks.Add(0);
        }
        var who = suspects.Count > 0 ? string.Join("; ", suspects) : "no rank could be singled out (every heartbeat is alive)";
        return new DistributedTrainingException(
            $"rank {Rank}: the {WorldSize}-process run stopped during the {what}: {who}. Cause: {cause.Message}. " +
            "Nothing half-written is left: continue from the last checkpoint with --resume.", ranks, cause);
    }

    public void Dispose()
    {
        _stopBeat.Cancel();
        if (_beat is { IsAlive: true }) _beat.Join(TimeSpan.FromSeconds(5));
        _pg?.Dispose();
        _beatStore?.Dispose();
        _store?.Dispose();
        _stopBeat.Dispose();
    }
}
