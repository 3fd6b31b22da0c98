namespace SamAdapt.Torch.Serialization;

/// <summary>
/// Reads PyTorch <c>torch.save</c> files (the zip format of torch ≥ 1.6) without Python or libtorch. The pickle is
/// interpreted, never executed: only tensors, storages, <c>OrderedDict</c> and plain Python values are understood.
/// </summary>
public static class PthReader
{
    /// <summary>Wrapper keys under which training checkpoints keep the model's state dict, in lookup order.</summary>
    public static IReadOnlyList<string> StateDictKeys { get; } = ["state_dict", "model", "model_state_dict"];

    /// <summary>
    /// Loads the whole pickled object graph: <see cref="PickleDict"/>, <see cref="List{T}"/> of object,
    /// <see cref="PickleTuple"/>, string, long (<see cref="System.Numerics.BigInteger"/> if larger), double, bool, byte[],
    /// null, and <see cref="HostTensor"/> leaves (each materialised contiguous, with <see cref="HostTensor.Storage"/> set).
    /// </summary>
    /// <param name="path">The .pth file.</param>
    /// <param name="allowUnknownGlobals">
    /// If true, objects of other classes become inert <see cref="PickleObject"/>s instead of failing the load.
    /// </param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a valid torch.save archive (corrupt zip, truncated pickle, bad storage).</exception>
    /// <exception cref="NotSupportedException">Legacy format, an unsupported global, or an unsupported storage type.</exception>
    public static object? Load(string path, bool allowUnknownGlobals = false)
    {
        using var archive = PthArchive.Open(path);
        return new TorchUnpickler(archive, allowUnknownGlobals).Load();
    }

    /// <summary>
    /// Loads the model state dict from a .pth file: the top-level dict if all its values are tensors, else the entry
    /// named <paramref name="key"/> or (if null) the first of <see cref="StateDictKeys"/> present. A <c>module.</c>
    /// prefix shared by all keys (DistributedDataParallel) is removed.
    /// </summary>
    /// <param name="path">The .pth file.</param>
    /// <param name="key">The wrapper entry holding the state dict, or null to find it.</param>
    /// <param name="allowUnknownGlobals">See <see cref="Load"/>: lets training checkpoints with other objects load.</param>
    public static Dictionary<string, HostTensor> LoadStateDict(string path, string? key = null, bool allowUnknownGlobals = false) =>
        FindStateDict(Load(path, allowUnknownGlobals), path, key);

    /// <summary>Finds the state dict inside a loaded object graph (see <see cref="LoadStateDict"/>).</summary>
    /// <param name="root">What <see cref="Load"/> returned.</param>
    /// <param name="source">The file name, for messages.</param>
    /// <param name="key">The wrapper entry holding the state dict, or null to find it.</param>
    public static Dictionary<string, HostTensor> FindStateDict(object? root, string source, string? key = null)
    {
        if (root is not PickleDict top)
            throw new InvalidDataException($"'{source}' holds a {PickleReader.TypeName(root)}, not a dict; expected a state dict");
        PickleDict sd;
        if (key != null)
        {
            if (!top.TryGetValue(key, out var v)) throw new KeyNotFoundException($"'{source}' has no entry '{key}'; it has: {Keys(top)}");
            sd = v as PickleDict ?? throw new InvalidDataException($"entry '{key}' of '{source}' is a {PickleReader.TypeName(v)}, not a dict");
        }
        else if (top.Values.All(v => v is HostTensor))
        {
            sd = top;
        }
        else
        {
            var k = StateDictKeys.FirstOrDefault(c => top.TryGetValue(c, out var v) && v is PickleDict)
                ?? throw new InvalidDataException(
                    $"'{source}' is not a state dict (not all values are tensors) and has none of the entries {string.Join(", ", StateDictKeys)}; it has: {Keys(top)}");
            sd = (PickleDict)top[k]!;
        }

        var result = new Dictionary<string, HostTensor>(sd.Count, StringComparer.Ordinal);
        foreach (var (k, v) in sd)
        {
            if (k is not string name) throw new InvalidDataException($"state dict in '{source}' has a non-string key {k}");
            result[name] = v as HostTensor ?? throw new InvalidDataException($"state dict entry '{name}' in '{source}' is a {PickleReader.TypeName(v)}, not a tensor");
        }
        return StripPrefix(result, "module.");
    }

    private static Dictionary<string, HostTensor> StripPrefix(Dictionary<string, HostTensor> sd, string prefix)
    {
        if (sd.Count == 0 || !sd.Keys.All(k => k.StartsWith(prefix, StringComparison.Ordinal))) return sd;
        var stripped = new Dictionary<string, HostTensor>(sd.Count, StringComparer.Ordinal);
        foreach (var (k, v) in sd) stripped[k[prefix.Length..]] = v;
        return stripped;
    }

    private static string Keys(PickleDict d) => string.Join(", ", d.Keys.Take(10).Select(k => k.ToString())) + (d.Count > 10 ? ", ..." : "");
}
