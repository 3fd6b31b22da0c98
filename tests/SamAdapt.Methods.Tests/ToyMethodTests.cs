using SamAdapt.Tests;
using SamAdapt.Imaging.Preprocessing;
using SamAdapt.Methods.Semantic;
using SamAdapt.Torch;
using SamAdapt.Torch.NN;
using SamAdapt.Training.Data;
using SamAdapt.Training.Engine;

namespace SamAdapt.Methods.Tests;

/// <summary>
/// A method that lives entirely in this test project: a per-pixel linear classifier (1×1 convolution) over the dataset's
/// classes. Registering it is the only step; it then trains through the same <see cref="TrainRunner"/> as ma-sam.
/// </summary>
internal sealed class ToyMethod : ISegmentationMethod
{
    public const string MethodName = "toy-pixel-linear";

    /// <summary>The head's weights before training (of the last run created).</summary>
    public float[] InitialWeights { get; private set; } = [];

    public string Name => MethodName;
    public string Description => "a 1×1 convolution per pixel (test method)";
    public OutputContract Output => OutputContract.Semantic;

    public MethodRun CreateRun(MethodContext context)
    {
        var sample = new SampleOptions
        {
            ImageSize = 16, Slices = 1, BatchSize = context.Trainer.BatchSize, Seed = (int)context.Trainer.Seed,
            Intensity = IntensityTransform.Parse("ct-window:-500,300"), Augmentation = SamAdapt.Training.Augmentation.AugmentationPipeline.None,
        };
        var data = TrainingData.Load(context.Dataset, sample, validationFraction: context.Settings.ValFraction ?? 0.25);
        var task = new ToyTask(data.Classes.ClassNames, context.Trainer);
        InitialWeights = task.Net.weight.cpu().ToArray<float>();
        return new MethodRun(task, new SliceStackSource(data), $"{Name}: {data.Classes.NumClasses} classes");
    }

    public TrainSettings StoredSettings(LoadedRunConfig run) => new() { Method = Name };

    public TrainedModel Load(LoadedRunConfig run, string weightsFile, Device device) =>
        throw new NotSupportedException("the toy method is not meant for prediction");
}

internal sealed class ToyTask(IReadOnlyList<string> classNames, TrainerOptions options) : ITrainingTask, IDisposable
{
    private readonly Conv _net = Conv.Conv2d(3, classNames.Count, 1);
    private readonly SegmentationLoss _loss = SegmentationLoss.FromOptions(options);

    public Conv Net => _net;
    public string Method => ToyMethod.MethodName;
    public Module Model => _net;
    public IReadOnlyList<string> ClassNames => classNames;
    public IReadOnlyList<ParameterGroupSpec> ParameterGroups => [ParameterGroupSpec.FromPrefix("head", _net, "")];
    public object Config => new Dictionary<string, string> { ["classes"] = classNames.Count.ToString(System.Globalization.CultureInfo.InvariantCulture) };
    public IReadOnlyDictionary<string, string> AdapterMetadata => new Dictionary<string, string> { ["toy.method"] = Method };
    public void Prepare(TrainingContext context) => _net.to(context.Device);
    public Tensor Loss(Batch batch, TrainingContext context) => _loss.Forward(_net.forward(batch.Input), batch.Target);
    public ValidationResult? Validate(TrainingContext context) => null;
    public void Dispose() => _net.Dispose();
}

public class ToyMethodTests
{
    [Fact]
    public void A_method_registered_from_a_test_project_trains_two_steps_through_the_train_api()
    {
        if (!MethodRegistry.TryGet(ToyMethod.MethodName, out _)) MethodRegistry.Register(new ToyMethod());
        var toy = (ToyMethod)MethodRegistry.Get(ToyMethod.MethodName);
        Assert.Contains(ToyMethod.MethodName, MethodRegistry.Names);

        using var tmp = SamAdapt.Tests.TestPaths.NewTempDir();
        var ds = SyntheticDataset.Write(tmp.Path);
        var run = Path.Combine(tmp.Path, "run");
        var stdout = new StringWriter();
        var result = TrainRunner.Run(new TrainSettings
        {
            Method = ToyMethod.MethodName, Dataset = ds, Out = run, Iterations = 2, Batch = 2, Warmup = 1, Lr = 0.1,
            ValEvery = 0, CheckpointEvery = 0, Seed = 3, Runtime = new() { Threads = 1 },
        }, new TrainOutput(stdout, TextWriter.Null, false));

        Assert.Equal(TrainingStopReason.Completed, result.Reason);
        Assert.Equal(2, result.Steps);
        Assert.Contains(ToyMethod.MethodName + ": 3 classes", stdout.ToString());
        var log = File.ReadAllLines(Path.Combine(run, "train_log.csv"));
        Assert.Equal(3, log.Length); // header + two steps
        Assert.Contains("method: " + ToyMethod.MethodName, File.ReadAllText(Path.Combine(run, RunConfig.FileName)));
        var (tensors, meta) = SamAdapt.Torch.Serialization.SafeTensors.Load(Path.Combine(run, Trainer.AdapterFile));
        Assert.Equal(ToyMethod.MethodName, meta["toy.method"]);
        Assert.Equal([3L, 3, 1, 1], tensors["weight"].Shape);
        // the two AdamW steps (lr 0.1) changed every weight of the head
        float[] trained;
        using (var t = SamAdapt.Torch.Serialization.TensorHostConversions.ToTensor(tensors["weight"]).DetachFromScope()) trained = t.ToArray<float>();
        Assert.Equal(toy.InitialWeights.Length, trained.Length);
        Assert.All(trained.Zip(toy.InitialWeights), p => Assert.NotEqual(p.Second, p.First));
    }
}
