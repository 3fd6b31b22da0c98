using System.Text.RegularExpressions;
using SamAdapt.Sam.Modeling;
using SamAdapt.Torch;
using SamAdapt.Torch.NN;
using SamAdapt.Torch.Serialization;

namespace SamAdapt.Sam;

/// <summary>
/// Builds SAM v1 models and loads checkpoints into them (docs/sam.md §5): official <c>.pth</c> files (shared storages, offsets,
/// strides), safetensors, wrapped dicts (<c>{"model": sd}</c>), DDP <c>module.</c> prefixes and half/bfloat16 weights (converted
/// to the model's float32). Loading is strict by default. The model type can be named ("vit_b", "vit_l", "vit_h") or inferred
/// from the tensor shapes ("auto"). For an input size other than the checkpoint's, the absolute position embedding and the
/// global blocks' relative-position tables are resized at load time (<see cref="ResizePositionalTables"/>).
/// </summary>
public static partial class SamCheckpoint
{
    /// <summary>Model type value that infers the architecture from the checkpoint.</summary>
    public const string Auto = "auto";

    /// <summary>A randomly initialised model of a preset ("vit_b", "vit_l", "vit_h"), optionally at another input size.</summary>
    public static SamModel Build(string modelType, int? imageSize = null) => new(SamConfig.FromName(modelType, imageSize));

    /// <summary>
    /// Builds and loads a model from a checkpoint file. <paramref name="modelType"/>: "auto" (inferred from the shapes; the decoder head
    /// count, which shapes do not determine, is 8 as in every released model) or a preset name. <paramref name="imageSize"/>: the model's
    /// input size (null: the checkpoint's own); positional tables are resized when it differs.
    /// </summary>
    /// <exception cref="InvalidDataException">The file does not fit the model (message names the first offending keys and the inferred type).</exception>
    public static SamModel Load(string path, string modelType = Auto, int? imageSize = null, bool strict = true, Device? device = null)
    {
        var sd = ReadStateDict(path);
        SamConfig config;
        if (string.Equals(modelType, Auto, StringComparison.OrdinalIgnoreCase))
        {
            try { config = InferConfig(Shapes(sd)); }
            catch (InvalidDataException e) { throw new InvalidDataException($"cannot infer the SAM model type of '{path}': {e.Message}", e); }
            if (imageSize is { } s) config = config with { ImageSize = s };
        }
        else config = SamConfig.FromName(modelType, imageSize);
        return Load(sd, config, path, strict, device);
    }

    /// <summary>Builds a model of <paramref name="config"/> and loads the checkpoint file into it.</summary>
    public static SamModel Load(string path, SamConfig config, bool strict = true, Device? device = null) =>
        Load(ReadStateDict(path), config, path, strict, device);

    private static SamModel Load(Dictionary<string, HostTensor> sd, SamConfig config, string source, bool strict, Device? device)
    {
        var model = new SamModel(config);
        try
        {
            if (device is { } d) model.to(d);
            LoadStateDict(model, sd, source, strict);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reads a checkpoint file's state dict (.pth or safetensors, detected from the content), unwrapping training checkpoints and
    /// stripping a DDP <c>module.</c> prefix shared by all keys.
    /// </summary>
    public static Dictionary<string, HostTensor> ReadStateDict(string path) => NormalizeKeys(CheckpointFile.LoadStateDict(path));

    /// <summary>Strips a <c>module.</c> prefix (DistributedDataParallel) when every key carries it.</summary>
    public static Dictionary<string, T> NormalizeKeys<T>(Dictionary<string, T> sd)
    {
        const string prefix = "module.";
        if (sd.Count == 0 || !sd.Keys.All(k => k.StartsWith(prefix, StringComparison.Ordinal))) return sd;
        return sd.ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value);
    }

    /// <summary>Shapes by key.</summary>
    public static Dictionary<string, long[]> Shapes(IReadOnlyDictionary<string, HostTensor> sd) => sd.ToDictionary(kv => kv.Key, kv => kv.Value.Shape);

    /// <summary>Shapes by key.</summary>
    public static Dictionary<string, long[]> Shapes(IReadOnlyDictionary<string, Tensor> sd) => sd.ToDictionary(kv => kv.Key, kv => kv.Value.shape);

    /// <summary>
    /// Loads a state dict into <paramref name="model"/>: keys normalised, positional tables resized to the model's input size when
    /// they differ, values converted to the parameters' dtype and device. Strict mode throws <see cref="InvalidDataException"/>
    /// naming the first missing, unexpected and mis-shaped keys and the model type the checkpoint looks like; otherwise the
    /// matching keys are loaded and the mismatches returned.
    /// </summary>
    public static LoadResult LoadStateDict(SamModel model, IReadOnlyDictionary<string, HostTensor> stateDict, string source = "state dict", bool strict = true)
    {
        var sd = NormalizeKeys(stateDict.ToDictionary(kv => kv.Key, kv => kv.Value));
        using var scope = DisposeScope.Begin();
        // positional tables: convert only these, resize if the model's grid differs
        var positional = new Dictionary<string, Tensor>();
        foreach (var (k, h) in sd)
            if (IsPositionalKey(k)) positional[k] = ToTensor(h);
        var resized = ResizePositionalTables(positional, model.Config);

        var own = model.state_dict();
        bool WasResized(string k) => resized.TryGetValue(k, out var r) && !ReferenceEquals(r, positional[k]);
        // compared at the shape a table is resized to; the message names the file's own shape too
        var result = LoadResult.Diff(LoadResult.Shapes(own), sd.ToDictionary(kv => kv.Key, kv => WasResized(kv.Key) ? resized[kv.Key].shape : kv.Value.Shape),
            describeSource: k => $"checkpoint [{string.Join(",", sd[k].Shape)}]" + (WasResized(k) ? $", resized to [{string.Join(",", resized[k].shape)}]" : ""));
        if (strict && !result.IsExact)
            throw new InvalidDataException(
                $"{source} does not fit SAM {model.Config.Describe()}: {result.Describe(5)}. {DescribeCheckpoint(sd)}");

        using (torch.no_grad())
        {
            foreach (var (k, dst) in own)
            {
                if (!sd.TryGetValue(k, out var h)) continue;
                if (resized.TryGetValue(k, out var r))
                {
                    if (r.shape.SequenceEqual(dst.shape)) dst.copy_(r);
                    continue;
                }
                if (!h.Shape.SequenceEqual(dst.shape)) continue;
                using var t = ToTensor(h).DetachFromScope();
                dst.copy_(t);
            }
        }
        return result;
    }

    /// <summary>
    /// Loads an in-memory state dict of tensors (e.g. from another model): keys normalised and positional tables resized as in
    /// <see cref="LoadStateDict(SamModel, IReadOnlyDictionary{string, HostTensor}, string, bool)"/>, then copied into the parameters.
    /// </summary>
    public static LoadResult LoadStateDict(SamModel model, IReadOnlyDictionary<string, Tensor> stateDict, bool strict = true)
    {
        using var scope = DisposeScope.Begin();
        var sd = ResizePositionalTables(NormalizeKeys(stateDict.ToDictionary(kv => kv.Key, kv => kv.Value)), model.Config);
        return model.load_state_dict(sd, strict);
    }

    /// <summary>"The file looks like …" — the inferred architecture of a state dict, for error messages.</summary>
    public static string DescribeCheckpoint(IReadOnlyDictionary<string, HostTensor> sd)
    {
        try
        {
            var c = InferConfig(Shapes(sd));
            return $"The checkpoint looks like SAM {c.Describe()}.";
        }
        catch (InvalidDataException e)
        {
            return $"The checkpoint does not look like a SAM v1 model ({e.Message}); its first keys are: {string.Join(", ", sd.Keys.Take(5))}.";
        }
    }

    private static Tensor ToTensor(HostTensor h)
    {
        var t = Tensor.FromBytes(h.Data, h.DType, h.Shape);
        return t;
    }

    private static bool IsPositionalKey(string k) =>
        k == "image_encoder.pos_embed" || (k.StartsWith("image_encoder.blocks.", StringComparison.Ordinal) && (k.EndsWith(".attn.rel_pos_h", StringComparison.Ordinal) || k.EndsWith(".attn.rel_pos_w", StringComparison.Ordinal)));

    /// <summary>
    /// Adapts a SAM state dict's positional tables to <paramref name="target"/>'s input size (SAMed/MA-SAM's load-time conversion,
    /// docs/methods.md §1–2): <c>image_encoder.pos_embed</c> (1, g, g, E) is resized to the target grid with bilinear interpolation
    /// (align_corners=False) over its spatial dims, and each global block's <c>rel_pos_h</c>/<c>rel_pos_w</c> (2g − 1, head_dim) is
    /// resized to (2g' − 1, head_dim) with bilinear interpolation of the table viewed as a (1, 1, L, head_dim) image. Windowed blocks'
    /// tables are left as they are. Returns a new dictionary: tables already of the target size, and all other keys, are the same
    /// tensor objects; resized tables are new tensors created in the current dispose scope.
    /// </summary>
    public static Dictionary<string, Tensor> ResizePositionalTables(IReadOnlyDictionary<string, Tensor> stateDict, SamConfig target)
    {
        var result = new Dictionary<string, Tensor>(stateDict);
        int g = target.ImageEmbeddingSize;
        using var _ = torch.no_grad();
        if (stateDict.TryGetValue("image_encoder.pos_embed", out var pos) && pos.dim() == 4 && (pos.size(1) != g || pos.size(2) != g))
        {
            using var scope = DisposeScope.Begin();
            var src = pos.dtype == DType.Float32 ? pos : pos.to(DType.Float32);
            var r = F.interpolate(src.permute(0, 3, 1, 2), [g, g], InterpolationMode.Bilinear, alignCorners: false)
                .permute(0, 2, 3, 1).contiguous();
            result["image_encoder.pos_embed"] = r.MoveToOuterScope();
        }
        long len = 2L * g - 1;
        foreach (int i in target.GlobalAttnIndexes)
        {
            foreach (var axis in new[] { "h", "w" })
            {
                var key = $"image_encoder.blocks.{i}.attn.rel_pos_{axis}";
                if (!stateDict.TryGetValue(key, out var rel) || rel.dim() != 2 || rel.size(0) == len) continue;
                using var scope = DisposeScope.Begin();
                var src = rel.dtype == DType.Float32 ? rel : rel.to(DType.Float32);
                var r = F.interpolate(src.unsqueeze(0).unsqueeze(0), [len, rel.size(1)], InterpolationMode.Bilinear, alignCorners: false)
                    .select(0, 0).select(0, 0).contiguous();
                result[key] = r.MoveToOuterScope();
            }
        }
        return result;
    }

    [GeneratedRegex(@"^image_encoder\.blocks\.(\d+)\.")]
    private static partial Regex EncoderBlockRegex();

    [GeneratedRegex(@"^mask_decoder\.transformer\.layers\.(\d+)\.")]
    private static partial Regex DecoderLayerRegex();

    [GeneratedRegex(@"^mask_decoder\.iou_prediction_head\.layers\.(\d+)\.")]
    private static partial Regex IouLayerRegex();

    /// <summary>
    /// Infers the architecture from state-dict shapes: embed dim and grid from pos_embed, patch size from the patch conv, depth from the
    /// block count, head dim from rel_pos (heads = E / head_dim), global blocks as those whose rel_pos spans the whole grid (2g − 1),
    /// window size from the other blocks' tables, and the prompt/decoder sizes from their layers. The decoder head count is not
    /// determined by shapes; <paramref name="decoderNumHeads"/> (8 in every released model) is used.
    /// <see cref="SamConfig.ModelType"/> of the result names the preset ("vit_b", "vit_l", "vit_h" or "custom").
    /// </summary>
    /// <exception cref="InvalidDataException">A key the inference needs is missing or has an unexpected rank.</exception>
    public static SamConfig InferConfig(IReadOnlyDictionary<string, long[]> shapes, int decoderNumHeads = 8)
    {
        long[] Get(string key, int rank)
        {
            if (!shapes.TryGetValue(key, out var s)) throw new InvalidDataException($"no '{key}'");
            if (s.Length != rank) throw new InvalidDataException($"'{key}' has shape [{string.Join(",", s)}], expected rank {rank}");
            return s;
        }
        static int Count(IEnumerable<string> keys, Regex re) =>
            keys.Select(k => re.Match(k)).Where(m => m.Success).Select(m =>
                int.TryParse(m.Groups[1].Value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var i) && i < 100_000
                    ? i : throw new InvalidDataException($"key '{m.Value}': expected a layer index below 100000, found {m.Groups[1].Value}"))
                .DefaultIfEmpty(-1).Max() + 1;

        var pos = Get("image_encoder.pos_embed", 4);
        int grid = (int)pos[1], e = (int)pos[3];
        if (pos[1] != pos[2]) throw new InvalidDataException($"pos_embed grid {pos[1]}x{pos[2]} is not square");
        int patch = (int)Get("image_encoder.patch_embed.proj.weight", 4)[2];
        int depth = Count(shapes.Keys, EncoderBlockRegex());
        if (depth <= 0) throw new InvalidDataException("no image_encoder.blocks");
        var global = new List<int>();
        int window = 0, headDim = 0;
        for (int i = 0; i < depth; i++)
        {
            var rel = Get($"image_encoder.blocks.{i}.attn.rel_pos_h", 2);
            headDim = (int)rel[1];
            if (rel[0] == 2L * grid - 1) global.Add(i);
            else window = (int)(rel[0] + 1) / 2;
        }
        if (window == 0) window = SamConfig.VitB.WindowSize;
        if (headDim <= 0 || e % headDim != 0) throw new InvalidDataException($"rel_pos head dim {headDim} does not divide the embed dim {e}");
        double mlpRatio = (double)Get("image_encoder.blocks.0.mlp.lin1.weight", 2)[0] / e;
        int promptDim = (int)Get("image_encoder.neck.0.weight", 4)[0];
        int maskInChans = (int)Get("prompt_encoder.mask_downscaling.3.weight", 4)[0];
        int decDepth = Count(shapes.Keys, DecoderLayerRegex());
        if (decDepth <= 0) throw new InvalidDataException("no mask_decoder.transformer.layers");
        int decMlp = (int)Get("mask_decoder.transformer.layers.0.mlp.lin1.weight", 2)[0];
        long crossDim = Get("mask_decoder.transformer.layers.0.cross_attn_token_to_image.q_proj.weight", 2)[0];
        int numMaskTokens = (int)Get("mask_decoder.mask_tokens.weight", 2)[0];
        int iouDepth = Count(shapes.Keys, IouLayerRegex());
        int iouHidden = iouDepth > 1 ? (int)Get("mask_decoder.iou_prediction_head.layers.0.weight", 2)[0] : SamConfig.VitB.IouHeadHiddenDim;
        var cfg = new SamConfig
        {
            ImageSize = grid * patch,
            PatchSize = patch,
            EncoderEmbedDim = e,
            EncoderDepth = depth,
            EncoderNumHeads = e / headDim,
            GlobalAttnIndexes = global.ToArray(),
            WindowSize = window,
            MlpRatio = mlpRatio,
            PromptEmbedDim = promptDim,
            MaskInChans = maskInChans,
            NumMultimaskOutputs = numMaskTokens - 1,
            DecoderDepth = decDepth,
            DecoderMlpDim = decMlp,
            DecoderNumHeads = decoderNumHeads,
            AttentionDownsampleRate = crossDim > 0 ? (int)(promptDim / crossDim) : 2,
            IouHeadDepth = Math.Max(iouDepth, 1),
            IouHeadHiddenDim = iouHidden,
        };
        try { cfg.Validate(); }
        catch (ArgumentException ex) { throw new InvalidDataException(ex.Message, ex); }
        return cfg;
    }

    /// <summary>The preset name ("vit_b", "vit_l", "vit_h") or "custom" of a state dict, from its shapes.</summary>
    public static string InferModelType(IReadOnlyDictionary<string, long[]> shapes) => InferConfig(shapes).ModelType;
}
