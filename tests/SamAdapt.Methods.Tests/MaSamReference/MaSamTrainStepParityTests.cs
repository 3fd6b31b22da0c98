using System.Text.Json;
using SamAdapt.Sam.Adapters;
using SamAdapt.Torch;
using SamAdapt.Torch.Optim;
using SamAdapt.Training.Engine;
using Xunit.Abstractions;
using static SamAdapt.Methods.Tests.MaSamReference.MaSamTinyFixture;

namespace SamAdapt.Methods.Tests.MaSamReference;

/// <summary>
/// One training step of the library's MA-SAM against the reference's (ma-sam-tiny train_step/): CE, Dice and total loss and the
/// per-class Dice terms of <see cref="SegmentationLoss"/>, the gradients of the six probe tensors (and every trainable tensor's gradient
/// norm), which tensors get no gradient, and the six tensors after one AdamW step (values and updates). Bound ‖a − b‖/‖b‖ ≤ 1e-4.
/// </summary>
public class MaSamTrainStepParityTests(ITestOutputHelper output)
{
    private static JsonElement Step => Json("train_step", "train_step.json");

    private static void AssertScalarClose(string what, double actual, double expected, Action<string> log)
    {
        double rel = Math.Abs(actual - expected) / Math.Max(Math.Abs(expected), 1e-30);
        log($"{what}: {actual:R} vs {expected:R} (rel {rel:E2})");
        Assert.True(rel <= Bound, $"{what}: {actual} vs reference {expected} (relative error {rel:E3})");
    }

    /// <summary>The probes of train_step.json: name → (our key, grad file, after-step file).</summary>
    private static List<(string Name, string Key, string Grad, string After)> Probes()
    {
        var probes = Step.GetProperty("probes");
        var list = new List<(string, string, string, string)>();
        foreach (var p in probes.EnumerateObject())
        {
            var key = MaSamReferenceKeys.FromReference(p.Value.GetProperty("key").GetString()!);
            Assert.NotNull(key);
            list.Add((p.Name, key, p.Value.GetProperty("grad").GetString()!, p.Value.GetProperty("after_step").GetString()!));
        }
        return list;
    }

    [Fact]
    public void AdamW_step_from_the_reference_gradients_matches_the_reference_exactly()
    {
        // the optimizer alone: the reference's own gradients in, our AdamW step out (values and updates within 1e-4)
        var opt = Step.GetProperty("optimizer");
        var betas = opt.GetProperty("betas").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        using var model = LoadModel(factDropout: 0.0);
        var named = model.named_parameters().ToDictionary(p => p.Name, p => p.Value);
        using var scope = DisposeScope.Begin();
        var probes = Probes();
        var before = probes.ToDictionary(p => p.Key, p => named[p.Key].detach().clone());
        foreach (var (_, key, grad, _) in probes) named[key].grad = Tensor(Npy(grad));
        using var adamw = new AdamW(probes.Select(p => named[p.Key]), opt.GetProperty("lr").GetDouble(), opt.GetProperty("weight_decay").GetDouble(),
            betas[0], betas[1], opt.GetProperty("eps").GetDouble());
        adamw.step();
        foreach (var (name, key, _, after) in probes)
        {
            var expected = Npy(after);
            AssertClose($"after step {name}", named[key], expected, output.WriteLine);
            var update = named[key].detach() - before[key];
            var expectedUpdate = Torch.Tensor.FromArray<float>(expected.AsFloat32(), expected.Shape) - before[key];
            AssertClose($"update {name}", update.contiguous().ToArray<float>(), update.shape, expectedUpdate.contiguous().ToArray<float>(), expected.Shape, output.WriteLine);
        }
    }

    [Fact]
    public void Loss_gradients_and_one_AdamW_step_match_the_reference()
    {
        var step = Step;
        var inputs = step.GetProperty("inputs");
        // the reference step ran with FacT dropout 0 (train_step.json "deviations"); everything else is the model of config.json
        using var model = LoadModel(factDropout: 0.0);
        model.train();
        var named = model.named_parameters().ToDictionary(p => p.Name, p => p.Value);
        var before = named.ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone().DetachFromScope());
        try
        {
            using var scope = DisposeScope.Begin();
            var images = Tensor(Npy(inputs.GetProperty("images").GetString()!));
            var labels = Tensor(Npy(inputs.GetProperty("labels").GetString()!));
            int b = inputs.GetProperty("B").GetInt32(), d = inputs.GetProperty("D").GetInt32();
            Assert.Equal(b * d, images.size(0));

            var o = model.forward(images, d);
            var parts = new SegmentationLoss().Compute(o.Logits, labels);
            AssertScalarClose("CE", parts.CrossEntropy.item(), step.GetProperty("loss_ce").GetDouble(), output.WriteLine);
            AssertScalarClose("Dice", parts.Dice.item(), step.GetProperty("loss_dice").GetDouble(), output.WriteLine);
            AssertScalarClose("total", parts.Total.item(), step.GetProperty("loss").GetDouble(), output.WriteLine);
            var perClass = step.GetProperty("dice_per_class").EnumerateArray().Select(e => e.GetSingle()).ToArray();
            var ours = parts.DicePerClass!.ToArray<float>();
            Assert.Equal(perClass.Length, ours.Length);
            for (int c = 0; c < perClass.Length; c++) AssertScalarClose($"Dice term of class {c}", ours[c], perClass[c], output.WriteLine);

            parts.Total.backward();

            foreach (var (name, key, grad, _) in Probes())
                AssertClose($"grad {name}", named[key].grad!, Npy(grad), output.WriteLine);

            // every trainable tensor: the same ones get no gradient, the others the same gradient norm
            var noGrad = step.GetProperty("trainable_without_grad").EnumerateArray().Select(e => MaSamReferenceKeys.FromReference(e.GetString()!)!).ToHashSet();
            var symmetric = step.GetProperty("zero_grad_by_symmetry").EnumerateArray().Select(e => MaSamReferenceKeys.FromReference(e.GetString()!)!).ToHashSet();
            var trainable = named.Where(kv => kv.Value.requires_grad).Select(kv => kv.Key).ToList();
            var norms = step.GetProperty("grad_norms").EnumerateObject().ToDictionary(p => MaSamReferenceKeys.FromReference(p.Name)!,
                p => p.Value.ValueKind == JsonValueKind.Number ? p.Value.GetDouble() : (double?)null);
            Assert.Equal(norms.Keys.Order(), trainable.Order());
            Assert.Equal(noGrad.Order(), norms.Where(kv => kv.Value is null).Select(kv => kv.Key).Order());
            Assert.Equal(noGrad.Order(), trainable.Where(k => named[k].grad is null).Order());
            foreach (var k in trainable.Where(k => !noGrad.Contains(k) && !symmetric.Contains(k)))
                AssertScalarClose($"|grad| {k}", named[k].grad!.norm().item(), norms[k]!.Value, _ => { });

            // one step of AdamW with the reference's hyper-parameters, over the parameter groups the trainer builds with --recipe reference
            var opt = step.GetProperty("optimizer");
            var betas = opt.GetProperty("betas").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            var options = new TrainerOptions
            {
                Recipe = TrainerOptions.RecipeReference, Lr = opt.GetProperty("lr").GetDouble(), WeightDecay = opt.GetProperty("weight_decay").GetDouble(),
                Beta1 = betas[0], Beta2 = betas[1],
            };
            var groups = OptimizerGroups.Build(model.ParameterGroups(trainableOnly: false).Select(g => new ParameterGroupSpec(g.Name, g.Parameters)),
                model.named_parameters(), options);
            Assert.Equal(trainable.Order(), named.Where(kv => groups.SelectMany(g => g.Params).Contains(kv.Value)).Select(kv => kv.Key).Order());
            Assert.All(groups, g => Assert.Equal(options.WeightDecay, g.WeightDecay));
            using var adamw = new AdamW(groups, options.Beta1, options.Beta2, opt.GetProperty("eps").GetDouble());
            adamw.step();
            var probes = step.GetProperty("probes");
            foreach (var (name, key, _, after) in Probes())
            {
                var expected = Npy(after);
                AssertClose($"after step {name}", named[key], expected, output.WriteLine);
                // Adam's first update is lr·g/(|g| + eps): where |g| is near eps it amplifies the gradient's rounding, and the reference's own
                // float32 result differs from its float64 one by up to ~1e-3 there (train_step.json f32_vs_f64_rel.update). The update is held to
                // 1e-4 or, where the reference itself is noisier, to 4× its own float32 noise; the optimizer alone is held to 1e-4 below.
                double noise = probes.GetProperty(name).GetProperty("f32_vs_f64_rel").GetProperty("update").GetDouble();
                var update = named[key].detach() - before[key];
                var expectedUpdate = Torch.Tensor.FromArray<float>(expected.AsFloat32(), expected.Shape) - before[key];
                double rel = RelativeError(update.contiguous().ToArray<float>(), expectedUpdate.contiguous().ToArray<float>());
                output.WriteLine($"update {name}: rel {rel:E2} (reference float32 vs float64: {noise:E2})");
                Assert.True(rel <= Math.Max(Bound, 4 * noise), $"update {name}: relative error {rel:E3}");
            }
            // tensors without a gradient are skipped entirely, not even decayed
            foreach (var k in noGrad) Assert.True(named[k].detach().contiguous().ToArray<float>().SequenceEqual(before[k].contiguous().ToArray<float>()), $"{k} changed although it has no gradient");
        }
        finally
        {
            foreach (var t in before.Values) t.Dispose();
        }
    }
}
