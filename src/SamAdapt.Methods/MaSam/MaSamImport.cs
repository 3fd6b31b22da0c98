using System.Globalization;
using SamAdapt.Sam;
using SamAdapt.Sam.Adapters;
using SamAdapt.Torch;
using SamAdapt.Torch.Serialization;
using SamAdapt.Training.Data;
using SamAdapt.Training.Engine;
using SamAdapt.Training;
using SamAdapt.Methods.Semantic;

namespace SamAdapt.Methods.MaSam;

/// <summary>What was imported.</summary>
public sealed record MaSamImportResult(string RunDir, string WeightsFile, SamConfig Sam, AdapterConfig Adapter, IReadOnlyList<string> ClassNames, int TensorCount);

/// <summary>
/// Turns a model released by the reference MA-SAM code (its saved-parameters layout, <see cref="MaSamReferenceKeys"/>) plus the SAM
/// checkpoint it was trained on into a run folder of the layout <c>samadapt train</c> writes (config.yaml + adapter.safetensors, contents
/// "trainable" over the recorded base checkpoint), so that <c>samadapt predict --run</c> uses it. The adaptation sizes (FacT rank, adapter
/// bottleneck, classes) are read from the tensors' shapes; the SAM architecture from the base checkpoint. Files saved on a GPU
/// (storage location <c>cuda:0</c>) load like CPU ones: tensors are read from the archive, never placed on the saving device.
/// Bad input throws <see cref="InvalidDataException"/> / <see cref="ArgumentException"/> / <see cref="FileNotFoundException"/> naming the
/// file, key and shapes.
/// </summary>
public static class MaSamImport
{
    public static MaSamImportResult Import(ImportSettings o, TextWriter? log = null)
    {
        var intensity = o.Validate();

        var trained = ReadTrained(o.Trained);
        var (adapter, depth) = InferAdapter(trained, o.Trained, o.Slices);
        var baseSd = SamCheckpoint.ReadStateDict(o.Base);
        SamConfig sam;
        if (o.SamConfigFile is not null) sam = SamConfig.FromJsonFile(o.SamConfigFile) with { ImageSize = o.ImageSize };
        else
        {
            try { sam = SamCheckpoint.InferConfig(SamCheckpoint.Shapes(baseSd)) with { ImageSize = o.ImageSize }; }
            catch (InvalidDataException e) { throw new InvalidDataException($"--base {o.Base}: not a SAM checkpoint whose architecture can be read from its shapes ({e.Message}); give --sam-config", e); }
        }
        if (sam.EncoderDepth != depth)
            throw new InvalidDataException($"--trained {o.Trained} has FacT Σ's for {depth} encoder blocks, but the base {o.Base} has {sam.EncoderDepth} blocks: they are not the same backbone");

        var classes = o.ClassNames(adapter.NumClasses, $"mask_decoder.mask_tokens.weight has {adapter.NumClasses + 1} rows, background first");

        using var model = new AdaptedSam(sam, adapter);
        try { model.LoadSamWeights(baseSd, $"--base {o.Base}"); }
        catch (InvalidDataException e) { throw new InvalidDataException(e.Message, e); }
        CheckFits(model, trained, o.Trained);
        using (var scope = DisposeScope.Begin())
        {
            var tensors = trained.ToDictionary(kv => kv.Key, kv => kv.Value.ToTensor());
            try { model.LoadTrainable(tensors); }
            catch (InvalidDataException e) { throw new InvalidDataException($"--trained {o.Trained}: {e.Message}", e); }
        }

        Directory.CreateDirectory(o.OutDir);
        var weights = Path.Combine(o.OutDir, Trainer.AdapterFile);
        var names = new List<string> { "background" };
        names.AddRange(classes);
        var values = Enumerable.Range(0, names.Count).ToList();
        var sample = new SampleOptions { ImageSize = o.ImageSize, Slices = o.Slices, Intensity = intensity, Augmentation = SamAdapt.Training.Augmentation.AugmentationPipeline.None };
        var task = new SemanticTaskConfig
        {
            Method = adapter.MethodName,
            DatasetName = "imported",
            ClassNames = names,
            ClassValues = values,
            ClassGroups = values.Skip(1).Select(v => new List<int> { v }).ToList(),
            BaseCheckpoint = Path.GetFullPath(o.Base),
            BaseCheckpointSha256 = SemanticSamSetup.Sha256(o.Base),
            SamConfig = SamConfigJson.ToJson(model.SamConfig),
            AdapterConfig = model.Config.ToJson(),
            ImageSize = o.ImageSize,
            Slices = o.Slices,
            SliceAxis = sample.SliceAxis,
            Intensity = intensity.ToString()!,
            IntensityScope = sample.EffectiveScope.ToString().ToLowerInvariant(),
            Preprocessing = sample.ToDictionary().ToDictionary(kv => kv.Key, kv => Convert.ToString(kv.Value, CultureInfo.InvariantCulture) ?? ""),
        };
        // the trained tensors plus every other tensor the file carries (the prompt encoder's positional buffer), so the file's values win
        var own = model.state_dict();
        var saved = model.TrainableStateDict();
        foreach (var k in trained.Keys) saved[k] = own[k];
        var meta = model.Metadata(AdaptedSam.ContentsTrainable);
        foreach (var (k, v) in new Dictionary<string, string>
        {
            ["samadapt.class_names"] = string.Join("\n", names),
            ["samadapt.class_values"] = string.Join(",", values.Select(v => v.ToString(CultureInfo.InvariantCulture))),
            ["samadapt.intensity"] = task.Intensity,
            ["samadapt.base_checkpoint_sha256"] = task.BaseCheckpointSha256,
            ["samadapt.imported_from"] = Path.GetFullPath(o.Trained),
            ["samadapt.imported_sha256"] = SemanticSamSetup.Sha256(o.Trained),
        }) meta[k] = v;
        SafeTensors.Save(weights, saved.Select(kv => new KeyValuePair<string, HostTensor>(kv.Key, kv.Value.ToHost())), meta);
        new RunConfig(adapter.MethodName, new TrainerOptions(), task).Save(Path.Combine(o.OutDir, RunConfig.FileName));
        log?.WriteLine($"imported {trained.Count} tensors: MA-SAM, FacT rank {adapter.FactRank}, 3D-adapter bottleneck {adapter.AdapterBottleneck}, " +
            $"{adapter.NumClasses} classes, base {sam.Describe()}");
        return new MaSamImportResult(o.OutDir, weights, model.SamConfig, model.Config, names, trained.Count);
    }

    /// <summary>
    /// Checks the saved tensors against the model built for them and names problems in the file's own key names (ours in brackets):
    /// trained tensors the file lacks, tensors the model does not have, and shape mismatches with both shapes.
    /// </summary>
    public static void CheckFits(AdaptedSam model, IReadOnlyDictionary<string, HostTensor> trained, string source)
    {
        static string Name(string ours) => MaSamReferenceKeys.ToTrainedParams(ours) is { } r && r != ours ? $"'{r}' ({ours})" : $"'{ours}'";
        static string Shape(IEnumerable<long> s) => "[" + string.Join(", ", s) + "]";
        var own = model.state_dict();
        var problems = new List<string>();
        var missing = model.TrainableStateDict().Keys.Where(k => !trained.ContainsKey(k)).ToList();
        if (missing.Count > 0)
            problems.Add($"{missing.Count} trained tensor(s) missing: {string.Join(", ", missing.Take(5).Select(Name))}{(missing.Count > 5 ? ", …" : "")}");
        var unexpected = trained.Keys.Where(k => !own.ContainsKey(k)).ToList();
        if (unexpected.Count > 0)
            problems.Add($"{unexpected.Count} tensor(s) this model does not have: {string.Join(", ", unexpected.Take(5).Select(Name))}{(unexpected.Count > 5 ? ", …" : "")}");
        foreach (var (k, t) in trained)
            if (own.TryGetValue(k, out var dst) && !t.Shape.SequenceEqual(dst.shape))
                problems.Add($"{Name(k)} has shape {Shape(t.Shape)} in the file, the model expects {Shape(dst.shape)}");
        if (problems.Count > 0)
            throw new InvalidDataException($"--trained {source} does not fit an MA-SAM of FacT rank {model.Config.FactRank}, bottleneck " +
                $"{model.Config.AdapterBottleneck}, {model.Config.NumClasses} classes on {model.SamConfig.Describe()}: {string.Join("; ", problems.Take(6))}");
    }

    /// <summary>Reads the saved-parameters file and renames its keys to ours.</summary>
    public static Dictionary<string, HostTensor> ReadTrained(string path)
    {
        var format = CheckpointFile.Detect(path);
        if (format != CheckpointFile.Format.TorchZip)
            throw new InvalidDataException($"--trained {path}: expected the reference's torch.save file (a zip starting with \"PK\"), found a {format} file");
        Dictionary<string, HostTensor> raw;
        try { raw = PthReader.LoadStateDict(path); }
        catch (KeyNotFoundException e) { throw new InvalidDataException($"--trained {path}: {e.Message}", e); }
        if (!raw.ContainsKey("image_encoder.FacTu.weight") || !raw.Keys.Any(k => k.StartsWith("q_FacTs_", StringComparison.Ordinal)))
            throw new InvalidDataException($"--trained {path}: not an MA-SAM saved-parameters file: it has no 'image_encoder.FacTu.weight' / 'q_FacTs_000' " +
                $"(it holds {raw.Count} tensors, e.g. {string.Join(", ", raw.Keys.Take(3))}). A SAM checkpoint goes to --base");
        var renamed = MaSamReferenceKeys.Rename(raw, $"--trained {path}");
        foreach (var (k, t) in raw)
            if (t.DType != DType.Float32 && t.DType != DType.Float16 && t.DType != DType.BFloat16)
                throw new InvalidDataException($"--trained {path}: '{k}' is {t.DType.TorchName()}, expected a floating-point tensor");
        return renamed;
    }

    /// <summary>The adaptation of the saved tensors (FacT rank, bottleneck, classes) and the number of blocks they cover.</summary>
    public static (AdapterConfig Adapter, int Depth) InferAdapter(IReadOnlyDictionary<string, HostTensor> trained, string source, int slices)
    {
        HostTensor Get(string key, int rank)
        {
            var reference = MaSamReferenceKeys.ToTrainedParams(key) ?? key;
            if (!trained.TryGetValue(key, out var t)) throw new InvalidDataException($"--trained {source}: missing '{reference}'");
            if (t.Rank != rank) throw new InvalidDataException($"--trained {source}: '{reference}' has shape [{string.Join(", ", t.Shape)}], expected rank {rank}");
            return t;
        }
        var u = Get("image_encoder.fact.FacTu.weight", 2);
        int rank = (int)u.Shape[0];
        int depth = trained.Keys.Count(k => k.EndsWith(".attn.fact.q_FacTs.weight", StringComparison.Ordinal));
        var down = Get("image_encoder.blocks.0.adapter_1.down.weight", 2);
        var tokens = Get("mask_decoder.mask_tokens.weight", 2);
        if (tokens.Shape[0] < 2) throw new InvalidDataException($"--trained {source}: mask_decoder.mask_tokens.weight has {tokens.Shape[0]} row(s); a multi-class decoder has background + ≥ 1 class");
        bool progressive = trained.ContainsKey("mask_decoder.output_upscaling.9.weight");
        var adapter = new AdapterConfig
        {
            Method = AdaptMethod.MaSam, NumClasses = (int)tokens.Shape[0] - 1, Slices = slices, FactRank = rank,
            AdapterBottleneck = (int)down.Shape[0], Upscaling = progressive ? DecoderUpscaling.Progressive : DecoderUpscaling.Sam,
        };
        return (adapter, depth);
    }
}
