using SamAdapt.Methods.MaskSam;
using SamAdapt.Training.Engine;

namespace SamAdapt.Methods.Tests.MaskSam;

/// <summary>masksam's training defaults are the reference trainer's where the user gave nothing; given values win.</summary>
public class MaskSamTrainerDefaultsTests
{
    private static TrainerOptions For(TrainSettings s) => MethodRegistry.Get("masksam").TrainerDefaults(s, s.TrainerOptions(null));

    [Fact]
    public void From_a_checkpoint_the_reference_recipe_applies()
    {
        var o = For(new TrainSettings { Method = "masksam", Checkpoint = "sam.pth", Iterations = 100 });
        Assert.Equal(MaskSamMethod.ReferenceLr, o.Lr);
        Assert.Equal(MaskSamMethod.ReferenceWeightDecay, o.WeightDecay);
        Assert.Equal(MaskSamMethod.ReferenceClipGrad, o.ClipGrad);
        Assert.Equal(0, o.Warmup);
        Assert.Equal(0.9, o.PolyExponent);
    }

    [Fact]
    public void Given_values_and_the_from_scratch_lr_are_kept()
    {
        var o = For(new TrainSettings { Method = "masksam", Model = "tiny", Iterations = 100, WeightDecay = 0.01, ClipGrad = 2, Warmup = 5, PolyExp = 2 });
        Assert.Equal(TrainSettings.FromScratchLr, o.Lr);
        Assert.Equal(0.01, o.WeightDecay);
        Assert.Equal(2, o.ClipGrad);
        Assert.Equal(5, o.Warmup);
        Assert.Equal(2, o.PolyExponent);
        // other methods keep the engine's defaults
        var ma = new TrainSettings { Method = "ma-sam", Checkpoint = "sam.pth", Iterations = 100 };
        Assert.Equal(ma.TrainerOptions(null), MethodRegistry.Get("ma-sam").TrainerDefaults(ma, ma.TrainerOptions(null)));
    }

    [Fact]
    public void The_semantic_loss_and_fewer_points_apply_from_scratch_only()
    {
        var reference = MaskSamMethod.LossOptions(new TrainSettings { Method = "masksam", Checkpoint = "sam.pth" }, 512);
        Assert.Equal(0, reference.SemanticWeight);
        Assert.Equal(512 * 512 / 2, reference.NumPoints);
        Assert.Equal(new MaskSamLossOptions().ClassWeight, reference.ClassWeight);
        var scratch = MaskSamMethod.LossOptions(new TrainSettings { Method = "masksam", Model = "tiny" }, 96);
        Assert.Equal(MaskSamMethod.FromScratchSemanticWeight, scratch.SemanticWeight);
        Assert.True(scratch.SemanticWeight > 0);
        Assert.Equal(96 * 96 / MaskSamMethod.FromScratchPointDivisor, scratch.NumPoints);
        Assert.True(scratch.NumPoints < reference.NumPoints * 96 * 96 / (512 * 512)); // fewer points per pixel than the reference from scratch
    }

    [Theory]
    [InlineData(2)]
    [InlineData(9)]
    [InlineData(20)]
    public void The_tiny_preset_has_a_query_for_every_instance_a_slice_can_hold(int classes)
    {
        // every label present in a slice, background included, is an instance to match: at most K per slice
        var c = MaskSamMethod.TinyPreset(96, 3, classes);
        Assert.True(c.NumQueries >= classes + 3, $"{c.NumQueries} queries for {classes} classes");
        c.Validate();
    }
}
