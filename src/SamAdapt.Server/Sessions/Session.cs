using SamAdapt.Server.Models;

namespace SamAdapt.Server.Sessions;

/// <summary>Progress of a session's automatic prediction (what the page's progress bar shows).</summary>
public sealed record AutoJobState(string State, int Done, int Total, string? Model, string? Error)
{
    public static AutoJobState Idle { get; } = new("idle", 0, 0, null, null);
}

/// <summary>
/// One browser session's state (docs/serve.md, "Sessions"): the open volume, the edited labels with undo, the pending mask
/// of the current prompt (per slice), the slice embeddings of the interactive model, the automatic job's progress and the
/// folder of its uploads. Other sessions never see it. State changes hold <see cref="Sync"/>; embeddings are created,
/// used and disposed only inside the interactive model's gate.
/// </summary>
public sealed class Session(string id, string tempRoot) : IDisposable
{
    public const int MaxCachedEmbeddings = 32;

    public string Id { get; } = id;
    public Lock Sync { get; } = new();
    public DateTime LastUsed { get; set; } = DateTime.UtcNow;
    /// <summary>Incremented on every open: work started for an older volume does not write into a newer one.</summary>
    public int Generation { get; private set; }
    public OpenVolume? Volume { get; private set; }
    public LabelEdits? Edits { get; private set; }
    /// <summary>Slice k → its pending mask (row-major, H·W).</summary>
    public Dictionary<int, bool[]> Pending { get; } = [];
    public AutoJobState Auto { get; set; } = AutoJobState.Idle;
    /// <summary>This session's upload folder (removed with the session).</summary>
    public string UploadDir { get; } = Path.Combine(tempRoot, id);

    private readonly Dictionary<int, ISliceEmbedding> _embeddings = [];
    private readonly LinkedList<int> _embeddingOrder = new();
    private int _embeddingGeneration;

    public void Open(OpenVolume volume)
    {
        lock (Sync)
        {
            Generation++;
            Volume = volume;
            Edits = new LabelEdits((long)volume.PlaneSize * volume.SliceCount);
            Pending.Clear();
            Auto = AutoJobState.Idle;
        }
    }

    public (OpenVolume Volume, LabelEdits Edits, int Generation) Require()
    {
        lock (Sync)
        {
            if (Volume is null || Edits is null) throw new Security.ApiError(409, "no volume is open in this session: upload one or open one from the data root first");
            return (Volume, Edits, Generation);
        }
    }

    /// <summary>The cached embedding of slice <paramref name="k"/> of the current generation, or null. Call inside the model gate.</summary>
    public ISliceEmbedding? CachedEmbedding(int k, int generation)
    {
        int current = Generation;
        if (_embeddingGeneration != current)
        {
            DropEmbeddings(); // embeddings of an earlier volume
            _embeddingGeneration = current;
        }
        if (generation != current || !_embeddings.TryGetValue(k, out var e)) return null;
        _embeddingOrder.Remove(k);
        _embeddingOrder.AddLast(k);
        return e;
    }

    public bool HasEmbedding(int k) => _embeddings.ContainsKey(k);

    /// <summary>Caches an embedding of the volume of <paramref name="generation"/> (the least recently used beyond
    /// <see cref="MaxCachedEmbeddings"/> is disposed); one of a volume no longer open is disposed at once. Inside the model gate.</summary>
    public void CacheEmbedding(int k, ISliceEmbedding e, int generation)
    {
        if (generation != Generation || generation != _embeddingGeneration)
        {
            e.Dispose();
            return;
        }
        if (_embeddings.Remove(k, out var old)) { old.Dispose(); _embeddingOrder.Remove(k); }
        _embeddings[k] = e;
        _embeddingOrder.AddLast(k);
        while (_embeddings.Count > MaxCachedEmbeddings && _embeddingOrder.First is { } first)
        {
            _embeddingOrder.RemoveFirst();
            if (_embeddings.Remove(first.Value, out var ev)) ev.Dispose();
        }
    }

    /// <summary>Disposes every cached embedding. Inside the model gate.</summary>
    public void DropEmbeddings()
    {
        foreach (var e in _embeddings.Values) e.Dispose();
        _embeddings.Clear();
        _embeddingOrder.Clear();
    }

    public void Dispose()
    {
        try { if (Directory.Exists(UploadDir)) Directory.Delete(UploadDir, true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
