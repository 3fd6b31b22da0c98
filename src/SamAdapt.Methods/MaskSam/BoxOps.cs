using SamAdapt.Torch;

namespace SamAdapt.Methods.MaskSam;

/// <summary>
/// Axis-aligned boxes as (N, 4) tensors (docs/methods/masksam.md, "Boxes"): conversions between centre form (cx, cy, w, h) and
/// corner form (x1, y1, x2, y2), areas, pairwise IoU and generalised IoU, and tight boxes of masks. Differentiable where the
/// losses need it (GIoU).
/// </summary>
public static class BoxOps
{
    /// <summary>(N, 4) (cx, cy, w, h) → (N, 4) (x1, y1, x2, y2).</summary>
    public static Tensor CxCyWhToXyxy(Tensor boxes)
    {
        using var scope = DisposeScope.Begin();
        var b = boxes.unbind(-1);
        var (cx, cy, w, h) = (b[0], b[1], b[2], b[3]);
        return torch.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], -1).MoveToOuterScope();
    }

    /// <summary>(N, 4) (x1, y1, x2, y2) → (N, 4) (cx, cy, w, h).</summary>
    public static Tensor XyxyToCxCyWh(Tensor boxes)
    {
        using var scope = DisposeScope.Begin();
        var b = boxes.unbind(-1);
        var (x1, y1, x2, y2) = (b[0], b[1], b[2], b[3]);
        return torch.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], -1).MoveToOuterScope();
    }

    /// <summary>(N, 4) xyxy → (N) areas (negative for inverted boxes, as computed).</summary>
    public static Tensor Area(Tensor boxes)
    {
        using var scope = DisposeScope.Begin();
        return ((boxes.select(-1, 2) - boxes.select(-1, 0)) * (boxes.select(-1, 3) - boxes.select(-1, 1))).MoveToOuterScope();
    }

    /// <summary>Pairwise IoU and union of (N, 4) and (M, 4) xyxy boxes: (N, M) each.</summary>
    public static (Tensor Iou, Tensor Union) PairwiseIou(Tensor a, Tensor b)
    {
        using var scope = DisposeScope.Begin();
        var areaA = Area(a);
        var areaB = Area(b);
        var lt = a.slice(1, 0, 2).unsqueeze(1).maximum(b.slice(1, 0, 2).unsqueeze(0)); // (N, M, 2)
        var rb = a.slice(1, 2, 4).unsqueeze(1).minimum(b.slice(1, 2, 4).unsqueeze(0));
        var wh = (rb - lt).clamp(min: 0);
        var inter = wh.select(-1, 0) * wh.select(-1, 1);
        var union = areaA.unsqueeze(1) + areaB.unsqueeze(0) - inter;
        var iou = inter / union;
        return (iou.MoveToOuterScope(), union.MoveToOuterScope());
    }

    /// <summary>
    /// Pairwise generalised IoU of (N, 4) and (M, 4) xyxy boxes: IoU − (enclosing area − union) / enclosing area, (N, M), in [−1, 1]
    /// for proper boxes. Degenerate boxes (zero area on both sides) give NaN, as the formula does.
    /// </summary>
    public static Tensor GeneralizedIou(Tensor a, Tensor b)
    {
        using var scope = DisposeScope.Begin();
        var (iou, union) = PairwiseIou(a, b);
        var lt = a.slice(1, 0, 2).unsqueeze(1).minimum(b.slice(1, 0, 2).unsqueeze(0));
        var rb = a.slice(1, 2, 4).unsqueeze(1).maximum(b.slice(1, 2, 4).unsqueeze(0));
        var wh = (rb - lt).clamp(min: 0);
        var area = wh.select(-1, 0) * wh.select(-1, 1);
        return (iou - (area - union) / area).MoveToOuterScope();
    }

    /// <summary>
    /// Tight boxes of binary masks (N, H, W) (any dtype, non-zero = inside), normalised by the size and without the +1 of the
    /// last pixel: (min x / W, min y / H, max x / W, max y / H), (N, 4) float32. An empty mask gives (0, 0, 0, 0).
    /// </summary>
    public static Tensor MasksToBoxes(Tensor masks)
    {
        if (masks.dim() != 3) throw new ArgumentException($"masks must be (N, H, W), got [{string.Join(", ", masks.shape)}]");
        using var scope = DisposeScope.Begin();
        long n = masks.size(0), h = masks.size(1), w = masks.size(2);
        if (n == 0) return torch.zeros([0, 4], DType.Float32, masks.device).MoveToOuterScope();
        var on = masks.ne(0).to(DType.Float32);
        var any = on.flatten(1).amax([1]).gt(0); // (N)
        var cols = on.amax([1]).gt(0);            // (N, W): a column has a pixel
        var rows = on.amax([2]).gt(0);            // (N, H)
        var xs = torch.arange(w, DType.Float32, masks.device).unsqueeze(0);
        var ys = torch.arange(h, DType.Float32, masks.device).unsqueeze(0);
        var xMin = xs.expand(n, w).masked_fill(cols.logical_not(), double.PositiveInfinity).amin([1]);
        var xMax = xs.expand(n, w).masked_fill(cols.logical_not(), double.NegativeInfinity).amax([1]);
        var yMin = ys.expand(n, h).masked_fill(rows.logical_not(), double.PositiveInfinity).amin([1]);
        var yMax = ys.expand(n, h).masked_fill(rows.logical_not(), double.NegativeInfinity).amax([1]);
        var boxes = torch.stack([xMin / w, yMin / h, xMax / w, yMax / h], 1);
        boxes = boxes.masked_fill(any.logical_not().unsqueeze(1), 0.0);
        return boxes.MoveToOuterScope();
    }
}
