namespace SamAdapt.Torch;

/// <summary>
/// Deterministic tensor lifetimes. While a scope is open on a thread, every tensor created on that thread is
/// registered with it and disposed when the scope is disposed — open one per training step or inference request.
/// Results that must outlive the scope are moved out with <see cref="Tensor.MoveToOuterScope"/> or
/// <see cref="Tensor.DetachFromScope"/>. Scopes nest; they are per thread.
/// </summary>
public sealed class DisposeScope : IDisposable
{
    [ThreadStatic] private static DisposeScope? _current;

    private readonly DisposeScope? _outer;
    private readonly List<Tensor?> _tensors = new();
    private bool _disposed;

    private DisposeScope()
    {
        _outer = _current;
        _current = this;
    }

    public static DisposeScope? Current => _current;

    /// <summary>Opens a new innermost scope on this thread.</summary>
    public static DisposeScope Begin() => new();

    public int Count => _tensors.Count(t => t != null);

    internal static void Register(Tensor t)
    {
        var s = _current;
        if (s == null) return;
        t.Scope = s;
        t.ScopeSlot = s._tensors.Count;
        s._tensors.Add(t);
    }

    internal void Unregister(Tensor t)
    {
        if (t.ScopeSlot < _tensors.Count && ReferenceEquals(_tensors[t.ScopeSlot], t)) _tensors[t.ScopeSlot] = null;
        t.Scope = null;
        // Tensors are mostly disposed in reverse order of creation: drop trailing empty slots so a long-lived scope
        // does not grow without bound (and does not become a large old-generation array the GC must scan).
        int n = _tensors.Count;
        while (n > 0 && _tensors[n - 1] == null) n--;
        if (n < _tensors.Count) _tensors.RemoveRange(n, _tensors.Count - n);
    }

    /// <summary>Moves a tensor to the enclosing scope (or to no scope if this is the outermost).</summary>
    internal void MoveToOuter(Tensor t)
    {
        Unregister(t);
        var o = _outer;
        if (o == null) return;
        t.Scope = o;
        t.ScopeSlot = o._tensors.Count;
        o._tensors.Add(t);
    }

    /// <summary>Disposes every tensor of this scope except the ones given.</summary>
    public void DisposeEverythingBut(params Tensor[] keep)
    {
        var k = new HashSet<Tensor>(keep, ReferenceEqualityComparer.Instance);
        for (int i = 0; i < _tensors.Count; i++)
        {
            var t = _tensors[i];
            if (t == null || k.Contains(t)) continue;
            _tensors[i] = null;
            t.Scope = null;
            t.Dispose();
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        // check before marking disposed: an out-of-order Dispose must leave this scope intact so that the later,
        // correctly ordered Dispose (e.g. from a using block) still frees its tensors and restores the outer scope
        if (!ReferenceEquals(_current, this))
            throw new InvalidOperationException("dispose scopes must be disposed in reverse order of creation, on the thread that created them");
        _disposed = true;
        _current = _outer;
        foreach (var t in _tensors)
        {
            if (t == null) continue;
            t.Scope = null;
            t.Dispose();
        }
        _tensors.Clear();
    }
}
