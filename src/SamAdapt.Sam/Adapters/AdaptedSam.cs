using System.Globalization;
using SamAdapt.Sam.Contracts;
using SamAdapt.Sam.Modeling;
using SamAdapt.Torch;
using SamAdapt.Torch.NN;
using SamAdapt.Torch.Serialization;

namespace SamAdapt.Sam.Adapters;

/// <summary>Outputs of <see cref="AdaptedSam.forward(Tensor, int?)"/>.</summary>
/// <param name="Logits">Class logits (B·D, K + 1, S, S) at the input resolution (softmax over dim 1; channel 0 = background).</param>
/// <param name="LowResLogits">The decoder's own output: (B·D, K + 1, S/4, S/4) for SAM-style up-sampling (SAMed computes its loss
/// here; <see cref="Logits"/> is its bilinear up-sampling), or the same tensor as <see cref="Logits"/> for the progressive decoder.</param>
/// <param name="IouPredictions">IoU head output (B·D, K + 1) (untrained by the methods' losses).</param>
public sealed record AdaptedSamOutput(Tensor Logits, Tensor LowResLogits, Tensor IouPredictions);

/// <summary>
/// SAM adapted for prompt-free multi-class segmentation of slice stacks: MA-SAM (<see cref="AdaptMethod.MaSam"/>, docs/methods.md §2)
/// or the SAMed LoRA baseline (<see cref="AdaptMethod.Lora"/>, §1).
/// <para><b>Structure and state-dict keys.</b> SAM's keys are unchanged (<c>image_encoder.*</c>, <c>prompt_encoder.*</c>,
/// <c>mask_decoder.*</c>), so a SAM checkpoint loads by key; the adaptation adds</para>
/// <list type="bullet">
/// <item>MA-SAM FacT: <c>image_encoder.fact.FacTu.weight</c> (r, C), <c>image_encoder.fact.FacTv.weight</c> (C, r) (shared),
/// <c>image_encoder.blocks.{i}.attn.fact.q_FacTs.weight</c>, <c>….attn.fact.v_FacTs.weight</c> (r, r);</item>
/// <item>MA-SAM 3D adapters: <c>image_encoder.blocks.{i}.adapter_1.{norm.weight,norm.bias,down.weight,conv.weight,conv.bias,up.weight}</c>
/// (before attention) and <c>….adapter_2.*</c> (before the MLP);</item>
/// <item>LoRA: <c>image_encoder.blocks.{i}.attn.lora.{linear_a_q,linear_b_q,linear_a_v,linear_b_v}.weight</c>;</item>
/// <item>the multi-class decoder (<see cref="MultiClassMaskDecoder"/>): <c>mask_decoder.mask_tokens.weight</c> (K+1, d),
/// K + 1 hypernetwork MLPs, the IoU head with K + 1 outputs and, progressive, <c>mask_decoder.output_upscaling.4/.6/.7/.9</c>.</item>
/// </list>
/// <para><b>Freezing</b> (<see cref="ApplyFreezing"/>, applied at construction): every <c>image_encoder.*</c> parameter is frozen except
/// FacT/LoRA and the 3D adapters; the prompt encoder and the mask decoder are trainable.</para>
/// <para><b>Input.</b> Images (B·D, 3, S, S), sample-major and slice-minor, already intensity-normalised to [0, 1] and replicated to
/// three channels; no pixel mean/std is applied (MA-SAM/SAMed use mean 0, std 1). S is <see cref="SamConfig.ImageSize"/> (512 by default).</para>
/// <para><b>Saving.</b> <see cref="TrainableStateDict"/> + <see cref="Metadata"/> (adapter.safetensors) when the frozen base is a SAM
/// checkpoint the user keeps (rebuild with <see cref="Rebuild"/> given that checkpoint); <see cref="FullStateDict"/> when the model was
/// built from a configuration (random base, nothing to rebuild the frozen weights from).</para>
/// The model is in eval mode after construction (call <c>train()</c> for FacT's dropout).
/// </summary>
public sealed class AdaptedSam : Module, ISemanticSegmenter
{
    /// <summary>Metadata value of <see cref="MetadataKeys.Format"/>.</summary>
    public const string FormatName = "samadapt.adapted-sam/1";

    /// <summary>Keys of <see cref="Metadata"/>.</summary>
    public static class MetadataKeys
    {
        public const string Format = "format";
        /// <summary>"ma-sam" or "lora".</summary>
        public const string Method = "method";
        /// <summary><see cref="AdapterConfig.ToJson"/>.</summary>
        public const string AdapterConfig = "adapter_config";
        /// <summary><see cref="SamConfigJson.ToJson"/> (the architecture, at the adapted input size).</summary>
        public const string SamConfig = "sam_config";
        /// <summary>"trainable" (only the trained tensors; needs the base SAM checkpoint) or "full" (every tensor).</summary>
        public const string Contents = "contents";
        /// <summary>FacT rank (MA-SAM) or LoRA rank.</summary>
        public const string Rank = "rank";
        public const string Bottleneck = "bottleneck";
        public const string NumClasses = "num_classes";
        public const string ImageSize = "image_size";
        public const string Slices = "slices";
        public const string Upscaling = "upscaling";
    }

    public const string ContentsTrainable = "trainable";
    public const string ContentsFull = "full";

    public readonly ImageEncoderViT image_encoder;
    public readonly PromptEncoder prompt_encoder;
    public readonly MultiClassMaskDecoder mask_decoder;
    /// <summary>FacT's shared factors (MA-SAM with FacT), else null.</summary>
    public readonly FacT? fact;

    /// <summary>The SAM architecture (pixel mean 0 / std 1).</summary>
    public SamConfig SamConfig { get; }
    /// <summary>The adaptation settings (with <see cref="AdapterConfig.Upscaling"/> resolved).</summary>
    public AdapterConfig Config { get; }
    /// <summary>Recompute each encoder block in backward (<see cref="Checkpoint.Run(Func{Tensor, Tensor}, Tensor)"/>) to save memory.</summary>
    public bool GradientCheckpointing
    {
        get => image_encoder.GradientCheckpointing;
        set => image_encoder.GradientCheckpointing = value;
    }

    /// <summary>Builds the model with random initialisation (PyTorch defaults; FacTv and LoRA B zero) and applies the freezing.</summary>
    public AdaptedSam(SamConfig sam, AdapterConfig config)
    {
        sam.Validate();
        config.Validate();
        SamConfig = sam with { PixelMean = [0f, 0f, 0f], PixelStd = [1f, 1f, 1f] };
        Config = config with { Upscaling = config.EffectiveUpscaling };
        image_encoder = register_module("image_encoder", new ImageEncoderViT(SamConfig));
        prompt_encoder = register_module("prompt_encoder", new PromptEncoder(SamConfig));
        mask_decoder = register_module("mask_decoder", new MultiClassMaskDecoder(SamConfig, config.NumClasses, config.EffectiveUpscaling));
        int e = sam.EncoderEmbedDim;
        if (config.Method == AdaptMethod.MaSam)
        {
            if (config.UseFact) fact = image_encoder.AttachShared("fact", new FacT(e, config.FactRank));
            foreach (var blk in image_encoder.blocks)
            {
                if (fact is not null) blk.attn.AttachQkvDelta("fact", new FactQkvDelta(fact, config.FactScale, config.FactDropout));
                if (config.UseAdapters3D)
                    blk.AttachAdapters(new Adapter3D(e, config.AdapterBottleneck), new Adapter3D(e, config.AdapterBottleneck));
            }
        }
        else if (config.Method == AdaptMethod.Lora)
        {
            foreach (var blk in image_encoder.blocks) blk.attn.AttachQkvDelta("lora", new LoraQkvDelta(e, config.LoraRank));
        }
        // AdaptMethod.Full attaches nothing: SAM's encoder as is, every weight trained
        ApplyFreezing();
        eval();
    }

    // ------------------------------------------------------------------ building

    /// <summary>A model from a configuration alone (random weights everywhere; <c>--model CONFIG.json</c>). Save it with <see cref="FullStateDict"/>.</summary>
    public static AdaptedSam FromConfig(SamConfig sam, AdapterConfig config, Device? device = null)
    {
        var m = new AdaptedSam(sam, config);
        if (device is { } d) m.to(d);
        return m;
    }

    /// <summary>
    /// Builds the adapted model for a SAM checkpoint (.pth or .safetensors) and loads it strictly into the base (see
    /// <see cref="LoadSamWeights"/>): the positional tables are resized to <paramref name="imageSize"/>. <paramref name="modelType"/>:
    /// "auto" (inferred from the shapes) or a preset name. FacT/LoRA and adapters keep their initialisation.
    /// </summary>
    public static AdaptedSam FromSamCheckpoint(string samCheckpoint, AdapterConfig config, int imageSize = 512, string modelType = SamCheckpoint.Auto,
        Device? device = null)
    {
        var sd = SamCheckpoint.ReadStateDict(samCheckpoint);
        SamConfig sam;
        if (string.Equals(modelType, SamCheckpoint.Auto, StringComparison.OrdinalIgnoreCase))
        {
            try { sam = SamCheckpoint.InferConfig(SamCheckpoint.Shapes(sd)) with { ImageSize = imageSize }; }
            catch (InvalidDataException e) { throw new InvalidDataException($"cannot infer the SAM model type of '{samCheckpoint}': {e.Message}", e); }
        }
        else sam = SamConfig.FromName(modelType, imageSize);
        var m = new AdaptedSam(sam, config);
        try
        {
            if (device is { } d) m.to(d);
            m.LoadSamWeights(sd, samCheckpoint);
            return m;
        }
        catch
        {
            m.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Rebuilds a saved model from a file written with <see cref="Metadata"/> (adapter.safetensors, best.safetensors): contents
    /// "full" need nothing else; contents "trainable" need the base SAM checkpoint the adapters were trained on
    /// (<paramref name="baseCheckpoint"/>), which is loaded first, then the trained tensors.
    /// </summary>
    public static AdaptedSam Rebuild(string adapterFile, string? baseCheckpoint = null, Device? device = null)
    {
        var (host, meta) = SafeTensors.Load(adapterFile);
        ReservedWeightKeys.RemoveFrom(host);
        var (sam, config, contents) = ReadMetadata(meta, adapterFile);
        var m = new AdaptedSam(sam, config);
        try
        {
            if (device is { } d) m.to(d);
            if (contents == ContentsTrainable)
            {
                if (baseCheckpoint is null)
                    throw new ArgumentException($"'{adapterFile}' holds only the trained tensors; the base SAM checkpoint they were trained on is needed to rebuild the model");
                m.LoadSamWeights(SamCheckpoint.ReadStateDict(baseCheckpoint), baseCheckpoint);
            }
            using var scope = DisposeScope.Begin();
            var tensors = host.ToDictionary(kv => kv.Key, kv => kv.Value.ToTensor());
            if (contents == ContentsTrainable) m.LoadTrainable(tensors);
            else m.load_state_dict(tensors, strict: true);
            return m;
        }
        catch
        {
            m.Dispose();
            throw;
        }
    }

    /// <summary>Reads the SAM and adapter configuration and the contents kind from <see cref="Metadata"/>-style metadata.</summary>
    public static (SamConfig Sam, AdapterConfig Config, string Contents) ReadMetadata(IReadOnlyDictionary<string, string> metadata, string source = "metadata")
    {
        string Get(string k) => metadata.TryGetValue(k, out var v) ? v
            : throw new InvalidDataException($"{source} has no '{k}' metadata; it was not written by SamAdapt's adapted-SAM training");
        var format = Get(MetadataKeys.Format);
        if (format != FormatName) throw new InvalidDataException($"{source}: unsupported format '{format}' (expected {FormatName})");
        var contents = Get(MetadataKeys.Contents);
        if (contents is not (ContentsTrainable or ContentsFull))
            throw new InvalidDataException($"{source}: unknown contents '{contents}' (expected {ContentsTrainable} or {ContentsFull})");
        return (SamConfig.FromJson(Get(MetadataKeys.SamConfig)), AdapterConfig.FromJson(Get(MetadataKeys.AdapterConfig)), contents);
    }

    // ------------------------------------------------------------------ forward

    /// <summary>
    /// Segments slice stacks. <paramref name="images"/>: (B·D, 3, S, S) sample-major/slice-minor (or (B·D, 1, S, S), replicated to 3
    /// channels; or (B, D, C, S, S), flattened, D taken from the shape), intensities in [0, 1]. <paramref name="depth"/>: D (default
    /// <see cref="AdapterConfig.Slices"/>); B·D must be a multiple of D. Prompt-free: no sparse tokens, SAM's no-mask dense embedding.
    /// </summary>
    public AdaptedSamOutput forward(Tensor images, int? depth = null)
    {
        using var scope = DisposeScope.Begin();
        int s = SamConfig.ImageSize;
        if (images.dim() == 5)
        {
            if (depth is { } dd && dd != images.size(1)) throw new ArgumentException($"depth {dd} disagrees with the stack axis of the input ({images.size(1)})");
            depth = (int)images.size(1);
            images = images.flatten(0, 1);
        }
        if (images.dim() != 4 || images.size(1) is not (1 or 3) || images.size(2) != s || images.size(3) != s)
            throw new ArgumentException($"the adapted SAM takes (B·D, 3, {s}, {s}) images, got [{string.Join(", ", images.shape)}]");
        if (images.size(1) == 1) images = images.expand(-1, 3, -1, -1);
        long n = images.size(0);
        var context = new EncoderContext(depth ?? Config.Slices); // per call: concurrent forwards on one model do not share it
        context.StacksIn(n);

        var emb = image_encoder.forward(images, context);
        long h = emb.size(2), w = emb.size(3);
        var pe = prompt_encoder.get_dense_pe();
        var sparse = torch.empty([n, 0, prompt_encoder.embed_dim], emb.dtype, emb.device);
        var dense = prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(n, -1, h, w);
        var (masks, iou) = mask_decoder.forward(emb, pe, sparse, dense);
        var logits = masks.size(2) == s && masks.size(3) == s
            ? masks
            : F.interpolate(masks, [s, s], InterpolationMode.Bilinear, alignCorners: false);
        return new AdaptedSamOutput(logits.MoveToOuterScope(), ReferenceEquals(logits, masks) ? logits : masks.MoveToOuterScope(), iou.MoveToOuterScope());
    }

    int ISemanticSegmenter.ImageSize => SamConfig.ImageSize;
    int ISemanticSegmenter.NumOutputClasses => Config.NumClasses + 1;
    Tensor ISemanticSegmenter.ClassLogits(Tensor images, int depth) => forward(images, depth).Logits;
    void ISemanticSegmenter.PrepareForInference() => eval();

    // ------------------------------------------------------------------ freezing and parameter groups

    /// <summary>Group names of <see cref="GroupOf"/>.</summary>
    public static class Groups
    {
        public const string Fact = "fact";
        public const string Lora = "lora";
        public const string Adapters3D = "adapters_3d";
        public const string PromptEncoder = "prompt_encoder";
        public const string MaskDecoder = "mask_decoder";
        /// <summary>The rest of the image encoder (frozen).</summary>
        public const string ImageEncoder = "image_encoder";
    }

    /// <summary>The group of a parameter name: fact, lora, adapters_3d, prompt_encoder, mask_decoder or image_encoder (the frozen base).</summary>
    public static string GroupOf(string name)
    {
        if (name.StartsWith("prompt_encoder.", StringComparison.Ordinal)) return Groups.PromptEncoder;
        if (name.StartsWith("mask_decoder.", StringComparison.Ordinal)) return Groups.MaskDecoder;
        if (name.StartsWith("image_encoder.fact.", StringComparison.Ordinal) || name.Contains(".attn.fact.", StringComparison.Ordinal)) return Groups.Fact;
        if (name.Contains(".attn.lora.", StringComparison.Ordinal)) return Groups.Lora;
        if (name.Contains(".adapter_1.", StringComparison.Ordinal) || name.Contains(".adapter_2.", StringComparison.Ordinal)) return Groups.Adapters3D;
        return Groups.ImageEncoder;
    }

    /// <summary>True for the parameters a parameter-efficient method trains (everything but the base image encoder).</summary>
    public static bool IsTrainableByMethod(string name) => GroupOf(name) != Groups.ImageEncoder;

    /// <summary>True for the parameters this model's method trains: every one for <see cref="AdaptMethod.Full"/>, else <see cref="IsTrainableByMethod"/>.</summary>
    public bool Trains(string name) => Config.Method == AdaptMethod.Full || IsTrainableByMethod(name);

    /// <summary>Freezes the base image encoder and makes FacT/LoRA, the adapters, the prompt encoder and the mask decoder trainable
    /// (full fine-tuning: everything trainable).</summary>
    public void ApplyFreezing()
    {
        foreach (var (name, p) in named_parameters())
        {
            bool on = Trains(name);
            if (p.requires_grad != on) p.requires_grad_(on);
        }
    }

    /// <summary>
    /// Parameters by group, in state-dict order (groups ordered fact/lora, adapters_3d, prompt_encoder, mask_decoder, image_encoder;
    /// empty groups omitted). <paramref name="trainableOnly"/>: only parameters with requires_grad (for the optimiser).
    /// </summary>
    public IReadOnlyList<NamedParameterGroup> ParameterGroups(bool trainableOnly = true)
    {
        string[] order = [Groups.Fact, Groups.Lora, Groups.Adapters3D, Groups.PromptEncoder, Groups.MaskDecoder, Groups.ImageEncoder];
        var byGroup = order.ToDictionary(g => g, _ => new List<(string, Tensor)>());
        foreach (var (name, p) in named_parameters())
            if (!trainableOnly || p.requires_grad) byGroup[GroupOf(name)].Add((name, p));
        return order.Where(g => byGroup[g].Count > 0).Select(g => new NamedParameterGroup(g, byGroup[g])).ToList();
    }

    /// <summary>Total and trainable parameter counts, and the count of each group (all parameters of the group).</summary>
    public ParameterSummary CountParameters()
    {
        long total = 0, trainable = 0;
        var byGroup = new Dictionary<string, long>();
        foreach (var g in ParameterGroups(trainableOnly: false))
        {
            byGroup[g.Name] = g.Count;
            total += g.Count;
            trainable += g.Parameters.Where(p => p.Parameter.requires_grad).Sum(p => p.Parameter.numel());
        }
        return new ParameterSummary(total, trainable, byGroup);
    }

    // ------------------------------------------------------------------ state dicts and metadata

    /// <summary>The parameters with requires_grad, by key (the module's own tensors): what adapter.safetensors holds.</summary>
    public Dictionary<string, Tensor> TrainableStateDict() =>
        named_parameters().Where(p => p.Value.requires_grad).ToDictionary(p => p.Name, p => p.Value);

    /// <summary>Every parameter and persistent buffer (for models built from a configuration, whose frozen base is random).</summary>
    public Dictionary<string, Tensor> FullStateDict() => state_dict();

    /// <summary>
    /// Loads trained tensors: every key must be a parameter or buffer of this model (else <see cref="InvalidDataException"/>), and every
    /// currently trainable parameter must be present (the file must come from the same method/configuration).
    /// </summary>
    public void LoadTrainable(IReadOnlyDictionary<string, Tensor> tensors)
    {
        var own = state_dict();
        var trainable = TrainableStateDict();
        var r = LoadResult.Diff(LoadResult.Shapes(own), LoadResult.Shapes(tensors), required: trainable.ContainsKey, sourceLabel: "file");
        if (!r.IsExact) throw new InvalidDataException($"the trained tensors do not fit this {Config.MethodName} model: {r.Describe(5)}");
        using var _ = torch.no_grad();
        foreach (var (k, v) in tensors) own[k].copy_(v);
    }

    /// <summary>
    /// Metadata that, with the tensors of <see cref="TrainableStateDict"/> (contents "trainable") or <see cref="FullStateDict"/>
    /// (contents "full"), rebuilds this model exactly (<see cref="Rebuild"/>). Keys: <see cref="MetadataKeys"/>; callers may add their
    /// own (e.g. the base checkpoint's SHA-256).
    /// </summary>
    public Dictionary<string, string> Metadata(string contents = ContentsTrainable)
    {
        if (contents is not (ContentsTrainable or ContentsFull)) throw new ArgumentException($"contents must be {ContentsTrainable} or {ContentsFull}");
        var c = Config;
        return new Dictionary<string, string>
        {
            [MetadataKeys.Format] = FormatName,
            [MetadataKeys.Method] = c.MethodName,
            [MetadataKeys.Contents] = contents,
            [MetadataKeys.AdapterConfig] = c.ToJson(),
            [MetadataKeys.SamConfig] = SamConfigJson.ToJson(SamConfig),
            [MetadataKeys.Rank] = (c.Method switch { AdaptMethod.Lora => c.LoraRank, AdaptMethod.MaSam => c.FactRank, _ => 0 }).ToString(CultureInfo.InvariantCulture),
            [MetadataKeys.Bottleneck] = (c.Method == AdaptMethod.MaSam && c.UseAdapters3D ? c.AdapterBottleneck : 0).ToString(CultureInfo.InvariantCulture),
            [MetadataKeys.NumClasses] = c.NumClasses.ToString(CultureInfo.InvariantCulture),
            [MetadataKeys.ImageSize] = SamConfig.ImageSize.ToString(CultureInfo.InvariantCulture),
            [MetadataKeys.Slices] = c.Slices.ToString(CultureInfo.InvariantCulture),
            [MetadataKeys.Upscaling] = c.EffectiveUpscaling == DecoderUpscaling.Sam ? "sam" : "progressive",
        };
    }

    /// <summary>Writes the trained tensors with <see cref="Metadata"/> (contents "trainable") to a safetensors file, atomically.</summary>
    public void SaveTrainable(string path, IReadOnlyDictionary<string, string>? extraMetadata = null) =>
        Save(path, TrainableStateDict(), ContentsTrainable, extraMetadata);

    /// <summary>Writes every tensor with <see cref="Metadata"/> (contents "full") to a safetensors file, atomically.</summary>
    public void SaveFull(string path, IReadOnlyDictionary<string, string>? extraMetadata = null) =>
        Save(path, FullStateDict(), ContentsFull, extraMetadata);

    private void Save(string path, Dictionary<string, Tensor> tensors, string contents, IReadOnlyDictionary<string, string>? extra)
    {
        var meta = Metadata(contents);
        if (extra is not null)
            foreach (var (k, v) in extra)
            {
                if (meta.ContainsKey(k)) throw new ArgumentException($"metadata key '{k}' is reserved");
                meta[k] = v;
            }
        SafeTensors.Save(path, tensors.Select(kv => new KeyValuePair<string, HostTensor>(kv.Key, kv.Value.ToHost())), meta);
    }

    // ------------------------------------------------------------------ SAM checkpoint loading

    /// <summary>
    /// Loads a SAM v1 state dict into the base model. Loaded: every <c>image_encoder.*</c> key of SAM (positional tables resized
    /// to this input size), every <c>prompt_encoder.*</c> key, and <c>mask_decoder.transformer.*</c>, <c>mask_decoder.iou_token.*</c>,
    /// <c>mask_decoder.output_upscaling.0/.1/.3.*</c>. Deliberately not loaded (random initialisation, as in SAMed/MA-SAM):
    /// the checkpoint's <c>mask_decoder.mask_tokens</c>, <c>output_hypernetworks_mlps.*</c> and <c>iou_prediction_head.*</c>
    /// (their sizes depend on the class count). FacT/LoRA, the 3D adapters and new decoder layers are not touched.
    /// Strict: a base key missing from the checkpoint, an unknown checkpoint key or a shape mismatch throws
    /// <see cref="InvalidDataException"/> naming them; otherwise the result lists them.
    /// </summary>
    public LoadResult LoadSamWeights(IReadOnlyDictionary<string, HostTensor> stateDict, string source = "SAM checkpoint", bool strict = true)
    {
        var sd = SamCheckpoint.NormalizeKeys(stateDict.ToDictionary(kv => kv.Key, kv => kv.Value));
        using var scope = DisposeScope.Begin();
        var positional = new Dictionary<string, Tensor>();
        foreach (var (k, h) in sd)
            if (k == "image_encoder.pos_embed" || (k.StartsWith("image_encoder.blocks.", StringComparison.Ordinal) && k.Contains(".attn.rel_pos_", StringComparison.Ordinal)))
                positional[k] = h.ToTensor();
        var resized = SamCheckpoint.ResizePositionalTables(positional, SamConfig);

        var own = state_dict();
        bool Loadable(string k) => GroupOf(k) is Groups.ImageEncoder or Groups.PromptEncoder ||
            (k.StartsWith("mask_decoder.", StringComparison.Ordinal) && MultiClassMaskDecoder.LoadsFromSam(k["mask_decoder.".Length..]));
        bool SkippedInCheckpoint(string k) => k.StartsWith("mask_decoder.", StringComparison.Ordinal) && !MultiClassMaskDecoder.LoadsFromSam(k["mask_decoder.".Length..]);
        var shapeOf = (string k) => resized.TryGetValue(k, out var r) ? r.shape : sd[k].Shape;
        var result = LoadResult.Diff(LoadResult.Shapes(own), sd.Keys.ToDictionary(k => k, shapeOf),
            required: Loadable, accepted: Loadable, ignored: SkippedInCheckpoint);
        if (strict && !result.IsExact)
            throw new InvalidDataException($"{source} does not fit the base of SAM {SamConfig.Describe()}: {result.Describe(5)}. {SamCheckpoint.DescribeCheckpoint(sd)}");
        using var _ = torch.no_grad();
        foreach (var (k, dst) in own)
        {
            if (!Loadable(k) || !sd.TryGetValue(k, out var h) || !shapeOf(k).SequenceEqual(dst.shape)) continue;
            if (resized.TryGetValue(k, out var r)) dst.copy_(r);
            else
            {
                using var t = h.ToTensor().DetachFromScope();
                dst.copy_(t);
            }
        }
        return result;
    }
}

/// <summary>A named group of parameters (name, tensor), for the optimiser and reports.</summary>
public sealed record NamedParameterGroup(string Name, IReadOnlyList<(string Name, Tensor Parameter)> Parameters)
{
    /// <summary>Number of scalars in the group.</summary>
    public long Count => Parameters.Sum(p => p.Parameter.numel());
    public IReadOnlyList<Tensor> Tensors => Parameters.Select(p => p.Parameter).ToList();
}

/// <summary>Parameter counts of an <see cref="AdaptedSam"/>: total, trainable, and per group (<see cref="AdaptedSam.Groups"/>).</summary>
public sealed record ParameterSummary(long Total, long Trainable, IReadOnlyDictionary<string, long> ByGroup)
{
    /// <summary>"total N · trainable N (P%) · fact N · adapters_3d N · prompt_encoder N · mask_decoder N · image_encoder N" for logs.</summary>
    public string Describe() =>
        string.Create(CultureInfo.InvariantCulture, $"total {Total:N0} · trainable {Trainable:N0} ({100.0 * Trainable / Math.Max(Total, 1):F2}%) · ") +
        string.Join(" · ", ByGroup.Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key} {kv.Value:N0}")));
}
