using System.Globalization;
using SamAdapt.Imaging.Datasets;
using SamAdapt.Methods.Semantic;
using SamAdapt.Sam;
using SamAdapt.Sam.Adapters;
using SamAdapt.Torch;
using SamAdapt.Torch.Serialization;
using SamAdapt.Training.Data;
using SamAdapt.Training.Engine;

namespace SamAdapt.Methods.MaskSam;

/// <summary>
/// MaskSAM (docs/methods/masksam.md): prompt-free mask classification with a prompt generator, depth adapters and Hungarian matching.
/// Trains from a SAM checkpoint (frozen SAM except adapters and temporal embeddings; stem, prompt generator, heads and final
/// convolution trained) or from a configuration (<c>--model tiny</c> or a SAM JSON with patch 16 and 4 global blocks; everything
/// trained). The run folder uses the semantic methods' <c>task:</c> record (<see cref="SemanticTaskConfig"/>) with the MaskSAM
/// configuration in its adapter_config field, so predict and evaluate work as for ma-sam.
/// </summary>
public sealed class MaskSamMethod : ISegmentationMethod, IImportableMethod
{
    public string Name => "masksam";
    public IReadOnlyList<string> Aliases => ["mask-sam", "mask_sam"];
    public string Description => "MaskSAM: prompt generator + depth adapters, mask classification with Hungarian matching (frozen SAM encoder)";
    public OutputContract Output => OutputContract.Semantic;

    /// <summary>
    /// "tiny": the CPU-sized MaskSAM for from-scratch training at <paramref name="inputSize"/>² (patch 16, encoder 96 wide and 4 global
    /// blocks, prompt dim 64, generator widths 16–64, max(12, K + 3) queries, final_conv 32 wide, output stride 2). Fewer queries and a
    /// narrower final_conv than before made an iteration 1.45× cheaper at the same Dice per iteration; output stride 2 (the prompt
    /// generator's last stage and final_conv at S/2, mask logits interpolated to S) cut its CPU time by 33–42 % with no loss of Dice per
    /// iteration beyond the run-to-run spread; patch 8 cost 1.45× more per iteration and was no better at a fixed iteration count
    /// (docs/methods/masksam.md, "On the demo data"). It has the pixel head (not in the reference): on the demo data the thin classes
    /// that mask classification labels as one blob gain most from it (docs/methods/masksam.md, "Pixel head").
    /// </summary>
    public static MaskSamConfig TinyPreset(int inputSize, int frames, int numClasses) => new()
    {
        Sam = new SamConfig
        {
            ImageSize = inputSize, PatchSize = 16, EncoderEmbedDim = 96, EncoderDepth = 4, EncoderNumHeads = 4, GlobalAttnIndexes = [0, 1, 2, 3],
            WindowSize = 0, PromptEmbedDim = 64, MaskInChans = 16, DecoderDepth = 2, DecoderMlpDim = 128, DecoderNumHeads = 4,
            IouHeadHiddenDim = 32, PixelMean = [0f, 0f, 0f], PixelStd = [1f, 1f, 1f],
        },
        Frames = frames, InputSize = inputSize, NumClasses = numClasses, NumQueries = Math.Max(12, numClasses + 3),
        GeneratorChannels = [16, 16, 32, 32, 64, 64], ClassifierPool = 8, FinalConvChannels = 32, OutputStride = 2,
        PixelHead = true,
    };

    /// <summary>
    /// The reference trainer's optimisation where not given: AdamW lr 1e-3 (from a configuration the engine's from-scratch lr),
    /// weight decay 3e-5, no warm-up, poly decay exponent 0.9, gradient clipping at 12.
    /// </summary>
    public TrainerOptions TrainerDefaults(TrainSettings s, TrainerOptions o) => o with
    {
        Lr = s.Lr ?? (s.Checkpoint is null && s.Model is not null ? o.Lr : ReferenceLr),
        WeightDecay = s.WeightDecay ?? ReferenceWeightDecay,
        Warmup = s.Warmup ?? 0,
        PolyExponent = s.PolyExp ?? 0.9,
        ClipGrad = s.ClipGrad ?? ReferenceClipGrad,
    };

    public const double ReferenceLr = 1e-3, ReferenceWeightDecay = 3e-5, ReferenceClipGrad = 12;

    /// <summary>
    /// The criterion's options: the reference's weights with P = S²/2 points; from a configuration (no pretrained base) P = S²/8
    /// points (<see cref="FromScratchPointDivisor"/>: a quarter of the point-sampling work at the same Dice per iteration) plus the
    /// semantic loss with weight <see cref="FromScratchSemanticWeight"/>, which learned faster on the demo data (docs/benchmarks.md).
    /// From a SAM checkpoint the reference's criterion is kept unchanged.
    /// </summary>
    public static MaskSamLossOptions LossOptions(TrainSettings s, int imageSize) => new()
    {
        NumPoints = Math.Max(1, imageSize * imageSize / (s.Checkpoint is null ? FromScratchPointDivisor : 2)),
        SemanticWeight = s.Checkpoint is null ? FromScratchSemanticWeight : 0,
    };

    public const int FromScratchPointDivisor = 8;

    public const double FromScratchSemanticWeight = 1.0;

    /// <summary>A network saved by the reference MaskSAM trainer (<see cref="MaskSamImport"/>).</summary>
    public ImportResult Import(ImportSettings settings, TextWriter? log = null) => MaskSamImport.Import(settings, log);

    public MethodRun CreateRun(MethodContext context)
    {
        var s = context.Settings;
        if (s.Checkpoint is not null && s.Model is not null) throw new ArgumentException("give either --checkpoint or --model, not both");
        if (s.Checkpoint is null && s.Model is null)
            throw new ArgumentException("give a SAM checkpoint (--checkpoint SAM.pth|.safetensors) or a configuration to train from scratch (--model CONFIG.json or the preset tiny)");
        if (s.Checkpoint is not null && !File.Exists(s.Checkpoint)) throw new FileNotFoundException($"--checkpoint: no such file: {s.Checkpoint}");
        bool tiny = s.Model is { } m0 && m0.Trim().Equals("tiny", StringComparison.OrdinalIgnoreCase);
        if (s.Model is not null && !tiny && !File.Exists(s.Model)) throw new FileNotFoundException($"--model: no such file and not a preset (tiny): {s.Model}");
        int frames = s.Slices ?? (tiny ? 3 : 8);
        int imageSize = s.ImageSize ?? (tiny ? 96 : 512);

        context.Log.WriteLine("loading and preprocessing the training cases...");
        var ds = context.Dataset;
        ClassMapping classes;
        try { classes = s.Labels is null ? ClassMapping.FromDataset(ds) : ClassMapping.Parse(s.Labels, ds); }
        catch (Exception e) when (e is FormatException or InvalidDataException) { throw new ArgumentException($"--labels: {e.Message}", e); }
        var (intensityText, intensitySource) = s.Intensity is not null
            ? (s.Intensity, s.IntensitySource ?? "--intensity")
            : SemanticSamSetup.DefaultIntensity(ds);
        var sample = new SampleOptions
        {
            ImageSize = imageSize, Slices = frames, Intensity = Imaging.Preprocessing.IntensityTransform.Parse(intensityText),
            BatchSize = context.Trainer.BatchSize, Seed = (int)context.Trainer.Seed,
            ForegroundProbability = s.ForegroundProbability ?? SampleOptions.NnUNetForegroundProbability,
            Augmentation = Training.Augmentation.AugmentationPipeline.Parse(s.Augment ?? "ma-sam"),
            Input = DatasetChannels.Mapping(ds, s.InputProjection),
        };
        var valCases = s.ValCases is { Count: > 0 } v ? v : null;
        double valFraction = valCases is null ? s.ValFraction ?? 0.2 : 0;
        var data = TrainingData.Load(ds, sample, classes, valCases, valFraction);

        // the pixel head (not in the reference): on from a configuration, off from a checkpoint, unless --pixel-head says otherwise
        bool pixelHead = s.PixelHead ?? s.Checkpoint is null;
        MaskSamConfig config;
        MaskSamModel model;
        string modelConfig = "";
        if (s.Checkpoint is not null)
        {
            var sd = SamCheckpoint.ReadStateDict(s.Checkpoint);
            var sam = SamCheckpoint.InferConfig(SamCheckpoint.Shapes(sd)) with { PixelMean = [0f, 0f, 0f], PixelStd = [1f, 1f, 1f] };
            config = new MaskSamConfig { Sam = sam, Frames = frames, InputSize = imageSize, NumClasses = classes.NumClasses, PixelHead = pixelHead };
            model = new MaskSamModel(config);
            LoadSamWeights(model, sd, s.Checkpoint);
        }
        else
        {
            if (tiny) { config = TinyPreset(imageSize, frames, classes.NumClasses) with { PixelHead = pixelHead }; modelConfig = "tiny"; }
            else
            {
                var sam = SamConfig.FromJsonFile(s.Model!) with { PixelMean = [0f, 0f, 0f], PixelStd = [1f, 1f, 1f] };
                config = new MaskSamConfig
                {
                    Sam = sam with { ImageSize = Math.Max(sam.ImageSize, imageSize) }, Frames = frames, InputSize = imageSize, NumClasses = classes.NumClasses,
                    PixelHead = pixelHead,
                };
                modelConfig = Path.GetFullPath(s.Model!);
            }
            model = new MaskSamModel(config);
        }
        // --train-base: every weight trains; the default for a configuration (a random base preserves nothing when frozen)
        bool trainAll = s.TrainBase ?? s.Checkpoint is null;
        if (trainAll) foreach (var (_, p) in model.named_parameters()) p.requires_grad_(true);
        model.train();
        var cfg = new SemanticTaskConfig
        {
            Method = Name,
            Dataset = Path.GetFullPath(s.Dataset!),
            DatasetName = ds.Name,
            Labels = s.Labels ?? "all",
            ClassNames = [.. classes.ClassNames],
            ClassValues = Enumerable.Range(0, classes.NumClasses).Select(classes.ValueOf).ToList(),
            ClassGroups = classes.Groups.Select(g => g.ToList()).ToList(),
            ValCasesRequested = valCases?.ToList() ?? [],
            ValFraction = valFraction,
            TrainCases = [.. data.Split.TrainCases],
            ValidationCases = [.. data.Split.ValidationCases],
            BaseCheckpoint = s.Checkpoint is null ? "" : Path.GetFullPath(s.Checkpoint),
            BaseCheckpointSha256 = s.Checkpoint is null ? "" : SemanticSamSetup.Sha256(s.Checkpoint),
            ModelConfig = modelConfig,
            SamConfig = SamConfigJson.ToJson(config.Sam),
            AdapterConfig = MaskSamConfigJson.ToJson(config),
            ImageSize = imageSize,
            Slices = frames,
            SliceAxis = sample.SliceAxis,
            Intensity = sample.Intensity.ToString()!,
            IntensitySource = intensitySource,
            IntensityScope = sample.EffectiveScope.ToString().ToLowerInvariant(),
            ForegroundProbability = sample.ForegroundProbability,
            TrainBase = trainAll,
            Preprocessing = sample.ToDictionary().ToDictionary(kv => kv.Key, kv => Convert.ToString(kv.Value, CultureInfo.InvariantCulture) ?? ""),
        };
        var loss = LossOptions(s, imageSize);
        var task = new MaskSamTask(cfg, model, data, loss, context.Trainer);
        var summary = string.Join("\n",
            string.Create(CultureInfo.InvariantCulture,
                $"masksam on {cfg.DatasetName}: {cfg.ClassNames.Count - 1} classes ({string.Join(", ", cfg.ClassNames.Skip(1))}) + background, " +
                $"{config.NumQueries} queries, {cfg.TrainCases.Count} training / {cfg.ValidationCases.Count} validation case(s), {data.SamplesPerEpoch} training slices, " +
                $"{imageSize}² × {frames}-slice patches, base: {(cfg.BaseCheckpoint != "" ? cfg.BaseCheckpoint : $"{modelConfig} (from scratch)")}"),
            $"intensity: {cfg.Intensity} ({cfg.IntensitySource})",
            "trained: " + (cfg.TrainBase ? (cfg.BaseCheckpoint == "" ? "everything (the base is random)" : "everything (--train-base)") : "stem, encoder adapters and temporal embeddings, prompt generator, decoder adapters, class head, final convolution; SAM stays frozen"),
            string.Create(CultureInfo.InvariantCulture, $"sampling: {cfg.ForegroundProbability:P0} of the training patches centred on a foreground class"),
            (loss.SemanticWeight > 0
                ? string.Create(CultureInfo.InvariantCulture, $"losses: the reference's set criterion + the semantic loss ×{loss.SemanticWeight} (from scratch)")
                : "losses: the reference's set criterion")
            + (config.PixelHead ? string.Create(CultureInfo.InvariantCulture, $" + the pixel head's ×{loss.PixelWeight} (its map averaged with the masks' in the output; --pixel-head false: the reference's head alone)") : ""));
        return new MethodRun(task, new SliceStackSource(data), summary);
    }

    /// <summary>Loads a SAM checkpoint's tensors into <c>sam_model</c> (pos_embed and rel-pos tables stay at the SAM frame's size).</summary>
    public static void LoadSamWeights(MaskSamModel model, IReadOnlyDictionary<string, HostTensor> sd, string source)
    {
        using var scope = DisposeScope.Begin();
        var own = model.state_dict();
        var missing = new List<string>();
        using var _ = torch.no_grad();
        foreach (var (k, t) in own)
        {
            if (!k.StartsWith("sam_model.", StringComparison.Ordinal) || MaskSamModel.IsTrainable(k)) continue;
            var key = k["sam_model.".Length..];
            if (!sd.TryGetValue(key, out var h)) { missing.Add(key); continue; }
            if (!h.Shape.SequenceEqual(t.shape))
                throw new InvalidDataException($"{source}: '{key}' has shape [{string.Join(", ", h.Shape)}], the model expects [{string.Join(", ", t.shape)}]");
            t.copy_(h.ToTensor());
        }
        if (missing.Count > 0) throw new InvalidDataException($"{source}: missing SAM tensors: {string.Join(", ", missing.Take(5))}");
    }

    public TrainSettings StoredSettings(LoadedRunConfig run)
    {
        var t = SemanticSamMethod.ReadTaskConfig(run);
        return new TrainSettings
        {
            Method = t.Method, Dataset = t.Dataset,
            Checkpoint = t.BaseCheckpoint is "" ? null : t.BaseCheckpoint,
            Model = t.ModelConfig is "" ? null : t.ModelConfig,
            ImageSize = t.ImageSize, Slices = t.Slices, Labels = t.Labels is "all" ? null : t.Labels, Intensity = t.Intensity,
            ValCases = t.ValCasesRequested is { Count: > 0 } v ? v : null, ValFraction = t.ValFraction, TrainBase = t.TrainBase,
            ForegroundProbability = t.ForegroundProbability, IntensitySource = t.IntensitySource,
            Augment = t.Preprocessing.TryGetValue("augmentation", out var aug) ? aug : "ma-sam",
            InputProjection = t.Preprocessing.TryGetValue("input_projection", out var input) ? input : null,
            // runs written before the pixel head existed record no pixel_head: they have none
            PixelHead = t.AdapterConfig is "" ? false : MaskSamConfigJson.FromJson(t.AdapterConfig).PixelHead,
        };
    }

    /// <summary>Rebuilds a model saved with <see cref="MaskSamTask.Metadata"/> (contents "trainable" need the base SAM checkpoint).</summary>
    public static MaskSamModel Rebuild(string weightsFile, string? baseCheckpoint, Device device)
    {
        var (host, meta) = SafeTensors.Load(weightsFile);
        SamAdapt.Sam.Adapters.ReservedWeightKeys.RemoveFrom(host);
        if (!meta.TryGetValue("format", out var f) || f != MaskSamTask.FormatName)
            throw new InvalidDataException($"{weightsFile}: format '{f}' is not {MaskSamTask.FormatName}; it was not written by a masksam run");
        var config = MaskSamConfigJson.FromJson(meta.TryGetValue("masksam_config", out var j) ? j : throw new InvalidDataException($"{weightsFile}: no masksam_config metadata"));
        var model = new MaskSamModel(config);
        try
        {
            bool full = meta.TryGetValue("contents", out var c) && c == "full";
            if (!full)
            {
                if (baseCheckpoint is null) throw new ArgumentException($"'{weightsFile}' holds only the trained tensors; the base SAM checkpoint is needed");
                LoadSamWeights(model, SamCheckpoint.ReadStateDict(baseCheckpoint), baseCheckpoint);
            }
            using var scope = DisposeScope.Begin();
            var tensors = host.ToDictionary(kv => kv.Key, kv => kv.Value.ToTensor());
            if (full) model.load_state_dict(tensors, strict: true);
            else
            {
                var own = model.state_dict();
                using var _ = torch.no_grad();
                foreach (var (k, v) in tensors)
                {
                    if (!own.TryGetValue(k, out var t)) throw new InvalidDataException($"{weightsFile}: '{k}' is no tensor of this MaskSAM model");
                    t.copy_(v);
                }
            }
            model.to(device);
            model.eval();
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    public TrainedModel Load(LoadedRunConfig run, string weightsFile, Device device)
    {
        var cfg = SemanticSamMethod.ReadTaskConfig(run);
        if (cfg.ClassValues.Count < 2) throw new InvalidDataException($"{run.Path} lists no classes; it was not written by a {Name} run");
        string? baseCkpt = cfg.BaseCheckpoint == "" ? null : cfg.BaseCheckpoint;
        if (baseCkpt is not null && !File.Exists(baseCkpt))
            throw new FileNotFoundException($"the run was trained on the SAM checkpoint {baseCkpt}, which no longer exists; put it back (SHA-256 {cfg.BaseCheckpointSha256})");
        MaskSamModel model;
        try { model = Rebuild(weightsFile, baseCkpt, device); }
        catch (Exception e) when (e is InvalidDataException or ArgumentException)
        { throw new InvalidDataException($"cannot rebuild the model from {weightsFile}: {e.Message}", e); }
        var seg = new MaskSamSegmenter(model);
        return new TrainedModel(Name, seg)
        {
            Semantic = seg,
            Preprocessing = cfg.PredictionSampleOptions(),
            ClassValues = cfg.ClassValues,
            ClassNames = cfg.ClassNames,
        };
    }
}
