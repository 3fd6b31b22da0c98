using SamAdapt.Torch.Native;

namespace SamAdapt.Torch.Distributed;

/// <summary>Collective backend: Gloo (CPU tensors, every build) or NCCL (CUDA tensors, CUDA builds).</summary>
public enum Backend { Gloo = 0, Nccl = 1 }

/// <summary>
/// A c10d process group (libtorch's ProcessGroupGloo / ProcessGroupNCCL) over a <see cref="TcpStore"/>. Collectives
/// work in place on the tensors' data (autograd is bypassed) and wait at most <see cref="Timeout"/>; a peer that died
/// or did not arrive in time raises <see cref="TorchException"/> (the message names the operation and this rank).
/// </summary>
public sealed class ProcessGroup : IDisposable
{
    /// <summary>Bucket size of <see cref="AllReduce"/> by default (PyTorch DDP's 25 MiB).</summary>
    public const long DefaultBucketBytes = 25L << 20;

    private IntPtr _h;

    /// <param name="device">Gloo only: null for the default interface, "if:NAME" for a network interface, or the
    /// address/host name to bind (e.g. "127.0.0.1" on one machine).</param>
    public ProcessGroup(TcpStore store, Backend backend, int rank, int worldSize, TimeSpan timeout, string? device = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        _h = TorchNative.CheckHandle(TorchNative.sa_pg_create(store.Handle, (int)backend, rank, worldSize, TcpStore.Ms(timeout), device));
        Backend = backend;
        Rank = rank;
        WorldSize = worldSize;
        Timeout = timeout;
    }

    public Backend Backend { get; }
    public int Rank { get; }
    public int WorldSize { get; }
    public TimeSpan Timeout { get; }

    private IntPtr Handle => _h != IntPtr.Zero ? _h : throw new ObjectDisposedException(nameof(ProcessGroup));

    /// <summary>Copies <paramref name="root"/>'s values of the (contiguous) tensors into every rank's tensors.</summary>
    public unsafe void Broadcast(IReadOnlyList<Tensor> tensors, int root = 0)
    {
        var hs = Handles(tensors);
        fixed (IntPtr* p = hs) TorchNative.Check(TorchNative.sa_pg_broadcast(Handle, p, hs.Length, root));
        GC.KeepAlive(tensors);
    }

    /// <summary>
    /// Sums the tensors over all ranks in place, then divides by <paramref name="divisor"/> (use <see cref="WorldSize"/>
    /// for a mean). The tensors travel packed in flat buckets of at most <paramref name="bucketBytes"/>.
    /// </summary>
    public unsafe void AllReduce(IReadOnlyList<Tensor> tensors, double divisor = 1, long bucketBytes = DefaultBucketBytes)
    {
        var hs = Handles(tensors);
        fixed (IntPtr* p = hs) TorchNative.Check(TorchNative.sa_pg_allreduce(Handle, p, hs.Length, divisor, bucketBytes));
        GC.KeepAlive(tensors);
    }

    /// <summary>Sums a few doubles over all ranks (e.g. the loss and stop votes of a step); NCCL needs <paramref name="device"/> to be its CUDA device.</summary>
    public double[] AllReduceSum(ReadOnlySpan<double> values, Device? device = null)
    {
        using var host = torch.tensor(values.ToArray());
        using var t = device is { } d && d.IsCuda ? host.to(d) : null;
        AllReduce([t ?? host]);
        return (t ?? host).ToArray<double>();
    }

    public void Barrier() => TorchNative.Check(TorchNative.sa_pg_barrier(Handle));

    public void Dispose()
    {
        var h = Interlocked.Exchange(ref _h, IntPtr.Zero);
        if (h != IntPtr.Zero) TorchNative.sa_pg_free(h);
    }

    private static IntPtr[] Handles(IReadOnlyList<Tensor> tensors)
    {
        var hs = new IntPtr[tensors.Count];
        for (int i = 0; i < hs.Length; i++) hs[i] = tensors[i].Handle;
        return hs;
    }
}
