using SamAdapt.Imaging;
using SamAdapt.Imaging.Datasets;
using SamAdapt.Imaging.Preprocessing;
using SamAdapt.Tests;
using SamAdapt.Torch;
using SamAdapt.Training.Augmentation;
using SamAdapt.Training.Data;

namespace SamAdapt.Training.Tests;

/// <summary>Multi-channel inputs: the mapping rules, per-channel preparation, what the model receives, and the learned projection.</summary>
public class InputMappingTests : IDisposable
{
    private readonly TempDir _tmp = TestPaths.NewTempDir();
    public void Dispose() => _tmp.Dispose();

    private static double[] Affine => [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];

    [Theory]
    [InlineData(null, 1, "replicate@1")]
    [InlineData(null, 3, "identity@3")]
    [InlineData(null, 4, "learned@4")]
    [InlineData("auto", 2, "learned@2")]
    [InlineData("learned", 3, "learned@3")]
    [InlineData("select:0,2,3", 4, "select:0,2,3@4")]
    [InlineData(" Select:3,3,1 ", 4, "select:3,3,1@4")]
    public void Resolve_follows_the_default_rule_and_the_option(string? text, int channels, string expected)
    {
        var m = InputMapping.Resolve(text, channels);
        Assert.Equal(expected, m.ToString());
        Assert.Equal(m, InputMapping.Parse(m.ToString())); // the recorded form reads back
        Assert.Equal(m.Kind == InputMappingKind.Learned ? channels : 3, m.ModelChannels);
    }

    [Theory]
    [InlineData("select:0,2,4", 4, "channel(s) 4 out of range; the images have 4 channel(s) (0..3)")]
    [InlineData("select:0,2", 4, "exactly three channel indices")]
    [InlineData("replicate", 4, "needs single-channel images; these have 4")]
    [InlineData("identity", 1, "needs three-channel images; these have 1")]
    [InlineData("linear", 4, "expected learned, select:i,j,k")]
    [InlineData("learned@4", 3, "recorded for 4 channel(s); the images have 3")]
    public void Bad_settings_name_the_option_and_what_was_found(string text, int channels, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => InputMapping.Resolve(text, channels));
        Assert.Contains(message, e.Message);
        Assert.Contains("--input-projection", e.Message);
    }

    /// <summary>Channel c of the test volumes holds 100·(c + 1) + voxel index · (c + 1).</summary>
    private static Volume Channel(int c, int ni = 6, int nj = 5, int nk = 3)
    {
        var v = new float[ni * nj * nk];
        for (int i = 0; i < v.Length; i++) v[i] = 100 * (c + 1) + i * (c + 1);
        return new Volume([ni, nj, nk], VoxelType.Float32, v, Affine);
    }

    [Fact]
    public void Channels_are_normalised_each_on_its_own_and_mapped_to_the_model_input()
    {
        var opts = new SampleOptions
        {
            ImageSize = 5, Slices = 3, Intensity = IntensityTransform.Parse("zscore"), Augmentation = AugmentationPipeline.None,
            Input = InputMapping.Resolve("select:3,0,2", 4),
        };
        var pipeline = new SamplePipeline(opts, null);
        var pv = pipeline.Prepare("c", [Channel(0), Channel(1), Channel(2), Channel(3)]);
        Assert.Equal(4, pv.Channels);
        // z-score per channel: every channel ends up with mean 0 and std 1 although their scales differ by 4×
        var plane = new float[pv.Rows * pv.Cols];
        for (int c = 0; c < 4; c++)
        {
            var all = new List<float>();
            for (int s = 0; s < pv.SliceCount; s++) { pv.ImagePlane(c, s, plane); all.AddRange(plane); }
            Assert.Equal(0, all.Average(), 4);
            Assert.Equal(1, Math.Sqrt(all.Select(x => (double)x * x).Average()), 3);
        }
        // the model input of slice 1 is (D, 3, S, S) holding channels 3, 0, 2 in that order
        var input = pipeline.ModelInput(pv, 1);
        var stack = pipeline.ModelStack(pv, 1);
        int sp = stack.PlaneSize, d = stack.Depth;
        Assert.Equal(d * 3 * sp, input.Length);
        int[] chosen = [3, 0, 2];
        for (int z = 0; z < d; z++)
            for (int o = 0; o < 3; o++)
                Assert.Equal(stack.Image.AsSpan((chosen[o] * d + z) * sp, sp).ToArray(), input.AsSpan((z * 3 + o) * sp, sp).ToArray());

        // learned: the model gets all four channels per slice
        var learned = new SamplePipeline(opts with { Input = InputMapping.Learned(4) }, null);
        Assert.Equal(d * 4 * sp, learned.ModelInput(learned.Prepare("c", [Channel(0), Channel(1), Channel(2), Channel(3)]), 1).Length);
    }

    [Fact]
    public void A_wrong_channel_count_is_a_clear_error()
    {
        var pipeline = new SamplePipeline(new SampleOptions { ImageSize = 5, Slices = 1, Augmentation = AugmentationPipeline.None, Input = InputMapping.Learned(4) }, null);
        var e = Assert.Throws<InvalidDataException>(() => pipeline.Prepare("case7", [Channel(0), Channel(1)]));
        Assert.Contains("case7: the run expects 4 image channel(s)", e.Message);
        Assert.Contains("the input has 2", e.Message);
        var grey = new SamplePipeline(new SampleOptions { ImageSize = 5, Slices = 1, Augmentation = AugmentationPipeline.None }, null);
        var rgb = new Volume([4, 3, 1], VoxelType.Rgb24, new byte[36], Affine) { Source = "photo.png" };
        e = Assert.Throws<InvalidDataException>(() => grey.Prepare("p", rgb));
        Assert.Contains("photo.png: an RGB image has 3 channels, but the run expects 1 (grey) channel", e.Message);
    }

    [Fact]
    public void RGB_images_are_three_channels()
    {
        var px = new byte[4 * 3 * 3];
        for (int i = 0; i < 12; i++) { px[3 * i] = (byte)i; px[3 * i + 1] = (byte)(100 + i); px[3 * i + 2] = (byte)(200 + i); }
        var rgb = new Volume([4, 3, 1], VoxelType.Rgb24, px, Affine);
        var pipeline = new SamplePipeline(new SampleOptions
        {
            ImageSize = 3, Slices = 1, Intensity = new NoIntensityTransform(), Augmentation = AugmentationPipeline.None, Input = InputMapping.Identity3,
        }, null);
        var pv = pipeline.Prepare("rgb", rgb);
        var plane = new float[12];
        for (int c = 0; c < 3; c++)
        {
            pv.ImagePlane(c, 0, plane);
            Assert.Equal(Enumerable.Range(0, 12).Select(i => (float)(100 * c + i)), plane);
        }
    }

    [Fact]
    public void Datasets_report_their_channel_count_and_training_data_carries_the_projection()
    {
        var four = SegmentationDataset.Load(Synthetic2D.WriteNnUNet2D(_tmp.Path, "Dataset012_Four", channels: 4, signalChannel: 1, cases: 3));
        Assert.Equal(4, DatasetChannels.Count(four));
        var rgb = SegmentationDataset.Load(Synthetic2D.WriteImageFolder(_tmp.Path, "rgb", Synthetic2D.Layout.LabelMap, cases: 2, rgb: true));
        Assert.Equal(3, DatasetChannels.Count(rgb));
        Assert.Equal(InputMapping.Identity3, DatasetChannels.Mapping(rgb, null));

        var opts = new SampleOptions
        {
            ImageSize = 16, Slices = 1, Intensity = IntensityTransform.Parse("zscore"), Augmentation = AugmentationPipeline.None, BatchSize = 2,
            Input = DatasetChannels.Mapping(four, null), MaxParallelism = 1,
        };
        var data = TrainingData.Load(four, opts, validationFraction: 0);
        Assert.NotNull(data.Projection);
        var batch = data.GetBatch(0, 0);
        Assert.Equal([2, 4, 16, 16], batch.ImageShape);
        using var scope = DisposeScope.Begin();
        using var _ = torch.no_grad();
        var x = batch.ImageTensor();
        Assert.Equal([2L, 3, 16, 16], x.shape);
        // the projection starts as the channel mean: every SAM channel is the mean of the four
        var raw = batch.RawImageTensor().mean([1], keepdim: true);
        Assert.True(x.select(1, 0).unsqueeze(1).sub(raw).abs().max().item() < 1e-5);
    }
}
