using SamAdapt.Imaging;
using SamAdapt.Inference;
using SamAdapt.Tests;
using SamAdapt.Torch;
using Xunit.Abstractions;

namespace SamAdapt.Methods.Tests.MaskSam;

/// <summary>
/// MaskSAM must learn, end to end through the train API and the run folder: the tiny preset trained from scratch with
/// <c>--method masksam</c> fits one synthetic slab, and the run folder it writes predicts that slab (predict's path:
/// <see cref="RunLoader"/> + <see cref="VolumePredictor"/>, sliding slice windows with averaging). The data are built here.
/// </summary>
public class MaskSamLearningTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDir _tmp = TestPaths.NewTempDir();
    public void Dispose() => _tmp.Dispose();

    /// <summary>One 64×64×5 "MRI" slab (<see cref="SyntheticSlab"/>): a bright disc (class 1) whose radius grows with the slice and a darker bar (class 2).</summary>
    private string OneSlab() => new SyntheticSlab { Name = "Dataset011_Slab", Size = 64, Slices = 5, RadiusGrowth = 1.5, BarValue = 110 }.Write(_tmp.Path);

    [Fact]
    public void The_tiny_masksam_trained_from_scratch_fits_one_slab_and_its_run_folder_predicts_it()
    {
        torch.set_num_threads(1);
        var dataset = OneSlab();
        var runDir = Path.Combine(_tmp.Path, "run");
        var log = new StringWriter();
        var settings = new TrainSettings
        {
            Method = "masksam", Dataset = dataset, Out = runDir, Model = "tiny", ImageSize = 64, Slices = 3, ValFraction = 0, Augment = "none",
            Iterations = 150, Batch = 2, Lr = 2e-3, WeightDecay = 0.01, Seed = 11, ValEvery = 0, CheckpointEvery = 0,
        };
        TrainRunner.Run(settings, new TrainOutput(log, log, Interactive: false));
        var text = log.ToString();
        Assert.Contains("masksam on", text);
        Assert.Contains("prompt_generator", text); // the parameter report lists the groups
        Assert.Contains("pixel_head", text);       // from scratch the model has the pixel head, and the run folder records it
        Assert.Contains("pixel_head", File.ReadAllText(Path.Combine(runDir, "config.yaml")));

        using var loaded = RunLoader.Load(runDir, RunWeights.Last, Device.CPU);
        Assert.Equal("masksam", loaded.Model.Method);
        var predictor = new VolumePredictor(loaded.Model, Device.CPU);
        var image = VolumeIO.Read(Path.Combine(dataset, "imagesTr", "slab_0000.nii.gz"));
        var truth = VolumeIO.Read(Path.Combine(dataset, "labelsTr", "slab.nii.gz"));
        var pred = predictor.Predict(image, "slab").Labels;
        var dice = new double[3];
        for (int c = 1; c <= 2; c++)
        {
            long inter = 0, p = 0, g = 0;
            for (long i = 0; i < truth.VoxelCount; i++)
            {
                bool a = (int)pred.Get(i) == c, b = (int)truth.Get(i) == c;
                if (a) p++;
                if (b) g++;
                if (a && b) inter++;
            }
            dice[c] = 2.0 * inter / (p + g);
        }
        output.WriteLine($"Dice disc {dice[1]:F3}, bar {dice[2]:F3}");
        Assert.True(dice.Skip(1).Average() >= 0.85, $"Dice disc {dice[1]:F3}, bar {dice[2]:F3}");
    }
}
