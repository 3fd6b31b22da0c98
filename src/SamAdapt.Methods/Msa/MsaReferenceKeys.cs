using SamAdapt.Torch;
using SamAdapt.Torch.NN;
using SamAdapt.Torch.Serialization;

namespace SamAdapt.Methods.Msa;

/// <summary>
/// The released MSA code's state-dict layout (docs/methods/msa.md, "Importing"): SAM's names except <c>attn.rel_h</c>/<c>rel_w</c>
/// (SAM: <c>rel_pos_h</c>/<c>rel_pos_w</c>) and the two-way transformer's MLPs <c>mlp.layers.0.0.*</c>/<c>mlp.fc.*</c> (SAM: <c>mlp.lin1</c>/
/// <c>mlp.lin2</c>); the adapters keep their names. <c>pos_embed</c> is always (1, 64, 64, C) and the reference resamples it bicubically
/// (align_corners false) to the token grid at every forward; it is frozen, so <see cref="ToOurs"/> resamples it once.
/// </summary>
public static class MsaReferenceKeys
{
    /// <summary>Our key for a reference key.</summary>
    public static string Rename(string key)
    {
        if (key.StartsWith("image_encoder.blocks.", StringComparison.Ordinal))
        {
            if (key.EndsWith(".attn.rel_h", StringComparison.Ordinal)) return key[..^"rel_h".Length] + "rel_pos_h";
            if (key.EndsWith(".attn.rel_w", StringComparison.Ordinal)) return key[..^"rel_w".Length] + "rel_pos_w";
        }
        if (key.StartsWith("mask_decoder.transformer.layers.", StringComparison.Ordinal))
        {
            key = key.Replace(".mlp.layers.0.0.", ".mlp.lin1.", StringComparison.Ordinal);
            key = key.Replace(".mlp.fc.", ".mlp.lin2.", StringComparison.Ordinal);
        }
        return key;
    }

    /// <summary>Renames every key and resamples <c>image_encoder.pos_embed</c> to a <paramref name="grid"/>×<paramref name="grid"/> token grid.</summary>
    public static Dictionary<string, Tensor> ToOurs(IReadOnlyDictionary<string, HostTensor> reference, int grid, string source)
    {
        var result = new Dictionary<string, Tensor>();
        foreach (var (k, v) in reference)
        {
            var ours = Rename(k);
            if (result.ContainsKey(ours)) throw new InvalidDataException($"{source}: '{k}' and another key both map to '{ours}'");
            var t = v.ToTensor();
            if (t.dtype != DType.Float32 && (t.dtype == DType.Float16 || t.dtype == DType.BFloat16 || t.dtype == DType.Float64)) t = t.to(DType.Float32);
            if (ours == "image_encoder.pos_embed")
            {
                if (t.dim() != 4) throw new InvalidDataException($"{source}: 'image_encoder.pos_embed' has shape [{string.Join(", ", t.shape)}], expected (1, g, g, C)");
                t = ResamplePosEmbed(t, grid);
            }
            result[ours] = t;
        }
        return result;
    }

    /// <summary>(1, g, g, C) → (1, grid, grid, C), bicubic (A = −0.75), align_corners false; unchanged when g = grid.</summary>
    public static Tensor ResamplePosEmbed(Tensor pos, int grid)
    {
        if (pos.size(1) == grid && pos.size(2) == grid) return pos;
        using var scope = DisposeScope.Begin();
        var r = F.interpolate(pos.permute(0, 3, 1, 2), [grid, grid], InterpolationMode.Bicubic, alignCorners: false).permute(0, 2, 3, 1).contiguous();
        return r.MoveToOuterScope();
    }
}
