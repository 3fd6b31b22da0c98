using System.Text.Json;
using SamAdapt.Methods.Msa;
using SamAdapt.Torch;
using SamAdapt.Torch.NN;
using SamAdapt.Torch.Optim;
using SamAdapt.Torch.Serialization;
using Xunit.Abstractions;
using static SamAdapt.Methods.Tests.MsaReference.MsaTinyFixture;

namespace SamAdapt.Methods.Tests.MsaReference;

/// <summary>
/// One training step of the library's MSA against the released code's <c>train_sam</c> (msa-tiny */train_step/), per variant: the
/// low-resolution logits, the loss (2D: BCE with pos_weight 2; 3D: MONAI 1.1's Dice), every parameter's gradient state (none / zero /
/// nonzero) and L2 norm, the stored gradients, and the tracked tensors after one Adam step (lr 1e-4, wd 0). Bound 1e-4 relative.
/// </summary>
public class MsaTrainStepParityTests(ITestOutputHelper output)
{
    public static TheoryData<string> AllVariants => new(Variants);

    [Theory]
    [MemberData(nameof(AllVariants))]
    public void Loss_gradients_and_one_Adam_step_match_the_reference(string variant)
    {
        var step = Json(variant, "train_step", "train_step.json");
        using var model = LoadModel(variant);
        model.train();
        var named = model.named_parameters().ToDictionary(p => p.Name, p => p.Value);
        var before = named.ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone().DetachFromScope());
        try
        {
            using var scope = DisposeScope.Begin();
            var images = Tensor(Npy(Images(variant)));
            var (coords, labels, _) = Prompts(Path(variant, "train_step"), images.size(0));
            var target = Float(Npy(Variant(variant).GetProperty("train_step").GetProperty("files").GetProperty("target").GetString()!.Split(' ')[0]));
            var o = model.Decode(model.EmbedImages(images), coords, labels);
            AssertClose($"{variant} train low-res logits", o.LowResLogits, Npy(variant, "train_step", "low_res_logits.npy"), output.WriteLine);
            var pred = F.interpolate(o.LowResLogits, [OutSize, OutSize]);
            var loss = IsVolume(variant) ? MsaLoss.Compute(MsaLossKind.Dice, pred, target) : MsaLoss.Compute(MsaLossKind.Bce, pred, target);
            AssertScalarClose($"{variant} loss", loss.item(), step.GetProperty("loss").GetDouble(), output.WriteLine);
            loss.backward();

            // every parameter of the reference: the same gradient state, the same gradient norm. Norms far below the largest are float
            // noise around a true zero (the self-attention key biases: softmax ignores a per-query constant) and get an absolute floor.
            double largest = step.GetProperty("params").EnumerateObject()
                .Select(p => p.Value.GetProperty("grad_l2")).Where(e => e.ValueKind == JsonValueKind.Number).Max(e => e.GetDouble());
            int compared = 0;
            foreach (var p in step.GetProperty("params").EnumerateObject())
            {
                var key = MsaReferenceKeys.Rename(p.Name);
                var state = p.Value.GetProperty("grad").GetString();
                Tensor? grad = named.TryGetValue(key, out var t) ? t.grad : null;
                switch (state)
                {
                    case "none":
                        Assert.True(grad is null, $"{key}: the reference has no gradient, ours has one");
                        break;
                    case "zero":
                        Assert.True(grad is not null && grad.abs().max().item() == 0, $"{key}: the reference's gradient is zero, ours is not");
                        break;
                    default:
                        Assert.True(grad is not null, $"{key}: the reference has a gradient, ours has none");
                        double expected = p.Value.GetProperty("grad_l2").GetDouble();
                        double actual = grad!.norm().item();
                        double rel = Math.Abs(actual - expected) / Math.Max(expected, 1e-4 * largest);
                        Assert.True(rel <= Bound, $"{key}: gradient norm {actual} vs reference {expected} (rel {rel:E2})");
                        compared++;
                        break;
                }
            }
            output.WriteLine($"{compared} gradient norms within {Bound:E0}");
            Assert.True(compared > 0);
            var grads = SafeTensors.Load(Path(variant, "train_step", "grads.safetensors")).Tensors;
            foreach (var (k, g) in grads)
            {
                var ours = named[MsaReferenceKeys.Rename(k)].grad!;
                AssertClose($"grad {k}", ours.contiguous().ToArray<float>(), ours.shape, g.ToTensor().contiguous().ToArray<float>(), g.Shape, output.WriteLine);
            }

            // Adam (= AdamW with weight decay 0) over the trainable parameters, one step
            using var adam = new AdamW(named.Values.Where(v => v.requires_grad), lr: 1e-4, weightDecay: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8);
            adam.step();
            foreach (var (k, expected) in SafeTensors.Load(Path(variant, "train_step", "params_after.safetensors")).Tensors)
            {
                var key = MsaReferenceKeys.Rename(k);
                if (!named.TryGetValue(key, out var ours))
                {
                    // a 2D model has no depth branch; the reference's unused Depth_Adapter must be unchanged by its step
                    Assert.Equal("none", step.GetProperty("params").GetProperty(k).GetProperty("grad").GetString());
                    Assert.False(step.GetProperty("params").GetProperty(k).GetProperty("changed_by_step").GetBoolean());
                    continue;
                }
                AssertClose($"after step {k}", ours.detach().contiguous().ToArray<float>(), ours.shape, expected.ToTensor().contiguous().ToArray<float>(), expected.Shape, output.WriteLine);
            }
            foreach (var p in step.GetProperty("params").EnumerateObject())
            {
                var key = MsaReferenceKeys.Rename(p.Name);
                if (!named.TryGetValue(key, out var ours)) continue;
                bool changed = !ours.detach().contiguous().ToArray<float>().SequenceEqual(before[key].contiguous().ToArray<float>());
                Assert.True(changed == p.Value.GetProperty("changed_by_step").GetBoolean(), $"{key}: changed {changed}, reference {!changed}");
            }
        }
        finally
        {
            foreach (var t in before.Values) t.Dispose();
        }
    }
}
