using SamAdapt.Methods.MaskSam;
using SamAdapt.Torch;

namespace SamAdapt.Methods.Tests.MaskSam;

/// <summary>
/// The optional semantic term of the criterion (<see cref="MaskSamLossOptions.SemanticWeight"/>): cross-entropy plus mean foreground
/// Dice of the normalised map Σ_q p(class)·σ(mask); hand values for uniform predictions, ≈ 0 for perfect ones, large for swapped
/// classes, and the total gains exactly weight × term.
/// </summary>
public class MaskSamSemanticLossTests
{
    private const int H = 6, W = 8, K = 3, Q = 4;

    /// <summary>One (H, W) label slice: background, class 1 on the left block, class 2 on a bar, one padding pixel (−1).</summary>
    private static long[] Labels()
    {
        var l = new long[H * W];
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                l[y * W + x] = x < 3 && y < 4 ? 1 : x == 6 ? 2 : 0;
        l[H * W - 1] = -1;
        return l;
    }

    private static SliceTargets Targets() => InstanceTargets.FromSlice(Tensor.FromArray<long>(Labels(), [H, W]));

    /// <summary>Predictions of one slice: query i says class <paramref name="classOf"/>[i] (no object for −1) with mask = target class i's mask.</summary>
    private static MaskSamPredictions Confident(int[] classOf)
    {
        var logits = new float[Q * (K + 1)];
        var masks = new float[Q * H * W];
        var l = Labels();
        for (int q = 0; q < Q; q++)
        {
            int c = classOf[q] < 0 ? K : classOf[q];
            logits[q * (K + 1) + c] = 30f;
            for (int i = 0; i < H * W; i++) masks[q * H * W + i] = q < K && l[i] == q ? 30f : -30f;
        }
        return Predictions(Tensor.FromArray<float>(logits, [1, Q, K + 1]), Tensor.FromArray<float>(masks, [1, Q, H, W]));
    }

    private static MaskSamPredictions Predictions(Tensor logits, Tensor masks) =>
        new(logits, masks, masks.sigmoid(), masks.clone(), torch.zeros([1, Q, 4]));

    private static double Value(Tensor t) => t.to(DType.Float64).ToArray<double>()[0];

    [Fact]
    public void Uniform_predictions_give_log_k_plus_the_hand_dice()
    {
        using var t = Targets();
        using var p = Predictions(torch.zeros([1, Q, K + 1]), torch.zeros([1, Q, H, W]));
        double loss = Value(MaskSamCriterion.SemanticLoss(p, [t]));
        // every class gets the same score, so p = 1/K at every valid pixel: CE = log K; Dice_k = (2·n_k/K + 1) / (N/K + n_k + 1)
        var l = Labels();
        double n = l.Count(v => v >= 0), dice = 0;
        for (int k = 1; k < K; k++)
        {
            double nk = l.Count(v => v == k);
            dice += (2 * nk / K + 1) / (n / K + nk + 1);
        }
        double expected = Math.Log(K) + 1 - dice / (K - 1);
        Assert.Equal(expected, loss, 4);
    }

    [Fact]
    public void Perfect_predictions_cost_nothing_and_swapped_classes_cost_much()
    {
        using var t = Targets();
        using var good = Confident([0, 1, 2, -1]);
        using var swapped = Confident([0, 2, 1, -1]);
        Assert.True(Value(MaskSamCriterion.SemanticLoss(good, [t])) < 1e-3);
        Assert.True(Value(MaskSamCriterion.SemanticLoss(swapped, [t])) > 2);
    }

    [Fact]
    public void The_total_gains_weight_times_the_term_and_the_term_has_gradients()
    {
        using var t = Targets();
        var logits = torch.randn([1, Q, K + 1]).requires_grad_(true);
        var masks = torch.randn([1, Q, H, W]).requires_grad_(true);
        using var p = Predictions(logits, masks);
        var off = new MaskSamCriterion(new MaskSamLossOptions { NumPoints = 16 });
        var on = new MaskSamCriterion(new MaskSamLossOptions { NumPoints = 16, SemanticWeight = 2.5 });
        using var a = off.Forward(p, [t], PointSampling.Seeded(3));
        using var b = on.Forward(p, [t], PointSampling.Seeded(3));
        Assert.False(a.Terms.ContainsKey(MaskSamCriterion.SemanticTerm));
        double term = Value(b.Terms[MaskSamCriterion.SemanticTerm]);
        Assert.True(term > 0);
        Assert.Equal(Value(a.Total) + 2.5 * term, Value(b.Total), 4);
        b.Terms[MaskSamCriterion.SemanticTerm].backward();
        Assert.True(Value(logits.grad!.abs().sum()) > 0);
        Assert.True(Value(masks.grad!.abs().sum()) > 0);
    }
}
