using System.Collections;

namespace SamAdapt.Torch.Serialization;

/// <summary>
/// A Python <c>dict</c> or <c>collections.OrderedDict</c> read from (or to be written to) a pickle. Keys keep their
/// insertion order; they are usually strings, but may be any pickled value (long, tuple, ...).
/// </summary>
public sealed class PickleDict : OrderedDictionary<object, object?>
{
    /// <summary>An empty dict; <paramref name="isOrderedDict"/> selects <c>collections.OrderedDict</c> when written.</summary>
    public PickleDict(bool isOrderedDict = false) => IsOrderedDict = isOrderedDict;

    /// <summary>True if it was pickled as (or should be written as) <c>collections.OrderedDict</c>.</summary>
    public bool IsOrderedDict { get; set; }

    /// <summary>
    /// Instance attributes set by a pickle BUILD (<c>__dict__</c>); for a module <c>state_dict()</c> this holds
    /// <c>_metadata</c> (per-module versions). Null when there were none. Not written by <see cref="PthWriter"/>.
    /// </summary>
    public PickleDict? Attributes { get; set; }

    /// <summary>The value for a string key, or null if absent.</summary>
    public object? GetValueOrDefault(string key) => TryGetValue(key, out var v) ? v : null;
}

/// <summary>An immutable Python <c>tuple</c>, with value equality (so it can be a dict key).</summary>
public sealed class PickleTuple : IReadOnlyList<object?>, IEquatable<PickleTuple>
{
    private readonly object?[] _items;

    /// <summary>A tuple of the given items (the array is copied).</summary>
    public PickleTuple(params object?[] items) => _items = (object?[])items.Clone();

    private PickleTuple(object?[] items, bool _) => _items = items;

    internal static PickleTuple Wrap(object?[] items) => new(items, false);

    /// <summary>The empty tuple.</summary>
    public static PickleTuple Empty { get; } = new(Array.Empty<object?>(), false);

    /// <inheritdoc/>
    public object? this[int index] => _items[index];

    /// <inheritdoc/>
    public int Count => _items.Length;

    /// <inheritdoc/>
    public IEnumerator<object?> GetEnumerator() => ((IEnumerable<object?>)_items).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => _items.GetEnumerator();

    /// <inheritdoc/>
    public bool Equals(PickleTuple? other)
    {
        if (other is null || other.Count != Count) return false;
        for (int i = 0; i < _items.Length; i++)
            if (!Equals(_items[i], other._items[i])) return false;
        return true;
    }

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as PickleTuple);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (var x in _items) h.Add(x);
        return h.ToHashCode();
    }

    /// <inheritdoc/>
    public override string ToString() => "(" + string.Join(", ", _items.Select(x => x?.ToString() ?? "None")) + (Count == 1 ? ",)" : ")");
}

/// <summary>A reference to a Python global (<c>module.name</c>) that the loader does not interpret.</summary>
/// <param name="Module">The module, e.g. <c>numpy.core.multiarray</c>.</param>
/// <param name="Name">The qualified name inside the module.</param>
public sealed record PickleGlobal(string Module, string Name)
{
    /// <inheritdoc/>
    public override string ToString() => Module + "." + Name;
}

/// <summary>
/// An object of a class the loader does not interpret (only produced when unknown globals are allowed): the class,
/// the constructor arguments and the state passed to BUILD. Nothing is executed.
/// </summary>
public sealed class PickleObject
{
    internal PickleObject(PickleGlobal type, PickleTuple args) { Type = type; Args = args; }

    /// <summary>The class or function that would have been called.</summary>
    public PickleGlobal Type { get; }

    /// <summary>The arguments it would have been called with.</summary>
    public PickleTuple Args { get; }

    /// <summary>The state given to BUILD (<c>__setstate__</c>), if any.</summary>
    public object? State { get; internal set; }

    /// <inheritdoc/>
    public override string ToString() => $"{Type}{Args}";
}
