namespace SamAdapt.Server.Models;

/// <summary>
/// Serialises the calls on one model instance (docs/serve.md, "Concurrency"): requests wait their turn asynchronously,
/// and the model work runs on a pool thread, so a slow request never holds a Kestrel thread and page loads, static files
/// and other models stay responsive. At most <see cref="MaxQueued"/> requests wait; beyond that the caller gets
/// <see cref="ServerBusyException"/> (HTTP 503).
/// </summary>
public sealed class ModelGate(string name, int maxQueued = 64)
{
    private readonly SemaphoreSlim _lock = new(1, 1);
    private int _waiting;

    public int MaxQueued { get; } = maxQueued;

    public async Task<T> RunAsync<T>(Func<T> work, CancellationToken cancel = default)
    {
        if (Interlocked.Increment(ref _waiting) > MaxQueued)
        {
            Interlocked.Decrement(ref _waiting);
            throw new ServerBusyException($"model {name} has {MaxQueued} requests waiting; try again shortly");
        }
        try
        {
            await _lock.WaitAsync(cancel).ConfigureAwait(false);
        }
        catch
        {
            Interlocked.Decrement(ref _waiting);
            throw;
        }
        try
        {
            return await Task.Run(work, CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _waiting);
            _lock.Release();
        }
    }
}

/// <summary>Too many requests queued on one model (HTTP 503).</summary>
public sealed class ServerBusyException(string message) : Exception(message);
