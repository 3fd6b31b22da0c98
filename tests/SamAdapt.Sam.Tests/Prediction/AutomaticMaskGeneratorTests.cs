using SamAdapt.Sam.Automatic;
using SamAdapt.Sam.Prediction;
using SamAdapt.Sam.Tests.Modeling;
using Xunit.Abstractions;
using static SamAdapt.Sam.Tests.Modeling.SamTinyFixture;

namespace SamAdapt.Sam.Tests.Prediction;

/// <summary>
/// Structural properties of the automatic mask generator on the sam-tiny fixture (random weights, so there is no reference mask list):
/// thresholds respected, NMS applied, masks binary and consistent with their records, and lower thresholds never give fewer masks.
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
                Assert.True(BoxIou(records[i].Bbox, records[j].Bbox) <= o.BoxNmsThresh,
                    $"records {i} and {j} overlap with box IoU {BoxIou(records[i].Bbox, records[j].Bbox)} > {o.BoxNmsThresh}");
        // NMS keep order: descending predicted IoU
        if (scoreOrder)
            for (int i = 1; i < records.Count; i++) Assert.True(records[i - 1].PredictedIou >= records[i].PredictedIou);
    }

    [Fact]
    public void Generated_masks_respect_thresholds_and_nms_and_lower_thresholds_give_more()
    {
        using var predictor = new SamPredictor(SamTinyFixture.Load(PthPath), ownsModel: true);
        var (px, h, w) = SamTinyFixture.FixtureImage();
        var defaults = new AutomaticMaskGeneratorOptions();
        Assert.Equal((32, 64, 0.88, 0.95, 1.0, 0.7, 0), (defaults.PointsPerSide!.Value, defaults.PointsPerBatch, defaults.PredIouThresh,
            defaults.StabilityScoreThresh, defaults.StabilityScoreOffset, defaults.BoxNmsThresh, defaults.CropNLayers));

        // the tiny random model predicts IoUs of about −0.1..0.5 and similar large masks, so the defaults keep nothing; a looser NMS
        // (0.95) keeps several masks, which makes the pairwise NMS check meaningful
        var settings = new (double Iou, double Stability)[] { (0.88, 0.95), (0.5, 0.8), (0.3, 0.5), (0.2, 0.3), (0.1, 0.1), (0.0, 0.0) };
        int most = 0;
        foreach (var nms in new[] { defaults.BoxNmsThresh, 0.95 })
        {
            int previous = -1;
            foreach (var (iou, stab) in settings)
            {
                var o = defaults with { PredIouThresh = iou, StabilityScoreThresh = stab, BoxNmsThresh = nms };
                var records = new AutomaticMaskGenerator(predictor, o).Generate(px, h, w);
                output.WriteLine($"box_nms_thresh {nms}, pred_iou_thresh {iou}, stability_score_thresh {stab}: {records.Count} masks");
                AssertStructure(records, o, h, w);
                Assert.True(records.Count >= previous, $"lowering the thresholds to ({iou}, {stab}) reduced the mask count from {previous} to {records.Count}");
                previous = records.Count;
            }
            Assert.True(previous > 0, "with all thresholds off the generator must keep some masks");
            most = Math.Max(most, previous);
        }
        Assert.True(most >= 2, "no setting kept two masks: the NMS check was not exercised");
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
