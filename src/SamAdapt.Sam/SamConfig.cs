using System.Text.Json;

namespace SamAdapt.Sam;

/// <summary>
/// Architecture of a SAM v1 model (docs/sam.md §0). The presets <see cref="VitB"/>, <see cref="VitL"/> and <see cref="VitH"/>
/// are the released models; any other size is a custom configuration. <see cref="ImageSize"/> is the square input the
/// encoder takes (1024 for the released checkpoints; MA-SAM/SAMed use 512), and sets the token grid
/// <see cref="ImageEmbeddingSize"/> = ImageSize / PatchSize.
/// </summary>
public sealed record SamConfig
{
    // ---- image encoder ----
    public int ImageSize { get; init; } = 1024;
    public int PatchSize { get; init; } = 16;
    public int EncoderEmbedDim { get; init; } = 768;
    public int EncoderDepth { get; init; } = 12;
    public int EncoderNumHeads { get; init; } = 12;
    public int[] GlobalAttnIndexes { get; init; } = [2, 5, 8, 11];
    public int WindowSize { get; init; } = 14;
    public double MlpRatio { get; init; } = 4.0;
    /// <summary>Output channels of the neck = prompt/decoder embedding dim (256 for SAM).</summary>
    public int PromptEmbedDim { get; init; } = 256;

    // ---- prompt encoder ----
    public int MaskInChans { get; init; } = 16;

    // ---- mask decoder ----
    public int NumMultimaskOutputs { get; init; } = 3;
    public int DecoderDepth { get; init; } = 2;
    public int DecoderMlpDim { get; init; } = 2048;
    public int DecoderNumHeads { get; init; } = 8;
    public int AttentionDownsampleRate { get; init; } = 2;
    public int IouHeadDepth { get; init; } = 3;
    public int IouHeadHiddenDim { get; init; } = 256;

    // ---- preprocessing ----
    public float[] PixelMean { get; init; } = [123.675f, 116.28f, 103.53f];
    public float[] PixelStd { get; init; } = [58.395f, 57.12f, 57.375f];

    /// <summary>Token grid side: ImageSize / PatchSize (64 at 1024).</summary>
    public int ImageEmbeddingSize => ImageSize / PatchSize;

    /// <summary>Side of the low-resolution masks and of the mask prompt: 4 × <see cref="ImageEmbeddingSize"/> (256 at 1024).</summary>
    public int LowResMaskSize => 4 * ImageEmbeddingSize;

    public int EncoderHeadDim => EncoderEmbedDim / EncoderNumHeads;

    public static SamConfig VitB { get; } = new();

    public static SamConfig VitL { get; } = new()
    {
        EncoderEmbedDim = 1024, EncoderDepth = 24, EncoderNumHeads = 16, GlobalAttnIndexes = [5, 11, 17, 23],
    };

    public static SamConfig VitH { get; } = new()
    {
        EncoderEmbedDim = 1280, EncoderDepth = 32, EncoderNumHeads = 16, GlobalAttnIndexes = [7, 15, 23, 31],
    };

    /// <summary>The preset names accepted by <see cref="FromName"/>.</summary>
    public static IReadOnlyList<string> PresetNames { get; } = ["vit_b", "vit_l", "vit_h"];

    /// <summary>
    /// A preset by name: "vit_b", "vit_l", "vit_h" (case-insensitive; "default" is vit_h as in SAM's registry), optionally at another
    /// input size. Throws <see cref="ArgumentException"/> listing the known names otherwise.
    /// </summary>
    public static SamConfig FromName(string name, int? imageSize = null)
    {
        var cfg = name.Trim().ToLowerInvariant() switch
        {
            "vit_b" or "vitb" or "vit-b" => VitB,
            "vit_l" or "vitl" or "vit-l" => VitL,
            "vit_h" or "vith" or "vit-h" or "default" => VitH,
            _ => throw new ArgumentException($"unknown SAM model type '{name}'; expected one of {string.Join(", ", PresetNames)} (or 'auto' when loading a checkpoint)", nameof(name)),
        };
        return imageSize is { } s ? cfg with { ImageSize = s } : cfg;
    }

    /// <summary>
    /// The preset this architecture equals ("vit_b", "vit_l", "vit_h"), ignoring <see cref="ImageSize"/> and pixel statistics;
    /// "custom" otherwise.
    /// </summary>
    public string ModelType
    {
        get
        {
            foreach (var n in PresetNames)
            {
                var p = FromName(n) with { ImageSize = ImageSize, PixelMean = PixelMean, PixelStd = PixelStd };
                if (ArchitectureEquals(p)) return n;
            }
            return "custom";
        }
    }

    /// <summary>True when both configurations build the same modules (pixel statistics are not compared).</summary>
    public bool ArchitectureEquals(SamConfig o) =>
        ImageSize == o.ImageSize && PatchSize == o.PatchSize && EncoderEmbedDim == o.EncoderEmbedDim &&
        EncoderDepth == o.EncoderDepth && EncoderNumHeads == o.EncoderNumHeads && GlobalAttnIndexes.SequenceEqual(o.GlobalAttnIndexes) &&
        WindowSize == o.WindowSize && MlpRatio == o.MlpRatio && PromptEmbedDim == o.PromptEmbedDim && MaskInChans == o.MaskInChans &&
        NumMultimaskOutputs == o.NumMultimaskOutputs && DecoderDepth == o.DecoderDepth && DecoderMlpDim == o.DecoderMlpDim &&
        DecoderNumHeads == o.DecoderNumHeads && AttentionDownsampleRate == o.AttentionDownsampleRate &&
        IouHeadDepth == o.IouHeadDepth && IouHeadHiddenDim == o.IouHeadHiddenDim;

    /// <summary>Value equality over all fields, arrays compared element-wise.</summary>
    public bool Equals(SamConfig? other) =>
        other is not null && ArchitectureEquals(other) && PixelMean.SequenceEqual(other.PixelMean) && PixelStd.SequenceEqual(other.PixelStd);

    public override int GetHashCode() => HashCode.Combine(ImageSize, EncoderEmbedDim, EncoderDepth, EncoderNumHeads, WindowSize, PromptEmbedDim);

    /// <summary>Checks that the sizes are consistent (divisibility, ranges); throws <see cref="ArgumentException"/> naming the problem.</summary>
    public void Validate()
    {
        void Check(bool ok, string msg) { if (!ok) throw new ArgumentException("invalid SAM configuration: " + msg); }
        Check(PatchSize > 0 && ImageSize > 0 && ImageSize % PatchSize == 0, $"image size {ImageSize} must be a positive multiple of the patch size {PatchSize}");
        Check(EncoderEmbedDim > 0 && EncoderNumHeads > 0 && EncoderEmbedDim % EncoderNumHeads == 0, $"encoder embed dim {EncoderEmbedDim} must be divisible by its {EncoderNumHeads} heads");
        Check(EncoderDepth > 0, "encoder depth must be positive");
        Check(GlobalAttnIndexes.All(i => i >= 0 && i < EncoderDepth), $"global attention indexes [{string.Join(", ", GlobalAttnIndexes)}] must lie in 0..{EncoderDepth - 1}");
        Check(WindowSize >= 0, "window size must be ≥ 0");
        Check(PromptEmbedDim > 0 && PromptEmbedDim % 2 == 0 && PromptEmbedDim % 8 == 0, $"prompt embed dim {PromptEmbedDim} must be a positive multiple of 8");
        Check(MaskInChans > 0 && MaskInChans % 4 == 0, $"mask_in_chans {MaskInChans} must be a positive multiple of 4");
        Check(DecoderNumHeads > 0 && PromptEmbedDim % DecoderNumHeads == 0, $"decoder dim {PromptEmbedDim} must be divisible by its {DecoderNumHeads} heads");
        Check(AttentionDownsampleRate > 0 && (PromptEmbedDim / AttentionDownsampleRate) % DecoderNumHeads == 0,
            $"decoder cross-attention dim {PromptEmbedDim}/{AttentionDownsampleRate} must be divisible by {DecoderNumHeads} heads");
        Check(NumMultimaskOutputs >= 1 && DecoderDepth >= 1 && DecoderMlpDim > 0 && IouHeadDepth >= 1 && IouHeadHiddenDim > 0, "decoder sizes must be positive");
        Check(PixelMean.Length == 3 && PixelStd.Length == 3, "pixel mean/std need 3 values");
        Check(MlpRatio > 0 && double.IsFinite(MlpRatio) && MlpRatio <= 64, $"mlp_ratio {MlpRatio} must lie in (0, 64]");
        // refuse a configuration whose weights alone exceed the memory limit, before any tensor is allocated
        double e = EncoderEmbedDim, d = PromptEmbedDim, tokens = (double)ImageEmbeddingSize * ImageEmbeddingSize;
        double parameters = EncoderDepth * (4 * e * e + 2 * e * e * MlpRatio) + 3.0 * PatchSize * PatchSize * e + tokens * e
            + DecoderDepth * (4 * d * d + 2 * d * DecoderMlpDim) + IouHeadDepth * (double)IouHeadHiddenDim * IouHeadHiddenDim;
        SamAdapt.Common.ResourceLimits.Check(
            $"SAM configuration (depth {EncoderDepth}, embed {EncoderEmbedDim}, image {ImageSize}: {parameters:G3} parameters)", parameters, 4);
    }

    /// <summary>
    /// Reads a configuration JSON. Accepts the golden fixture's short names (<c>img_size, patch, embed, depth, heads, global_idx,
    /// window, prompt_dim, mask_in_chans, dec_mlp, dec_heads, iou_hidden</c>) and SAM's long names (<c>image_size,
    /// vit_patch_size, encoder_embed_dim, encoder_depth, encoder_num_heads, encoder_global_attn_indexes, window_size,
    /// prompt_embed_dim, …</c>); unset fields keep vit_b's values, and a "model_type" field selects the starting preset.
    /// </summary>
    public static SamConfig FromJson(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new FormatException("SAM configuration JSON must be an object");
        var cfg = root.TryGetProperty("model_type", out var mt) && mt.ValueKind == JsonValueKind.String ? FromName(mt.GetString()!) : VitB;
        var known = new HashSet<string>(StringComparer.Ordinal);
        int Int(string[] names, int current)
        {
            foreach (var n in names)
            {
                known.Add(n);
                if (root.TryGetProperty(n, out var v)) return v.GetInt32();
            }
            return current;
        }
        int[] Ints(string[] names, int[] current)
        {
            foreach (var n in names)
            {
                known.Add(n);
                if (root.TryGetProperty(n, out var v)) return v.EnumerateArray().Select(e => e.GetInt32()).ToArray();
            }
            return current;
        }
        float[] Floats(string name, float[] current)
        {
            known.Add(name);
            return root.TryGetProperty(name, out var v) ? v.EnumerateArray().Select(e => e.GetSingle()).ToArray() : current;
        }
        double mlpRatio = cfg.MlpRatio;
        known.Add("mlp_ratio");
        if (root.TryGetProperty("mlp_ratio", out var mr)) mlpRatio = mr.GetDouble();
        known.Add("model_type");
        cfg = cfg with
        {
            ImageSize = Int(["img_size", "image_size"], cfg.ImageSize),
            PatchSize = Int(["patch", "vit_patch_size", "patch_size"], cfg.PatchSize),
            EncoderEmbedDim = Int(["embed", "encoder_embed_dim"], cfg.EncoderEmbedDim),
            EncoderDepth = Int(["depth", "encoder_depth"], cfg.EncoderDepth),
            EncoderNumHeads = Int(["heads", "encoder_num_heads"], cfg.EncoderNumHeads),
            GlobalAttnIndexes = Ints(["global_idx", "encoder_global_attn_indexes", "global_attn_indexes"], cfg.GlobalAttnIndexes),
            WindowSize = Int(["window", "window_size"], cfg.WindowSize),
            MlpRatio = mlpRatio,
            PromptEmbedDim = Int(["prompt_dim", "prompt_embed_dim", "out_chans"], cfg.PromptEmbedDim),
            MaskInChans = Int(["mask_in_chans"], cfg.MaskInChans),
            NumMultimaskOutputs = Int(["num_multimask_outputs"], cfg.NumMultimaskOutputs),
            DecoderDepth = Int(["dec_depth", "decoder_depth"], cfg.DecoderDepth),
            DecoderMlpDim = Int(["dec_mlp", "decoder_mlp_dim", "mlp_dim"], cfg.DecoderMlpDim),
            DecoderNumHeads = Int(["dec_heads", "decoder_num_heads"], cfg.DecoderNumHeads),
            AttentionDownsampleRate = Int(["attention_downsample_rate"], cfg.AttentionDownsampleRate),
            IouHeadDepth = Int(["iou_head_depth"], cfg.IouHeadDepth),
            IouHeadHiddenDim = Int(["iou_hidden", "iou_head_hidden_dim"], cfg.IouHeadHiddenDim),
            PixelMean = Floats("pixel_mean", cfg.PixelMean),
            PixelStd = Floats("pixel_std", cfg.PixelStd),
        };
        var unknown = root.EnumerateObject().Select(p => p.Name).Where(n => !known.Contains(n)).ToList();
        if (unknown.Count > 0) throw new FormatException($"unknown SAM configuration field(s): {string.Join(", ", unknown)}");
        cfg.Validate();
        return cfg;
    }

    /// <summary><see cref="FromJson"/> on a file.</summary>
    public static SamConfig FromJsonFile(string path)
    {
        try { return FromJson(File.ReadAllText(path)); }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or ArgumentException)
        {
            // a value of the wrong JSON type (e.g. an array where a number belongs) or a bad size: name the file
            throw new FormatException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>A one-line summary (type, sizes) for logs and error messages.</summary>
    public string Describe() =>
        $"{ModelType} (image {ImageSize}, patch {PatchSize}, embed {EncoderEmbedDim}, depth {EncoderDepth}, heads {EncoderNumHeads}, " +
        $"global blocks [{string.Join(", ", GlobalAttnIndexes)}], window {WindowSize}, prompt dim {PromptEmbedDim})";

    public override string ToString() => Describe();
}
