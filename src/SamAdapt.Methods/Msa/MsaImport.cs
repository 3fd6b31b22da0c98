using System.Globalization;
using System.Security.Cryptography;
using SamAdapt.Sam;
using SamAdapt.Sam.Adapters;
using SamAdapt.Torch;
using SamAdapt.Torch.Serialization;
using SamAdapt.Training.Engine;

namespace SamAdapt.Methods.Msa;

/// <summary>
/// <c>samadapt import msa --state-dict FILE --base SAM.pth --out RUN</c> (docs/methods/msa.md, "Importing"): a model saved by the
/// released MSA code (its key layout, <see cref="MsaReferenceKeys"/>; .pth with a <c>state_dict</c> entry, or .safetensors) becomes a
/// run folder. The reference's behaviours are switched on (<see cref="MsaOptions.ReferenceWindowing"/>, <see cref="MsaOptions.ReferenceDecoder"/>)
/// so the imported model computes what it computed there; the depth branch is on when <c>--slices</c> (the reference's <c>-chunk</c>) &gt; 1.
/// Tensors the file lacks come from the base checkpoint; every tensor the file has wins (its rel-pos tables included, which the reference
/// never loaded from SAM).
/// </summary>
public static class MsaImport
{
    public static ImportResult Import(ImportSettings o, TextWriter? log = null)
    {
        var intensity = o.Validate("--state-dict", imageSizeMultiple: 16);

        Dictionary<string, HostTensor> trained;
        try { trained = CheckpointFile.LoadStateDict(o.Trained); }
        catch (Exception e) when (e is KeyNotFoundException or InvalidDataException) { throw new InvalidDataException($"--state-dict {o.Trained}: {e.Message}", e); }
        const string probe = "image_encoder.blocks.0.Space_Adapter.D_fc1.weight";
        if (!trained.TryGetValue(probe, out var fc1) || fc1.Rank != 2)
            throw new InvalidDataException($"--state-dict {o.Trained}: not a Medical SAM Adapter state dict: no '{probe}' " +
                $"(it holds {trained.Count} tensors, e.g. {string.Join(", ", trained.Keys.Take(3))}). A SAM checkpoint goes to --base");
        var baseSd = SamCheckpoint.ReadStateDict(o.Base);
        SamConfig sam;
        if (o.SamConfigFile is not null) sam = SamConfig.FromJsonFile(o.SamConfigFile) with { ImageSize = o.ImageSize };
        else
        {
            var shapes = SamCheckpoint.Shapes(baseSd.ToDictionary(kv => MsaReferenceKeys.Rename(kv.Key), kv => kv.Value));
            try { sam = SamCheckpoint.InferConfig(shapes) with { ImageSize = o.ImageSize }; }
            catch (InvalidDataException e) { throw new InvalidDataException($"--base {o.Base}: the SAM architecture cannot be read from its shapes ({e.Message}); give --sam-config", e); }
        }
        int c = (int)fc1.Shape[1];
        if (c != sam.EncoderEmbedDim)
            throw new InvalidDataException($"--state-dict {o.Trained}: '{probe}' has shape [{string.Join(", ", fc1.Shape)}], but the base {o.Base} has encoder width {sam.EncoderEmbedDim}: not the same backbone");
        var options = new MsaOptions
        {
            AdapterRatio = (double)fc1.Shape[0] / c, DepthBranch = o.Slices > 1, Slices = o.Slices, ReferenceWindowing = true, ReferenceDecoder = true,
        };
        var classes = o.ClassNames(null, "");

        using var model = new MsaSam(sam, options);
        try { MsaWeights.LoadBase(model, baseSd, $"--base {o.Base}"); }
        catch (InvalidDataException e) { throw new InvalidDataException(e.Message, e); }
        int used;
        using (var scope = DisposeScope.Begin())
        {
            var ours = MsaReferenceKeys.ToOurs(trained, sam.ImageEmbeddingSize, $"--state-dict {o.Trained}");
            var own = model.state_dict();
            var problems = new List<string>();
            foreach (var (k, t) in ours)
            {
                if (!own.TryGetValue(k, out var dst))
                {
                    if (!options.DepthBranch && k.Contains(".Depth_Adapter.", StringComparison.Ordinal)) continue; // unused in 2D
                    problems.Add($"'{k}' is not a tensor of this model");
                }
                else if (!dst.shape.SequenceEqual(t.shape))
                    problems.Add($"'{k}' has shape [{string.Join(", ", t.shape)}] in the file, the model expects [{string.Join(", ", dst.shape)}]");
            }
            if (problems.Count > 0)
                throw new InvalidDataException($"--state-dict {o.Trained} does not fit MSA on {sam.Describe()}: {string.Join("; ", problems.Take(6))}");
            var load = ours.Where(kv => own.ContainsKey(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value);
            used = load.Count;
            model.load_state_dict(load, strict: false);
        }

        Directory.CreateDirectory(o.OutDir);
        var names = new List<string> { "background" };
        names.AddRange(classes);
        var task = new MsaTaskConfig
        {
            Method = "msa", DatasetName = "imported", ClassNames = names, ClassValues = Enumerable.Range(0, names.Count).ToList(),
            BaseCheckpoint = Path.GetFullPath(o.Base), BaseCheckpointSha256 = Sha256(o.Base),
            SamConfig = SamConfigJson.ToJson(model.SamConfig), MsaOptions = options.ToJson(), ImageSize = o.ImageSize, Slices = o.Slices,
            Intensity = intensity.ToString()!, ImportedFrom = Path.GetFullPath(o.Trained), ImportedSha256 = Sha256(o.Trained),
        };
        MsaWeights.Save(Path.Combine(o.OutDir, Trainer.AdapterFile), model, model.state_dict(), AdaptedSam.ContentsFull,
            new Dictionary<string, string> { ["samadapt.imported_from"] = task.ImportedFrom, ["samadapt.imported_sha256"] = task.ImportedSha256 });
        new RunConfig("msa", new TrainerOptions(), task).Save(Path.Combine(o.OutDir, RunConfig.FileName));
        log?.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"imported {used} tensors: MSA (adapter ratio {options.AdapterRatio:0.###}, depth branch {(options.DepthBranch ? $"on, {o.Slices} slices" : "off")}, " +
            $"reference windowing and decoder), base {sam.Describe()}"));
        return new ImportResult(o.OutDir, names);
    }

    public static string Sha256(string path)
    {
        using var f = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(f));
    }
}
