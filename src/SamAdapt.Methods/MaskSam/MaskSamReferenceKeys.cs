using System.Text.RegularExpressions;

namespace SamAdapt.Methods.MaskSam;

/// <summary>
/// State-dict names of the reference MaskSAM (AMOS model) ↔ <see cref="MaskSamModel"/> (docs/methods/masksam.md, "Import"). The SAM,
/// stem and final-convolution names are the same; the differences:
/// <list type="bullet">
/// <item><c>sam_model.image_encoder.temporal_embedding</c> → <c>….temporal_embedding.weight</c>;
/// <c>sam_model.prompt_encoder.temporal_embedding</c> → <c>sam_model.prompt_encoder_temporal_embedding.weight</c>;</item>
/// <item>decoder adapters and the class token/head under <c>sam_model.mask_decoder[.transformer]</c> → <c>sam_model.decoder_adapters.*</c>;</item>
/// <item>the prompt generator (<c>image_decoder_*</c>, <c>bbox_conv</c>, <c>residual_classifier</c>) → <c>prompt_generator.*</c>;</item>
/// <item>nnU-Net's aliases <c>….all_modules.0|1.*</c> = <c>….conv|norm.*</c>.</item>
/// </list>
/// </summary>
public static partial class MaskSamReferenceKeys
{
    [GeneratedRegex(@"^sam_model\.mask_decoder\.transformer\.layers\.(\d+)\.(Space_Queries_Adapter|Cross_Space_Adapter1|MLP_Queries_Adapter|Cross_Space_Adapter2)\.")]
    private static partial Regex DecoderLayerAdapter();

    [GeneratedRegex(@"\.all_modules\.([01])\.")]
    private static partial Regex NnUnetAlias();

    /// <summary>Our name for a reference key.</summary>
    public static string FromReference(string key)
    {
        key = NnUnetAlias().Replace(key, m => m.Groups[1].Value == "0" ? ".conv." : ".norm.");
        if (key == "sam_model.image_encoder.temporal_embedding") return key + ".weight";
        if (key == "sam_model.prompt_encoder.temporal_embedding") return "sam_model.prompt_encoder_temporal_embedding.weight";
        var m = DecoderLayerAdapter().Match(key);
        if (m.Success) return $"sam_model.decoder_adapters.layers.{m.Groups[1].Value}.{m.Groups[2].Value}." + key[m.Length..];
        if (key.StartsWith("sam_model.mask_decoder.transformer.Space_Adapter.", StringComparison.Ordinal))
            return "sam_model.decoder_adapters." + key["sam_model.mask_decoder.transformer.".Length..];
        if (key.StartsWith("sam_model.mask_decoder.classifier_", StringComparison.Ordinal))
            return "sam_model.decoder_adapters." + key["sam_model.mask_decoder.".Length..];
        if (key.StartsWith("image_decoder_", StringComparison.Ordinal) || key.StartsWith("bbox_conv.", StringComparison.Ordinal)
            || key.StartsWith("residual_classifier.", StringComparison.Ordinal))
            return "prompt_generator." + key;
        return key;
    }

    /// <summary>Renames a reference state dict; two reference keys mapping to one name (an nnU-Net alias pair) keep the first.</summary>
    public static Dictionary<string, T> Rename<T>(IReadOnlyDictionary<string, T> reference)
    {
        var result = new Dictionary<string, T>();
        foreach (var (k, v) in reference) result.TryAdd(FromReference(k), v);
        return result;
    }
}
