using SamAdapt.Sam.Adapters;
using SamAdapt.Tests;
using SamAdapt.Torch;
using SamAdapt.Torch.NN;
using SamAdapt.Training.Engine;
using Xunit.Abstractions;
using static SamAdapt.Methods.Tests.MaSamReference.MaSamTinyFixture;

namespace SamAdapt.Methods.Tests.MaSamReference;

/// <summary>
/// The trainer itself with <c>--recipe reference</c> runs the reference's training step: one iteration on the fixture's batch gives the
/// reference's tensors after one AdamW step (docs/methods/ma-sam.md §2). Without warm-up the step runs at the base rate, as the
/// fixture's did; with the reference's warm-up the first step runs at base/W, so its update is the fixture's divided by W.
/// </summary>
public class MaSamTrainerRecipeTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDir _tmp = TestPaths.NewTempDir();
    public void Dispose() => _tmp.Dispose();

    private sealed class FixtureTask(AdaptedSam model, int depth) : ITrainingTask
    {
        private readonly SegmentationLoss _loss = new();
        public string Method => "ma-sam";
        public Module Model => model;
        public IReadOnlyList<string> ClassNames => Enumerable.Range(0, model.Config.NumClasses + 1).Select(i => $"c{i}").ToList();
        public IReadOnlyList<ParameterGroupSpec> ParameterGroups =>
            model.ParameterGroups(trainableOnly: false).Select(g => new ParameterGroupSpec(g.Name, g.Parameters)).ToList();
        public object Config => new Dictionary<string, string> { ["fixture"] = "ma-sam-tiny" };
        public IReadOnlyDictionary<string, string> AdapterMetadata => model.Metadata(AdaptedSam.ContentsFull);
        public void Prepare(TrainingContext context) { }
        public Tensor Loss(Batch batch, TrainingContext context) => _loss.Forward(model.forward(batch.Input, depth).Logits, batch.Target);
        public ValidationResult? Validate(TrainingContext context) => null;
    }

    private sealed class FixtureBatch(Tensor images, Tensor labels, long slices) : IBatchSource
    {
        public int BatchesPerEpoch => 1;
        public Batch GetBatch(long epoch, int index) => new(images.clone().DetachFromScope(), labels.clone().DetachFromScope(), slices);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void One_trainer_step_with_the_reference_recipe_is_the_reference_step(bool referenceWarmup)
    {
        var step = Json("train_step", "train_step.json");
        var inputs = step.GetProperty("inputs");
        var opt = step.GetProperty("optimizer");
        var betas = opt.GetProperty("betas").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        Assert.Equal(1e-8, opt.GetProperty("eps").GetDouble()); // the trainer's AdamW uses PyTorch's default eps
        long warmup = referenceWarmup ? TrainerOptions.ReferenceWarmup : 0;
        var options = new TrainerOptions
        {
            Iterations = 1, Recipe = TrainerOptions.RecipeReference, Warmup = warmup, ClipGrad = 0, Lr = opt.GetProperty("lr").GetDouble(),
            WeightDecay = opt.GetProperty("weight_decay").GetDouble(), Beta1 = betas[0], Beta2 = betas[1], ValEvery = 0, CheckpointEvery = 0,
        };
        using var model = LoadModel(factDropout: 0.0);
        model.train();
        var named = model.named_parameters().ToDictionary(p => p.Name, p => p.Value);
        using var scope = DisposeScope.Begin();
        var probes = step.GetProperty("probes").EnumerateObject()
            .Select(p => (Name: p.Name, Key: MaSamReferenceKeys.FromReference(p.Value.GetProperty("key").GetString()!)!,
                After: p.Value.GetProperty("after_step").GetString()!, Noise: p.Value.GetProperty("f32_vs_f64_rel").GetProperty("update").GetDouble()))
            .ToList();
        var before = probes.ToDictionary(p => p.Key, p => named[p.Key].detach().clone());
        var images = Tensor(Npy(inputs.GetProperty("images").GetString()!));
        var labels = Tensor(Npy(inputs.GetProperty("labels").GetString()!));
        int d = inputs.GetProperty("D").GetInt32();

        var result = new Trainer(new FixtureTask(model, d), new FixtureBatch(images, labels, images.size(0)), options, _tmp.File("run")).Run();
        Assert.Equal(1, result.Steps);
        // the rate the step ran at, as logged: base/W with the reference's warm-up (base without)
        var log = File.ReadAllLines(System.IO.Path.Combine(_tmp.File("run"), "train_log.csv"));
        int lrColumn = Array.IndexOf(log[0].Split(','), "lr");
        Assert.True(lrColumn >= 0, $"train_log.csv has no lr column: {log[0]}");
        Assert.Equal(options.Lr / (warmup > 0 ? warmup : 1), double.Parse(log[1].Split(',')[lrColumn], System.Globalization.CultureInfo.InvariantCulture), 12);

        double scale = warmup > 0 ? 1.0 / warmup : 1.0; // AdamW's first update, decay included, is linear in the rate
        foreach (var (name, key, after, noise) in probes)
        {
            var expected = Npy(after);
            var expectedUpdate = (Torch.Tensor.FromArray<float>(expected.AsFloat32(), expected.Shape) - before[key]) * scale;
            var update = named[key].detach() - before[key];
            double rel = RelativeError(update.contiguous().ToArray<float>(), expectedUpdate.contiguous().ToArray<float>());
            // a step of base/W is small next to the float32 parameter it is added to: after − before then carries the parameter's rounding
            // (half an ulp, ≤ |p|·2⁻²⁴ per element), which bounds how well any float32 implementation can show the update
            double rounding = 2 * Math.Pow(2, -24) * before[key].norm().item() / expectedUpdate.norm().item();
            output.WriteLine($"warm-up {warmup}: update {name}: rel {rel:E2} (reference float32 vs float64 {noise:E2}, float32 rounding {rounding:E2})");
            Assert.True(rel <= Math.Max(Bound, Math.Max(4 * noise, rounding)), $"update {name}: relative error {rel:E3}");
            if (warmup == 0) AssertClose($"after step {name}", named[key], expected, output.WriteLine);
        }
    }
}
