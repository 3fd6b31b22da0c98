using SamAdapt.Imaging.Npy;
using SamAdapt.Sam.Modeling;
using SamAdapt.Tests;
using SamAdapt.Torch;
using SamAdapt.Torch.Serialization;
using static SamAdapt.Sam.Tests.Modeling.SamTinyFixture;

namespace SamAdapt.Sam.Tests.Modeling;

public class SamCheckpointTests
{
    private static Dictionary<string, HostTensor> TinyStateDict() => Torch.Serialization.SafeTensors.Load(SafeTensorsPath).Tensors;

    private static float[] Embeddings(SamModel model, string inputNpy = "input_tensor.npy")
    {
        using var scope = DisposeScope.Begin();
        using var _ = torch.no_grad();
        return model.image_encoder.forward(Tensor(Npy(inputNpy))).ToArray<float>();
    }

    [Fact]
    public void Infers_the_tiny_architecture_from_shapes()
    {
        var shapes = SamCheckpoint.Shapes(PthReader.LoadStateDict(PthPath));
        var inferred = SamCheckpoint.InferConfig(shapes, decoderNumHeads: 4);
        Assert.True(inferred.ArchitectureEquals(Config), $"inferred {inferred}, config.json says {Config}");
        Assert.Equal("custom", SamCheckpoint.InferModelType(shapes));
        var e = Assert.Throws<InvalidDataException>(() => SamCheckpoint.InferConfig(new Dictionary<string, long[]> { ["foo"] = [1] }));
        Assert.Contains("image_encoder.pos_embed", e.Message);
    }

    [Fact]
    public void Auto_loads_the_tiny_checkpoint_with_the_inferred_encoder()
    {
        // decoder heads are not visible in shapes ("auto" assumes SAM's 8), but the encoder is fully determined
        using var model = SamCheckpoint.Load(PthPath);
        Assert.Equal(48, model.Config.EncoderEmbedDim);
        Assert.Equal(8, model.Config.DecoderNumHeads);
        using var reference = SamTinyFixture.Load(PthPath);
        Assert.Equal(Embeddings(reference), Embeddings(model));
    }

    [Fact]
    public void Wrong_model_type_names_the_offending_keys_and_what_the_file_looks_like()
    {
        var e = Assert.Throws<InvalidDataException>(() => SamCheckpoint.Load(PthPath, "vit_b"));
        Assert.Contains("vit_b", e.Message);
        Assert.Contains("missing key(s): image_encoder.blocks.4.", e.Message);
        Assert.Contains("mis-shaped", e.Message);
        Assert.Contains("image_encoder.pos_embed (checkpoint [1,8,8,48], resized to [1,64,64,48], model [1,64,64,768])", e.Message);
        Assert.Contains("looks like SAM custom (image 128, patch 16, embed 48, depth 4, heads 3, global blocks [1, 3], window 3, prompt dim 32)", e.Message);
    }

    [Fact]
    public void Strict_loading_reports_missing_and_unexpected_keys_and_non_strict_loads_the_rest()
    {
        var sd = TinyStateDict();
        sd.Remove("mask_decoder.iou_token.weight");
        sd["mask_decoder.extra.weight"] = HostTensor.Zeros(DType.Float32, 3);
        using var model = new SamModel(Config);
        var e = Assert.Throws<InvalidDataException>(() => SamCheckpoint.LoadStateDict(model, sd, "test dict"));
        Assert.Contains("1 missing key(s): mask_decoder.iou_token.weight", e.Message);
        Assert.Contains("1 unexpected key(s): mask_decoder.extra.weight", e.Message);
        Assert.Contains("test dict", e.Message);

        var result = SamCheckpoint.LoadStateDict(model, sd, strict: false);
        Assert.Equal(["mask_decoder.iou_token.weight"], result.Missing);
        Assert.Equal(["mask_decoder.extra.weight"], result.Unexpected);
        using var reference = SamTinyFixture.Load(SafeTensorsPath);
        Assert.Equal(Embeddings(reference), Embeddings(model));
    }

    [Fact]
    public void Wrapped_training_checkpoint_with_ddp_prefix_loads()
    {
        using var dir = TestPaths.NewTempDir();
        var sd = TinyStateDict();
        var wrapped = new Dictionary<string, object?>
        {
            ["model"] = sd.ToDictionary(kv => "module." + kv.Key, kv => kv.Value),
            ["epoch"] = 7L,
        };
        var path = dir.File("train_ckpt.pth");
        PthWriter.Save(path, wrapped);
        using var model = SamCheckpoint.Load(path, Config);
        using var reference = SamTinyFixture.Load(SafeTensorsPath);
        Assert.Equal(Embeddings(reference), Embeddings(model));

        var prefixed = SamCheckpoint.NormalizeKeys(sd.ToDictionary(kv => "module." + kv.Key, kv => kv.Value));
        Assert.Equal(sd.Keys.Order(StringComparer.Ordinal), prefixed.Keys.Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData(DType.Float16)]
    [InlineData(DType.BFloat16)]
    public void Half_precision_checkpoints_load_into_a_float32_model(DType dtype)
    {
        using var dir = TestPaths.NewTempDir();
        var sd = TinyStateDict();
        using var scope = DisposeScope.Begin();
        var half = new Dictionary<string, HostTensor>();
        var rounded = new Dictionary<string, float[]>();
        foreach (var (k, h) in sd)
        {
            var t = Torch.Tensor.FromBytes(h.Data, h.DType, h.Shape).to(dtype);
            half[k] = new HostTensor(dtype, h.Shape, t.ToBytes());
            rounded[k] = t.to(DType.Float32).ToArray<float>();
        }
        var path = dir.File($"tiny_{dtype}.safetensors");
        Torch.Serialization.SafeTensors.Save(path, half);
        using var model = SamCheckpoint.Load(path, Config);
        foreach (var (k, p) in model.state_dict())
        {
            Assert.Equal(DType.Float32, p.dtype);
            Assert.Equal(rounded[k], p.ToArray<float>());
        }
        // still computes nearly the same function
        var expected = Npy("image_embeddings.npy").AsFloat32();
        Assert.True(RelativeError(Embeddings(model), expected) < 0.05);
    }

    [Fact]
    public void ResizePositionalTables_keeps_tables_that_already_fit()
    {
        using var scope = DisposeScope.Begin();
        var sd = TinyStateDict().ToDictionary(kv => kv.Key, kv => Torch.Tensor.FromBytes(kv.Value.Data, kv.Value.DType, kv.Value.Shape));
        var same = SamCheckpoint.ResizePositionalTables(sd, Config);
        foreach (var (k, t) in sd) Assert.Same(t, same[k]);
    }

    [Fact]
    public void ResizePositionalTables_matches_torch_bilinear_and_resizes_only_global_tables()
    {
        DebianPython.RequireNumpy();
        using var dir = TestPaths.NewTempDir();
        using var scope = DisposeScope.Begin();
        var sd = TinyStateDict().ToDictionary(kv => kv.Key, kv => Torch.Tensor.FromBytes(kv.Value.Data, kv.Value.DType, kv.Value.Shape));
        var target = Config with { ImageSize = 80 }; // grid 8 → 5
        var resized = SamCheckpoint.ResizePositionalTables(sd, target);

        Assert.Equal(new long[] { 1, 5, 5, 48 }, resized["image_encoder.pos_embed"].shape);
        foreach (int i in new[] { 1, 3 })
        {
            Assert.Equal(new long[] { 9, 16 }, resized[$"image_encoder.blocks.{i}.attn.rel_pos_h"].shape);
            Assert.Equal(new long[] { 9, 16 }, resized[$"image_encoder.blocks.{i}.attn.rel_pos_w"].shape);
        }
        foreach (int i in new[] { 0, 2 })
            Assert.Same(sd[$"image_encoder.blocks.{i}.attn.rel_pos_h"], resized[$"image_encoder.blocks.{i}.attn.rel_pos_h"]);

        foreach (var key in new[] { "image_encoder.pos_embed", "image_encoder.blocks.1.attn.rel_pos_h", "image_encoder.blocks.3.attn.rel_pos_w" })
        {
            NpyFile.Write<float>(dir.File(key + ".in.npy"), sd[key].contiguous().ToArray<float>(), sd[key].shape);
            NpyFile.Write<float>(dir.File(key + ".out.npy"), resized[key].ToArray<float>(), resized[key].shape);
        }
        var script = """
            import sys, numpy as np, torch, torch.nn.functional as F
            d = sys.argv[1]
            def load(k, s): return torch.from_numpy(np.load(f"{d}/{k}.{s}.npy"))
            k = "image_encoder.pos_embed"
            ref = F.interpolate(load(k, "in").permute(0, 3, 1, 2), size=(5, 5), mode="bilinear", align_corners=False).permute(0, 2, 3, 1)
            assert torch.equal(ref, load(k, "out")), (ref - load(k, "out")).abs().max()
            for k in ["image_encoder.blocks.1.attn.rel_pos_h", "image_encoder.blocks.3.attn.rel_pos_w"]:
                t = load(k, "in")
                ref = F.interpolate(t.unsqueeze(0).unsqueeze(0), size=(9, t.shape[1]), mode="bilinear", align_corners=False)[0, 0]
                assert torch.equal(ref, load(k, "out")), (ref - load(k, "out")).abs().max()
            print("ok")
            """;
        Assert.Equal("ok", DebianPython.Run(script, dir.Path).Trim());
    }

    [Fact]
    public void Loads_at_another_input_size_and_runs_the_encoder()
    {
        var target = Config with { ImageSize = 64 }; // grid 4 < … window 3 pads 4 → 6
        using var model = SamCheckpoint.Load(PthPath, target);
        Assert.Equal(new long[] { 1, 4, 4, 48 }, model.image_encoder.pos_embed.shape);
        Assert.Equal(new long[] { 7, 16 }, model.image_encoder.blocks[1].attn.rel_pos_h!.shape);
        Assert.Equal(new long[] { 5, 16 }, model.image_encoder.blocks[0].attn.rel_pos_h!.shape);
        using var scope = DisposeScope.Begin();
        using var _ = torch.no_grad();
        var emb = model.image_encoder.forward(torch.randn(1, 3, 64, 64));
        Assert.Equal(new long[] { 1, 32, 4, 4 }, emb.shape);
        var (sparse, dense) = model.prompt_encoder.forward((torch.tensor(new float[] { 10, 20 }, 1, 1, 2), torch.tensor(new[] { 1 }, 1, 1)), null, null);
        Assert.Equal(new long[] { 1, 2, 32 }, sparse.shape);
        Assert.Equal(new long[] { 1, 32, 4, 4 }, dense.shape);
        var (masks, iou) = model.mask_decoder.forward(emb, model.prompt_encoder.get_dense_pe(), sparse, dense, true);
        Assert.Equal(new long[] { 1, 3, 16, 16 }, masks.shape);
        Assert.Equal(new long[] { 1, 3 }, iou.shape);
        Assert.True(masks.isfinite().all().item() != 0);
    }

    [Fact]
    public void Tensor_state_dicts_load_with_resizing()
    {
        using var source = SamTinyFixture.Load(SafeTensorsPath);
        using var target = new SamModel(Config with { ImageSize = 96 });
        var result = SamCheckpoint.LoadStateDict(target, source.state_dict());
        Assert.True(result.IsExact);
        Assert.Equal(new long[] { 1, 6, 6, 48 }, target.image_encoder.pos_embed.shape);
        Assert.True(torch.equal(source.mask_decoder.iou_token.weight, target.mask_decoder.iou_token.weight));
    }
}
