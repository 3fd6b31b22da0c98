using SamAdapt.Methods.Msa;
using SamAdapt.Tests;
using SamAdapt.Torch;
using SamAdapt.Torch.NN;
using SamAdapt.Training.Engine;

namespace SamAdapt.Methods.Tests.Msa;

/// <summary>
/// The auxiliary semantic head (<see cref="MsaOptions.SemanticClasses"/>, docs/methods/msa.md, "Auxiliary semantic head"): absent by default
/// (the model and its keys are the reference's), always trained when present, and its weighted loss is exactly what the task adds to the
/// prompted loss, computed on the embedded slices' labels (the centre slices with 2.5-D input).
/// </summary>
public class MsaSemanticHeadTests : IDisposable
{
    private readonly TempDir _tmp = TestPaths.NewTempDir();
    public void Dispose() => _tmp.Dispose();

    [Fact]
    public void Without_the_option_there_is_no_head_and_with_it_the_head_maps_embeddings_to_class_logits()
    {
        torch.manual_seed(3);
        using var plain = new MsaSam(MsaTestModels.Tiny, new MsaOptions());
        Assert.Null(plain.semantic_head);
        Assert.DoesNotContain(plain.state_dict().Keys, k => k.StartsWith("semantic_head.", StringComparison.Ordinal));
        using var model = new MsaSam(MsaTestModels.Tiny, new MsaOptions { SemanticClasses = 3, SemanticWeight = 1 });
        var keys = model.state_dict().Keys.Where(k => k.StartsWith("semantic_head.", StringComparison.Ordinal)).Order().ToList();
        Assert.Equal(["semantic_head.classifier.bias", "semantic_head.classifier.weight", "semantic_head.upscaling.0.bias", "semantic_head.upscaling.0.weight",
            "semantic_head.upscaling.1.bias", "semantic_head.upscaling.1.weight", "semantic_head.upscaling.3.bias", "semantic_head.upscaling.3.weight"], keys);
        using var _ = torch.no_grad();
        using var scope = DisposeScope.Begin();
        var emb = model.EmbedImages(torch.rand([2, 3, 64, 64]), 1);                 // (2, 16, 4, 4)
        Assert.Equal(new long[] { 2, 3, 16, 16 }, model.semantic_head!.forward(emb).shape);
        // the rest of the model is the plain one: the same weights give the same embeddings
        plain.load_state_dict(model.state_dict().Where(kv => !kv.Key.StartsWith("semantic_head.", StringComparison.Ordinal)).ToDictionary(kv => kv.Key, kv => kv.Value));
        Assert.True((plain.EmbedImages(torch.ones([1, 3, 64, 64]), 1) - model.EmbedImages(torch.ones([1, 3, 64, 64]), 1)).abs().max().item() == 0);
    }

    [Fact]
    public void The_head_trains_whatever_parts_are_chosen()
    {
        using var model = new MsaSam(MsaTestModels.Tiny, new MsaOptions { SemanticClasses = 4, SemanticWeight = 0.5, Trains = MsaTrainedParts.EncoderAdapters });
        foreach (var (name, p) in model.named_parameters())
        {
            var part = MsaSam.PartOf(name);
            Assert.Equal(part is MsaTrainedParts.SemanticHead or MsaTrainedParts.EncoderAdapters, p.requires_grad);
            Assert.Equal(name.StartsWith("semantic_head.", StringComparison.Ordinal), part == MsaTrainedParts.SemanticHead);
        }
    }

    [Theory]
    [InlineData(1, 1.0, "≥ 2 classes")]
    [InlineData(-2, 0.0, "≥ 2 classes")]
    [InlineData(3, -1.0, "finite weight ≥ 0")]
    [InlineData(3, double.NaN, "finite weight ≥ 0")]
    [InlineData(0, 1.0, "needs the semantic head")]
    public void Bad_settings_are_refused(int classes, double weight, string expected)
    {
        var e = Assert.Throws<ArgumentException>(() => new MsaOptions { SemanticClasses = classes, SemanticWeight = weight }.Validate());
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void The_options_round_trip_and_old_options_have_no_head()
    {
        var o = MsaOptions.FromJson(new MsaOptions { SemanticClasses = 9, SemanticWeight = 0.75 }.ToJson());
        Assert.Equal((9, 0.75), (o.SemanticClasses, o.SemanticWeight));
        var old = MsaOptions.FromJson("""{"AdapterRatio":0.25,"MlpScale":0.5,"Activation":"Gelu","Slices":1,"Trains":"All"}""");
        Assert.Equal((0, 0.0), (old.SemanticClasses, old.SemanticWeight));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_task_loss_is_the_prompted_loss_plus_the_weighted_semantic_loss_of_the_embedded_slices(bool slicesAsChannels)
    {
        torch.set_num_threads(1);
        const double weight = 2.5;
        var setup = new MsaSetupOptions
        {
            Dataset = MsaTestModels.OneSlab(_tmp.Path), Model = MsaTestModels.SmallConfig(_tmp.Path), Slices = 3, BatchSize = 2, Seed = 4,
            ValFraction = 0, Augmentation = "none", Msa = new MsaOptions { SlicesAsChannels = slicesAsChannels, SemanticWeight = weight },
        };
        torch.manual_seed(4);
        var (cfg, data, model) = MsaTraining.Build(setup);
        Assert.Equal(3, model.Options.SemanticClasses); // background, disc, bar
        using var task = new MsaPromptTask(cfg, model, data, setup.Seed);
        // the same weights without the head: the prompted loss alone (the prompts are drawn from the same seed and step)
        var (cfgPlain, dataPlain, plain) = MsaTraining.Build(setup with { Msa = setup.Msa with { SemanticWeight = 0 } });
        Assert.Null(plain.semantic_head);
        plain.load_state_dict(model.state_dict().Where(kv => !kv.Key.StartsWith("semantic_head.", StringComparison.Ordinal)).ToDictionary(kv => kv.Key, kv => kv.Value));
        using var plainTask = new MsaPromptTask(cfgPlain, plain, dataPlain, setup.Seed);

        var b = data.GetBatch(0, 0);
        using var scope = DisposeScope.Begin();
        var labels = Tensor.FromArray<long>(b.Label!, [b.BatchSize * b.Depth, b.Size, b.Size]);
        using var batch = new Batch(b.ImageTensor(), labels, b.Depth);
        var context = new TrainingContext(Device.CPU, false, false, new TrainerOptions(), false) ;
        double withHead = task.Loss(batch, context).item();
        double prompted = plainTask.Loss(batch, context).item();

        // by hand: the embedded slices (all of them, or each stack's centre) and their labels
        var emb = slicesAsChannels ? model.EmbedCentres(batch.Input, 3) : model.EmbedImages(batch.Input, 3);
        var rows = slicesAsChannels ? Enumerable.Range(0, b.BatchSize).Select(s => (long)(3 * s + 1)).ToArray() : Enumerable.Range(0, b.BatchSize * 3).Select(i => (long)i).ToArray();
        var slicesLabels = labels.index_select(0, torch.tensor(rows));
        var logits = F.interpolate(model.semantic_head!.forward(emb), [b.Size, b.Size], InterpolationMode.Bilinear, alignCorners: false);
        double semantic = new SegmentationLoss(0.2, 0.8).Forward(logits, slicesLabels).item();
        Assert.True(semantic > 0.1, $"semantic loss {semantic}");
        Assert.Equal(prompted + weight * semantic, withHead, 4);
        Assert.Equal(semantic, MsaPromptTask.SemanticHeadLoss(model, emb, labels, 3, slicesAsChannels).item(), 5);
        plain.Dispose();
    }
}
