using SamAdapt.Torch;

namespace SamAdapt.Methods.MaskSam;

/// <summary>The instances of one 2D slice: class ids (M) int64, binary masks (M, H, W) float32, tight boxes (M, 4) normalised xyxy.</summary>
public sealed record SliceTargets(Tensor Labels, Tensor Masks, Tensor Boxes) : IDisposable
{
    public int Count => (int)Labels.size(0);

    public void Dispose()
    {
        Labels.Dispose();
        Masks.Dispose();
        Boxes.Dispose();
    }
}

/// <summary>
/// MaskSAM's training targets (docs/methods/masksam.md, "Targets"): every label value present in a slice, background 0 included,
/// is one instance with its mask and its tight box (<see cref="BoxOps.MasksToBoxes"/>), in ascending label order. Negative values
/// (padding) are no instance.
/// </summary>
public static class InstanceTargets
{
    /// <summary>Targets of each slice of label volumes (B, 1, T, H, W) or (B, T, H, W), slices ordered (b, t).</summary>
    public static IReadOnlyList<SliceTargets> FromVolumes(Tensor labels)
    {
        using var scope = DisposeScope.Begin();
        var l = labels.dim() == 5 ? labels.select(1, 0) : labels;
        if (l.dim() != 4) throw new ArgumentException($"label volumes must be (B, 1, T, H, W) or (B, T, H, W), got [{string.Join(", ", labels.shape)}]");
        var flat = l.flatten(0, 1).to(DType.Int64).cpu();
        var result = new List<SliceTargets>();
        for (long i = 0; i < flat.size(0); i++)
        {
            var t = FromSlice(flat.select(0, i));
            t.Labels.MoveToOuterScope();
            t.Masks.MoveToOuterScope();
            t.Boxes.MoveToOuterScope();
            result.Add(t);
        }
        return result;
    }

    /// <summary>Targets of one (H, W) label slice.</summary>
    public static SliceTargets FromSlice(Tensor slice)
    {
        if (slice.dim() != 2) throw new ArgumentException($"a label slice must be (H, W), got [{string.Join(", ", slice.shape)}]");
        using var scope = DisposeScope.Begin();
        var s = slice.to(DType.Int64).cpu().contiguous();
        var values = s.ToArray<long>().Where(v => v >= 0).Distinct().Order().ToArray();
        long h = s.size(0), w = s.size(1);
        var labels = Tensor.FromArray<long>(values, [values.Length]).to(slice.device);
        var masks = values.Length == 0
            ? torch.zeros([0, h, w], DType.Float32, slice.device)
            : slice.to(DType.Int64).unsqueeze(0).eq(labels.view(-1, 1, 1)).to(DType.Float32);
        var boxes = BoxOps.MasksToBoxes(masks);
        return new SliceTargets(labels.MoveToOuterScope(), masks.MoveToOuterScope(), boxes.MoveToOuterScope());
    }
}
