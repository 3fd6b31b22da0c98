using SamAdapt.Tests;
using SamAdapt.Imaging;
using SamAdapt.Inference;
using SamAdapt.Sam.Adapters;
using SamAdapt.Torch;
using SamAdapt.Training.Engine;

namespace SamAdapt.Methods.Tests;

public class FullMethodTests
{
    [Fact]
    public void Full_fine_tuning_trains_every_weight_saves_everything_and_predicts_from_the_run_folder()
    {
        using var tmp = SamAdapt.Tests.TestPaths.NewTempDir();
        var ds = SyntheticDataset.Write(tmp.Path);
        var run = Path.Combine(tmp.Path, "run");
        var stdout = new StringWriter();
        var log = new StringWriter();
        var result = TrainRunner.Run(new TrainSettings
        {
            Method = "full", Dataset = ds, Out = run, Model = "tiny", ImageSize = 32, Slices = 3, Intensity = "ct-window:-500,300",
            ValFraction = 0.25, Iterations = 2, Batch = 1, Warmup = 1, ValEvery = 0, CheckpointEvery = 0, Seed = 5, Augment = "none",
            Runtime = new() { Threads = 1 },
        }, new TrainOutput(stdout, log, false));
        Assert.Equal(2, result.Steps);
        Assert.StartsWith("full on ", stdout.ToString());
        // the parameter report: nothing frozen
        Assert.DoesNotContain("(frozen)", log.ToString());

        // every tensor is in the weights file (no base checkpoint needed) and the structure is "full"
        var (tensors, meta) = SamAdapt.Torch.Serialization.SafeTensors.Load(Path.Combine(run, Trainer.AdapterFile));
        Assert.Equal(AdaptedSam.ContentsFull, meta[AdaptedSam.MetadataKeys.Contents]);
        Assert.Equal("full", meta[AdaptedSam.MetadataKeys.Method]);
        Assert.Contains("image_encoder.patch_embed.proj.weight", tensors.Keys);
        Assert.DoesNotContain(tensors.Keys, k => k.Contains(".lora.", StringComparison.Ordinal) || k.Contains(".fact.", StringComparison.Ordinal) || k.Contains("adapter_", StringComparison.Ordinal));

        using (var m = AdaptedSam.Rebuild(Path.Combine(run, Trainer.AdapterFile)))
        {
            Assert.Equal(AdaptMethod.Full, m.Config.Method);
            Assert.All(m.named_parameters(), p => Assert.True(p.Value.requires_grad, p.Name));
        }

        // the inference layer rebuilds the run by its method name and predicts on the input grid
        using var loaded = RunLoader.Load(run, RunWeights.Last, Device.CPU);
        Assert.Equal("full", loaded.Model.Method);
        var input = VolumeIO.Read(Path.Combine(ds, "imagesTr", "synth_000_0000.nii.gz"));
        var prediction = new VolumePredictor(loaded.Model, Device.CPU).Predict(input, "synth_000");
        Assert.Equal(input.Shape, prediction.Labels.Shape);
        Assert.Equal(input.Affine, prediction.Labels.Affine);
    }
}
