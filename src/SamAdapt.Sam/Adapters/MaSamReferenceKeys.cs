using System.Globalization;
using System.Text.RegularExpressions;

namespace SamAdapt.Sam.Adapters;

/// <summary>
/// Key names of the reference MA-SAM implementation (docs/methods/ma-sam.md §3) and their <see cref="AdaptedSam"/>
/// equivalents. The reference wraps SAM's modules, so its full state dict ("wrapped" names) reads
/// <list type="bullet">
/// <item><c>image_encoder.ImageEncoderViT.X</c> for SAM's <c>image_encoder.X</c>, with <c>blocks.{i}.Block.</c> for <c>blocks.{i}.</c>,
/// <c>.attn.Attention.</c> for <c>.attn.</c> and <c>.attn.Attention.qkv.qkv.</c> for <c>.attn.qkv.</c>;</item>
/// <item>FacT: <c>image_encoder.FacTu.weight</c>, <c>image_encoder.FacTv.weight</c> (ours <c>image_encoder.fact.FacT{u,v}.weight</c>) and
/// <c>…blocks.{i}.Block.attn.Attention.qkv.{q,v}_FacTs.weight</c> (ours <c>image_encoder.blocks.{i}.attn.fact.{q,v}_FacTs.weight</c>);</item>
/// <item>3D adapters: <c>…blocks.{i}.Block.adapter_{norm,linear_down,conv,linear_up}</c> (ours <c>adapter_1.{norm,down,conv,up}</c>) and the
/// same names with <c>_2</c> (ours <c>adapter_2.*</c>);</item>
/// <item><c>prompt_encoder.*</c> and <c>mask_decoder.*</c> unchanged.</item>
/// </list>
/// Its saved-parameters file (<c>trained_params.pth</c>, the layout of the released checkpoints) holds the FacT Σ matrices as
/// <c>q_FacTs_{iii}</c> / <c>v_FacTs_{iii}</c> (block index, three digits), the two FacT factors, every prompt-encoder and mask-decoder key
/// and every 3D-adapter key, in the wrapped names; the frozen encoder comes from the SAM checkpoint, whose plain SAM names are
/// <see cref="AdaptedSam"/>'s own.
/// </summary>
public static partial class MaSamReferenceKeys
{
    private const string Wrapped = "image_encoder.ImageEncoderViT.";

    private static readonly (string Reference, string Ours)[] AdapterParts =
    [
        ("adapter_norm_2.", "adapter_2.norm."), ("adapter_linear_down_2.", "adapter_2.down."),
        ("adapter_conv_2.", "adapter_2.conv."), ("adapter_linear_up_2.", "adapter_2.up."),
        ("adapter_norm.", "adapter_1.norm."), ("adapter_linear_down.", "adapter_1.down."),
        ("adapter_conv.", "adapter_1.conv."), ("adapter_linear_up.", "adapter_1.up."),
    ];

    [GeneratedRegex(@"^(?<qv>[qv])_FacTs_(?<i>\d+)$")]
    private static partial Regex SigmaKey();

    [GeneratedRegex(@"^blocks\.(?<i>\d+)\.Block\.(?<rest>.+)$")]
    private static partial Regex WrappedBlock();

    [GeneratedRegex(@"^blocks\.(?<i>\d+)\.(?<rest>.+)$")]
    private static partial Regex OurBlock();

    /// <summary>
    /// Our key for a reference key: a wrapped state-dict name or a saved-parameters name (<c>q_FacTs_000</c>). Null for a name outside
    /// both layouts.
    /// </summary>
    public static string? FromReference(string key)
    {
        var sigma = SigmaKey().Match(key);
        if (sigma.Success)
            return $"image_encoder.blocks.{int.Parse(sigma.Groups["i"].Value, CultureInfo.InvariantCulture)}.attn.fact.{sigma.Groups["qv"].Value}_FacTs.weight";
        if (key is "image_encoder.FacTu.weight" or "image_encoder.FacTv.weight") return "image_encoder.fact." + key["image_encoder.".Length..];
        if (key.StartsWith("prompt_encoder.", StringComparison.Ordinal) || key.StartsWith("mask_decoder.", StringComparison.Ordinal)) return key;
        if (!key.StartsWith(Wrapped, StringComparison.Ordinal)) return null;
        var rest = key[Wrapped.Length..];
        var block = WrappedBlock().Match(rest);
        if (!block.Success) return rest.StartsWith("blocks.", StringComparison.Ordinal) ? null : "image_encoder." + rest;
        var inner = block.Groups["rest"].Value;
        string? mapped = null;
        foreach (var (r, o) in AdapterParts)
            if (inner.StartsWith(r, StringComparison.Ordinal)) { mapped = o + inner[r.Length..]; break; }
        if (mapped is null && inner.StartsWith("attn.Attention.", StringComparison.Ordinal))
        {
            var a = inner["attn.Attention.".Length..];
            mapped = a switch
            {
                _ when a.StartsWith("qkv.qkv.", StringComparison.Ordinal) => "attn.qkv." + a["qkv.qkv.".Length..],
                "qkv.q_FacTs.weight" => "attn.fact.q_FacTs.weight",
                "qkv.v_FacTs.weight" => "attn.fact.v_FacTs.weight",
                _ when a.StartsWith("qkv.", StringComparison.Ordinal) => null,
                _ => "attn." + a,
            };
            if (mapped is null) return null;
        }
        mapped ??= inner.StartsWith("attn.", StringComparison.Ordinal) ? null : inner;
        return mapped is null ? null : $"image_encoder.blocks.{block.Groups["i"].Value}.{mapped}";
    }

    /// <summary>The reference's wrapped state-dict name for one of our keys (the inverse of <see cref="FromReference"/> on wrapped names).</summary>
    public static string ToWrapped(string key)
    {
        if (key is "image_encoder.fact.FacTu.weight" or "image_encoder.fact.FacTv.weight") return "image_encoder." + key["image_encoder.fact.".Length..];
        if (!key.StartsWith("image_encoder.", StringComparison.Ordinal)) return key;
        var rest = key["image_encoder.".Length..];
        var block = OurBlock().Match(rest);
        if (!block.Success) return Wrapped + rest;
        var inner = block.Groups["rest"].Value;
        string mapped = inner;
        foreach (var (r, o) in AdapterParts)
            if (inner.StartsWith(o, StringComparison.Ordinal)) { mapped = r + inner[o.Length..]; break; }
        if (inner.StartsWith("attn.qkv.", StringComparison.Ordinal)) mapped = "attn.Attention.qkv.qkv." + inner["attn.qkv.".Length..];
        else if (inner.StartsWith("attn.fact.", StringComparison.Ordinal)) mapped = "attn.Attention.qkv." + inner["attn.fact.".Length..];
        else if (inner.StartsWith("attn.", StringComparison.Ordinal)) mapped = "attn.Attention." + inner["attn.".Length..];
        return $"{Wrapped}blocks.{block.Groups["i"].Value}.Block.{mapped}";
    }

    /// <summary>
    /// The saved-parameters name (<c>trained_params.pth</c>) of one of our keys, or null when the reference does not save it (the frozen
    /// encoder): Σ's as <c>q_FacTs_{iii}</c>, everything else in the wrapped names.
    /// </summary>
    public static string? ToTrainedParams(string key)
    {
        var block = OurBlock().Match(key.StartsWith("image_encoder.", StringComparison.Ordinal) ? key["image_encoder.".Length..] : "");
        if (block.Success && block.Groups["rest"].Value is "attn.fact.q_FacTs.weight" or "attn.fact.v_FacTs.weight")
            return string.Create(CultureInfo.InvariantCulture,
                $"{block.Groups["rest"].Value["attn.fact.".Length]}_FacTs_{int.Parse(block.Groups["i"].Value, CultureInfo.InvariantCulture):D3}");
        bool saved = key.StartsWith("prompt_encoder.", StringComparison.Ordinal) || key.StartsWith("mask_decoder.", StringComparison.Ordinal) ||
                     key.StartsWith("image_encoder.fact.", StringComparison.Ordinal) || key.Contains(".adapter_1.", StringComparison.Ordinal) ||
                     key.Contains(".adapter_2.", StringComparison.Ordinal);
        return saved ? ToWrapped(key) : null;
    }

    /// <summary>
    /// Renames a reference state dict (wrapped or saved-parameters names) to ours. Throws <see cref="InvalidDataException"/> naming the
    /// keys (up to 5) that belong to neither layout, and any two keys that map to the same name.
    /// </summary>
    public static Dictionary<string, T> Rename<T>(IReadOnlyDictionary<string, T> reference, string source = "reference state dict")
    {
        var result = new Dictionary<string, T>(StringComparer.Ordinal);
        var unknown = new List<string>();
        foreach (var (k, v) in reference)
        {
            var ours = FromReference(k);
            if (ours is null) { unknown.Add(k); continue; }
            if (!result.TryAdd(ours, v)) throw new InvalidDataException($"{source}: two keys map to '{ours}' (one is '{k}')");
        }
        if (unknown.Count > 0)
            throw new InvalidDataException($"{source}: {unknown.Count} key(s) are not MA-SAM reference names: " +
                string.Join(", ", unknown.Take(5)) + (unknown.Count > 5 ? ", …" : "") +
                " (expected image_encoder.ImageEncoderViT.*, image_encoder.FacTu/FacTv.weight, q_FacTs_NNN/v_FacTs_NNN, prompt_encoder.*, mask_decoder.*)");
        return result;
    }
}
