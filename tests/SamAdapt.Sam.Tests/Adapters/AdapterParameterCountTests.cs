using SamAdapt.Sam.Adapters;
using SamAdapt.Torch;

namespace SamAdapt.Sam.Tests.Adapters;

/// <summary>The parameter counts stated by issue #5 (docs/methods.md §1, §2.1(e)) on vit_b, built with random initialisation.</summary>
public class AdapterParameterCountTests
{
    private static long Sum(AdaptedSam m, Func<string, bool> select) =>
        m.named_parameters().Where(p => select(p.Name)).Sum(p => p.Value.numel());

    [Fact]
    public void Vit_b_ma_sam_counts_and_freezing_match_the_issue()
    {
        using var m = new AdaptedSam(SamConfig.VitB with { ImageSize = 512 }, new AdapterConfig { NumClasses = 8 });

        // one 3D adapter = LayerNorm 1,536 + down 294,912 + Conv3d 442,752 + up 294,912
        const string a = "image_encoder.blocks.0.adapter_1.";
        Assert.Equal(1_536, Sum(m, n => n.StartsWith(a + "norm.")));
        Assert.Equal(294_912, Sum(m, n => n.StartsWith(a + "down.")));
        Assert.Equal(442_752, Sum(m, n => n.StartsWith(a + "conv.")));
        Assert.Equal(294_912, Sum(m, n => n.StartsWith(a + "up.")));
        Assert.Equal(1_034_112, Sum(m, n => n.StartsWith(a)));
        for (int i = 0; i < 12; i++)
            foreach (var which in new[] { "adapter_1", "adapter_2" })
                Assert.Equal(1_034_112, Sum(m, n => n.StartsWith($"image_encoder.blocks.{i}.{which}.")));

        var counts = m.CountParameters();
        Assert.Equal(24_818_688, counts.ByGroup[AdaptedSam.Groups.Adapters3D]);
        // FacT at rank 32: shared U and V 49,152 + per-block Σ_q, Σ_v 24,576
        Assert.Equal(49_152, Sum(m, n => n.StartsWith("image_encoder.fact.")));
        Assert.Equal(24_576, Sum(m, n => n.Contains(".attn.fact.")));
        Assert.Equal(73_728, counts.ByGroup[AdaptedSam.Groups.Fact]);

        // freezing: trainable = adapters + FacT + prompt encoder + mask decoder
        long expectedTrainable = counts.ByGroup[AdaptedSam.Groups.Adapters3D] + counts.ByGroup[AdaptedSam.Groups.Fact] +
                                 counts.ByGroup[AdaptedSam.Groups.PromptEncoder] + counts.ByGroup[AdaptedSam.Groups.MaskDecoder];
        Assert.Equal(expectedTrainable, counts.Trainable);
        Assert.Equal(counts.Total, counts.ByGroup.Values.Sum());
        Assert.Equal(counts.Total, m.count_parameters().Total);
        Assert.Equal(counts.Trainable, m.count_parameters().Trainable);
        Assert.Equal(counts.Total - counts.ByGroup[AdaptedSam.Groups.ImageEncoder], counts.Trainable);
        foreach (var (name, p) in m.named_parameters())
            Assert.True(p.requires_grad == (AdaptedSam.GroupOf(name) != AdaptedSam.Groups.ImageEncoder), name);
        Assert.False(m.image_encoder.pos_embed.requires_grad);
        Assert.False(m.image_encoder.blocks[2].attn.qkv.weight.requires_grad);
        Assert.True(m.prompt_encoder.no_mask_embed.weight.requires_grad);

        // the trainer's groups cover exactly the trainable parameters
        var groups = m.ParameterGroups();
        Assert.Equal(["fact", "adapters_3d", "prompt_encoder", "mask_decoder"], groups.Select(g => g.Name).ToArray());
        Assert.Equal(counts.Trainable, groups.Sum(g => g.Count));
        Assert.Equal(m.TrainableStateDict().Count, groups.Sum(g => g.Parameters.Count));

        // the decoder: 9 mask tokens, hypernetworks to 256/32 = 8 channels, progressive up-sampling 256→64→32→16→8
        Assert.Equal(new long[] { 9, 256 }, m.mask_decoder.mask_tokens.weight.shape);
        Assert.Equal(9, m.mask_decoder.output_hypernetworks_mlps.Count);
        var sd = m.state_dict();
        Assert.Equal(new long[] { 8, 256 }, sd["mask_decoder.output_hypernetworks_mlps.0.layers.2.weight"].shape);
        Assert.Equal(new long[] { 256, 64, 2, 2 }, sd["mask_decoder.output_upscaling.0.weight"].shape);
        Assert.Equal(new long[] { 64, 32, 2, 2 }, sd["mask_decoder.output_upscaling.3.weight"].shape);
        Assert.Equal(new long[] { 32, 16, 2, 2 }, sd["mask_decoder.output_upscaling.6.weight"].shape);
        Assert.Equal(new long[] { 16, 8, 2, 2 }, sd["mask_decoder.output_upscaling.9.weight"].shape);
        Assert.Equal(new long[] { 1, 32, 32, 768 }, m.image_encoder.pos_embed.shape);
    }

    [Fact]
    public void Vit_b_lora_rank_4_count_is_computed_by_hand()
    {
        using var m = new AdaptedSam(SamConfig.VitB with { ImageSize = 512 }, new AdapterConfig { Method = AdaptMethod.Lora, NumClasses = 8 });
        long expected = 2 * 12 * (768 * 4 + 4 * 768); // q and v, 12 blocks, A (C·r) + B (r·C)
        Assert.Equal(147_456, expected);
        var counts = m.CountParameters();
        Assert.Equal(expected, counts.ByGroup[AdaptedSam.Groups.Lora]);
        Assert.False(counts.ByGroup.ContainsKey(AdaptedSam.Groups.Adapters3D));
        Assert.False(counts.ByGroup.ContainsKey(AdaptedSam.Groups.Fact));
        Assert.Equal(expected + counts.ByGroup[AdaptedSam.Groups.PromptEncoder] + counts.ByGroup[AdaptedSam.Groups.MaskDecoder], counts.Trainable);
        // SAMed keeps SAM's 2-stage up-sampling: hypernetworks output 256/8 = 32 channels
        Assert.Equal(DecoderUpscaling.Sam, m.mask_decoder.upscaling);
        Assert.Equal(new long[] { 32, 256 }, m.state_dict()["mask_decoder.output_hypernetworks_mlps.0.layers.2.weight"].shape);
        Assert.Contains("lora", counts.Describe());
    }
}
