using SamAdapt.Imaging.Npy;
using SamAdapt.Sam.Prediction;
using SamAdapt.Torch;
using SamAdapt.Sam.Tests.Modeling;
using Xunit.Abstractions;
using TorchTensor = SamAdapt.Torch.Tensor;
using static SamAdapt.Sam.Tests.Modeling.SamTinyFixture;

namespace SamAdapt.Sam.Tests.Prediction;

/// <summary>
/// The predictor against the sam-tiny golden outputs of the reference SamPredictor: SetImage from image.npy (PIL resize, normalisation,
/// padding, encoder) and every prompt case's logits at the original size, IoU predictions and low-res logits, through both checkpoint
/// files. Acceptance: ‖a − b‖/‖b‖ ≤ 1e-4 per output.
/// </summary>
public class SamPredictorParityTests(ITestOutputHelper output)
{
    private const double Bound = 1e-4;

    public static TheoryData<string> Checkpoints => new() { "checkpoint.pth", "checkpoint.safetensors" };

    private double Check(string what, float[] actual, NpyArray expected, long[] actualShape)
    {
        Assert.Equal(expected.Shape, actualShape);
        var e = expected.AsFloat32();
        double rel = RelativeError(actual, e), max = MaxAbs(actual, e);
        output.WriteLine($"{what}: rel {rel:E2}, max |Δ| {max:E2}");
        Assert.True(rel <= Bound, $"{what}: relative error {rel:E3} exceeds {Bound:E0} (max |Δ| {max:E3})");
        return rel;
    }

    [Fact]
    public void Set_image_reproduces_the_resized_image_and_input_tensor()
    {
        using var predictor = new SamPredictor(SamTinyFixture.Load(PthPath), ownsModel: true);
        var (px, h, w) = FixtureImage();
        using var scope = DisposeScope.Begin();
        var (input, resized, inputSize) = predictor.Preprocess(px, h, w);
        var expResized = Npy("resized_image.npy");
        Assert.Equal(expResized.Shape, new long[] { resized.Height, resized.Width, 3 });
        Assert.Equal(expResized.ToArray<byte>(), resized.Pixels); // byte-exact PIL resize
        Assert.Equal((85, 128), inputSize);
        var expInput = Npy("input_tensor.npy");
        Assert.Equal(expInput.Shape, input.shape);
        Assert.Equal(expInput.AsFloat32(), input.ToArray<float>()); // bit-exact normalisation and padding

        predictor.SetImage(px, h, w);
        Assert.Equal((100, 150), predictor.OriginalSize);
        Assert.Equal((85, 128), predictor.InputSize);
        Assert.Equal(expResized.ToArray<byte>(), predictor.ResizedImage!.Pixels);
        Check("image_embeddings", predictor.Features.ToArray<float>(), Npy("image_embeddings.npy"), predictor.Features.shape);
    }

    [Theory]
    [MemberData(nameof(Checkpoints))]
    public void Every_fixture_case_matches_the_reference_predictor(string checkpoint)
    {
        using var predictor = new SamPredictor(SamTinyFixture.Load(Path(checkpoint)), ownsModel: true);
        var (px, h, w) = FixtureImage();
        predictor.SetImage(px, h, w);
        SamPrediction? fgBg = null;
        int n = 0;
        foreach (var (name, multimask) in Cases())
        {
            var prompt = CasePrompt(name);
            if (name == "mask_refine")
            {
                // the fixture feeds the points_fg_bg low-res logits back in: ours must be that input (within the bound), and using
                // our own low-res logits as the mask input must also reproduce the reference
                Assert.NotNull(fgBg);
                Check($"{checkpoint} mask_refine input (= our points_fg_bg low-res)", fgBg!.LowResLogit(0), Npy(name, "mask_input.npy"), [1, fgBg.LowResHeight, fgBg.LowResWidth]);
                var own = predictor.Predict(prompt with { MaskInput = fgBg.LowResLogit(0) }, multimask, returnLogits: true);
                Check($"{checkpoint} mask_refine (own mask input) masks_logits", own.Logits!, Npy(name, "masks_logits.npy"), [own.Count, h, w]);
            }
            var p = predictor.Predict(prompt, multimask, returnLogits: true);
            if (name == "points_fg_bg") fgBg = p;
            Assert.Equal(multimask ? 3 : 1, p.Count);
            Check($"{checkpoint} {name} masks_logits", p.Logits!, Npy(name, "masks_logits.npy"), [p.Count, h, w]);
            Check($"{checkpoint} {name} iou_predictions", p.IouPredictions, Npy(name, "iou_predictions.npy"), [p.Count]);
            Check($"{checkpoint} {name} low_res_logits", p.LowResLogits, Npy(name, "low_res_logits.npy"), [p.Count, p.LowResHeight, p.LowResWidth]);
            // masks are the logits thresholded at 0, and the same without return_logits
            Assert.Equal(p.Logits!.Select(v => v > 0f).ToArray(), p.Masks);
            var plain = predictor.Predict(prompt, multimask);
            Assert.Null(plain.Logits);
            Assert.Equal(p.Masks, plain.Masks);
            n++;
        }
        Assert.Equal(5, n);
    }
}

/// <summary>Runs alone: <see cref="TorchTensor.LiveCount"/> is process-wide, so other tests must not create tensors meanwhile.</summary>
[CollectionDefinition(nameof(TensorCountCollection), DisableParallelization = true)]
public sealed class TensorCountCollection;

[Collection(nameof(TensorCountCollection))]
public class SamPredictorLifetimeTests
{
    [Fact]
    public void Repeated_predictions_do_not_leak_tensors()
    {
        using var predictor = new SamPredictor(SamTinyFixture.Load(PthPath), ownsModel: true);
        var (px, h, w) = FixtureImage();
        predictor.SetImage(px, h, w);
        var prompts = Cases().Select(c => (CasePrompt(c.Name), c.Multimask)).ToArray();
        predictor.Predict(prompts[0].Item1); // the first call caches the dense positional encoding
        long before = TorchTensor.LiveCount;
        for (int i = 0; i < 50; i++)
        {
            var (p, mm) = prompts[i % prompts.Length];
            predictor.Predict(p, mm, returnLogits: i % 2 == 0);
        }
        predictor.PredictBoxes([[10, 10, 50, 50], [60, 20, 120, 60]]);
        Assert.Equal(before, TorchTensor.LiveCount);
        predictor.SetImage(px, h, w); // a new image replaces the embedding
        Assert.Equal(before, TorchTensor.LiveCount);
        predictor.ResetImage();
        Assert.Equal(before - 1, TorchTensor.LiveCount); // the embedding was the only per-image tensor
    }
}

/// <summary>Behaviour of the predictor beyond the fixture: lifetimes, batching, validation, grey images, MedSAM preset.</summary>
public class SamPredictorTests
{
    private static SamPredictor TinyPredictor(SamPreset preset = SamPreset.Sam) => new(SamTinyFixture.Load(PthPath), preset, ownsModel: true);

    [Fact]
    public void Batched_boxes_match_one_at_a_time()
    {
        using var predictor = TinyPredictor();
        var (px, h, w) = FixtureImage();
        predictor.SetImage(px, h, w);
        double[][] boxes = [[60, 20, 120, 60], [0, 0, 150, 100], [10, 30, 40, 90]];
        var batch = predictor.PredictBoxes(boxes, multimaskOutput: true, returnLogits: true);
        Assert.Equal(3, batch.Count);
        for (int i = 0; i < boxes.Length; i++)
        {
            var single = predictor.Predict(SamPrompt.FromBox(boxes[i][0], boxes[i][1], boxes[i][2], boxes[i][3]), true, true);
            Assert.True(RelativeError(batch[i].Logits!, single.Logits!) <= 1e-5);
            Assert.True(RelativeError(batch[i].IouPredictions, single.IouPredictions) <= 1e-5);
            Assert.True(RelativeError(batch[i].LowResLogits, single.LowResLogits) <= 1e-5);
        }
        // the fixture's box case, batched with others, still matches the reference
        var expected = Npy("box", "masks_logits.npy").AsFloat32();
        var b = predictor.PredictBoxes(boxes, multimaskOutput: false, returnLogits: true)[0];
        Assert.True(RelativeError(b.Logits!, expected) <= 1e-4);
    }

    [Fact]
    public void Bad_prompts_are_rejected_with_clear_messages()
    {
        using var predictor = TinyPredictor();
        var (px, h, w) = FixtureImage();
        Assert.Throws<InvalidOperationException>(() => predictor.Predict(SamPrompt.Point(1, 1)));
        predictor.SetImage(px, h, w);
        Assert.Contains("outside the 150x100 image", Assert.Throws<ArgumentException>(() => predictor.Predict(SamPrompt.Point(151, 10))).Message);
        Assert.Contains("outside", Assert.Throws<ArgumentException>(() => predictor.Predict(SamPrompt.Point(-1, 10))).Message);
        Assert.Contains("outside", Assert.Throws<ArgumentException>(() => predictor.Predict(SamPrompt.Point(double.NaN, 10))).Message);
        Assert.Contains("x1 < x0", Assert.Throws<ArgumentException>(() => predictor.Predict(SamPrompt.FromBox(50, 10, 40, 20))).Message);
        Assert.Contains("outside", Assert.Throws<ArgumentException>(() => predictor.Predict(SamPrompt.FromBox(0, 0, 160, 20))).Message);
        Assert.Contains("labels must be 1", Assert.Throws<ArgumentException>(() => predictor.Predict(SamPrompt.Point(10, 10, 2))).Message);
        Assert.Contains("1x32x32", Assert.Throws<ArgumentException>(() => predictor.Predict(new SamPrompt { MaskInput = new float[16] })).Message);
        Assert.Contains("2 points but 1 labels", Assert.Throws<ArgumentException>(() =>
            predictor.Predict(new SamPrompt { PointCoords = [1, 1, 2, 2], PointLabels = [1] })).Message);
        Assert.Throws<ArgumentException>(() => predictor.Predict(new SamPrompt()));
        // the image edge itself is inside
        predictor.Predict(SamPrompt.FromBox(0, 0, 150, 100));
    }

    [Fact]
    public void Grey_images_are_replicated_to_rgb()
    {
        using var predictor = TinyPredictor();
        var (px, h, w) = FixtureImage();
        var grey = Enumerable.Range(0, h * w).Select(i => px[3 * i + 1]).ToArray();
        var rgb = grey.SelectMany(g => new[] { g, g, g }).ToArray();
        predictor.SetImage(grey, h, w, 1);
        var a = predictor.Predict(SamPrompt.Point(90, 40), true, true);
        var fa = predictor.Features.ToArray<float>();
        predictor.SetImage(rgb, h, w, 3);
        var b = predictor.Predict(SamPrompt.Point(90, 40), true, true);
        Assert.Equal(fa, predictor.Features.ToArray<float>());
        Assert.Equal(a.Logits, b.Logits);
        Assert.Throws<ArgumentException>(() => predictor.SetImage(grey, h, w, 2));
        Assert.Throws<ArgumentException>(() => predictor.SetImage(grey, h, w + 1, 1));
    }

    [Fact]
    public void MedSam_preset_follows_the_medsam_pipeline()
    {
        using var predictor = TinyPredictor(SamPreset.MedSam);
        var model = predictor.Model;
        int s = model.ImageSize; // 128
        var rng = new Random(3);
        // an S×S grey image: the skimage resize is the identity, so the input is exactly min-max of the pixels
        var grey = new byte[s * s];
        for (int i = 0; i < grey.Length; i++) grey[i] = (byte)rng.Next(20, 200);
        predictor.SetImage(grey, s, s, 1);
        Assert.Equal((s, s), predictor.InputSize);
        Assert.Equal(grey.SelectMany(g => new[] { g, g, g }).ToArray(), predictor.ResizedImage!.Pixels);
        using var scope = DisposeScope.Begin();
        using var ng = torch.no_grad();
        int mn = grey.Min(), mx = grey.Max();
        var norm = grey.Select(g => (float)((g - (double)mn) / (mx - mn))).ToArray();
        var input = TorchTensor.FromArray<float>(norm, [1, 1, s, s]).expand(1, 3, s, s).contiguous();
        var emb = model.image_encoder.forward(input);
        Assert.Equal(emb.ToArray<float>(), predictor.Features.ToArray<float>());

        // box: x / W · S in float64, then float32; sigmoid → bilinear to H×W → > 0.5
        double[] box = [20, 30, 90, 100];
        var pred = predictor.Predict(new SamPrompt { Box = box }, multimaskOutput: false, returnLogits: true);
        var boxT = TorchTensor.FromArray<float>(box.Select(v => (float)(v / s * s)).ToArray(), [1, 4]);
        var (sparse, dense) = model.prompt_encoder.forward(null, boxT, null);
        var (low, iou) = model.mask_decoder.forward(emb, model.prompt_encoder.get_dense_pe(), sparse, dense, false);
        var prob = SamAdapt.Torch.NN.F.interpolate(low.sigmoid(), [s, s], SamAdapt.Torch.NN.InterpolationMode.Bilinear, alignCorners: false);
        Assert.Equal(prob.ToArray<float>(), pred.Logits);
        Assert.Equal(prob.ToArray<float>().Select(v => v > 0.5f).ToArray(), pred.Masks);
        Assert.Equal(iou.ToArray<float>(), pred.IouPredictions);
        Assert.Equal(0.5f, pred.Threshold);

        // a non-square original: prompts scale by (S/W, S/H), masks come back at H×W
        var (px, h, w) = FixtureImage();
        predictor.SetImage(px, h, w);
        Assert.Equal((s, s), predictor.InputSize);
        Assert.Equal([(float)(60.0 / w * s), (float)(20.0 / h * s), (float)(120.0 / w * s), (float)(60.0 / h * s)], predictor.TransformCoords([60, 20, 120, 60]));
        var p2 = predictor.Predict(new SamPrompt { Box = [60, 20, 120, 60] }, false);
        Assert.Equal(h * w, p2.Masks.Length);
    }

    [Fact]
    public void MedSam_resize_is_the_identity_at_the_target_size_and_keeps_constants()
    {
        var rng = new Random(1);
        var img = new byte[64 * 48 * 3];
        rng.NextBytes(img);
        Assert.Equal(img, MedSamPreprocess.Resize(img, 64, 48, 3, 64, 48));
        var flat = Enumerable.Repeat((byte)77, 50 * 30 * 3).ToArray();
        foreach (var (oh, ow) in new[] { (100, 60), (20, 11), (128, 128), (7, 90) })
            Assert.All(MedSamPreprocess.Resize(flat, 50, 30, 3, oh, ow), v => Assert.Equal(77, v));
        // a linear ramp stays a ramp (cubic B-splines reproduce linear functions away from the mirrored edges)
        var ramp = new byte[1 * 200];
        for (int x = 0; x < 200; x++) ramp[x] = (byte)x;
        var up = MedSamPreprocess.Resize(ramp, 1, 200, 1, 1, 400);
        for (int o = 20; o < 380; o++)
        {
            double expected = (o + 0.5) * 0.5 - 0.5;
            Assert.InRange(up[o], Math.Floor(expected - 1e-9) - 1, Math.Floor(expected + 1e-9));
        }
        // the spline prefilter interpolates: evaluating at the samples gives them back
        var line = Enumerable.Range(0, 17).Select(i => (double)((i * 37) % 11)).ToArray();
        var coef = MedSamPreprocess.SplinePrefilterMirror(line);
        for (int i = 0; i < line.Length; i++)
        {
            double v = (coef[MedSamPreprocess.Mirror(i - 1, 17)] + 4 * coef[i] + coef[MedSamPreprocess.Mirror(i + 1, 17)]) / 6;
            Assert.Equal(line[i], v, 1e-9);
        }
        Assert.Equal([0f, 0.5f, 1f], MedSamPreprocess.MinMaxNormalize([10, 20, 30]));
        Assert.Equal([0f, 0f], MedSamPreprocess.MinMaxNormalize([5, 5]));
    }
}
