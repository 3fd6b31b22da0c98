using SamAdapt.Methods.MaskSam;
using SamAdapt.Torch;
using SamAdapt.Torch.Optim;
using Xunit.Abstractions;
using static SamAdapt.Methods.Tests.MaskSam.MaskSamTinyFixture;

namespace SamAdapt.Methods.Tests.MaskSam;

/// <summary>
/// One training step of the C# MaskSAM against the reference's (masksam-tiny train/): forward in training mode, matching and losses
/// fed with the reference's random points, backward (total gradient norm and the six probe gradients), then AdamW with the
/// reference's settings (the probes after the step). ‖a − b‖/‖b‖ ≤ 1e-4.
/// </summary>
public class MaskSamTrainStepParityTests(ITestOutputHelper output)
{
    [Fact]
    public void GradientsAndTheAdamWStepMatchTheReference()
    {
        using var model = MaskSamTinyRun.LoadModel();
        model.train();
        using var scope = DisposeScope.Begin();
        var outp = model.forward(Tensor("input"));
        var targets = InstanceTargets.FromVolumes(Tensor("train/label"));
        var l = Json("losses.json");
        var w = l.GetProperty("weights");
        var options = new MaskSamLossOptions
        {
            ClassWeight = w.GetProperty("loss_ce").GetDouble(), MaskWeight = w.GetProperty("loss_mask").GetDouble(),
            DiceWeight = w.GetProperty("loss_dice").GetDouble(), AuxMaskWeight = w.GetProperty("loss_aux_mask").GetDouble(),
            AuxBoxWeight = w.GetProperty("loss_aux_bbox").GetDouble(), AuxGiouWeight = w.GetProperty("loss_aux_giou").GetDouble(),
            NoObjectWeight = l.GetProperty("eos_coef").GetDouble(), NumPoints = l.GetProperty("num_points").GetInt32(), AuxDoubleSigmoid = true,
        };
        var criterion = new MaskSamCriterion(options);
        var pts = Tensor("train/matcher_points");
        var matcherPoints = Replay(Enumerable.Range(0, (int)pts.size(0)).Select(b => pts.select(0, b).unsqueeze(0).contiguous()).ToArray());
        var maskPts = Tensor("train/points_masks");
        var auxPts = Tensor("train/points_aux_masks");
        var matches = criterion.Matcher.Match(outp.Predictions, targets, matcherPoints);
        var losses = criterion.Losses(outp.Predictions, targets, matches, _ => maskPts.alias(), _ => auxPts.alias());
        AssertClose("total", [losses.Total.to(DType.Float64).ToArray<double>()[0]], [l.GetProperty("total").GetDouble()], output.WriteLine);
        losses.Total.backward();

        var manifest = Json("manifest.json");
        var trainable = model.named_parameters().Where(p => p.Value.requires_grad).ToList();
        var clip = manifest.GetProperty("grad_clip");
        Assert.All(trainable, p => Assert.NotNull(p.Value.grad));
        Assert.Equal(clip.GetProperty("params_with_grad").GetInt32(), trainable.Count);
        double norm = GradClip.ClipGradNorm(trainable.Select(p => p.Value), clip.GetProperty("max_norm").GetDouble());
        AssertClose("grad norm", [norm], [clip.GetProperty("total_norm_before_clip").GetDouble()], output.WriteLine);

        var byName = model.named_parameters().ToDictionary(p => p.Name, p => p.Value);
        var probes = manifest.GetProperty("grads").EnumerateObject().ToList();
        foreach (var p in probes)
        {
            var t = byName[MaskSamReferenceKeys.FromReference(p.Name)];
            AssertClose("grad " + p.Name, t.grad!, p.Value.GetProperty("grad").GetString()![..^4], output.WriteLine);
        }
        using var opt = new AdamW(trainable.Select(p => p.Value), lr: 1e-3, weightDecay: 3e-5, eps: 1e-4);
        opt.step();
        foreach (var p in probes)
        {
            var t = byName[MaskSamReferenceKeys.FromReference(p.Name)];
            AssertClose("after step " + p.Name, t, p.Value.GetProperty("param_after_step").GetString()![..^4], output.WriteLine);
        }
    }
}
