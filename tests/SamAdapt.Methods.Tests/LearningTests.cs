using SamAdapt.Inference;
using SamAdapt.Imaging;
using SamAdapt.Imaging.Datasets;
using SamAdapt.Tests;
using SamAdapt.Torch;
using SamAdapt.Training.Data;
using SamAdapt.Training.Engine;
using SamAdapt.Methods.Semantic;

namespace SamAdapt.Methods.Tests;

/// <summary>
/// Training must learn, not just run: a small from-scratch SAM fits one slab with the library's defaults (whole model
/// trained, scaled schedule, foreground sampling, z-score intensity for a non-CT channel). The data are built here
/// (no fixture weights are involved, so the outcome does not depend on any particular random initialisation beyond
/// the run's own seed).
/// </summary>
public class LearningTests : IDisposable
{
    private readonly TempDir _tmp = TestPaths.NewTempDir();
    public void Dispose() => _tmp.Dispose();

    public LearningTests() => torch.set_num_threads(1);

    /// <summary>
    /// One slab of 32×32×7 voxels (<see cref="SyntheticSlab"/>): a bright disc (class 1) whose radius changes with the slice, a darker bar
    /// (class 2) and a small dim blob (class 3, about 2 % of the voxels) on a textured background with noise.
    /// </summary>
    private string OneSlab(string channel = "MRI") => new SyntheticSlab { Channel = channel, Slices = 7, Blob = true }.Write(_tmp.Path);

    /// <summary>A small SAM: 32² input, patch 4 (8×8 tokens), width 32, two blocks; decoder width 64.</summary>
    private string SmallConfig()
    {
        var path = Path.Combine(_tmp.Path, "small.json");
        File.WriteAllText(path, """
            {"img_size": 32, "patch": 4, "embed": 32, "depth": 2, "heads": 2, "global_idx": [1], "window": 4,
             "prompt_dim": 64, "dec_mlp": 128, "dec_heads": 4, "iou_hidden": 32}
            """);
        return path;
    }

    /// <summary>Trains on the slab and returns the mean foreground Dice of the final model's prediction of that slab.</summary>
    private (double[] Dice, SemanticTaskConfig Config) TrainAndScore(string dataset, bool trainBase, long iterations, double lr)
    {
        var setup = new SemanticSetupOptions
        {
            Dataset = dataset, Model = SmallConfig(), Slices = 3, BatchSize = 4, Seed = 11, ValFraction = 0, FactRank = 4, Bottleneck = 16,
            TrainBase = trainBase, ForegroundProbability = SampleOptions.NnUNetForegroundProbability, Augmentation = "none",
        };
        var o = new TrainerOptions { Iterations = iterations, BatchSize = 4, Lr = lr, WeightDecay = 0.01, ValEvery = 0, CheckpointEvery = 0, LogEvery = 0, Seed = 11 };
        torch.manual_seed(o.Seed);
        var (cfg, data, model) = SemanticSamSetup.Build(setup, (SemanticSamMethod)MethodRegistry.Get("ma-sam"));
        Assert.Equal("zscore", cfg.Intensity); // the default for a non-CT channel
        using var task = new SemanticSamTask(cfg, model, data, o);
        new Trainer(task, new SliceStackSource(data), o, Path.Combine(_tmp.Path, trainBase ? "full" : "adapters")).Run();

        var predictor = new VolumePredictor(model, cfg.PredictionSampleOptions(), cfg.ClassValues, Device.CPU);
        var image = VolumeIO.Read(Path.Combine(dataset, "imagesTr", "slab_0000.nii.gz"));
        var truth = VolumeIO.Read(Path.Combine(dataset, "labelsTr", "slab.nii.gz"));
        var pred = predictor.Predict(image, "slab").Labels;
        var dice = new double[4];
        for (int c = 1; c <= 3; c++)
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
        return (dice, cfg);
    }

    [Fact]
    public void A_small_sam_trained_from_scratch_fits_one_slab()
    {
        var (dice, cfg) = TrainAndScore(OneSlab(), trainBase: true, iterations: 200, lr: TrainSettings.FromScratchLr);
        Assert.True(cfg.TrainBase);
        var text = string.Join(", ", dice.Skip(1).Select(d => d.ToString("F3")));
        Assert.True(dice.Skip(1).Average() >= 0.9, $"Dice per class {text}");
        Assert.All(dice.Skip(1), d => Assert.True(d >= 0.75, $"Dice per class {text}"));
    }
}
