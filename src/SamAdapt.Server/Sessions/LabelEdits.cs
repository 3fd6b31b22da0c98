namespace SamAdapt.Server.Sessions;

/// <summary>
/// The edited label map of a session (one byte per voxel, the input's grid) with undo: every change records the voxels it
/// changed and their old values. At most <see cref="MaxUndo"/> steps are kept.
/// </summary>
public sealed class LabelEdits(long voxels)
{
    public const int MaxUndo = 50;
    private readonly LinkedList<(long[] Index, byte[] Old)> _undo = new();

    public byte[] Labels { get; } = new byte[voxels];
    public int UndoDepth => _undo.Count;

    /// <summary>Sets <paramref name="value"/> at every listed voxel; one undo step. Returns how many voxels changed.</summary>
    public int Apply(IEnumerable<long> voxels, byte value)
    {
        var idx = new List<long>();
        var old = new List<byte>();
        foreach (var v in voxels)
        {
            if (Labels[v] == value) continue;
            idx.Add(v);
            old.Add(Labels[v]);
            Labels[v] = value;
        }
        if (idx.Count > 0) Push(idx.ToArray(), old.ToArray());
        return idx.Count;
    }

    /// <summary>Replaces the whole map (automatic prediction); one undo step.</summary>
    public int ReplaceAll(byte[] values)
    {
        if (values.Length != Labels.Length) throw new ArgumentException($"label map of {values.Length} voxels, expected {Labels.Length}");
        var idx = new List<long>();
        var old = new List<byte>();
        for (long i = 0; i < values.Length; i++)
            if (Labels[i] != values[i])
            {
                idx.Add(i);
                old.Add(Labels[i]);
                Labels[i] = values[i];
            }
        if (idx.Count > 0) Push(idx.ToArray(), old.ToArray());
        return idx.Count;
    }

    /// <summary>Reverts the last change; false when there is none.</summary>
    public bool Undo()
    {
        if (_undo.Last is not { } last) return false;
        _undo.RemoveLast();
        var (idx, old) = last.Value;
        for (int n = 0; n < idx.Length; n++) Labels[idx[n]] = old[n];
        return true;
    }

    private void Push(long[] idx, byte[] old)
    {
        _undo.AddLast((idx, old));
        while (_undo.Count > MaxUndo) _undo.RemoveFirst();
    }
}
