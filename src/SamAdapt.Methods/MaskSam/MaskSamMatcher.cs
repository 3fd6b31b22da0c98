using SamAdapt.Common.Matching;
using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Methods.MaskSam;

/// <summary>One slice's matching: the cost matrix (Q, M) float64, its unweighted terms, and the chosen (query, target) pairs.</summary>
public sealed record SliceMatch(double[,] Cost, IReadOnlyDictionary<string, double[,]> Terms, int[] Queries, int[] Targets);

/// <summary>
/// MaskSAM's Hungarian matcher (docs/methods/masksam.md, "Matching"), per slice: cost = w_mask·BCE + w_dice·Dice (mask logits) −
/// w_class·p(class) + w_box·L1 − w_giou·GIoU (auxiliary boxes) + w_aux·(BCE + Dice) (auxiliary masks), the mask terms on one set of
/// uniform points shared by all pairs; solved by <see cref="LinearAssignment"/> (NaN entries replaced, as the reference does).
/// </summary>
public sealed class MaskSamMatcher(MaskSamLossOptions options)
{
    /// <summary>Names of <see cref="SliceMatch.Terms"/> (unweighted: the class term is −p, the GIoU term −GIoU).</summary>
    public static readonly string[] TermNames = ["aux_bbox_l1", "aux_giou", "aux_mask_bce", "aux_mask_dice", "class", "mask_bce", "mask_dice"];

    public MaskSamLossOptions Options { get; } = options;

    /// <summary>Matches every slice; <paramref name="rand"/> draws each slice's (1, P, 2) points, in slice order.</summary>
    public IReadOnlyList<SliceMatch> Match(MaskSamPredictions p, IReadOnlyList<SliceTargets> targets, UniformSource rand)
    {
        if (targets.Count != p.Slices) throw new ArgumentException($"{targets.Count} target slices for {p.Slices} predicted slices");
        using var _ = torch.no_grad();
        var result = new List<SliceMatch>();
        for (int b = 0; b < p.Slices; b++)
        {
            using var scope = DisposeScope.Begin();
            result.Add(MatchSlice(p.Logits.select(0, b), p.Masks.select(0, b), p.AuxLossLogits(Options.AuxDoubleSigmoid).select(0, b), p.AuxBoxes.select(0, b), targets[b], rand));
        }
        return result;
    }

    private SliceMatch MatchSlice(Tensor logits, Tensor masks, Tensor auxLogits, Tensor auxBoxes, SliceTargets t, UniformSource rand)
    {
        int q = (int)logits.size(0), m = t.Count;
        var points = rand([1, Options.NumPoints, 2]).to(masks.device);
        if (m == 0) return new SliceMatch(new double[q, 0], TermNames.ToDictionary(n => n, _ => new double[q, 0]), [], []);
        var tgtBoxes = t.Boxes.to(auxBoxes.dtype);
        var l1 = (auxBoxes.unsqueeze(1) - tgtBoxes.unsqueeze(0)).abs().sum(-1);                   // (Q, M)
        var giou = BoxOps.GeneralizedIou(auxBoxes, tgtBoxes).neg();
        var tgtPts = PointSampling.PointSample(t.Masks.unsqueeze(1).to(masks.dtype), points.expand(m, -1, -1)).squeeze(1);   // (M, P)
        var auxPts = PointSampling.PointSample(auxLogits.unsqueeze(1), points.expand(q, -1, -1)).squeeze(1);                 // (Q, P)
        var maskPts = PointSampling.PointSample(masks.unsqueeze(1), points.expand(q, -1, -1)).squeeze(1);
        var cls = F.softmax(logits, -1).index_select(1, t.Labels.to(logits.device)).neg();         // (Q, M)
        var terms = new Dictionary<string, Tensor>
        {
            ["aux_bbox_l1"] = l1, ["aux_giou"] = giou,
            ["aux_mask_bce"] = PairwiseBce(auxPts, tgtPts), ["aux_mask_dice"] = PairwiseDice(auxPts, tgtPts),
            ["class"] = cls,
            ["mask_bce"] = PairwiseBce(maskPts, tgtPts), ["mask_dice"] = PairwiseDice(maskPts, tgtPts),
        };
        var o = Options;
        var c = terms["mask_bce"].to(DType.Float64) * o.MaskWeight + terms["class"].to(DType.Float64) * o.ClassWeight
            + terms["mask_dice"] * o.DiceWeight + terms["aux_bbox_l1"].to(DType.Float64) * o.AuxBoxWeight
            + terms["aux_mask_bce"].to(DType.Float64) * o.AuxMaskWeight + terms["aux_mask_dice"] * o.AuxMaskWeight
            + terms["aux_giou"].to(DType.Float64) * o.AuxGiouWeight;
        var cost = ToMatrix(c);
        var (rows, cols) = LinearAssignment.Solve(cost, NanPolicy.Replace);
        return new SliceMatch(cost, terms.ToDictionary(kv => kv.Key, kv => ToMatrix(kv.Value)), rows, cols);
    }

    /// <summary>Mean BCE-with-logits of each prediction (Q, P) against each target (M, P) over the points: (Q, M) float32.</summary>
    public static Tensor PairwiseBce(Tensor logits, Tensor targets)
    {
        using var scope = DisposeScope.Begin();
        long p = logits.size(1);
        var pos = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits), reduction: Reduction.None);
        var neg = F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits), reduction: Reduction.None);
        var loss = pos.matmul(targets.t()) + neg.matmul((1.0 - targets).t());
        return (loss / p).MoveToOuterScope();
    }

    /// <summary>
    /// Dice loss 1 − (2·Σσ(x)·t + 1) / (Σσ(x) + Σt + 1) of each prediction against each target: (Q, M) float64 (sigmoid and sums in
    /// float64, the intersection from float32 values, as the reference computes it).
    /// </summary>
    public static Tensor PairwiseDice(Tensor logits, Tensor targets)
    {
        using var scope = DisposeScope.Begin();
        var s = logits.to(DType.Float64).sigmoid();
        var t = targets.to(DType.Float64);
        var num = s.to(DType.Float32).matmul(t.to(DType.Float32).t()).mul(2.0).to(DType.Float64);
        var den = s.sum(-1).unsqueeze(1) + t.sum(-1).unsqueeze(0);
        return (1.0 - (num + 1.0) / (den + 1.0)).MoveToOuterScope();
    }

    private static double[,] ToMatrix(Tensor t)
    {
        var a = t.to(DType.Float64).cpu().contiguous().ToArray<double>();
        int r = (int)t.size(0), c = (int)t.size(1);
        var m = new double[r, c];
        for (int i = 0; i < r; i++) for (int j = 0; j < c; j++) m[i, j] = a[i * c + j];
        return m;
    }
}
