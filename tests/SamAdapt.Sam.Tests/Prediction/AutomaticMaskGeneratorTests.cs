using SamAdapt.Sam.Automatic;
using SamAdapt.Sam.Prediction;
using SamAdapt.Sam.Tests.Modeling;
using Xunit.Abstractions;
using static SamAdapt.Sam.Tests.Modeling.SamTinyFixture;

namespace SamAdapt.Sam.Tests.Prediction;

/// <summary>
/// Structural properties of the automatic mask generator on the sam-tiny fixture (random weights, so there is no reference mask list):
/// thresholds respected, NMS applied, masks binary and consistent with their records; scenarios are built from the model's own
/// candidates, so the tests hold for any fixture weights.
/// </summary>
public class AutomaticMaskGeneratorTests(ITestOutputHelper output)
{
    private static float BoxIou(int[] a, int[] b)
    {
        // XYWH records → XYXY as the generator's NMS sees them, float32 arithmetic as torchvision
        float ax0 = a[0], ay0 = a[1], ax1 = a[0] + a[2], ay1 = a[1] + a[3];
        float bx0 = b[0], by0 = b[1], bx1 = b[0] + b[2], by1 = b[1] + b[3];
        float iw = Math.Max(0f, Math.Min(ax1, bx1) - Math.Max(ax0, bx0)), ih = Math.Max(0f, Math.Min(ay1, by1) - Math.Max(ay0, by0));
        float inter = iw * ih;
        return inter / ((ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter);
    }

    private static void AssertStructure(IReadOnlyList<SamMaskRecord> records, AutomaticMaskGeneratorOptions o, int h, int w, bool scoreOrder = true)
    {
        foreach (var r in records)
        {
            if (o.PredIouThresh > 0) Assert.True(r.PredictedIou > o.PredIouThresh, $"IoU {r.PredictedIou} not above {o.PredIouThresh}");
            if (o.StabilityScoreThresh > 0) Assert.True(r.StabilityScore >= o.StabilityScoreThresh, $"stability {r.StabilityScore} below {o.StabilityScoreThresh}");
            var m = r.ToMask();
            Assert.Equal(h * w, m.Length);
            Assert.Equal(r.Area, m.LongCount(v => v));
            var box = AmgUtils.MaskToBox(m, h, w);
            Assert.Equal(new[] { box.X0, box.Y0, box.X1 - box.X0, box.Y1 - box.Y0 }, r.Bbox);
            Assert.Equal(new[] { 0, 0, w, h }, r.CropBox);
            Assert.Equal(2, r.PointCoords.Length);
            Assert.InRange(r.PointCoords[0], 0, w);
            Assert.InRange(r.PointCoords[1], 0, h);
        }
        for (int i = 0; i < records.Count; i++)
            for (int j = i + 1; j < records.Count; j++)
                // !(IoU > thr), as NMS decides: two empty masks' boxes have IoU 0/0 = NaN and do not suppress each other
                Assert.False(BoxIou(records[i].Bbox, records[j].Bbox) > o.BoxNmsThresh,
                    $"records {i} and {j} overlap with box IoU {BoxIou(records[i].Bbox, records[j].Bbox)} > {o.BoxNmsThresh}");
        // NMS keep order: descending predicted IoU
        if (scoreOrder)
            for (int i = 1; i < records.Count; i++) Assert.True(records[i - 1].PredictedIou >= records[i].PredictedIou);
    }

    /// <summary>
    /// The generator's output is exactly its candidates that pass the IoU and stability thresholds, box-NMSed by predicted IoU.
    /// The scenario is built from the model's own candidates, so it holds whatever the fixture's random weights: all candidates
    /// come from a run with both filters off and an NMS threshold of 1 (a box IoU is never above 1, so nothing is suppressed);
    /// the thresholds are set at the median of the candidates' positive IoUs and stabilities (so each filter drops some); the
    /// expected output of every setting is computed from that list.
    /// </summary>
    [Fact]
    public void Generated_masks_are_the_candidates_passing_the_thresholds_after_box_nms()
    {
        using var predictor = new SamPredictor(SamTinyFixture.Load(PthPath), ownsModel: true);
        var (px, h, w) = SamTinyFixture.FixtureImage();
        var defaults = new AutomaticMaskGeneratorOptions();
        Assert.Equal((32, 64, 0.88, 0.95, 1.0, 0.7, 0), (defaults.PointsPerSide!.Value, defaults.PointsPerBatch, defaults.PredIouThresh,
            defaults.StabilityScoreThresh, defaults.StabilityScoreOffset, defaults.BoxNmsThresh, defaults.CropNLayers));

        // a small stability offset: the tiny random model's logits are small, so with the default offset (1.0) every stability is 0
        var everything = defaults with { PointsPerSide = 12, PredIouThresh = 0, StabilityScoreThresh = 0, StabilityScoreOffset = 0.1, BoxNmsThresh = 1.0 };
        var all = new AutomaticMaskGenerator(predictor, everything).Generate(px, h, w);
        AssertStructure(all, everything, h, w);
        Assert.True(all.Count >= 2, $"only {all.Count} candidates from 12×12 points × 3 masks");

        // a filter acts only with a threshold > 0: the median of the positive values (some pass, some not), or, when no
        // candidate has a positive value, a small positive threshold that removes them all
        static double Threshold(IEnumerable<float> v) { var a = v.Where(x => x > 0).Order().ToArray(); return a.Length > 0 ? a[a.Length / 2] : 0.01; }
        double iouT = Threshold(all.Select(r => r.PredictedIou)), stabT = Threshold(all.Select(r => r.StabilityScore));
        static string Key(SamMaskRecord r) => $"{string.Join(",", r.Bbox)} @ {r.PointCoords[0]},{r.PointCoords[1]} iou {r.PredictedIou:R} stab {r.StabilityScore:R} area {r.Area}";
        bool suppressedSome = false;
        foreach (var nms in new[] { defaults.BoxNmsThresh, 0.95 })
            foreach (var (iou, stab) in new[] { (0.0, 0.0), (iouT, 0.0), (0.0, stabT), (iouT, stabT) })
            {
                var o = everything with { PredIouThresh = iou, StabilityScoreThresh = stab, BoxNmsThresh = nms };
                var got = new AutomaticMaskGenerator(predictor, o).Generate(px, h, w);
                AssertStructure(got, o, h, w);
                var passing = all.Where(r => (!(iou > 0) || r.PredictedIou > iou) && (!(stab > 0) || r.StabilityScore >= stab)).ToList();
                if (iou > 0 || stab > 0) Assert.True(passing.Count < all.Count, "the threshold removed nothing");
                var keep = AmgUtils.BoxNms(passing.Select(r => new IntBox(r.Bbox[0], r.Bbox[1], r.Bbox[0] + r.Bbox[2], r.Bbox[1] + r.Bbox[3])).ToList(),
                    passing.Select(r => r.PredictedIou).ToArray(), nms);
                var expected = keep.Select(k => passing[k]).ToList();
                output.WriteLine($"box_nms_thresh {nms}, pred_iou_thresh {iou:F3}, stability_score_thresh {stab:F3}: {passing.Count} pass, {got.Count} kept");
                Assert.Equal(expected.Select(Key), got.Select(Key));
                suppressedSome |= got.Count < passing.Count;
            }
        Assert.True(suppressedSome, "NMS suppressed nothing in any setting: the NMS check was not exercised");
    }

    [Fact]
    public void Rle_output_and_small_region_removal_keep_the_structure()
    {
        using var predictor = new SamPredictor(SamTinyFixture.Load(PthPath), ownsModel: true);
        var (px, h, w) = SamTinyFixture.FixtureImage();
        var o = new AutomaticMaskGeneratorOptions
        {
            PointsPerSide = 8, PredIouThresh = 0, StabilityScoreThresh = 0, OutputMode = AmgOutputMode.UncompressedRle, MinMaskRegionArea = 30,
        };
        var records = new AutomaticMaskGenerator(predictor, o).Generate(px, h, w);
        Assert.NotEmpty(records);
        Assert.All(records, r => { Assert.Null(r.Segmentation); Assert.NotNull(r.Rle); });
        AssertStructure(records, o, h, w, scoreOrder: false); // the final NMS ranks unchanged masks first
        Assert.Throws<NotSupportedException>(() => new AutomaticMaskGenerator(predictor, o with { OutputMode = AmgOutputMode.CocoRle }));
        Assert.False(predictor.IsImageSet); // the generator releases the crop embedding
    }
}
