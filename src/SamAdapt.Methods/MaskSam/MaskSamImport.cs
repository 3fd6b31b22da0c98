using System.Globalization;
using SamAdapt.Methods.Semantic;
using SamAdapt.Sam;
using SamAdapt.Sam.Adapters;
using SamAdapt.Torch;
using SamAdapt.Torch.Serialization;
using SamAdapt.Training.Data;
using SamAdapt.Training.Engine;

namespace SamAdapt.Methods.MaskSam;

/// <summary>
/// Turns a network saved by the reference MaskSAM trainer (nnU-Net's checkpoint: the whole network's state dict under
/// <c>network_weights</c>, or a bare state dict, .pth or .safetensors) into a run folder that <c>samadapt predict --run</c> uses
/// (docs/methods/masksam.md, "Import"). The reference saves every tensor, SAM included, so the run holds the full state (contents
/// "full") and the base checkpoint is recorded only for reference. The architecture is read from the tensors' shapes (SAM's
/// widths and depth, frames, queries, classes, generator widths and kernels); the model reproduces the reference's window-axis
/// adapters (<see cref="MaskSamConfig.ReferenceWindowAdapters"/>), which the weights were trained with.
/// </summary>
public static class MaskSamImport
{
    public static ImportResult Import(ImportSettings o, TextWriter? log = null)
    {
        var intensity = o.Validate(baseRequired: false);
        var raw = Read(o.Trained);
        var sd = MaskSamReferenceKeys.Rename(raw);
        var config = InferConfig(sd, o.Trained, o.ImageSize, o.SamConfigFile);

        var classes = o.ClassNames(config.NumClasses - 1, $"classifier_embed_Adapter has {config.NumClasses + 1} outputs: background, the classes, no-object");

        using var model = new MaskSamModel(config);
        var own = model.state_dict();
        var missing = own.Keys.Where(k => !sd.ContainsKey(k)).ToList();
        var unexpected = sd.Keys.Where(k => !own.ContainsKey(k)).ToList();
        var mismatched = own.Where(kv => sd.TryGetValue(kv.Key, out var t) && !t.Shape.SequenceEqual(kv.Value.shape)).Select(kv => kv.Key).ToList();
        if (missing.Count + unexpected.Count + mismatched.Count > 0)
            throw new InvalidDataException($"--trained {o.Trained} does not fit the MaskSAM read from its shapes: " +
                $"missing [{string.Join(", ", missing.Take(5))}], unexpected [{string.Join(", ", unexpected.Take(5))}], shape mismatch [{string.Join(", ", mismatched.Take(5))}]");
        using (var scope = DisposeScope.Begin())
            model.load_state_dict(own.Keys.ToDictionary(k => k, k => sd[k].ToTensor()), strict: true);

        Directory.CreateDirectory(o.OutDir);
        var names = new List<string> { "background" };
        names.AddRange(classes);
        var values = Enumerable.Range(0, names.Count).ToList();
        var sample = new SampleOptions { ImageSize = config.InputSize, Slices = config.Frames, Intensity = intensity, Augmentation = SamAdapt.Training.Augmentation.AugmentationPipeline.None };
        bool hasBase = File.Exists(o.Base);
        var task = new SemanticTaskConfig
        {
            Method = "masksam",
            DatasetName = "imported",
            ClassNames = names,
            ClassValues = values,
            ClassGroups = values.Skip(1).Select(v => new List<int> { v }).ToList(),
            SamConfig = SamConfigJson.ToJson(config.Sam),
            AdapterConfig = MaskSamConfigJson.ToJson(config),
            ImageSize = config.InputSize,
            Slices = config.Frames,
            SliceAxis = sample.SliceAxis,
            Intensity = intensity.ToString()!,
            IntensityScope = sample.EffectiveScope.ToString().ToLowerInvariant(),
            Preprocessing = sample.ToDictionary().ToDictionary(kv => kv.Key, kv => Convert.ToString(kv.Value, CultureInfo.InvariantCulture) ?? ""),
        };
        var meta = MaskSamTask.Metadata(model, full: true, task);
        meta["samadapt.imported_from"] = Path.GetFullPath(o.Trained);
        meta["samadapt.imported_sha256"] = SemanticSamSetup.Sha256(o.Trained);
        if (hasBase) meta["samadapt.base_checkpoint_sha256"] = SemanticSamSetup.Sha256(o.Base);
        var weights = Path.Combine(o.OutDir, Trainer.AdapterFile);
        SafeTensors.Save(weights, model.state_dict().Select(kv => new KeyValuePair<string, HostTensor>(kv.Key, kv.Value.ToHost())), meta);
        new RunConfig("masksam", new TrainerOptions(), task).Save(Path.Combine(o.OutDir, RunConfig.FileName));
        log?.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"imported {raw.Count} tensors: MaskSAM, {config.Frames} frames, {config.NumQueries} queries, {config.NumClasses} classes (with background), " +
            $"{config.InputSize}² patches, SAM {config.Sam.EncoderEmbedDim} wide × {config.Sam.EncoderDepth} blocks (the file holds the whole network; --base is not needed)"));
        return new ImportResult(o.OutDir, names);
    }

    private static Dictionary<string, HostTensor> Read(string path)
    {
        Dictionary<string, HostTensor> raw;
        try
        {
            raw = CheckpointFile.Detect(path) == CheckpointFile.Format.TorchZip
                ? TryKey(path, "network_weights") ?? CheckpointFile.LoadStateDict(path)
                : CheckpointFile.LoadStateDict(path);
        }
        catch (KeyNotFoundException e) { throw new InvalidDataException($"--trained {path}: {e.Message}", e); }
        if (!raw.ContainsKey("sam_model.mask_decoder.classifier_embed_Adapter.weight"))
            throw new InvalidDataException($"--trained {path}: not a MaskSAM network: it has no 'sam_model.mask_decoder.classifier_embed_Adapter.weight' " +
                $"(it holds {raw.Count} tensors, e.g. {string.Join(", ", raw.Keys.Take(3))})");
        return raw;
    }

    private static Dictionary<string, HostTensor>? TryKey(string path, string key)
    {
        try { return PthReader.LoadStateDict(path, key, allowUnknownGlobals: true); }
        catch (Exception e) when (e is KeyNotFoundException or InvalidDataException) { return null; }
    }

    /// <summary>The architecture of a renamed reference state dict (<paramref name="inputSize"/>: the patch side it was trained on).</summary>
    public static MaskSamConfig InferConfig(IReadOnlyDictionary<string, HostTensor> sd, string source, int inputSize, string? samConfigFile = null)
    {
        long[] Shape(string k) => sd.TryGetValue(k, out var t) ? t.Shape : throw new InvalidDataException($"--trained {source}: missing '{k}'");
        var samSd = sd.Where(kv => kv.Key.StartsWith("sam_model.", StringComparison.Ordinal) && !MaskSamModel.IsTrainable(kv.Key))
            .ToDictionary(kv => kv.Key["sam_model.".Length..], kv => kv.Value.Shape);
        SamConfig sam;
        if (samConfigFile is not null) sam = SamConfig.FromJsonFile(samConfigFile);
        else
        {
            try { sam = SamCheckpoint.InferConfig(samSd); }
            catch (InvalidDataException e) { throw new InvalidDataException($"--trained {source}: cannot read the SAM architecture from its shapes ({e.Message}); give --sam-config", e); }
        }
        sam = sam with { PixelMean = [0f, 0f, 0f], PixelStd = [1f, 1f, 1f] };
        int frames = (int)Shape("sam_model.image_encoder.temporal_embedding.weight")[1];
        int queries = (int)Shape("prompt_generator.image_decoder_seg_layers.0.weight")[0];
        int classes = (int)Shape("sam_model.decoder_adapters.classifier_embed_Adapter.weight")[0] - 1;
        // generator widths finest first: the seg layer's input, then each stage's output, coarsest = stage 0
        int stages = sd.Keys.Where(k => k.StartsWith("prompt_generator.image_decoder_stages.", StringComparison.Ordinal))
            .Select(k => int.Parse(k.Split('.')[2], CultureInfo.InvariantCulture)).Max() + 1;
        if (stages != 5) throw new InvalidDataException($"--trained {source}: the prompt generator has {stages} stages, expected 5");
        var widths = new int[6];
        var kernels = new int[6][];
        for (int s = 0; s < 5; s++)
        {
            var w = Shape($"prompt_generator.image_decoder_stages.{s}.convs.0.conv.weight");
            widths[4 - s] = (int)w[0];
            kernels[4 - s] = [(int)w[2], (int)w[3], (int)w[4]];
        }
        var first = Shape("prompt_generator.image_decoder_stages.0.convs.0.conv.weight");
        widths[5] = (int)first[1];
        kernels[5] = [(int)first[2], (int)first[3], (int)first[4]];
        int convs = sd.Keys.Where(k => k.StartsWith("prompt_generator.image_decoder_stages.0.convs.", StringComparison.Ordinal))
            .Select(k => int.Parse(k.Split('.')[4], CultureInfo.InvariantCulture)).Max() + 1;
        var pool = (int)Math.Round(Math.Sqrt(sam.PromptEmbedDim));
        var config = new MaskSamConfig
        {
            Sam = sam, Frames = frames, InputSize = inputSize, NumClasses = classes, NumQueries = queries,
            GeneratorChannels = widths, GeneratorKernels = kernels, ConvsPerStage = convs, ClassifierPool = pool,
            StemChannels = (int)Shape("first_conv.0.convs.0.conv.weight")[0], ReferenceWindowAdapters = true,
        };
        try { config.Validate(); }
        catch (ArgumentException e) { throw new InvalidDataException($"--trained {source}: {e.Message} (--image-size {inputSize})", e); }
        return config;
    }
}
