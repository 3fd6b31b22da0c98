using System.Text.Json;
using System.Text.Json.Serialization;

namespace SamAdapt.Methods.Msa;

/// <summary>Which parts of an <see cref="MsaSam"/> train (flags; docs/methods/msa.md, "What trains").</summary>
[Flags]
public enum MsaTrainedParts
{
    None = 0,
    /// <summary>The encoder adapters (Space_Adapter, MLP_Adapter, Depth_Adapter).</summary>
    EncoderAdapters = 1,
    /// <summary>The whole mask decoder.</summary>
    MaskDecoder = 2,
    /// <summary>The prompt encoder (frozen in the reference: it runs under no_grad).</summary>
    PromptEncoder = 4,
    /// <summary>The rest of the image encoder (MedSAM's full fine-tuning).</summary>
    ImageEncoder = 8,
    /// <summary>The auxiliary semantic head (<see cref="MsaOptions.SemanticClasses"/>): always trained when present.</summary>
    SemanticHead = 16,
    /// <summary>The reference's choice: encoder adapters + mask decoder.</summary>
    Reference = EncoderAdapters | MaskDecoder,
    All = EncoderAdapters | MaskDecoder | PromptEncoder | ImageEncoder,
}

/// <summary>
/// The settings of the Medical SAM Adapter (docs/methods/msa.md). Defaults are the released code's: bottleneck ratio 0.25, GELU, MLP
/// adapter scale 0.5, encoder adapters + mask decoder trained; the depth branch is on for volumes (Slices &gt; 1).
/// </summary>
public sealed record MsaOptions
{
    /// <summary>Bottleneck width as a fraction of the encoder width (0.25: 768 → 192).</summary>
    public double AdapterRatio { get; init; } = 0.25;
    /// <summary>Scale s of the adapter parallel to the MLP.</summary>
    public double MlpScale { get; init; } = 0.5;
    [JsonConverter(typeof(JsonStringEnumConverter))]
    public AdapterActivation Activation { get; init; } = AdapterActivation.Gelu;
    /// <summary>Attach the encoder adapters (Space_Adapter, MLP_Adapter); off for MedSAM's full fine-tuning of plain SAM.</summary>
    public bool EncoderAdapters { get; init; } = true;
    /// <summary>
    /// The paper's decoder adapters, absent from the released code: per two-way block a hyper-prompting adapter on the token self-attention,
    /// an adapter after the token MLP and one after the image→token cross attention (keys <c>mask_decoder.transformer.layers.{i}.{HyP,MLP,Image}_Adapter.*</c>).
    /// </summary>
    public bool DecoderAdapters { get; init; }
    /// <summary>Attach the depth branch (the reference's <c>-thd</c>): attention across the slices of a stack.</summary>
    public bool DepthBranch { get; init; }
    /// <summary>
    /// 2.5-D input: the 3 slices of a stack (k−1, k, k+1; <see cref="Slices"/> = 3) are the encoder's 3 input channels (each slice's
    /// first channel), and only the centre slice is embedded and segmented; no depth branch. Off: each slice is its own image.
    /// </summary>
    public bool SlicesAsChannels { get; init; }
    /// <summary>
    /// SAM's answer to an ambiguous prompt: a single click (no box, no mask prompt) is decoded with the 3 multimask outputs and the one with
    /// the highest predicted IoU is returned; training takes the lowest loss of the 3 and trains the IoU head (<see cref="MsaPromptTask"/>).
    /// Off (the released code): the first mask token for every prompt.
    /// </summary>
    public bool MultimaskClicks { get; init; }
    /// <summary>Slices per stack D (the reference's <c>-chunk</c>); 1 for 2D.</summary>
    public int Slices { get; init; } = 1;
    /// <summary>
    /// Reproduce the released code in windowed blocks: norm1 after the window partition (padding tokens carry norm1's bias) and the depth
    /// branch on the window list. Needed for files trained with the reference code; off: SAM's padding and per-token depth attention.
    /// </summary>
    public bool ReferenceWindowing { get; init; }
    /// <summary>
    /// Reproduce the released code's two-way transformer: the prompt PE is added to the tokens before self-attention (feeding v and the
    /// residual) and the first layer keeps its residual. Needed for files trained with the reference code; off: SAM's decoder.
    /// </summary>
    public bool ReferenceDecoder { get; init; }
    [JsonConverter(typeof(JsonStringEnumConverter))]
    public MsaTrainedParts Trains { get; init; } = MsaTrainedParts.Reference;
    /// <summary>
    /// Classes K (background included) of the auxiliary semantic head (<see cref="MsaSemanticHead"/>, key prefix <c>semantic_head.</c>);
    /// 0 (the reference): no head.
    /// </summary>
    public int SemanticClasses { get; init; }
    /// <summary>Weight of the head's loss (MA-SAM's 0.2·CE + 0.8·Dice on the slice labels) added to the prompted loss.</summary>
    public double SemanticWeight { get; init; }

    /// <summary>Bottleneck width for an encoder of <paramref name="dim"/> channels.</summary>
    public int Hidden(int dim) => Math.Max(1, (int)(dim * AdapterRatio));

    public void Validate()
    {
        if (!(AdapterRatio > 0 && AdapterRatio <= 4)) throw new ArgumentException($"adapter ratio must be in (0, 4], got {AdapterRatio}");
        if (!double.IsFinite(MlpScale)) throw new ArgumentException($"MLP adapter scale must be finite, got {MlpScale}");
        if (Slices < 1) throw new ArgumentException($"slices per stack must be ≥ 1, got {Slices}");
        if (DepthBranch && !EncoderAdapters) throw new ArgumentException("the depth branch is an encoder adapter: it needs EncoderAdapters");
        if (SlicesAsChannels && Slices != 3) throw new ArgumentException($"--slices-as-channels feeds the 3 slices of a stack as SAM's 3 input channels: it needs --slices 3, got {Slices}");
        if (SlicesAsChannels && DepthBranch) throw new ArgumentException("--slices-as-channels replaces the depth branch: the two cannot be combined");
        if (SemanticClasses is < 0 or 1) throw new ArgumentException($"the semantic head needs ≥ 2 classes (0: no head), got {SemanticClasses}");
        if (!(SemanticWeight >= 0 && double.IsFinite(SemanticWeight))) throw new ArgumentException($"--aux-semantic must be a finite weight ≥ 0, got {SemanticWeight}");
        if (SemanticWeight > 0 && SemanticClasses == 0) throw new ArgumentException("a semantic-loss weight needs the semantic head (SemanticClasses ≥ 2)");
        if (Trains == MsaTrainedParts.None) throw new ArgumentException("nothing would train: choose at least one part");
    }

    /// <summary>--adapter-activation: gelu or relu.</summary>
    public static AdapterActivation ParseActivation(string text) => text.Trim().ToLowerInvariant() switch
    {
        "gelu" => AdapterActivation.Gelu,
        "relu" => AdapterActivation.Relu,
        _ => throw new ArgumentException($"--adapter-activation: expected gelu or relu, got '{text}'"),
    };

    /// <summary>--trains: comma-separated parts (adapters, decoder, prompt-encoder, image-encoder) or reference / all.</summary>
    public static MsaTrainedParts ParseTrains(string text)
    {
        var parts = MsaTrainedParts.None;
        foreach (var p in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            parts |= p.ToLowerInvariant() switch
            {
                "adapters" or "encoder-adapters" => MsaTrainedParts.EncoderAdapters,
                "decoder" or "mask-decoder" => MsaTrainedParts.MaskDecoder,
                "prompt-encoder" => MsaTrainedParts.PromptEncoder,
                "image-encoder" or "encoder" => MsaTrainedParts.ImageEncoder,
                "reference" => MsaTrainedParts.Reference,
                "all" => MsaTrainedParts.All,
                _ => throw new ArgumentException($"--trains: unknown part '{p}'; expected adapters, decoder, prompt-encoder, image-encoder, reference or all"),
            };
        return parts == MsaTrainedParts.None ? throw new ArgumentException("--trains: no part given; expected e.g. adapters,decoder") : parts;
    }

    /// <summary>The --trains text of <paramref name="parts"/>.</summary>
    public static string TrainsText(MsaTrainedParts parts) => parts == MsaTrainedParts.All ? "all" : string.Join(",",
        new[] { (MsaTrainedParts.EncoderAdapters, "adapters"), (MsaTrainedParts.MaskDecoder, "decoder"), (MsaTrainedParts.PromptEncoder, "prompt-encoder"), (MsaTrainedParts.ImageEncoder, "image-encoder") }
            .Where(p => (parts & p.Item1) != 0).Select(p => p.Item2));

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static MsaOptions FromJson(string json) =>
        JsonSerializer.Deserialize<MsaOptions>(json, Json) ?? throw new InvalidDataException("MSA options: empty JSON");
}
