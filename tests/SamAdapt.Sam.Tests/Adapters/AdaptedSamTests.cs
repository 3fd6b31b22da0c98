using SamAdapt.Sam.Modeling;
using SamAdapt.Sam.Adapters;
using SamAdapt.Sam.Tests.Modeling;
using SamAdapt.Tests;
using SamAdapt.Torch;
using SamAdapt.Torch.NN;
using SamAdapt.Torch.Serialization;
using Xunit.Abstractions;

namespace SamAdapt.Sam.Tests.Adapters;

/// <summary>MA-SAM and SAMed LoRA on the sam-tiny fixture (128² input, embed 48, depth 4, decoder dim 32).</summary>
public class AdaptedSamTests(ITestOutputHelper output)
{
    private static string Pth => SamTinyFixture.PthPath;

    private static AdaptedSam MaSam(int numClasses = 2, bool adapters = true, int imageSize = 128) =>
        AdaptedSam.FromSamCheckpoint(Pth, new AdapterConfig { NumClasses = numClasses, UseAdapters3D = adapters }, imageSize);

    private static AdaptedSam Lora(int numClasses = 2) =>
        AdaptedSam.FromSamCheckpoint(Pth, new AdapterConfig { Method = AdaptMethod.Lora, NumClasses = numClasses }, 128);

    [Fact]
    public void Zero_initialised_fact_and_lora_reproduce_the_base_encoder_and_adapters_change_it()
    {
        using var sam = SamTinyFixture.Load(Pth);
        using var fact = MaSam(adapters: false);
        using var lora = Lora();
        using var full = MaSam();
        using var scope = DisposeScope.Begin();
        using var _ = torch.no_grad();
        torch.manual_seed(3);
        var x = torch.rand(10, 3, 128, 128);
        var reference = sam.image_encoder.forward(x);
        Assert.True(torch.equal(reference, fact.image_encoder.forward(x)));
        Assert.True(torch.equal(reference, lora.image_encoder.forward(x)));
        fact.train(); // FacT's dropout is on the rank path, before the zero FacTv: still exact
        Assert.True(torch.equal(reference, fact.image_encoder.forward(x)));
        fact.eval();

        var adapted = full.image_encoder.forward(x);
        Assert.Equal(reference.shape, adapted.shape);
        Assert.False(torch.allclose(reference, adapted, 1e-4, 1e-4));

        // a non-zero FacTv makes FacT act
        fact.fact!.FacTv.weight.normal_(0, 0.1);
        Assert.False(torch.allclose(reference, fact.image_encoder.forward(x), 1e-4, 1e-4));
    }

    [Fact]
    public void The_3d_adapter_mixes_neighbouring_slices_of_a_stack_only()
    {
        using var scope = DisposeScope.Begin();
        using var _ = torch.no_grad();
        torch.manual_seed(5);
        var ctx = new EncoderContext(5);
        using var adapter = new Adapter3D(16, 8);
        var x = torch.randn(10, 3, 4, 16); // two 5-slice stacks, a non-square 3×4 grid
        var y = adapter.forward(x, ctx);
        Assert.Equal(x.shape, y.shape);
        var x2 = x.clone();
        x2.select(0, 0).add_(torch.randn(3, 4, 16)); // slice 0 of stack 0 (not a constant shift: LayerNorm would remove it)
        var y2 = adapter.forward(x2, ctx);
        Assert.False(torch.equal(y.select(0, 0), y2.select(0, 0)));
        Assert.False(torch.allclose(y.select(0, 1), y2.select(0, 1), 1e-6, 1e-6)); // neighbour through the (3,1,1) kernel
        for (int i = 2; i < 10; i++) Assert.True(torch.equal(y.select(0, i), y2.select(0, i)), $"slice {i} changed");

        // changing the last slice of stack 0 leaves stack 1 (next in the batch) alone
        var x3 = x.clone();
        x3.select(0, 4).add_(torch.randn(3, 4, 16));
        var y3 = adapter.forward(x3, ctx);
        Assert.False(torch.allclose(y.select(0, 3), y3.select(0, 3), 1e-6, 1e-6));
        Assert.True(torch.equal(y.slice(0, 5, 10), y3.slice(0, 5, 10)));

        var e = Assert.Throws<ArgumentException>(() => adapter.forward(x, new EncoderContext(3)));
        Assert.Contains("3-slice stacks", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new EncoderContext(0));
    }

    [Fact]
    public void Ma_sam_outputs_all_classes_at_input_resolution_and_only_the_adapted_parts_get_gradients()
    {
        using var m = MaSam(numClasses: 3);
        m.train();
        using var scope = DisposeScope.Begin();
        torch.manual_seed(11);
        var x = torch.rand(10, 3, 128, 128);
        var o = m.forward(x, depth: 5);
        Assert.Equal(new long[] { 10, 4, 128, 128 }, o.Logits.shape);
        Assert.Same(o.Logits, o.LowResLogits);
        Assert.Equal(new long[] { 10, 4 }, o.IouPredictions.shape);
        (o.Logits.square().mean() + o.IouPredictions.sum() * 0.0).backward();

        foreach (var (name, p) in m.named_parameters())
        {
            var g = AdaptedSam.GroupOf(name);
            if (g == AdaptedSam.Groups.ImageEncoder) Assert.True(p.grad is null, $"frozen {name} got a gradient");
            else if (g is AdaptedSam.Groups.Fact or AdaptedSam.Groups.Adapters3D) Assert.True(p.grad is not null, $"{name} got no gradient");
            else if (name.StartsWith("mask_decoder.transformer.", StringComparison.Ordinal) || name.StartsWith("mask_decoder.output_", StringComparison.Ordinal))
                Assert.True(p.grad is not null, $"{name} got no gradient");
        }
        Assert.NotNull(m.prompt_encoder.no_mask_embed.weight.grad);
        // FacTv starts at zero, so it is the factor that receives a non-zero gradient first
        Assert.True(m.fact!.FacTv.weight.grad!.abs().sum().item() > 0);

        // (B, D, C, S, S) input and single-channel input give the same result
        using var _ = torch.no_grad();
        m.eval();
        var a = m.forward(x.narrow(1, 0, 1).contiguous().expand(-1, 3, -1, -1), 5).Logits;
        var b = m.forward(x.narrow(1, 0, 1).reshape(2, 5, 1, 128, 128)).Logits;
        Assert.True(torch.equal(a, b));
        Assert.Throws<ArgumentException>(() => m.forward(x, depth: 3));
        Assert.Throws<ArgumentException>(() => m.forward(torch.rand(5, 3, 64, 64), depth: 5));
    }

    [Fact]
    public void Samed_lora_returns_low_resolution_logits_and_their_bilinear_upsampling()
    {
        using var m = Lora(numClasses: 3);
        m.train();
        using var scope = DisposeScope.Begin();
        torch.manual_seed(12);
        var o = m.forward(torch.rand(4, 3, 128, 128), depth: 1);
        Assert.Equal(new long[] { 4, 4, 32, 32 }, o.LowResLogits.shape);
        Assert.Equal(new long[] { 4, 4, 128, 128 }, o.Logits.shape);
        Assert.True(torch.allclose(o.Logits, F.interpolate(o.LowResLogits, [128, 128], InterpolationMode.Bilinear, alignCorners: false), 0, 0));
        o.LowResLogits.square().mean().backward();
        foreach (var (name, p) in m.named_parameters())
            if (AdaptedSam.GroupOf(name) == AdaptedSam.Groups.ImageEncoder) Assert.True(p.grad is null, name);
            else if (AdaptedSam.GroupOf(name) == AdaptedSam.Groups.Lora) Assert.True(p.grad is not null, name);
    }

    [Fact]
    public void Sam_checkpoint_loads_into_the_base_and_the_kept_decoder_layers()
    {
        var ckpt = SamCheckpoint.ReadStateDict(Pth);
        using var m = MaSam(numClasses: 4);
        using var scope = DisposeScope.Begin();
        var sd = m.state_dict();
        string[] loaded =
        [
            "mask_decoder.output_upscaling.0.weight", "mask_decoder.output_upscaling.0.bias", "mask_decoder.output_upscaling.1.weight",
            "mask_decoder.output_upscaling.1.bias", "mask_decoder.output_upscaling.3.weight", "mask_decoder.output_upscaling.3.bias",
            "mask_decoder.iou_token.weight", "mask_decoder.transformer.layers.0.self_attn.q_proj.weight",
            "mask_decoder.transformer.norm_final_attn.weight", "prompt_encoder.no_mask_embed.weight",
            "prompt_encoder.pe_layer.positional_encoding_gaussian_matrix", "image_encoder.pos_embed",
            "image_encoder.blocks.1.attn.rel_pos_h", "image_encoder.blocks.3.attn.qkv.weight", "image_encoder.neck.0.weight",
        ];
        foreach (var k in loaded) Assert.True(torch.equal(ckpt[k].ToTensor(), sd[k]), k);
        // every base key the model shares with SAM took the checkpoint's value
        foreach (var (k, t) in sd)
            if (ckpt.TryGetValue(k, out var h) && h.Shape.SequenceEqual(t.shape) && !k.StartsWith("mask_decoder.mask_tokens") &&
                !k.StartsWith("mask_decoder.output_hypernetworks_mlps") && !k.StartsWith("mask_decoder.iou_prediction_head"))
                Assert.True(torch.equal(h.ToTensor(), t), k);
        // new layers are not SAM's
        Assert.Equal(new long[] { 5, 32 }, sd["mask_decoder.mask_tokens.weight"].shape);
        Assert.Contains("mask_decoder.output_upscaling.9.weight", sd.Keys);
        Assert.False(ckpt.ContainsKey("mask_decoder.output_upscaling.9.weight"));

        // another input size: positional tables resized exactly as for the plain SAM model
        using var small = MaSam(imageSize: 64);
        using var samSmall = SamCheckpoint.Load(Pth, SamTinyFixture.Config with { ImageSize = 64 });
        Assert.True(torch.equal(samSmall.image_encoder.pos_embed, small.image_encoder.pos_embed));
        Assert.True(torch.equal(samSmall.image_encoder.blocks[1].attn.rel_pos_h!, small.image_encoder.blocks[1].attn.rel_pos_h!));
        Assert.Equal(new long[] { 1, 4, 4, 48 }, small.image_encoder.pos_embed.shape);

        // strictness: a checkpoint without a base key is rejected, naming it
        var broken = ckpt.Where(kv => kv.Key != "image_encoder.neck.0.weight").ToDictionary(kv => kv.Key, kv => kv.Value);
        var e = Assert.Throws<InvalidDataException>(() => m.LoadSamWeights(broken));
        Assert.Contains("image_encoder.neck.0.weight", e.Message);
    }

    private static void Perturb(AdaptedSam m, int seed)
    {
        using var scope = DisposeScope.Begin();
        using var _ = torch.no_grad();
        torch.manual_seed((ulong)seed);
        foreach (var (_, p) in m.TrainableStateDict()) p.add_(torch.randn_like(p) * 0.02);
    }

    [Fact]
    public void Trainable_tensors_round_trip_through_safetensors_and_rebuild_the_same_model()
    {
        using var dir = TestPaths.NewTempDir();
        foreach (var cfg in new[]
                 {
                     new AdapterConfig { NumClasses = 3, FactRank = 8, AdapterBottleneck = 24, Slices = 5 },
                     new AdapterConfig { Method = AdaptMethod.Lora, NumClasses = 2, LoraRank = 3 },
                 })
        {
            using var m = AdaptedSam.FromSamCheckpoint(Pth, cfg, 64);
            Perturb(m, 7);
            var path = Path.Combine(dir.Path, $"{cfg.MethodName}.safetensors");
            m.SaveTrainable(path, new Dictionary<string, string> { ["base_checkpoint_sha256"] = "abc" });

            var (tensors, meta) = SafeTensors.Load(path);
            Assert.Equal(m.TrainableStateDict().Keys.Order(), tensors.Keys.Order());
            Assert.Equal(cfg.MethodName, meta[AdaptedSam.MetadataKeys.Method]);
            Assert.Equal("trainable", meta[AdaptedSam.MetadataKeys.Contents]);
            Assert.Equal("64", meta[AdaptedSam.MetadataKeys.ImageSize]);
            Assert.Equal(cfg.NumClasses.ToString(), meta[AdaptedSam.MetadataKeys.NumClasses]);
            Assert.Equal(cfg.Method == AdaptMethod.Lora ? "3" : "8", meta[AdaptedSam.MetadataKeys.Rank]);
            Assert.Equal("abc", meta["base_checkpoint_sha256"]);
            Assert.DoesNotContain(tensors.Keys, k => k.Contains(".attn.qkv.") || k == "image_encoder.pos_embed");

            using var rebuilt = AdaptedSam.Rebuild(path, Pth);
            Assert.Equal(cfg with { Upscaling = cfg.EffectiveUpscaling }, rebuilt.Config);
            Assert.Equal(m.Config, rebuilt.Config);
            Assert.Equal(m.SamConfig, rebuilt.SamConfig);
            using var scope = DisposeScope.Begin();
            using var _ = torch.no_grad();
            torch.manual_seed(8);
            var x = torch.rand(5, 3, 64, 64);
            Assert.True(torch.equal(m.forward(x, 5).Logits, rebuilt.forward(x, 5).Logits));
            foreach (var (k, t) in m.state_dict()) Assert.True(torch.equal(t, rebuilt.state_dict()[k]), k);

            Assert.Contains("base SAM checkpoint", Assert.Throws<ArgumentException>(() => AdaptedSam.Rebuild(path)).Message);
        }
    }

    [Fact]
    public void A_model_from_a_configuration_saves_and_rebuilds_from_its_full_state()
    {
        using var dir = TestPaths.NewTempDir();
        torch.manual_seed(31);
        using var m = AdaptedSam.FromConfig(SamTinyFixture.Config with { ImageSize = 64 }, new AdapterConfig { NumClasses = 2, AdapterBottleneck = 16 });
        var path = Path.Combine(dir.Path, "full.safetensors");
        m.SaveFull(path);
        using var rebuilt = AdaptedSam.Rebuild(path);
        Assert.Equal(m.FullStateDict().Keys, rebuilt.FullStateDict().Keys);
        using var scope = DisposeScope.Begin();
        using var _ = torch.no_grad();
        var x = torch.rand(10, 3, 64, 64);
        Assert.True(torch.equal(m.forward(x, 5).Logits, rebuilt.forward(x, 5).Logits));

        // a trainable-only file does not fit a model of another configuration
        using var other = AdaptedSam.FromConfig(SamTinyFixture.Config with { ImageSize = 64 }, new AdapterConfig { NumClasses = 3, AdapterBottleneck = 16 });
        Assert.Throws<InvalidDataException>(() => other.LoadTrainable(m.TrainableStateDict()));
    }

    [Fact]
    public void Configurations_round_trip_through_json()
    {
        var c = new AdapterConfig { Method = AdaptMethod.Lora, NumClasses = 12, Slices = 3, FactRank = 16, FactScale = 0.5, FactDropout = 0,
            UseFact = false, AdapterBottleneck = 128, LoraRank = 8, Upscaling = DecoderUpscaling.Progressive };
        Assert.Equal(c, AdapterConfig.FromJson(c.ToJson()));
        var d = new AdapterConfig();
        Assert.Equal(d with { Upscaling = DecoderUpscaling.Progressive }, AdapterConfig.FromJson(d.ToJson()));
        Assert.Equal(AdaptMethod.MaSam, AdapterConfig.ParseMethod("ma-sam"));
        Assert.Throws<FormatException>(() => AdapterConfig.FromJson("{\"rank\": 3}"));
        foreach (var s in new[] { SamConfig.VitB, SamConfig.VitH with { ImageSize = 512 }, SamTinyFixture.Config })
            Assert.Equal(s, SamConfig.FromJson(SamConfigJson.ToJson(s)));
    }

    [Fact]
    public void Tiny_forward_backward_timing()
    {
        using var m = MaSam(numClasses: 3);
        m.train();
        using var scope = DisposeScope.Begin();
        var x = torch.rand(10, 3, 128, 128);
        var sw = new System.Diagnostics.Stopwatch();
        double fwd = 0, bwd = 0;
        for (int i = 0; i < 3; i++)
        {
            using var s = DisposeScope.Begin();
            m.zero_grad();
            sw.Restart();
            var o = m.forward(x, 5);
            var loss = o.Logits.square().mean();
            double f = sw.Elapsed.TotalMilliseconds;
            sw.Restart();
            loss.backward();
            double b = sw.Elapsed.TotalMilliseconds;
            if (i > 0) { fwd += f / 2; bwd += b / 2; }
        }
        output.WriteLine($"sam-tiny MA-SAM, 2 stacks × 5 slices at 128², {torch.get_num_threads()} threads: forward {fwd:F0} ms, backward {bwd:F0} ms");
    }
}
