using System.Text;
using SamAdapt.Torch.Native;

namespace SamAdapt.Torch.Distributed;

/// <summary>
/// libtorch's c10d TCP key-value store: rank 0 hosts it (<c>isServer</c>), every rank connects to it. Used for the
/// process group's rendezvous and for the trainer's heartbeats. Thread-safe per instance is not assumed: give each
/// thread its own client.
/// </summary>
public sealed class TcpStore : IDisposable
{
    private IntPtr _h;

    /// <param name="host">The store's address (MASTER_ADDR).</param>
    /// <param name="port">Its TCP port (MASTER_PORT).</param>
    /// <param name="worldSize">Processes that will connect (≤ 0: unknown).</param>
    /// <param name="isServer">True in the one process that hosts the store.</param>
    /// <param name="timeout">Connect and wait timeout.</param>
    public TcpStore(string host, int port, int worldSize, bool isServer, TimeSpan timeout)
    {
        _h = TorchNative.CheckHandle(TorchNative.sa_store_create(host, port, worldSize, isServer ? 1 : 0, Ms(timeout)));
        Host = host;
        Port = port;
    }

    public string Host { get; }
    public int Port { get; }

    internal IntPtr Handle => _h != IntPtr.Zero ? _h : throw new ObjectDisposedException(nameof(TcpStore));

    public unsafe void Set(string key, ReadOnlySpan<byte> value)
    {
        fixed (byte* p = value) TorchNative.Check(TorchNative.sa_store_set(Handle, key, p, value.Length));
    }

    public void Set(string key, string value) => Set(key, Encoding.UTF8.GetBytes(value));

    /// <summary>The value of <paramref name="key"/>, waiting up to <paramref name="timeout"/> for it to be set.</summary>
    public unsafe byte[] Get(string key, TimeSpan timeout)
    {
        long n = TorchNative.sa_store_get(Handle, key, null, 0, Ms(timeout));
        if (n < 0) TorchNative.Check();
        var buf = new byte[n];
        fixed (byte* p = buf)
            if (TorchNative.sa_store_get(Handle, key, p, n, Ms(timeout)) < 0) TorchNative.Check();
        return buf;
    }

    public string GetString(string key, TimeSpan timeout) => Encoding.UTF8.GetString(Get(key, timeout));

    /// <summary>Adds <paramref name="delta"/> to the integer counter at <paramref name="key"/> and returns the new value.</summary>
    public long Add(string key, long delta)
    {
        long v = TorchNative.sa_store_add(Handle, key, delta);
        if (v == long.MinValue) TorchNative.Check();
        return v;
    }

    public bool Contains(string key) => TorchNative.Check(TorchNative.sa_store_check(Handle, key)) == 1;

    public void Dispose()
    {
        var h = Interlocked.Exchange(ref _h, IntPtr.Zero);
        if (h != IntPtr.Zero) TorchNative.sa_store_free(h);
    }

    internal static long Ms(TimeSpan t) =>
        t > TimeSpan.Zero ? (long)Math.Ceiling(t.TotalMilliseconds) : throw new ArgumentOutOfRangeException(nameof(t), "timeout must be positive");
}
