using System.CommandLine;
using System.Globalization;
using SamAdapt.Cli;
using SamAdapt.Cli.Commands;
using SamAdapt.Imaging;
using SamAdapt.Imaging.Images2D;
using SamAdapt.Inference;
using SamAdapt.Methods;
using SamAdapt.Tests;
using SamAdapt.Torch;
using SamAdapt.Torch.Serialization;
using SamAdapt.Training.Data;

namespace SamAdapt.Cli.Tests;

/// <summary>
/// 2-D datasets and multi-channel inputs through the verbs users run: `dataset check` on a folder of PNG images and masks,
/// `train` on it (a tiny model learns it), `predict` writing PNG label maps of the input size, `evaluate` on them; a 4-channel
/// nnU-Net dataset trained with the learned input projection (its weights change, the loss falls, predict applies it, a wrong
/// channel count is refused) or a chosen channel triple, for every method.
/// The class runs in <see cref="SerialCollection"/>: one test compares a resumed training with an uninterrupted one exactly.
/// </summary>
[Collection(SerialCollection.Name)]
public class Datasets2DCommandTests : IDisposable
{
    private readonly TempDir _tmp = TestPaths.NewTempDir();
    public void Dispose() => _tmp.Dispose();

    private static (int Code, string Out, string Err) Invoke(params string[] args)
    {
        var root = new RootCommand { new TrainCommand().Build(), new PredictCommand().Build(), new DatasetCommand().Build(), new EvaluateCommand().Build() };
        var sw = new StringWriter();
        var err = new StringWriter();
        int code = root.Parse(args).Invoke(new InvocationConfiguration { Output = sw, Error = err, EnableDefaultExceptionHandler = false });
        return (code, sw.ToString(), err.ToString());
    }

    private static string[] Train(string method, string dataset, string run, int iterations, params string[] more) =>
    [
        "train", "--dataset", dataset, "--method", method, "--out", run, "--model", "tiny", "--img-size", "32", "--slices", "1",
        "--iterations", iterations.ToString(CultureInfo.InvariantCulture), "--batch", "4", "--warmup", "1", "--val-fraction", "0",
        "--augment", "none", "--checkpoint-every", "1000", "--seed", "3", "--threads", "1", .. more,
    ];

    private static double Dice(byte[] pred, byte[] truth, int cls)
    {
        double inter = 0, sum = 0;
        for (int i = 0; i < pred.Length; i++)
        {
            bool p = pred[i] == cls, t = truth[i] == cls;
            if (p && t) inter++;
            sum += (p ? 1 : 0) + (t ? 1 : 0);
        }
        return sum == 0 ? 1 : 2 * inter / sum;
    }

    [Fact]
    public void Dataset_check_names_the_problems_of_a_2D_folder_and_exits_2()
    {
        var root = Synthetic2D.WriteImageFolder(_tmp.Path, "bad", Synthetic2D.Layout.LabelMap, cases: 3, classesJson: true);
        File.Delete(Path.Combine(root, "masks", "case1.png"));
        var colour = Synthetic2D.LabelOf(2).SelectMany(v => new[] { (byte)(v * 100), v, v }).ToArray();
        ImageFile.WritePng(Path.Combine(root, "masks", "case2.png"), new Image2D(Synthetic2D.Width, Synthetic2D.Height, 3, colour));
        var (code, output, err) = CliRunner.Run("dataset", "check", root);
        Assert.Equal(2, code);
        Assert.Contains("format ImageFolder", output);
        Assert.Contains("case1: MissingFile: label map missing: masks/case1.png", output);
        Assert.Contains("case2: InvalidMask: masks/case2.png: an RGB (colour) mask", output);
        Assert.Contains("2 problem(s) in the dataset", err);
        Assert.DoesNotContain("   at ", err); // no stack trace
    }

    [Fact]
    public void A_tiny_model_learns_a_2D_folder_dataset_and_predicts_PNG_label_maps_of_the_input_size()
    {
        var ds = Synthetic2D.WriteImageFolder(_tmp.Path, "folders", Synthetic2D.Layout.ClassFolders, cases: 6, classesJson: true);
        var run = Path.Combine(_tmp.Path, "run");
        var (code, output, err) = Invoke(Train("ma-sam", ds, run, 40));
        Assert.True(code == 0, err);
        Assert.Contains("2 classes (tumour, organ)", output);

        var pred = Path.Combine(_tmp.Path, "pred");
        (code, _, err) = Invoke("predict", "--run", run, "--weights", "last", "--input", Path.Combine(ds, "images"), "--out", pred, "--threads", "1");
        Assert.True(code == 0, err);
        var dice = new List<double>();
        for (int c = 0; c < 6; c++)
        {
            var img = ImageFile.Read(Path.Combine(pred, $"case{c}.png"));
            Assert.Equal((Synthetic2D.Width, Synthetic2D.Height, 1), (img.Width, img.Height, img.Channels));
            var truth = Synthetic2D.LabelOf(c);
            dice.Add(Dice(img.Pixels8!, truth, 1));
            dice.Add(Dice(img.Pixels8!, truth, 2));
        }
        // 40 steps of a tiny from-scratch model fit both classes of the six images (a model predicting background scores 0)
        Assert.True(dice.Average() > 0.8, $"mean Dice {dice.Average():F3} over the training images: {string.Join(", ", dice.Select(d => d.ToString("F2", CultureInfo.InvariantCulture)))}");

        // evaluate reads PNG label images; a label-map dataset's masks/ is the ground truth
        var maps = Synthetic2D.WriteImageFolder(_tmp.Path, "maps", Synthetic2D.Layout.LabelMap, cases: 6);
        (code, output, err) = Invoke("evaluate", "--pred", pred, "--gt", Path.Combine(maps, "masks"), "--out", Path.Combine(_tmp.Path, "eval"), "--metrics", "dice");
        Assert.True(code == 0, err);
        Assert.Contains("6 case(s)", output + err);
        // --gt the per-class-mask dataset itself: its masks are composed into label maps (as training reads them), the class
        // names come from its classes.json, and the scores equal those against the equivalent label images
        (code, output, err) = Invoke("evaluate", "--pred", pred, "--gt", ds, "--out", Path.Combine(_tmp.Path, "eval-ds.json"), "--metrics", "dice");
        Assert.True(code == 0, err);
        Assert.Contains("tumour", output);
        static double[] DiceOf(string json) => System.Text.Json.JsonDocument.Parse(File.ReadAllText(json)).RootElement
            .GetProperty("cases").EnumerateObject().SelectMany(c => c.Value.EnumerateObject().Select(l => l.Value.GetProperty("dice").GetDouble())).ToArray();
        Assert.Equal(DiceOf(Path.Combine(_tmp.Path, "eval")), DiceOf(Path.Combine(_tmp.Path, "eval-ds.json")));

        // a single-channel run records no input mapping: old run folders and new grey ones load the same way
        using (var loaded = RunLoader.Load(run, RunWeights.Last, Device.CPU))
        {
            Assert.Equal(InputMapping.Grey, loaded.Model.Input);
            Assert.Null(loaded.Model.InputProjection);
        }
        Assert.False(SafeTensors.Load(Path.Combine(run, "adapter.safetensors")).Metadata.ContainsKey("samadapt.input_projection"));
        Assert.DoesNotContain("input_projection", File.ReadAllText(Path.Combine(run, "config.yaml")));
    }

    [Fact]
    public void The_learned_projection_trains_is_saved_and_predict_applies_it_to_four_channel_input()
    {
        // the classes show only in channel 2 of 4
        var ds = Synthetic2D.WriteNnUNet2D(_tmp.Path, "Dataset020_Four", channels: 4, signalChannel: 2);
        var run = Path.Combine(_tmp.Path, "run4");
        var (code, output, err) = Invoke(Train("lora", ds, run, 30, "--intensity", "zscore"));
        Assert.True(code == 0, err);
        Assert.Contains("input: 4 channels → 3 by a learned 1×1 convolution", output);
        Assert.Contains("input_projection", err + output); // the parameter report lists the group
        Assert.Contains("input_projection: learned@4", File.ReadAllText(Path.Combine(run, "config.yaml")));

        var (tensors, meta) = SafeTensors.Load(Path.Combine(run, "adapter.safetensors"));
        Assert.Equal("learned@4", meta["samadapt.input_projection"]);
        var w = tensors["input_projection.weight"].AsSpan<float>().ToArray();
        Assert.Equal(12, w.Length);
        Assert.True(w.Max(x => Math.Abs(x - 0.25f)) > 1e-3, "the projection's weights did not move from their start (the channel mean)");

        var losses = File.ReadAllLines(Path.Combine(run, "train_log.csv")).Skip(1)
            .Select(l => double.Parse(l.Split(',')[2], CultureInfo.InvariantCulture)).ToList();
        Assert.True(losses.Take(5).Average() > losses.TakeLast(5).Average(), $"loss did not fall: {string.Join(", ", losses)}");

        // predict reads the case's four channel files from channel 0's name and keeps the image size
        var outFile = Path.Combine(_tmp.Path, "case0.png");
        (code, _, err) = Invoke("predict", "--run", run, "--weights", "last", "--input", Path.Combine(ds, "imagesTr", "case0_0000.png"), "--out", outFile, "--threads", "1");
        Assert.True(code == 0, err);
        var pred = ImageFile.Read(outFile);
        Assert.Equal((Synthetic2D.Width, Synthetic2D.Height, 1), (pred.Width, pred.Height, pred.Channels));
        Assert.All(pred.Pixels8!, v => Assert.Contains((int)v, new[] { 0, 1, 2 }));
        using (var loaded = RunLoader.Load(run, RunWeights.Last, Device.CPU))
        {
            Assert.Equal(InputMapping.Learned(4), loaded.Model.Input);
            Assert.Equal(w, loaded.Model.InputProjection!.weight.contiguous().ToArray<float>());
        }

        // one channel where the run was trained on four: exit 2, one line naming the input and both counts
        var lonely = Path.Combine(_tmp.Path, "lonely");
        Directory.CreateDirectory(lonely);
        File.Copy(Path.Combine(ds, "imagesTr", "case1_0000.png"), Path.Combine(lonely, "case1_0000.png"));
        var (exit, _, stderr) = CliRunner.Run("predict", "--run", run, "--input", Path.Combine(lonely, "case1_0000.png"), "--out", Path.Combine(_tmp.Path, "x.png"), "--threads", "1");
        Assert.Equal(2, exit);
        Assert.Contains("case1_0000.png: the run expects 4 image channel(s)", stderr);
        Assert.Contains("the input has 1", stderr);
        Assert.DoesNotContain("   at ", stderr);
        Assert.False(File.Exists(Path.Combine(_tmp.Path, "x.png")));
    }

    [Fact]
    public void A_four_channel_NIfTI_run_predicts_on_the_input_grid_from_a_folder_and_from_channel_0()
    {
        // the synthetic CT dataset with three more channels per case (intensity-shifted copies) and four channel names
        var ds = global::SamAdapt.Tests.SyntheticDataset.Write(_tmp.Path, cases: 3);
        var json = Path.Combine(ds, "dataset.json");
        File.WriteAllText(json, File.ReadAllText(json).Replace("""{"0": "CT"}""", """{"0": "T1", "1": "T1ce", "2": "T2", "3": "FLAIR"}"""));
        foreach (var f in Directory.GetFiles(Path.Combine(ds, "imagesTr"), "*_0000.nii.gz"))
        {
            var v = VolumeIO.Read(f);
            for (int c = 1; c < 4; c++)
            {
                var data = ((short[])v.Data).Select(x => (short)(x + 50 * c)).ToArray();
                VolumeIO.Write(v.With(v.Shape, v.Type, data, v.Affine), f.Replace("_0000.nii.gz", $"_{c:0000}.nii.gz"));
            }
        }
        var run = Path.Combine(_tmp.Path, "run_nifti4");
        var (code, _, err) = Invoke("train", "--dataset", ds, "--method", "lora", "--out", run, "--model", "tiny", "--img-size", "32", "--slices", "3",
            "--iterations", "2", "--batch", "2", "--val-fraction", "0", "--checkpoint-every", "1000", "--seed", "3", "--threads", "1");
        Assert.True(code == 0, err);

        var input = Path.Combine(ds, "imagesTr", "synth_002_0000.nii.gz");
        var outFile = Path.Combine(_tmp.Path, "p4", "synth_002.nii.gz");
        (code, _, err) = Invoke("predict", "--run", run, "--input", input, "--out", outFile, "--threads", "1");
        Assert.True(code == 0, err);
        var src = VolumeIO.Read(input);
        var pred = VolumeIO.Read(outFile);
        Assert.Equal(src.Shape, pred.Shape);
        Assert.Equal(src.Affine, pred.Affine);
        Assert.Equal(Volume.IntentLabel, pred.IntentCode);

        // a folder of _0000…_0003 files: one label map per case
        var folder = Path.Combine(_tmp.Path, "p4dir");
        (code, _, err) = Invoke("predict", "--run", run, "--input", Path.Combine(ds, "imagesTr"), "--out", folder, "--threads", "1");
        Assert.True(code == 0, err);
        Assert.Equal(["synth_000.nii.gz", "synth_001.nii.gz", "synth_002.nii.gz"], Directory.GetFiles(folder).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void A_resumed_run_continues_the_learned_projection_exactly()
    {
        var ds = Synthetic2D.WriteNnUNet2D(_tmp.Path, "Dataset022_Four", channels: 4, signalChannel: 2, cases: 4);
        TrainSettings Settings(string run) => new()
        {
            Dataset = ds, Method = "lora", Out = run, Model = "tiny", ImageSize = 32, Slices = 1, Intensity = "zscore", ValFraction = 0,
            Iterations = 6, Batch = 2, Warmup = 1, CheckpointEvery = 2, Seed = 5, LogEvery = 1, Augment = "none", Runtime = new() { Threads = 1 },
        };
        var straight = Path.Combine(_tmp.Path, "straight");
        Assert.Equal(6, TrainCommand.Train(Settings(straight), TextWriter.Null, TextWriter.Null, interactive: false)!.Steps);

        // the same run stopped after step 2 (as Ctrl+C would) and resumed from last.ckpt
        var resumed = Path.Combine(_tmp.Path, "resumed");
        using var cts = new CancellationTokenSource();
        var first = TrainCommand.Train(Settings(resumed), TextWriter.Null, new CancelAfter("step 2/6", cts), interactive: false, cancellation: cts.Token);
        Assert.InRange(first!.Steps, 2, 5);
        var second = TrainCommand.Train(new TrainSettings { Out = resumed, Resume = true, Runtime = new() { Threads = 1 } }, TextWriter.Null, TextWriter.Null, interactive: false);
        Assert.Equal(6, second!.Steps);

        float[] Projection(string run) => SafeTensors.Load(Path.Combine(run, "adapter.safetensors")).Tensors["input_projection.weight"].AsSpan<float>().ToArray();
        Assert.Equal(Projection(straight), Projection(resumed));
        Assert.Contains("input_projection: learned@4", File.ReadAllText(Path.Combine(resumed, "config.yaml")));
    }

    private sealed class CancelAfter(string marker, CancellationTokenSource cts) : StringWriter
    {
        public override void WriteLine(string? value)
        {
            base.WriteLine(value);
            if (value is not null && value.Contains(marker, StringComparison.Ordinal)) cts.Cancel();
        }
    }

    [Theory]
    [InlineData("ma-sam", null)]
    [InlineData("full", "select:2,2,0")]
    [InlineData("masksam", null)]
    [InlineData("msa", null)]
    [InlineData("medsam", "select:2,1,0")]
    public void Every_method_trains_on_multi_channel_input_and_records_its_mapping(string method, string? projection)
    {
        var ds = Synthetic2D.WriteNnUNet2D(_tmp.Path, "Dataset021_Four", channels: 4, signalChannel: 2, cases: 4);
        var run = Path.Combine(_tmp.Path, "run_" + method);
        string[] more = projection is null ? ["--intensity", "zscore"] : ["--intensity", "zscore", "--input-projection", projection];
        var (code, _, err) = Invoke(Train(method, ds, run, 2, more));
        Assert.True(code == 0, err);
        var expected = projection is null ? InputMapping.Learned(4) : InputMapping.Resolve(projection, 4);
        var (tensors, meta) = SafeTensors.Load(Path.Combine(run, "adapter.safetensors"));
        Assert.Equal(expected.ToString(), meta["samadapt.input_projection"]);
        Assert.Equal(projection is null, tensors.ContainsKey("input_projection.weight"));
        using var loaded = RunLoader.Load(run, RunWeights.Last, Device.CPU);
        Assert.Equal(expected, loaded.Model.Input);
        Assert.Equal(projection is null, loaded.Model.InputProjection is not null);
        loaded.Dispose();
        var outFile = Path.Combine(_tmp.Path, method + ".png");
        string[] prompts = [];
        if (method is "msa" or "medsam")
        {
            // promptable: a box around the tumour of case 3 and a click on its organ strip, in pixel (voxel) coordinates
            var file = Path.Combine(_tmp.Path, "prompts.json");
            File.WriteAllText(file, """{"coordinates": "voxel", "classes": [{"value": 1, "boxes": [[2, 18, 0, 20, 34, 0]]}, {"value": 2, "points": [[5, 3, 0, 1]]}]}""");
            prompts = ["--prompts", file];
        }
        (code, _, err) = Invoke(["predict", "--run", run, "--weights", "last", "--input", Path.Combine(ds, "imagesTr", "case3_0000.png"), "--out", outFile, "--threads", "1", .. prompts]);
        Assert.True(code == 0, err);
        var pred = ImageFile.Read(outFile);
        Assert.Equal((Synthetic2D.Width, Synthetic2D.Height, 1), (pred.Width, pred.Height, pred.Channels));
    }

    [Theory]
    [InlineData("lora")]
    [InlineData("masksam")]
    [InlineData("msa")]
    public void Every_method_trains_on_an_RGB_image_folder_with_per_class_masks(string method)
    {
        var ds = Synthetic2D.WriteImageFolder(_tmp.Path, "rgb_" + method, Synthetic2D.Layout.ClassSuffix, cases: 4, rgb: true);
        var run = Path.Combine(_tmp.Path, "rgbrun_" + method);
        var (code, _, err) = Invoke(Train(method, ds, run, 2));
        Assert.True(code == 0, err);
        Assert.Equal("identity@3", SafeTensors.Load(Path.Combine(run, "adapter.safetensors")).Metadata["samadapt.input_projection"]);
        using var loaded = RunLoader.Load(run, RunWeights.Last, Device.CPU);
        Assert.Equal(InputMapping.Identity3, loaded.Model.Input);
        Assert.Equal(["background", "organ", "tumour"], loaded.Model.ClassNames);
    }
}
