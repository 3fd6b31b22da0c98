using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Methods.MaskSam;

/// <summary>Chooses the (N, P, 2) loss points for matched mask logits (N, 1, H, W).</summary>
public delegate Tensor MaskPointSampler(Tensor matchedLogits);

/// <summary>The loss terms (unweighted, scalars) and their weighted sum.</summary>
public sealed record MaskSamLosses(IReadOnlyDictionary<string, Tensor> Terms, Tensor Total, IReadOnlyList<SliceMatch> Matches, int NumMasks) : IDisposable
{
    public void Dispose()
    {
        foreach (var t in Terms.Values) t.Dispose();
        Total.Dispose();
    }
}

/// <summary>
/// MaskSAM's set criterion (docs/methods/masksam.md, "Losses"), Mask2Former style, after <see cref="MaskSamMatcher"/>:
/// <list type="bullet">
/// <item>loss_ce: class cross-entropy over every (slice, query), unmatched queries labelled "no object"; class weights 1 and
/// <see cref="MaskSamLossOptions.NoObjectWeight"/>, normalised by the sum of the weights used;</item>
/// <item>loss_mask / loss_dice and loss_aux_mask / loss_aux_dice: BCE-with-logits (mean over points) and Dice of the matched masks
/// on importance-sampled points, each summed and divided by the number of target instances;</item>
/// <item>loss_aux_bbox / loss_aux_giou: L1 and 1 − GIoU of the matched auxiliary boxes, summed / number of instances.</item>
/// </list>
/// Total = Σ weight·term with the weights of <see cref="MaskSamLossOptions"/>.
/// </summary>
public sealed class MaskSamCriterion
{
    public static readonly string[] TermNames = ["loss_ce", "loss_mask", "loss_dice", "loss_aux_mask", "loss_aux_dice", "loss_aux_bbox", "loss_aux_giou"];

    public MaskSamLossOptions Options { get; }
    public MaskSamMatcher Matcher { get; }

    public MaskSamCriterion(MaskSamLossOptions options)
    {
        options.Validate();
        Options = options;
        Matcher = new MaskSamMatcher(options);
    }

    /// <summary>The weight of a term of <see cref="TermNames"/>.</summary>
    public double Weight(string term) => term switch
    {
        "loss_ce" => Options.ClassWeight,
        "loss_mask" => Options.MaskWeight,
        "loss_dice" => Options.DiceWeight,
        "loss_aux_mask" or "loss_aux_dice" => Options.AuxMaskWeight,
        "loss_aux_bbox" => Options.AuxBoxWeight,
        "loss_aux_giou" => Options.AuxGiouWeight,
        _ => throw new ArgumentException($"unknown loss term '{term}'"),
    };

    /// <summary>
    /// Matches and computes the losses. Random draws come from <paramref name="rand"/> in the reference's order (matcher points per
    /// slice, then mask candidates and extra points, then the same for the auxiliary masks), unless samplers are given.
    /// </summary>
    public MaskSamLosses Forward(MaskSamPredictions p, IReadOnlyList<SliceTargets> targets, UniformSource rand,
        MaskPointSampler? maskPoints = null, MaskPointSampler? auxPoints = null)
    {
        var matches = Matcher.Match(p, targets, rand);
        MaskPointSampler Default() => l => PointSampling.UncertainPoints(l, Options.NumPoints, Options.OversampleRatio, Options.ImportanceSampleRatio, rand);
        return Losses(p, targets, matches, maskPoints ?? Default(), auxPoints ?? Default());
    }

    /// <summary>The losses for given <paramref name="matches"/>.</summary>
    public MaskSamLosses Losses(MaskSamPredictions p, IReadOnlyList<SliceTargets> targets, IReadOnlyList<SliceMatch> matches,
        MaskPointSampler maskPoints, MaskPointSampler auxPoints)
    {
        using var scope = DisposeScope.Begin();
        var device = p.Logits.device;
        int numMasks = Math.Max(1, targets.Sum(t => t.Count));
        // matched (slice, query) and (slice, target) in slice order, queries ascending within a slice
        var sliceIdx = new List<long>();
        var queryIdx = new List<long>();
        var tgtMasks = new List<Tensor>();
        var tgtBoxes = new List<Tensor>();
        var tgtLabels = new List<long>();
        for (int b = 0; b < matches.Count; b++)
        {
            var mt = matches[b];
            if (mt.Queries.Length == 0) continue;
            var ti = Tensor.FromArray<long>(mt.Targets.Select(x => (long)x).ToArray(), [mt.Targets.Length]);
            tgtMasks.Add(targets[b].Masks.index_select(0, ti.to(targets[b].Masks.device)));
            tgtBoxes.Add(targets[b].Boxes.index_select(0, ti.to(targets[b].Boxes.device)));
            var labels = targets[b].Labels.cpu().ToArray<long>();
            for (int k = 0; k < mt.Queries.Length; k++)
            {
                sliceIdx.Add(b);
                queryIdx.Add(mt.Queries[k]);
                tgtLabels.Add(labels[mt.Targets[k]]);
            }
        }
        long n = p.Slices, q = p.Queries, k1 = p.Logits.size(2);
        var terms = new Dictionary<string, Tensor>();

        // classification over every query
        var flatIdx = sliceIdx.Zip(queryIdx, (s, qq) => s * q + qq).ToArray();
        var targetClass = Enumerable.Repeat(k1 - 1, (int)(n * q)).ToArray();
        var ceWeight = Enumerable.Repeat((float)Options.NoObjectWeight, (int)(n * q)).ToArray();
        for (int i = 0; i < flatIdx.Length; i++) { targetClass[flatIdx[i]] = tgtLabels[i]; ceWeight[flatIdx[i]] = 1f; }
        var classWeights = torch.ones([k1], DType.Float32, device);
        classWeights = classWeights.index_put_([torch.tensor(new long[] { k1 - 1 }).to(device)], torch.full([1], Options.NoObjectWeight, DType.Float32, device));
        var ce = F.cross_entropy(p.Logits.reshape(n * q, k1).to(DType.Float32), Tensor.FromArray<long>(targetClass, [n * q]).to(device),
            classWeights, Reduction.None);
        terms["loss_ce"] = ce.sum() / ceWeight.Sum(x => (double)x);

        if (flatIdx.Length == 0)
        {
            var zero = p.Masks.sum() * 0.0;
            foreach (var name in TermNames.Skip(1)) terms[name] = zero;
        }
        else
        {
            var idx = Tensor.FromArray<long>(flatIdx, [flatIdx.Length]).to(device);
            var masks = torch.cat(tgtMasks.ToArray(), 0).to(device).to(DType.Float32).unsqueeze(1);      // (K, 1, H, W)
            var boxes = torch.cat(tgtBoxes.ToArray(), 0).to(device).to(DType.Float32);                  // (K, 4)
            var srcMasks = p.Masks.flatten(0, 1).index_select(0, idx).unsqueeze(1);                     // (K, 1, H, W)
            var srcAux = p.AuxLossLogits(Options.AuxDoubleSigmoid).flatten(0, 1).index_select(0, idx).unsqueeze(1);
            var srcBoxes = p.AuxBoxes.flatten(0, 1).index_select(0, idx);                               // (K, 4)
            (terms["loss_mask"], terms["loss_dice"]) = PointLosses(srcMasks, masks, maskPoints, numMasks);
            (terms["loss_aux_mask"], terms["loss_aux_dice"]) = PointLosses(srcAux, masks, auxPoints, numMasks);
            terms["loss_aux_bbox"] = (srcBoxes - boxes).abs().sum() / numMasks;
            var giou = BoxOps.GeneralizedIou(srcBoxes, boxes);
            var diag = giou.flatten().index_select(0, torch.arange(boxes.size(0), DType.Int64, device).mul(boxes.size(0) + 1));
            terms["loss_aux_giou"] = (1.0 - diag).sum() / numMasks;
        }
        Tensor total = terms["loss_ce"] * Weight("loss_ce");
        foreach (var name in TermNames.Skip(1)) total = total + terms[name] * Weight(name);
        if (Options.SemanticWeight > 0)
        {
            terms[SemanticTerm] = SemanticLoss(p, targets);
            total = total + terms[SemanticTerm] * Options.SemanticWeight;
        }
        if (p.PixelLogits is { } px && Options.PixelWeight > 0)
        {
            terms[PixelTerm] = ProbabilityLoss(F.softmax(px.to(DType.Float32), 1), targets);
            total = total + terms[PixelTerm] * Options.PixelWeight;
        }
        foreach (var t in terms.Values) t.MoveToOuterScope();
        return new MaskSamLosses(terms, total.MoveToOuterScope(), matches, numMasks);
    }

    /// <summary>Name of the optional semantic term (<see cref="MaskSamLossOptions.SemanticWeight"/>).</summary>
    public const string SemanticTerm = "loss_semantic";

    /// <summary>Name of the pixel head's term (<see cref="MaskSamConfig.PixelHead"/>, <see cref="MaskSamLossOptions.PixelWeight"/>).</summary>
    public const string PixelTerm = "loss_pixel";

    /// <summary>
    /// Cross-entropy plus mean foreground Dice of the normalised semantic map p = s / Σ_k s, s = Σ_q softmax(logits)[:K]·σ(mask)
    /// (N, K, H, W), against the slices' one-hot labels rebuilt from the instance targets; pixels of no instance (padding) are ignored.
    /// </summary>
    public static Tensor SemanticLoss(MaskSamPredictions p, IReadOnlyList<SliceTargets> targets)
    {
        using var scope = DisposeScope.Begin();
        long k = p.Logits.size(2) - 1;
        var probs = F.softmax(p.Logits.to(DType.Float32), -1).slice(2, 0, k);
        var sem = torch.einsum("nqc,nqhw->nchw", probs, p.Masks.to(DType.Float32).sigmoid());                  // (N, K, H, W)
        var norm = sem / (sem.sum(1, keepdim: true) + 1e-6);
        return ProbabilityLoss(norm, targets).MoveToOuterScope();
    }

    /// <summary>
    /// Cross-entropy plus mean foreground Dice of class probabilities <paramref name="norm"/> (N, K, H, W) against the slices' one-hot
    /// labels rebuilt from the instance targets; pixels of no instance (padding) are ignored.
    /// </summary>
    public static Tensor ProbabilityLoss(Tensor norm, IReadOnlyList<SliceTargets> targets)
    {
        using var scope = DisposeScope.Begin();
        var device = norm.device;
        long k = norm.size(1);
        var onehot = torch.stack(targets.Select(t =>
            torch.einsum("mk,mhw->khw", F.one_hot(t.Labels.to(device), k).to(DType.Float32), t.Masks.to(device).to(DType.Float32))).ToArray(), 0);
        var valid = onehot.sum(1);                                                                               // (N, H, W)
        var ce = -(onehot * (norm + 1e-6).log()).sum(1).sum() / valid.sum().clamp(min: 1.0);
        var pv = norm * valid.unsqueeze(1);
        var inter = (pv * onehot).sum([0, 2, 3]).slice(0, 1, k);
        var denom = (pv.sum([0, 2, 3]) + onehot.sum([0, 2, 3])).slice(0, 1, k);
        var dice = 1.0 - ((inter * 2.0 + 1.0) / (denom + 1.0)).mean();
        return (ce + dice).MoveToOuterScope();
    }

    private static (Tensor Bce, Tensor Dice) PointLosses(Tensor src, Tensor tgt, MaskPointSampler sampler, int numMasks)
    {
        Tensor points, labels;
        using (torch.no_grad())
        {
            points = sampler(src.detach()).to(src.device);
            labels = PointSampling.PointSample(tgt, points).squeeze(1);                 // (K, P)
        }
        var logits = PointSampling.PointSample(src, points).squeeze(1);                 // (K, P)
        var bce = F.binary_cross_entropy_with_logits(logits, labels, reduction: Reduction.None).mean(1).sum() / numMasks;
        var s = logits.sigmoid();
        var dice = (1.0 - ((s * labels).sum(-1) * 2.0 + 1.0) / (s.sum(-1) + labels.sum(-1) + 1.0)).sum() / numMasks;
        return (bce, dice);
    }
}
