using SamAdapt.Methods.Msa;
using SamAdapt.Sam;
using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Methods.Tests.Msa;

/// <summary>
/// The training prompt mixture (docs/methods/msa.md, "Training prompts"): parsing, the drawn prompts (IoU-targeted boxes, clicks inside the
/// target, interactive sessions starting at the target's centre), correction clicks in the error region, and the previous prediction's
/// logits fed back as the mask prompt, in training and in evaluate-prompted.
/// </summary>
public class TrainPromptMixTests
{
    private static SamConfig Small => MsaTestModels.Tiny;

    private static BinaryMask Rect(int h, int w, int r0, int r1, int c0, int c1)
    {
        var d = new bool[h * w];
        for (int r = r0; r <= r1; r++) for (int c = c0; c <= c1; c++) d[r * w + c] = true;
        return new BinaryMask(d, h, w);
    }

    [Fact]
    public void The_mixture_parses_weights_and_rejects_bad_text_with_the_option_name()
    {
        var m = TrainPromptMix.Parse("box:0.5, click , iterative:0.25", maxClicks: 2, rounds: 6);
        Assert.Equal((0.5, 0.0, 1.0, 0.25, 2, 6), (m.Box, m.JitterBox, m.Click, m.Iterative, m.MaxClicks, m.Rounds));
        Assert.Equal("box:0.5,click:1,iterative:0.25", m.ToText());
        Assert.Equal(m with { }, TrainPromptMix.Parse(m.ToText(), 2, 6));
        Assert.Equal(TrainPromptMix.Default, TrainPromptMix.Parse(TrainPromptMix.DefaultText));
        foreach (var (text, expect) in new[] { ("box:-1", "weight of 'box'"), ("lasso", "unknown prompt kind 'lasso'"), ("", "no prompt kind"),
                     ("box,box", "given twice"), ("box:0,click:0", "every weight is 0"), ("click:x", "weight of 'click'") })
        {
            var e = Assert.Throws<ArgumentException>(() => TrainPromptMix.Parse(text));
            Assert.Contains("--train-prompts", e.Message);
            Assert.Contains(expect, e.Message);
        }
        Assert.Contains("--max-clicks", Assert.Throws<ArgumentException>(() => TrainPromptMix.Parse("click", maxClicks: 0)).Message);
        Assert.Contains("--prompt-rounds", Assert.Throws<ArgumentException>(() => TrainPromptMix.Parse("iterative", rounds: -1)).Message);
    }

    [Fact]
    public void Drawn_prompts_cover_the_evaluation_protocols_in_their_proportions()
    {
        const int S = 48;
        var labels = new long[S * S];
        var truth = Rect(S, S, 10, 21, 14, 37); // 12 rows × 24 cols
        for (int i = 0; i < labels.Length; i++) labels[i] = truth.Data[i] ? 3 : 0;
        var centre = PromptSimulator.NextClick(truth, new BinaryMask(new bool[S * S], S, S))!.Value;
        var rng = new Random(7);
        var mix = TrainPromptMix.Default;
        int boxes = 0, clicks = 0, iterative = 0, n = 3000;
        var rounds = new HashSet<int>();
        var clickCounts = new HashSet<int>();
        for (int t = 0; t < n; t++)
        {
            var target = Assert.Single(MsaPromptTask.Targets(labels, 1, 1, S, mix, rng));
            Assert.Equal(3, target.Class);
            if (target.Box is { } b)
            {
                boxes++;
                Assert.Empty(target.Clicks);
                Assert.True(b.X0 <= 14 && b.Y0 <= 10 && b.X1 >= 37 && b.Y1 >= 21, $"box {b} does not contain the target");
                double iou = 12 * 24 / ((b.X1 - b.X0 + 1) * (b.Y1 - b.Y0 + 1));
                Assert.InRange(iou, mix.BoxIoUMin - 0.01, 1.0001);
            }
            else if (target.Rounds > 0 || target.Clicks.Count == 1 && target.Clicks[0] == centre) // (a random click hits the centre 1 time in 288)
            {
                iterative++;
                rounds.Add(target.Rounds);
                Assert.Equal([centre], target.Clicks);
            }
            else
            {
                clicks++;
                clickCounts.Add(target.Clicks.Count);
                Assert.All(target.Clicks, c => Assert.True(c.Label == 1 && truth[(int)c.Y, (int)c.X], $"click {c} is not a positive inside the target"));
            }
        }
        Assert.Equal([1, 2, 3], clickCounts.Order());
        Assert.Equal([0, 1, 2, 3, 4], rounds.Order());
        Assert.InRange(boxes / (double)n, 0.36, 0.44);
        Assert.InRange(iterative / (double)n, 0.25, 0.35);
        Assert.InRange(clicks / (double)n, 0.25, 0.35);
    }

    [Fact]
    public void A_random_correction_click_lies_in_the_largest_error_region_with_its_label()
    {
        var truth = Rect(30, 50, 5, 20, 5, 40);
        var pred = Rect(30, 50, 5, 20, 5, 20).Data.ToArray();        // misses cols 21..40 (320 px)
        for (int r = 24; r <= 27; r++) for (int c = 0; c <= 3; c++) pred[r * 50 + c] = true; // a 16 px spurious blob
        var rng = new Random(3);
        for (int i = 0; i < 100; i++)
        {
            var c = PromptSimulator.RandomErrorClick(truth, new BinaryMask(pred, 30, 50), rng)!.Value;
            Assert.Equal(1, c.Label);
            Assert.InRange(c.X, 21, 40);
            Assert.InRange(c.Y, 5, 20);
        }
        var onlySpurious = truth.Data.ToArray();
        for (int r = 24; r <= 27; r++) for (int c = 0; c <= 3; c++) onlySpurious[r * 50 + c] = true;
        var neg = PromptSimulator.RandomErrorClick(truth, new BinaryMask(onlySpurious, 30, 50), rng)!.Value;
        Assert.Equal(0, neg.Label);
        Assert.True(neg.Y >= 24 && neg.X <= 3);
        Assert.Null(PromptSimulator.RandomErrorClick(truth, truth, rng));
    }

    [Fact]
    public void Interactive_training_targets_add_the_error_click_and_feed_the_previous_logits_back_as_the_mask_prompt()
    {
        torch.manual_seed(5);
        using var model = new MsaSam(Small, new MsaOptions());
        using var _ = torch.no_grad();
        using var scope = DisposeScope.Begin();
        const int S = 64;
        var emb = model.EmbedImages(torch.rand([2, 3, S, S]), 1);
        var truth = Rect(S, S, 20, 45, 10, 50);
        var first = new Click(30, 32, 1);
        var target = new MsaPromptTask.Target(1, 1, [first], null, truth.Data, Rounds: 1);
        var got = MsaPromptTask.Decode(model, emb, [target], S);

        // by hand: round 1 decodes the first click, the next click is at the centre of the largest error, round 2 adds it with round 1's logits
        var row = emb.slice(0, 1, 2);
        var low1 = model.Decode(row, Tensor.FromArray<float>([30, 32], [1, 1, 2]), Tensor.FromArray<float>([1], [1, 1])).LowResLogits;
        var pred1 = F.interpolate(low1, [S, S], InterpolationMode.Bilinear, alignCorners: false).contiguous().ToArray<float>().Select(v => v > 0).ToArray();
        var second = PromptSimulator.NextClick(truth, new BinaryMask(pred1, S, S))!.Value;
        var coords = Tensor.FromArray<float>([first.X, first.Y, second.X, second.Y], [1, 2, 2]);
        var labels = Tensor.FromArray<float>([1, second.Label], [1, 2]);
        var withMask = F.interpolate(model.Decode(row, coords, labels, null, low1).LowResLogits, [S, S], InterpolationMode.Bilinear, alignCorners: false);
        var withoutMask = F.interpolate(model.Decode(row, coords, labels).LowResLogits, [S, S], InterpolationMode.Bilinear, alignCorners: false);
        Assert.True((got - withMask).abs().max().item() < 1e-5, "the interactive target is not decoded from both clicks and the previous logits");
        Assert.True((got - withoutMask).abs().max().item() > 1e-4, "the mask prompt made no difference: the test could not tell feedback from none");

        // rounds 0: a plain decode of the first click, batched with other prompt shapes in target order
        var box = new MsaPromptTask.Target(0, 2, [], new PromptBox(5, 6, 30, 40), truth.Data);
        var both = MsaPromptTask.Decode(model, emb, [target with { Rounds = 0 }, box], S);
        var plain = F.interpolate(low1, [S, S], InterpolationMode.Bilinear, alignCorners: false);
        var boxAlone = MsaPromptTask.Decode(model, emb, [box], S);
        Assert.True((both.slice(0, 0, 1) - plain).abs().max().item() < 1e-5);
        Assert.True((both.slice(0, 1, 2) - boxAlone).abs().max().item() < 1e-5);
    }

    [Fact]
    public void Evaluate_prompted_feeds_each_interactive_click_the_previous_predictions_logits()
    {
        var plane = new int[100];
        for (int r = 2; r <= 6; r++) for (int c = 2; c <= 8; c++) plane[r * 10 + c] = 1;
        var received = new List<float[]?>();
        int calls = 0;
        SlicePrediction Segment(int ci, int z, IReadOnlyList<Click> clicks, PromptBox? box, float[]? previous)
        {
            received.Add(previous);
            var m = new bool[100];
            m[(int)clicks[0].Y * 10 + (int)clicks[0].X] = true; // never exact: every round clicks again
            return new SlicePrediction(m, [++calls, clicks.Count]);
        }
        PromptedEvaluator.Evaluate([([plane], 10, 10)], [1], ["a"], PromptSetting.ParseProtocol("iterative:3"), Segment, seed: 1);
        Assert.Equal(3, received.Count);
        Assert.Null(received[0]);
        Assert.Equal([1f, 1f], received[1]!);
        Assert.Equal([2f, 2f], received[2]!);
    }

    [Fact]
    public void Seeds_of_simulated_prompts_are_the_same_in_every_process()
    {
        // SplitMix64's finalizer, written out: HashCode.Combine (used before) is randomised per process
        static ulong Mix(ulong h) { unchecked { h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9UL; h = (h ^ (h >> 27)) * 0x94D049BB133111EBUL; return h ^ (h >> 31); } }
        ulong h = Mix(0x9E3779B97F4A7C15UL ^ 1234UL);
        h = Mix(h ^ 17UL);
        Assert.Equal((int)(h & 0x7FFFFFFF), PromptSimulator.StableSeed(1234, 17));
        Assert.NotEqual(PromptSimulator.StableSeed(1234, 17), PromptSimulator.StableSeed(1234, 18));
        Assert.NotEqual(PromptSimulator.StableSeed(1234, 17), PromptSimulator.StableSeed(17, 1234));
        Assert.InRange(PromptSimulator.StableSeed(-5, long.MaxValue), 0, int.MaxValue);
    }

    [Fact]
    public void Targets_per_stack_caps_each_stack_with_a_random_subset_of_its_targets()
    {
        // 2 stacks × 3 slices of 8×8, classes 1..3 in every slice: 9 targets per stack
        const int S = 8;
        var labels = new long[2 * 3 * S * S];
        for (int img = 0; img < 6; img++) for (int k = 1; k <= 3; k++) labels[img * S * S + k * 9] = k;
        var all = MsaPromptTask.Targets(labels, 2, 3, S, new TrainPromptMix { Click = 1 }, new Random(1));
        Assert.Equal(18, all.Count);
        var seen = new HashSet<(int, int)>();
        for (int seed = 0; seed < 40; seed++)
        {
            var some = MsaPromptTask.Targets(labels, 2, 3, S, new TrainPromptMix { Click = 1, TargetsPerStack = 4 }, new Random(seed));
            Assert.Equal(4, some.Count(t => t.Image < 3));
            Assert.Equal(4, some.Count(t => t.Image >= 3));
            Assert.Equal(some.Count, some.Select(t => (t.Image, t.Class)).Distinct().Count());
            foreach (var t in some) seen.Add((t.Image, t.Class));
        }
        Assert.Equal(18, seen.Count); // every target gets drawn
        Assert.Contains("--targets-per-stack", Assert.Throws<ArgumentException>(() => TrainPromptMix.Parse("box", targetsPerStack: -1)).Message);
    }
}
