using SamAdapt.Imaging;
using SamAdapt.Imaging.Nifti;
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

    /// <summary>One 64×64×5 "MRI" slab: a bright disc (class 1) whose radius grows with the slice and a darker bar (class 2) on a textured, noisy background.</summary>
    private string OneSlab()
    {
        var root = Path.Combine(_tmp.Path, "Dataset011_Slab");
        Directory.CreateDirectory(Path.Combine(root, "imagesTr"));
        Directory.CreateDirectory(Path.Combine(root, "labelsTr"));
        File.WriteAllText(Path.Combine(root, "dataset.json"),
            """{"channel_names": {"0": "MRI"}, "labels": {"background": 0, "disc": 1, "bar": 2}, "numTraining": 1, "file_ending": ".nii.gz"}""");
        int ni = 64, nj = 64, nk = 5;
        var img = new float[ni * nj * nk];
        var lbl = new byte[ni * nj * nk];
        var rng = new Random(5);
        for (int k = 0; k < nk; k++)
            for (int j = 0; j < nj; j++)
                for (int i = 0; i < ni; i++)
                {
                    int x = i + ni * (j + nj * k);
                    double r = 10 + 1.5 * k;
                    bool disc = (i - 22) * (i - 22) + (j - 24) * (j - 24) < r * r;
                    bool bar = i >= 44 && i < 56 && j >= 8 && j < 52;
                    lbl[x] = (byte)(disc ? 1 : bar ? 2 : 0);
                    double v = disc ? 180 : bar ? 110 : 40 + 15 * Math.Sin(i * 0.35) * Math.Cos(j * 0.25);
                    img[x] = (float)(v + rng.NextDouble() * 20);
                }
        double[] affine = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1];
        NiftiWriter.Write(new Volume([ni, nj, nk], VoxelType.Float32, img, affine), Path.Combine(root, "imagesTr", "slab_0000.nii.gz"));
        NiftiWriter.Write(new Volume([ni, nj, nk], VoxelType.UInt8, lbl, affine), Path.Combine(root, "labelsTr", "slab.nii.gz"));
        return root;
    }

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
