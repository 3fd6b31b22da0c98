using System.Text.Json.Nodes;
using SamAdapt.Methods.MaskSam;
using SamAdapt.Methods.Semantic;
using SamAdapt.Tests;
using SamAdapt.Training.Engine;
using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Methods.Tests.MaskSam;

/// <summary>
/// The pixel head (<see cref="MaskSamConfig.PixelHead"/>, docs/methods/masksam.md "Pixel head"): a 1×1×1 convolution of the prompt
/// generator's last stage to the K classes, trained with cross-entropy + Dice, whose softmax is averaged with the mask classification's
/// normalised map. On in the tiny preset, absent from the reference architecture.
/// </summary>
public class MaskSamPixelHeadTests : IDisposable
{
    private const int Size = 64;
    private readonly TempDir _tmp = TestPaths.NewTempDir();
    public void Dispose() => _tmp.Dispose();

    private static MaskSamConfig Small(bool pixelHead) => MaskSamMethod.TinyPreset(Size, 3, 3) with
    {
        Sam = MaskSamMethod.TinyPreset(Size, 3, 3).Sam with { EncoderEmbedDim = 32, EncoderNumHeads = 2 },
        NumQueries = 5, FinalConvChannels = 8, PixelHead = pixelHead,
    };

    private static double Value(Tensor t) => t.to(DType.Float64).ToArray<double>()[0];

    private static double MaxAbsDiff(Tensor a, Tensor b) => Value((a - b).abs().max());

    [Fact]
    public void The_tiny_preset_has_it_and_the_reference_architecture_does_not()
    {
        Assert.True(MaskSamMethod.TinyPreset(96, 3, 9).PixelHead);
        Assert.False(new MaskSamConfig().PixelHead);
        using var without = new MaskSamModel(Small(false));
        Assert.DoesNotContain(without.state_dict().Keys, k => k.StartsWith("pixel_head.", StringComparison.Ordinal));
        using var with = new MaskSamModel(Small(true));
        var keys = with.state_dict().Keys.Where(k => k.StartsWith("pixel_head.", StringComparison.Ordinal)).Order().ToArray();
        Assert.Equal(["pixel_head.bias", "pixel_head.weight"], keys);
        Assert.Equal("pixel_head", MaskSamTask.GroupOf("pixel_head.weight"));
        Assert.True(MaskSamModel.IsTrainable("pixel_head.weight"));
    }

    [Fact]
    public void It_round_trips_through_the_run_json_and_reads_as_off_when_absent()
    {
        var json = MaskSamConfigJson.ToJson(Small(true));
        Assert.True(MaskSamConfigJson.FromJson(json).PixelHead);
        var old = JsonNode.Parse(json)!.AsObject();
        Assert.True(old.Remove("pixel_head"));
        Assert.False(MaskSamConfigJson.FromJson(old.ToJsonString()).PixelHead);
    }

    [Fact]
    public void The_forward_gives_class_logits_at_the_input_size_and_the_semantic_output_is_the_mean_of_both_maps()
    {
        torch.manual_seed(4);
        using var scope = DisposeScope.Begin();
        using var model = new MaskSamModel(Small(true));
        model.eval();
        using var _ = torch.no_grad();
        var input = torch.randn([2, 1, 3, Size, Size]);
        var fwd = model.forward(input);
        var px = fwd.Predictions.PixelLogits!;
        Assert.Equal([6L, 3, Size, Size], px.shape);
        // the head's logits are the bilinear interpolation of a 1×1×1 convolution of the generator's last stage (at S/2)
        var stage = fwd.Generator.Stages[^1];                                                    // (B, C, T, S/2, S/2)
        var conv = F.conv3d(stage, model.pixel_head!.weight, model.pixel_head.bias, [1, 1, 1], [0, 0, 0], [1, 1, 1], 1);
        var expectedPx = F.interpolate(conv.permute(0, 2, 1, 3, 4).reshape(6, 3, Size / 2, Size / 2), [Size, Size],
            InterpolationMode.Bilinear, alignCorners: false);
        Assert.True(MaxAbsDiff(px, expectedPx) < 1e-5);
        // semantic output: (s / Σ_k s + softmax(pixel)) / 2 with s the einsum definition, per (B, K, T, H, W)
        var s = MaskSamModel.Semantic(fwd.Predictions.Logits, fwd.Predictions.Masks, 3);
        var soft = F.softmax(px, 1).view(2, 3, 3, Size, Size).permute(0, 2, 1, 3, 4);
        var expected = (s / s.sum(1, keepdim: true) + soft) * 0.5;
        var sem = fwd.Semantic(3);
        Assert.Equal([2L, 3, 3, Size, Size], sem.shape);
        Assert.True(MaxAbsDiff(sem, expected) < 1e-5);
        Assert.True(MaxAbsDiff(sem.sum(1), torch.ones([2, 3, Size, Size])) < 1e-4);     // a distribution over the K classes
        // and differs from the mask classification alone (the head is not ignored)
        Assert.True(MaxAbsDiff(sem, s / s.sum(1, keepdim: true)) > 1e-3);
        // predict --masksam-output: either map alone
        Assert.Equal(0, MaxAbsDiff(fwd.Semantic(3, MaskSamOutput.MaskClassification), s));
        Assert.True(MaxAbsDiff(fwd.Semantic(3, MaskSamOutput.PixelHead), soft) < 1e-6);
        // and through the semantic contract (what predict runs): the log of the chosen map, (B·T, K, S, S)
        var slices = input.permute(0, 2, 1, 3, 4).reshape(6, 1, Size, Size);
        var images = torch.cat([slices, slices, slices], 1);                                    // (B·T, 3, S, S), channel 0 the image
        var seg = new MaskSamSegmenter(model) { Output = MaskSamOutput.PixelHead };
        var viaContract = seg.ClassLogits(images, 3).exp();
        Assert.True(MaxAbsDiff(viaContract, soft.permute(0, 2, 1, 3, 4).reshape(6, 3, Size, Size)) < 1e-5);
    }

    [Theory]
    [InlineData("combined", MaskSamOutput.Combined)]
    [InlineData("mask-classification", MaskSamOutput.MaskClassification)]
    [InlineData("PIXEL-HEAD", MaskSamOutput.PixelHead)]
    public void Output_names_parse(string text, MaskSamOutput expected) => Assert.Equal(expected, MaskSamOutputNames.Choices.Parse(text));

    [Fact]
    public void The_pixel_head_alone_is_refused_for_a_model_without_one()
    {
        using var model = new MaskSamModel(Small(false));
        var seg = new MaskSamSegmenter(model) { Output = MaskSamOutput.MaskClassification };   // the reference's own output: fine
        var e = Assert.Throws<ArgumentException>(() => seg.Output = MaskSamOutput.PixelHead);
        Assert.Contains("--masksam-output pixel-head: the run's model has no pixel head", e.Message);
        Assert.Contains("expected one of combined, mask-classification, pixel-head, found 'pixels'",
            Assert.Throws<ArgumentException>(() => MaskSamOutputNames.Choices.Parse("pixels")).Message);
    }

    [Fact]
    public void Without_it_the_semantic_output_is_the_mask_classification_alone()
    {
        torch.manual_seed(5);
        using var scope = DisposeScope.Begin();
        using var model = new MaskSamModel(Small(false));
        model.eval();
        using var _ = torch.no_grad();
        var fwd = model.forward(torch.randn([1, 1, 3, Size, Size]));
        Assert.Null(fwd.Predictions.PixelLogits);
        Assert.Equal(0, MaxAbsDiff(fwd.Semantic(3), MaskSamModel.Semantic(fwd.Predictions.Logits, fwd.Predictions.Masks, 3)));
    }

    [Fact]
    public void Its_term_is_cross_entropy_plus_dice_of_the_softmax_and_enters_the_total_by_its_weight()
    {
        const int h = 6, w = 8, k = 3, q = 4;
        var labels = new long[h * w];
        for (int i = 0; i < labels.Length; i++) labels[i] = i % w < 3 ? 1 : i % w == 6 ? 2 : 0;
        using var t = InstanceTargets.FromSlice(Tensor.FromArray<long>(labels, [h, w]));
        torch.manual_seed(6);
        var logits = torch.randn([1, q, k + 1]);
        var masks = torch.randn([1, q, h, w]);
        var pixel = torch.randn([1, k, h, w]).requires_grad_(true);
        using var p = new MaskSamPredictions(logits, masks, masks.sigmoid(), masks.clone(), torch.zeros([1, q, 4]), pixel);
        var off = new MaskSamCriterion(new MaskSamLossOptions { NumPoints = 16, PixelWeight = 0 });
        var on = new MaskSamCriterion(new MaskSamLossOptions { NumPoints = 16, PixelWeight = 1.5 });
        using var a = off.Forward(p, [t], PointSampling.Seeded(3));
        using var b = on.Forward(p, [t], PointSampling.Seeded(3));
        Assert.False(a.Terms.ContainsKey(MaskSamCriterion.PixelTerm));
        double term = Value(b.Terms[MaskSamCriterion.PixelTerm]);
        Assert.Equal(Value(a.Total) + 1.5 * term, Value(b.Total), 4);
        // by hand: CE = mean over pixels of −log p_label; Dice over the foreground classes, (2·Σ p·y + 1) / (Σ p + Σ y + 1)
        var prob = F.softmax(pixel.detach(), 1).to(DType.Float64).ToArray<double>();
        double ce = 0, dice = 0;
        for (int i = 0; i < h * w; i++) ce -= Math.Log(prob[labels[i] * h * w + i] + 1e-6);
        ce /= h * w;
        for (int c = 1; c < k; c++)
        {
            double inter = 0, ps = 0, ys = 0;
            for (int i = 0; i < h * w; i++)
            {
                double y = labels[i] == c ? 1 : 0;
                inter += prob[c * h * w + i] * y;
                ps += prob[c * h * w + i];
                ys += y;
            }
            dice += (2 * inter + 1) / (ps + ys + 1);
        }
        Assert.Equal(ce + 1 - dice / (k - 1), term, 4);
        b.Terms[MaskSamCriterion.PixelTerm].backward();
        Assert.True(Value(pixel.grad!.abs().sum()) > 0);
    }

    [Fact]
    public void Train_records_the_choice_and_resume_keeps_it()
    {
        torch.set_num_threads(1);
        var dataset = new SyntheticSlab { Name = "Dataset012_Slab", Size = Size, Slices = 5 }.Write(_tmp.Path);
        TrainSettings Settings(string run, long iterations, bool? pixelHead, bool resume = false) => new()
        {
            Method = "masksam", Dataset = dataset, Out = run, Model = "tiny", ImageSize = Size, Slices = 3, ValFraction = 0, Augment = "none",
            Iterations = iterations, Batch = 1, Seed = 3, ValEvery = 0, CheckpointEvery = 1, PixelHead = pixelHead, Resume = resume,
        };
        var quiet = new TrainOutput(TextWriter.Null, TextWriter.Null, Interactive: false);
        static bool Recorded(string run) => MaskSamConfigJson.FromJson(
            SemanticSamMethod.ReadTaskConfig(RunConfig.Load(Path.Combine(run, RunConfig.FileName))).AdapterConfig).PixelHead;

        // from a configuration the head is on unless --pixel-head false; the run folder records which
        var with = Path.Combine(_tmp.Path, "with");
        TrainRunner.Run(Settings(with, 1, null), quiet);
        Assert.True(Recorded(with));
        var without = Path.Combine(_tmp.Path, "without");
        TrainRunner.Run(Settings(without, 1, false), quiet);
        Assert.False(Recorded(without));

        // resuming rebuilds the recorded architecture (the checkpoint loads), and a contradicting --pixel-head is refused by name
        TrainRunner.Run(Settings(without, 1, null, resume: true), quiet);
        Assert.False(Recorded(without));
        var e = Assert.Throws<ArgumentException>(() => TrainRunner.Run(Settings(without, 1, true, resume: true), quiet));
        Assert.Contains("--pixel-head true: the run in", e.Message);
        Assert.Contains("was trained without the pixel head", e.Message);
    }
}
