using SamAdapt.Sam;
using SamAdapt.Sam.Adapters;
using SamAdapt.Torch;
using SamAdapt.Torch.Serialization;

namespace SamAdapt.Methods.Msa;

/// <summary>
/// An MSA weights file (adapter.safetensors of an MSA run folder): the tensors plus metadata <c>format</c> = <see cref="FormatName"/>,
/// <c>sam_config</c>, <c>msa_options</c> and <c>contents</c> ("full": every tensor; "trainable": the trained ones over a base SAM
/// checkpoint). <see cref="Rebuild"/> turns it back into an <see cref="MsaSam"/>.
/// </summary>
public static class MsaWeights
{
    public const string FormatName = "samadapt.msa/1";

    public static Dictionary<string, string> Metadata(MsaSam model, string contents) => new()
    {
        ["format"] = FormatName,
        ["sam_config"] = SamConfigJson.ToJson(model.SamConfig),
        ["msa_options"] = model.Options.ToJson(),
        ["contents"] = contents,
    };

    /// <summary>Writes <paramref name="tensors"/> with <see cref="Metadata"/> plus <paramref name="extra"/> (write-then-rename).</summary>
    public static void Save(string path, MsaSam model, IReadOnlyDictionary<string, Tensor> tensors, string contents, IReadOnlyDictionary<string, string>? extra = null)
    {
        var meta = Metadata(model, contents);
        if (extra is not null) foreach (var (k, v) in extra) meta[k] = v;
        var tmp = path + ".tmp";
        SafeTensors.Save(tmp, tensors.Select(kv => new KeyValuePair<string, HostTensor>(kv.Key, kv.Value.ToHost())), meta);
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>
    /// Loads a SAM checkpoint's state dict (SAM's or the reference MSA layout) into <paramref name="model"/>'s base: <c>pos_embed</c>
    /// resampled bicubically to the token grid (as the reference), relative-position tables resized (<see cref="SamCheckpoint.ResizePositionalTables"/>).
    /// Every tensor of the model except the adapters must be present.
    /// </summary>
    public static void LoadBase(MsaSam model, IReadOnlyDictionary<string, HostTensor> sd, string source)
    {
        using var scope = DisposeScope.Begin();
        var ours = MsaReferenceKeys.ToOurs(sd, model.SamConfig.ImageEmbeddingSize, source);
        var resized = SamCheckpoint.ResizePositionalTables(ours, model.SamConfig);
        var own = model.state_dict();
        var missing = own.Keys.Where(k => MsaSam.PartOf(k) is not (MsaTrainedParts.EncoderAdapters or MsaTrainedParts.SemanticHead) && !resized.ContainsKey(k)).ToList();
        if (missing.Count > 0)
            throw new InvalidDataException($"{source} is not a SAM checkpoint for this model: {missing.Count} tensor(s) missing, e.g. {string.Join(", ", missing.Take(4))}");
        foreach (var (k, t) in resized)
        {
            if (!own.TryGetValue(k, out var dst)) continue; // e.g. the reference's unused Depth_Adapter in a 2D model
            if (!dst.shape.SequenceEqual(t.shape))
                throw new InvalidDataException($"{source}: '{k}' has shape [{string.Join(", ", t.shape)}], the model expects [{string.Join(", ", dst.shape)}]");
        }
        model.load_state_dict(resized.Where(kv => own.ContainsKey(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value), strict: false);
    }

    /// <summary>Rebuilds the model of a weights file; contents "trainable" needs <paramref name="baseCheckpoint"/>.</summary>
    public static MsaSam Rebuild(string file, string? baseCheckpoint, Device? device = null)
    {
        var (host, meta) = SafeTensors.Load(file);
        ReservedWeightKeys.RemoveFrom(host);
        string Get(string k) => meta.TryGetValue(k, out var v) ? v : throw new InvalidDataException($"{file} has no '{k}' metadata; it is not an MSA weights file");
        if (Get("format") != FormatName) throw new InvalidDataException($"{file}: format '{Get("format")}', expected {FormatName}");
        var model = new MsaSam(SamConfig.FromJson(Get("sam_config")), MsaOptions.FromJson(Get("msa_options")));
        try
        {
            var contents = Get("contents");
            if (contents == AdaptedSam.ContentsTrainable)
            {
                if (baseCheckpoint is null) throw new ArgumentException($"{file} holds only the trained tensors; the base SAM checkpoint is needed");
                LoadBase(model, SamCheckpoint.ReadStateDict(baseCheckpoint), baseCheckpoint);
            }
            using (var scope = DisposeScope.Begin())
            {
                var own = model.state_dict();
                foreach (var k in host.Keys.Where(k => !own.ContainsKey(k)))
                    throw new InvalidDataException($"{file}: '{k}' is not a tensor of this MSA model");
                var r = model.load_state_dict(host.ToDictionary(kv => kv.Key, kv => kv.Value.ToTensor()), strict: contents != AdaptedSam.ContentsTrainable);
                if (contents != AdaptedSam.ContentsTrainable && !r.IsExact) throw new InvalidDataException($"{file}: {r.Describe()}");
            }
            if (device is { } d) model.to(d);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }
}
