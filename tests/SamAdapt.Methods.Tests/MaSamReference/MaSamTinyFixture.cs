using System.Text.Json;
using SamAdapt.Imaging.Npy;
using SamAdapt.Sam;
using SamAdapt.Sam.Adapters;
using SamAdapt.Tests;
using SamAdapt.Torch;
using SamAdapt.Torch.Serialization;

namespace SamAdapt.Methods.Tests.MaSamReference;

/// <summary>
/// The ma-sam-tiny golden fixture (outputs of the reference MA-SAM code): its architecture read from config.json, the model loaded
/// from state_dict.safetensors through <see cref="MaSamReferenceKeys"/>, and the arrays. Every number comes from the fixture files.
/// </summary>
internal static class MaSamTinyFixture
{
    public const double Bound = FixtureArrays.Bound;

    public static string Path(params string[] parts) => TestPaths.Fixture(["ma-sam-tiny", .. parts]);

    public static JsonElement Json(params string[] parts)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path(parts)));
        return doc.RootElement.Clone();
    }

    /// <summary>
    /// The SAM architecture and the adaptation of config.json. Fields this port has no switch for must hold the values it implements
    /// (checked here, so a fixture with another architecture fails loudly instead of being compared against the wrong model).
    /// </summary>
    public static (SamConfig Sam, AdapterConfig Adapter) Config(double? factDropout = null)
    {
        var c = Json("config.json");
        int I(string n) => c.GetProperty(n).GetInt32();
        int[] Is(string n) => c.GetProperty(n).EnumerateArray().Select(e => e.GetInt32()).ToArray();
        float[] Fs(string n) => c.GetProperty(n).EnumerateArray().Select(e => e.GetSingle()).ToArray();
        int d = I("prompt_dim"), depth = I("depth");
        Assert.Equal(3, I("in_chans"));
        Assert.True(c.GetProperty("rel_pos").GetBoolean() && c.GetProperty("qkv_bias").GetBoolean());
        Assert.Equal(I("num_classes") + 1, I("num_mask_tokens"));
        Assert.Equal(new[] { d / 4, d / 8, d / 16, d / 32 }, Is("upscaling_channels")); // the progressive decoder's widths
        Assert.Equal(d / 32, I("hypernet_out"));
        Assert.Equal(new[] { 3, 1, 1 }, Is("adapter_kernel"));
        Assert.Equal(Enumerable.Range(0, depth).ToArray(), Is("fact_layers"));
        Assert.Equal(1e-6, c.GetProperty("ln_eps_encoder").GetDouble());
        Assert.Equal(1e-5, c.GetProperty("ln_eps_two_way_transformer").GetDouble());
        var sam = new SamConfig
        {
            ImageSize = I("img_size"), PatchSize = I("patch"), EncoderEmbedDim = I("embed"), EncoderDepth = depth, EncoderNumHeads = I("heads"),
            MlpRatio = c.GetProperty("mlp_ratio").GetDouble(), GlobalAttnIndexes = Is("global_idx"), WindowSize = I("window"),
            PromptEmbedDim = d, MaskInChans = I("mask_in_chans"), DecoderDepth = I("dec_depth"), DecoderMlpDim = I("dec_mlp"),
            DecoderNumHeads = I("dec_heads"), AttentionDownsampleRate = I("dec_attn_downsample"), IouHeadHiddenDim = I("iou_hidden"),
            IouHeadDepth = I("iou_depth"), NumMultimaskOutputs = I("num_classes"), PixelMean = Fs("pixel_mean"), PixelStd = Fs("pixel_std"),
        };
        var adapter = new AdapterConfig
        {
            Method = AdaptMethod.MaSam, NumClasses = I("num_classes"), FactRank = I("fact_rank"), FactScale = c.GetProperty("fact_scale").GetDouble(),
            FactDropout = factDropout ?? c.GetProperty("fact_dropout").GetDouble(), AdapterBottleneck = I("adapter_channels"),
            Upscaling = DecoderUpscaling.Progressive,
        };
        return (sam, adapter);
    }

    /// <summary>The fixture's full state dict (wrapped names), as stored.</summary>
    public static Dictionary<string, HostTensor> ReferenceStateDict() => SafeTensors.Load(Path("state_dict.safetensors")).Tensors;

    /// <summary>The reduced MA-SAM with the fixture's weights (every tensor, strictly), in eval mode.</summary>
    public static AdaptedSam LoadModel(double? factDropout = null)
    {
        var (sam, adapter) = Config(factDropout);
        var model = new AdaptedSam(sam, adapter);
        try
        {
            using var scope = DisposeScope.Begin();
            var renamed = MaSamReferenceKeys.Rename(ReferenceStateDict(), "state_dict.safetensors");
            model.load_state_dict(renamed.ToDictionary(kv => kv.Key, kv => kv.Value.ToTensor()), strict: true);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    public static NpyArray Npy(params string[] parts) => NpyFile.Read(Path(parts));

    public static Tensor Tensor(NpyArray a) => FixtureArrays.ToTensor(a);

    /// <summary>The (B·D, 3, S, S) images of a case and its B and D from manifest.json.</summary>
    public static (Tensor Images, int B, int D) CaseInput(string name)
    {
        var c = Json("manifest.json").GetProperty("cases").GetProperty(name);
        var images = Tensor(Npy(c.GetProperty("files").GetProperty("images").GetString()!));
        return (images, c.GetProperty("B").GetInt32(), c.GetProperty("D").GetInt32());
    }

    public static double RelativeError(float[] actual, float[] expected) => FixtureArrays.RelativeError(actual, expected);

    public static double AssertClose(string what, Tensor actual, NpyArray expected, Action<string>? log = null) =>
        FixtureArrays.AssertClose(what, actual, expected, log);

    public static double AssertClose(string what, float[] actual, long[] actualShape, float[] expected, long[] expectedShape, Action<string>? log = null) =>
        FixtureArrays.AssertClose(what, actual, actualShape, expected, expectedShape, log);
}
