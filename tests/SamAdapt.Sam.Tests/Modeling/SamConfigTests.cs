using SamAdapt.Sam.Modeling;
using SamAdapt.Torch;

namespace SamAdapt.Sam.Tests.Modeling;

public class SamConfigTests
{
    [Fact]
    public void Presets_have_the_released_architectures()
    {
        Assert.Equal((768, 12, 12), (SamConfig.VitB.EncoderEmbedDim, SamConfig.VitB.EncoderDepth, SamConfig.VitB.EncoderNumHeads));
        Assert.Equal([2, 5, 8, 11], SamConfig.VitB.GlobalAttnIndexes);
        Assert.Equal((1024, 24, 16), (SamConfig.VitL.EncoderEmbedDim, SamConfig.VitL.EncoderDepth, SamConfig.VitL.EncoderNumHeads));
        Assert.Equal([5, 11, 17, 23], SamConfig.VitL.GlobalAttnIndexes);
        Assert.Equal((1280, 32, 16, 80), (SamConfig.VitH.EncoderEmbedDim, SamConfig.VitH.EncoderDepth, SamConfig.VitH.EncoderNumHeads, SamConfig.VitH.EncoderHeadDim));
        Assert.Equal([7, 15, 23, 31], SamConfig.VitH.GlobalAttnIndexes);
        foreach (var c in new[] { SamConfig.VitB, SamConfig.VitL, SamConfig.VitH })
        {
            Assert.Equal((1024, 16, 64, 14, 256, 256), (c.ImageSize, c.PatchSize, c.ImageEmbeddingSize, c.WindowSize, c.PromptEmbedDim, c.LowResMaskSize));
            Assert.Equal((16, 3, 2, 2048, 8, 3, 256), (c.MaskInChans, c.NumMultimaskOutputs, c.DecoderDepth, c.DecoderMlpDim, c.DecoderNumHeads, c.IouHeadDepth, c.IouHeadHiddenDim));
        }
        Assert.Equal("vit_b", SamConfig.VitB.ModelType);
        Assert.Equal("vit_l", SamConfig.FromName("VIT_L").ModelType);
        Assert.Equal("vit_h", SamConfig.FromName("default").ModelType);
        var b512 = SamConfig.FromName("vit_b", 512);
        Assert.Equal((512, 32, 128), (b512.ImageSize, b512.ImageEmbeddingSize, b512.LowResMaskSize));
        Assert.Equal("vit_b", b512.ModelType);
        Assert.NotEqual(SamConfig.VitB, b512);
        Assert.Equal(SamConfig.VitB, SamConfig.FromName("vit_b"));
        var e = Assert.Throws<ArgumentException>(() => SamConfig.FromName("vit_x"));
        Assert.Contains("vit_b", e.Message);
    }

    [Fact]
    public void Fixture_config_json_parses_to_the_tiny_architecture()
    {
        var c = SamTinyFixture.Config;
        Assert.Equal((128, 16, 48, 4, 3), (c.ImageSize, c.PatchSize, c.EncoderEmbedDim, c.EncoderDepth, c.EncoderNumHeads));
        Assert.Equal(new[] { 1, 3 }, c.GlobalAttnIndexes);
        Assert.Equal((3, 32, 16, 64, 4, 32), (c.WindowSize, c.PromptEmbedDim, c.MaskInChans, c.DecoderMlpDim, c.DecoderNumHeads, c.IouHeadHiddenDim));
        Assert.Equal("custom", c.ModelType);
        Assert.Throws<FormatException>(() => SamConfig.FromJson("""{"embed": 48, "no_such_field": 1}"""));
        Assert.Throws<ArgumentException>(() => SamConfig.FromJson("""{"embed": 50, "heads": 3}"""));
        var l = SamConfig.FromJson("""{"model_type": "vit_l", "image_size": 512}""");
        Assert.Equal(SamConfig.VitL with { ImageSize = 512 }, l);
    }

    [Fact]
    public void Fixture_model_state_dict_equals_the_checkpoint_key_list_in_order()
    {
        using var model = new SamModel(SamTinyFixture.Config);
        var keys = model.state_dict().Keys.ToList();
        var ckpt = Torch.Serialization.SafeTensors.Load(SamTinyFixture.SafeTensorsPath).Tensors;
        var pth = Torch.Serialization.PthReader.LoadStateDict(SamTinyFixture.PthPath);
        Assert.Equal(pth.Keys.ToList(), keys);
        Assert.Equal(ckpt.Keys.Order(StringComparer.Ordinal), keys.Order(StringComparer.Ordinal));
        Assert.DoesNotContain("pixel_mean", keys);
        Assert.Contains(("pixel_mean", model.pixel_mean), model.named_buffers());
        Assert.Contains("prompt_encoder.pe_layer.positional_encoding_gaussian_matrix", keys);
    }

    [Fact]
    public void Vit_b_parameter_counts()
    {
        using var model = SamCheckpoint.Build("vit_b");
        Assert.Equal(93_735_472, model.count_parameters().Total);
        Assert.Equal(89_670_912, model.image_encoder.count_parameters().Total);
        Assert.Equal(4_058_340, model.mask_decoder.count_parameters().Total);
        Assert.Equal(6_220, model.prompt_encoder.count_parameters().Total);
        var sd = model.state_dict();
        Assert.Equal(314, sd.Count);
        Assert.Equal(new long[] { 27, 64 }, sd["image_encoder.blocks.0.attn.rel_pos_h"].shape);
        Assert.Equal(new long[] { 127, 64 }, sd["image_encoder.blocks.2.attn.rel_pos_w"].shape);
        Assert.Equal(new long[] { 1, 64, 64, 768 }, sd["image_encoder.pos_embed"].shape);
        Assert.Equal(new long[] { 256, 64, 2, 2 }, sd["mask_decoder.output_upscaling.0.weight"].shape);
        Assert.Equal("vit_b", SamCheckpoint.InferModelType(SamCheckpoint.Shapes(sd)));
        Assert.Equal(SamConfig.VitB, SamCheckpoint.InferConfig(SamCheckpoint.Shapes(sd)));
    }

    [Fact]
    public void Vit_l_parameter_count()
    {
        using var model = SamCheckpoint.Build("vit_l");
        Assert.Equal(312_342_832, model.count_parameters().Total);
        Assert.Equal(308_278_272, model.image_encoder.count_parameters().Total);
        var sd = model.state_dict();
        Assert.Equal(482, sd.Count);
        Assert.Equal(SamConfig.VitL, SamCheckpoint.InferConfig(SamCheckpoint.Shapes(sd)));
    }

    [Fact]
    public void Vit_h_parameter_count()
    {
        // allocates ~2.5 GB of float32 parameters; disposed at the end of the test
        using var model = SamCheckpoint.Build("vit_h");
        Assert.Equal(641_090_608, model.count_parameters().Total);
        Assert.Equal(637_026_048, model.image_encoder.count_parameters().Total);
        var sd = model.state_dict();
        Assert.Equal(594, sd.Count);
        Assert.Equal(new long[] { 127, 80 }, sd["image_encoder.blocks.31.attn.rel_pos_h"].shape);
        Assert.Equal(SamConfig.VitH, SamCheckpoint.InferConfig(SamCheckpoint.Shapes(sd)));
    }
}
