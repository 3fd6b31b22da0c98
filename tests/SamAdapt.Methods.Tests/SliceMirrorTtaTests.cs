using SamAdapt.Imaging;
using SamAdapt.Imaging.Preprocessing;
using SamAdapt.Inference;
using SamAdapt.Sam.Contracts;
using SamAdapt.Torch;
using SamAdapt.Training.Augmentation;
using SamAdapt.Training.Data;

namespace SamAdapt.Methods.Tests;

/// <summary>
/// <c>predict --tta flip-slices</c> (<see cref="VolumePredictor"/>'s slice mirroring): every stack is segmented as it is and with its
/// slices reversed, and the reversed output is put back in order before the two are averaged.
/// </summary>
public class SliceMirrorTtaTests
{
    private const int Size = 16, Depth = 3;

    /// <summary>
    /// A model that sees slice order: the class-1 logit of the j-th slice of a stack is w_j · (image − 0.5) with w = (1, 2, 4), or with w
    /// reversed (4, 2, 1) when <paramref name="reversed"/> — the same model applied to the mirrored stack and mirrored back.
    /// </summary>
    private sealed class OrderedModel(bool reversed) : ISemanticSegmenter
    {
        public int ImageSize => Size;
        public int NumOutputClasses => 2;
        public void PrepareForInference() { }

        public Tensor ClassLogits(Tensor images, int depth)
        {
            using var scope = DisposeScope.Begin();
            long n = images.size(0), b = n / depth;
            float[] w = reversed ? [4, 2, 1] : [1, 2, 4];
            var weights = Tensor.FromArray<float>(w, [1, depth, 1, 1]);
            var z = (images.select(1, 0).view(b, depth, Size, Size) - 0.5) * weights;
            return torch.stack([torch.zeros_like(z), z], 2).view(n, 2, Size, Size).MoveToOuterScope();
        }
    }

    private static Volume Image()
    {
        var rng = new Random(5);
        var v = new float[Size * Size * 7];
        for (int i = 0; i < v.Length; i++) v[i] = (float)rng.NextDouble();
        return new Volume([Size, Size, 7], VoxelType.Float32, v, [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
    }

    private static float[] Probabilities(bool reversed, bool mirror)
    {
        var options = new SampleOptions
        {
            ImageSize = Size, Slices = Depth, Intensity = IntensityTransform.Parse("none"), Augmentation = AugmentationPipeline.None,
        };
        var p = new VolumePredictor(new OrderedModel(reversed), options, [0, 1], Device.CPU, mirrorSlices: mirror).Predict(Image(), "c", probabilities: true);
        return (float[])p.Probabilities!.Data;
    }

    [Fact]
    public void Mirroring_averages_a_stack_with_its_reversed_self_put_back_in_order()
    {
        // without mirroring the two orderings of the weights give different probabilities (the test model sees slice order) …
        var plain = Probabilities(false, false);
        var flipped = Probabilities(true, false);
        Assert.NotEqual(plain, flipped);
        // … with it, a model and the same model run on mirrored stacks (then mirrored back) predict exactly the same: each side of the
        // average is the other's (fails if the reversed pass were not reversed back, or not averaged)
        var a = Probabilities(false, true);
        Assert.Equal(a, Probabilities(true, true));
        // and it is the mean of the two plain predictions, slice by slice
        for (int i = 0; i < a.Length; i++) Assert.InRange(Math.Abs((plain[i] + flipped[i]) / 2 - a[i]), 0, 1e-6);
    }

    [Fact]
    public void Mirroring_a_run_of_single_slices_is_refused_with_the_reason()
    {
        var options = new SampleOptions { ImageSize = Size, Slices = 1, Augmentation = AugmentationPipeline.None };
        var e = Assert.Throws<ArgumentException>(() => new VolumePredictor(new OrderedModel(false), options, [0, 1], Device.CPU, mirrorSlices: true));
        Assert.Contains("--tta flip-slices", e.Message);
        Assert.Contains("single slices", e.Message);
    }

    [Fact]
    public void The_memory_check_counts_the_mirrored_pass()
    {
        // a batch whose inputs and probabilities take ~3/4 of the memory limit: accepted as it is, refused when mirroring doubles them
        const int size = 1024;
        var options = new SampleOptions { ImageSize = size, Slices = Depth, Augmentation = AugmentationPipeline.None };
        double perStack = (double)Depth * size * size * (3 + 2) * 16;
        int batch = (int)(0.75 * SamAdapt.Common.ResourceLimits.MaxBytes / perStack);
        Assert.True(batch >= 1);
        _ = new VolumePredictor(new OrderedModel(false), options, [0, 1], Device.CPU, batchSize: batch);
        var e = Assert.Throws<SamAdapt.Common.ResourceLimitException>(
            () => new VolumePredictor(new OrderedModel(false), options, [0, 1], Device.CPU, batchSize: batch, mirrorSlices: true));
        Assert.Contains("twice for --tta flip-slices", e.Message);
    }

    [Theory]
    [InlineData("none", TestTimeAugmentation.None)]
    [InlineData("flip-slices", TestTimeAugmentation.FlipSlices)]
    [InlineData("FLIP-SLICES", TestTimeAugmentation.FlipSlices)]
    public void Tta_names_parse(string text, TestTimeAugmentation expected) => Assert.Equal(expected, PredictionRunner.TtaChoices.Parse(text));

    [Fact]
    public void An_unknown_tta_names_the_choices()
    {
        var e = Assert.Throws<ArgumentException>(() => PredictionRunner.TtaChoices.Parse("rot90"));
        Assert.Contains("--tta: expected one of none, flip-slices, found 'rot90'", e.Message);
    }
}
