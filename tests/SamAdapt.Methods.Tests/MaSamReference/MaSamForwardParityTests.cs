using SamAdapt.Sam.Modeling;
using SamAdapt.Sam.Adapters;
using SamAdapt.Torch;
using Xunit.Abstractions;
using static SamAdapt.Methods.Tests.MaSamReference.MaSamTinyFixture;

namespace SamAdapt.Methods.Tests.MaSamReference;

/// <summary>
/// The library's MA-SAM (FacT, 3D adapters, progressive decoder) against the reference code's outputs in ma-sam-tiny: masks, IoU
/// predictions, image embeddings for every forward case, and every encoder block's tokens. Bound ‖a − b‖/‖b‖ ≤ 1e-4.
/// </summary>
public class MaSamForwardParityTests(ITestOutputHelper output)
{
    public static TheoryData<string> ForwardCases()
    {
        var data = new TheoryData<string>();
        foreach (var c in Json("manifest.json").GetProperty("cases").EnumerateObject())
            if (c.Value.GetProperty("kind").GetString() == "forward") data.Add(c.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(ForwardCases))]
    public void Masks_iou_and_embeddings_match_the_reference(string name)
    {
        using var model = LoadModel();
        using var scope = DisposeScope.Begin();
        using var _ = torch.no_grad();
        var (images, b, d) = CaseInput(name);
        var files = Json("manifest.json").GetProperty("cases").GetProperty(name).GetProperty("files");
        var o = model.forward(images.view(b, d, images.size(1), images.size(2), images.size(3)));
        AssertClose($"{name} masks", o.Logits, Npy(files.GetProperty("masks").GetString()!), output.WriteLine);
        AssertClose($"{name} low_res_logits", o.LowResLogits, Npy(files.GetProperty("masks").GetString()!), output.WriteLine);
        AssertClose($"{name} iou_predictions", o.IouPredictions, Npy(files.GetProperty("iou_predictions").GetString()!), output.WriteLine);

        var emb = model.image_encoder.forward(images, new EncoderContext(d));
        AssertClose($"{name} image_embeddings", emb, Npy(files.GetProperty("image_embeddings").GetString()!), output.WriteLine);
    }

    [Fact]
    public void Every_encoder_block_matches_the_reference()
    {
        var cases = Json("manifest.json").GetProperty("cases");
        var withBlocks = cases.EnumerateObject().Where(c => c.Value.GetProperty("files").TryGetProperty("encoder_blocks", out _)).ToList();
        Assert.NotEmpty(withBlocks);
        using var model = LoadModel();
        foreach (var c in withBlocks)
        {
            using var scope = DisposeScope.Begin();
            using var _ = torch.no_grad();
            var (images, b, d) = CaseInput(c.Name);
            var expected = Npy(c.Value.GetProperty("files").GetProperty("encoder_blocks").GetString()!); // (depth, B·D, h, w, C)
            Assert.Equal(model.image_encoder.blocks.Count, (int)expected.Shape[0]);
            var all = expected.AsFloat32();
            long per = all.Length / expected.Shape[0];
            var context = new EncoderContext(d);
            var h = model.image_encoder.patch_embed.forward(images) + model.image_encoder.pos_embed;
            for (int i = 0; i < model.image_encoder.blocks.Count; i++)
            {
                h = model.image_encoder.blocks[i].forward(h, context);
                AssertClose($"{c.Name} block {i}", h.contiguous().ToArray<float>(), h.shape, all.AsSpan((int)(i * per), (int)per).ToArray(),
                    expected.Shape[1..], output.WriteLine);
            }
        }
    }

    [Fact]
    public void Outputs_depend_on_the_slice_order_so_the_comparison_can_fail()
    {
        // a control: the 3D adapters mix neighbouring slices, so reversing the stack must move the masks well beyond the bound
        using var model = LoadModel();
        using var scope = DisposeScope.Begin();
        using var _ = torch.no_grad();
        var (images, b, d) = CaseInput("b1_d5");
        var reversed = images.view(b, d, 3, images.size(2), images.size(3)).flip(1);
        var masks = model.forward(reversed).Logits.view(b, d, -1, images.size(2), images.size(3)).flip(1).reshape(b * d, -1, images.size(2), images.size(3));
        var rel = RelativeError(masks.contiguous().ToArray<float>(), Npy("b1_d5", "masks.npy").AsFloat32());
        // the reference measured the same perturbation (manifest sensitivity_b1_d5): ours must be that far off, by the same amount
        double reference = Json("manifest.json").GetProperty("sensitivity_b1_d5").GetProperty("slice_order_reversed").GetProperty("masks").GetDouble();
        output.WriteLine($"slice order reversed: rel {rel:E3} (reference {reference:E3})");
        Assert.True(reference > 10 * Bound, $"the fixture's slice-order sensitivity {reference:E2} is too small to tell a wrong model");
        Assert.InRange(rel, reference * (1 - 1e-3), reference * (1 + 1e-3));
    }

    [Fact]
    public void Key_mapping_refuses_names_outside_both_layouts()
    {
        Assert.Null(MaSamReferenceKeys.FromReference("image_encoder.blocks.0.norm1.weight"));          // a plain SAM name is not a reference name
        Assert.Null(MaSamReferenceKeys.FromReference("image_encoder.ImageEncoderViT.blocks.0.Block.attn.Attention.qkv.w_a.weight"));
        Assert.Null(MaSamReferenceKeys.FromReference("module.mask_decoder.iou_token.weight"));
        Assert.Equal("image_encoder.blocks.12.attn.fact.v_FacTs.weight", MaSamReferenceKeys.FromReference("v_FacTs_012"));
        var e = Assert.Throws<InvalidDataException>(() => MaSamReferenceKeys.Rename(new Dictionary<string, int>
        {
            ["image_encoder.FacTu.weight"] = 0, ["image_encoder.ImageEncoderViT.blocks.0.Block.attn.Attention.qkv.w_a.weight"] = 1,
        }, "x.pth"));
        Assert.Contains("x.pth", e.Message);
        Assert.Contains("qkv.w_a.weight", e.Message);
    }

    [Fact]
    public void Key_mapping_round_trips_every_fixture_key()
    {
        var sd = ReferenceStateDict();
        var manifestKeys = Json("manifest.json").GetProperty("weights").GetProperty("keys").EnumerateArray().ToList();
        Assert.Equal(manifestKeys.Count, sd.Count);
        foreach (var k in manifestKeys)
        {
            var wrapped = k.GetProperty("key").GetString()!;
            var ours = MaSamReferenceKeys.FromReference(wrapped);
            Assert.NotNull(ours);
            Assert.Equal(wrapped, MaSamReferenceKeys.ToWrapped(ours));
            var saved = k.GetProperty("trained_params_key");
            Assert.Equal(saved.ValueKind == System.Text.Json.JsonValueKind.Null ? null : saved.GetString(), MaSamReferenceKeys.ToTrainedParams(ours));
            if (saved.ValueKind != System.Text.Json.JsonValueKind.Null) Assert.Equal(ours, MaSamReferenceKeys.FromReference(saved.GetString()!));
            // the frozen keys are SAM's own names: ours equal the unwrapped ones the manifest lists
            var plain = k.GetProperty("unwrapped_key");
            if (plain.ValueKind != System.Text.Json.JsonValueKind.Null && !wrapped.Contains("adapter_", StringComparison.Ordinal))
                Assert.Equal(plain.GetString(), ours);
        }
    }
}
