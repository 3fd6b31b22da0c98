using SamAdapt.Torch.NN;

namespace SamAdapt.Torch.Serialization;

/// <summary>Moves tensors between libtorch and host memory (<see cref="HostTensor"/>) and files.</summary>
public static class TensorHostConversions
{
    /// <summary>A new libtorch tensor with the host tensor's values (copied).</summary>
    public static Tensor ToTensor(this HostTensor h, Device? device = null) =>
        Tensor.FromBytes(h.Data, h.DType, h.Shape, device, h.RequiresGrad);

    /// <summary>A contiguous host copy of the tensor (from any device).</summary>
    public static HostTensor ToHost(this Tensor t) => new(t.dtype, t.shape, t.ToBytes());
}

/// <summary>
/// State dictionaries on disk: <c>.safetensors</c> or PyTorch <c>.pth</c>/<c>.pt</c>/<c>.bin</c>/<c>.ckpt</c>, chosen by
/// extension when saving and by content when loading. Writes are atomic.
/// </summary>
public static class StateDictFile
{
    public static bool IsSafeTensorsPath(string path) =>
        path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase);

    public static void Save(string path, IReadOnlyDictionary<string, Tensor> stateDict, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var host = stateDict.Select(kv => new KeyValuePair<string, HostTensor>(kv.Key, kv.Value.ToHost())).ToList();
        if (IsSafeTensorsPath(path)) SafeTensors.Save(path, host, metadata);
        else
        {
            var d = new Dictionary<string, object?>();
            foreach (var (k, v) in host) d[k] = v;
            PthWriter.Save(path, d);
        }
    }

    /// <summary>Loads every tensor of a state dict file onto a device (CPU by default).</summary>
    public static Dictionary<string, Tensor> Load(string path, Device? device = null, string? key = null)
    {
        var host = CheckpointFile.LoadStateDict(path, key);
        var d = new Dictionary<string, Tensor>(host.Count);
        foreach (var (k, v) in host) d[k] = v.ToTensor(device);
        return d;
    }
}

public static class ModuleFileExtensions
{
    /// <summary>Saves the module's state dict (format by extension).</summary>
    public static void save(this Module module, string path, IReadOnlyDictionary<string, string>? metadata = null)
    {
        using var scope = DisposeScope.Begin();
        StateDictFile.Save(path, module.state_dict(), metadata);
    }

    /// <summary>Loads a state dict file into the module (strict by default: mismatches throw naming the keys).</summary>
    public static LoadResult load(this Module module, string path, bool strict = true)
    {
        using var scope = DisposeScope.Begin();
        var sd = StateDictFile.Load(path);
        try { return module.load_state_dict(sd, strict); }
        catch (InvalidDataException e) { throw new InvalidDataException($"{path}: {e.Message}", e); }
    }
}
