using SamAdapt.Methods.MaskSam;
using SamAdapt.Torch;
using Xunit.Abstractions;
using static SamAdapt.Methods.Tests.MaskSam.MaskSamTinyFixture;

namespace SamAdapt.Methods.Tests.MaskSam;

/// <summary>
/// Targets, matcher and set criterion against the reference's (masksam-tiny train/, cost.npy, matches.json, losses.json), fed with the
/// reference's forward heads and random points: the per-slice targets, the cost matrix and its seven terms, the assignment, each loss
/// term and the total. Bound ‖a − b‖/‖b‖ ≤ 1e-4.
/// </summary>
public class MaskSamLossParityTests(ITestOutputHelper output)
{
    private static MaskSamPredictions ReferenceHeads()
    {
        var aux = Tensor("forward/pred_aux_masks");
        var auxLogits = (aux.log() - (1.0 - aux).log());
        return new MaskSamPredictions(Tensor("forward/pred_logits"), Tensor("forward/pred_masks"), aux, auxLogits, Tensor("forward/pred_aux_bboxes"));
    }

    private static MaskSamLossOptions ReferenceOptions()
    {
        var l = Json("losses.json");
        var w = l.GetProperty("weights");
        double W(string n) => w.GetProperty(n).GetDouble();
        Assert.Equal(W("loss_aux_mask"), W("loss_aux_dice")); // one weight for both auxiliary mask terms
        return new MaskSamLossOptions
        {
            ClassWeight = W("loss_ce"), MaskWeight = W("loss_mask"), DiceWeight = W("loss_dice"), AuxMaskWeight = W("loss_aux_mask"),
            AuxBoxWeight = W("loss_aux_bbox"), AuxGiouWeight = W("loss_aux_giou"), NoObjectWeight = l.GetProperty("eos_coef").GetDouble(),
            NumPoints = l.GetProperty("num_points").GetInt32(), OversampleRatio = l.GetProperty("oversample_ratio").GetDouble(),
            ImportanceSampleRatio = l.GetProperty("importance_sample_ratio").GetDouble(), AuxDoubleSigmoid = true,
        };
    }

    private static UniformSource MatcherPoints()
    {
        using var pts = Tensor("train/matcher_points");
        return Replay(Enumerable.Range(0, (int)pts.size(0)).Select(b => pts.select(0, b).unsqueeze(0).contiguous()).ToArray());
    }

    [Fact]
    public void TargetsPerSliceMatchTheReference()
    {
        using var scope = DisposeScope.Begin();
        var targets = InstanceTargets.FromVolumes(Tensor("train/label"));
        Assert.Equal(3, targets.Count);
        for (int b = 0; b < targets.Count; b++)
        {
            Assert.Equal(Npy($"train/target{b}_labels").AsInt64(), targets[b].Labels.ToArray<long>());
            Assert.Equal(Npy($"train/target{b}_masks").AsInt64(), targets[b].Masks.to(DType.Int64).ToArray<long>());
            AssertClose($"target{b}_bboxes", targets[b].Boxes, $"train/target{b}_bboxes", output.WriteLine);
        }
    }

    [Fact]
    public void CostMatrixTermsAndAssignmentMatchTheReference()
    {
        using var scope = DisposeScope.Begin();
        using var heads = ReferenceHeads();
        var targets = InstanceTargets.FromVolumes(Tensor("train/label"));
        var matches = new MaskSamMatcher(ReferenceOptions()).Match(heads, targets, MatcherPoints());
        var cost = Npy("cost");             // (S, Q, Mmax) NaN-padded
        var terms = Npy("train/cost_terms"); // (S, 7, Q, Mmax)
        var order = Json("manifest.json").GetProperty("cost_terms_order").EnumerateArray().Select(e => e.GetString()!).ToArray();
        Assert.Equal(MaskSamMatcher.TermNames.Order(), order.Order());
        var refMatches = Json("matches.json").GetProperty("slices").EnumerateArray().ToArray();
        long s = cost.Shape[0], q = cost.Shape[1], mMax = cost.Shape[2];
        var cAll = cost.AsFloat64();
        var tAll = terms.AsFloat64();
        for (int b = 0; b < s; b++)
        {
            int m = targets[b].Count;
            double[] Pick(Func<int, int, double> f) => Enumerable.Range(0, (int)q).SelectMany(i => Enumerable.Range(0, m).Select(j => f(i, j))).ToArray();
            AssertClose($"cost[{b}]", Pick((i, j) => matches[b].Cost[i, j]), Pick((i, j) => cAll[(b * q + i) * mMax + j]), output.WriteLine);
            Assert.True(double.IsNaN(cAll[(b * q) * mMax + mMax - 1]) == (m < mMax));
            for (int k = 0; k < order.Length; k++)
            {
                var mine = matches[b].Terms[order[k]];
                AssertClose($"cost[{b}].{order[k]}", Pick((i, j) => mine[i, j]), Pick((i, j) => tAll[((b * order.Length + k) * q + i) * mMax + j]), output.WriteLine);
            }
            Assert.Equal(refMatches[b].GetProperty("pred_query").EnumerateArray().Select(e => e.GetInt32()), matches[b].Queries);
            Assert.Equal(refMatches[b].GetProperty("target_index").EnumerateArray().Select(e => e.GetInt32()), matches[b].Targets);
        }
    }

    [Fact]
    public void EachLossTermAndTheTotalMatchTheReference()
    {
        using var scope = DisposeScope.Begin();
        using var heads = ReferenceHeads();
        var targets = InstanceTargets.FromVolumes(Tensor("train/label"));
        var criterion = new MaskSamCriterion(ReferenceOptions());
        var maskPts = Tensor("train/points_masks");
        var auxPts = Tensor("train/points_aux_masks");
        var matches = criterion.Matcher.Match(heads, targets, MatcherPoints());
        using var losses = criterion.Losses(heads, targets, matches, _ => maskPts.alias(), _ => auxPts.alias());
        var l = Json("losses.json");
        Assert.Equal(l.GetProperty("num_masks").GetInt32(), losses.NumMasks);
        foreach (var name in MaskSamCriterion.TermNames)
        {
            double expected = l.GetProperty("terms").GetProperty(name).GetDouble();
            AssertClose(name, [losses.Terms[name].to(DType.Float64).ToArray<double>()[0]], [expected], output.WriteLine);
            Assert.Equal(l.GetProperty("weights").GetProperty(name).GetDouble(), criterion.Weight(name));
        }
        AssertClose("total", [losses.Total.to(DType.Float64).ToArray<double>()[0]], [l.GetProperty("total").GetDouble()], output.WriteLine);
    }

    [Fact]
    public void ImportanceSamplingReproducesTheReferencePointsFromItsDraws()
    {
        // the reference's candidate and extra draws for the matched mask logits give its loss points (the top-k boundary is
        // ill-conditioned, gaps ~1e-5, so a few points may swap; nearly all must agree)
        using var scope = DisposeScope.Begin();
        using var heads = ReferenceHeads();
        var targets = InstanceTargets.FromVolumes(Tensor("train/label"));
        var matches = new MaskSamMatcher(ReferenceOptions()).Match(heads, targets, MatcherPoints());
        var idx = matches.SelectMany((m, b) => m.Queries.Select(qq => (long)(b * heads.Queries + qq))).ToArray();
        var src = heads.Masks.flatten(0, 1).index_select(0, Torch.Tensor.FromArray<long>(idx, [idx.Length])).unsqueeze(1);
        var o = ReferenceOptions();
        var points = PointSampling.UncertainPoints(src, o.NumPoints, o.OversampleRatio, o.ImportanceSampleRatio,
            Replay(Tensor("train/points_masks_candidates"), Tensor("train/points_masks_random")));
        var expected = Npy("train/points_masks").AsFloat32();
        var actual = points.ToArray<float>();
        Assert.Equal(expected.Length, actual.Length);
        int same = 0, pts = expected.Length / 2;
        var expectedSet = new HashSet<(float, float)>();
        for (int i = 0; i < pts; i++) expectedSet.Add((expected[2 * i], expected[2 * i + 1]));
        for (int i = 0; i < pts; i++) if (expectedSet.Contains((actual[2 * i], actual[2 * i + 1]))) same++;
        output.WriteLine($"{same} of {pts} points shared");
        Assert.True(same >= 0.999 * pts, $"only {same} of {pts} loss points agree with the reference");
    }
}
