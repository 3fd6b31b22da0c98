using System.Text.Json;
using SamAdapt.Imaging.Npy;
using SamAdapt.Methods.Msa;
using SamAdapt.Sam;
using SamAdapt.Tests;
using SamAdapt.Torch;
using SamAdapt.Torch.Serialization;

namespace SamAdapt.Methods.Tests.MsaReference;

/// <summary>
/// The msa-tiny golden fixture (outputs of the released Medical SAM Adapter code): the architecture from config.json and manifest.json,
/// the model of each variant (2d, 3d_windowed, 3d_all_global) loaded from the reference-layout state dict through
/// <see cref="MsaReferenceKeys"/>, and the arrays. Every number comes from the fixture files.
/// </summary>
internal static class MsaTinyFixture
{
    public const double Bound = FixtureArrays.Bound;

    public static readonly string[] Variants = ["2d", "3d_windowed", "3d_all_global"];

    public static string Path(params string[] parts) => TestPaths.Fixture(["msa-tiny", .. parts]);

    public static JsonElement Json(params string[] parts)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path(parts)));
        return doc.RootElement.Clone();
    }

    public static JsonElement Variant(string variant) => Json("manifest.json").GetProperty("variants").GetProperty(variant);

    /// <summary>The SAM architecture of config.json with the variant's global blocks.</summary>
    public static SamConfig SamConfigOf(string variant)
    {
        var c = Json("config.json");
        int I(string n) => c.GetProperty(n).GetInt32();
        var v = Variant(variant);
        return new SamConfig
        {
            ImageSize = I("img_size"), PatchSize = I("patch"), EncoderEmbedDim = I("embed"), EncoderDepth = I("depth"), EncoderNumHeads = I("heads"),
            MlpRatio = c.GetProperty("mlp_ratio").GetDouble(), WindowSize = I("window"),
            GlobalAttnIndexes = v.GetProperty("global_attn_indexes").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
            PromptEmbedDim = I("prompt_dim"), MaskInChans = I("mask_in_chans"), DecoderDepth = I("dec_depth"), DecoderMlpDim = I("dec_mlp"),
            DecoderNumHeads = I("dec_heads"), IouHeadHiddenDim = I("iou_hidden"),
        };
    }

    public static int OutSize => Json("config.json").GetProperty("out_size").GetInt32();
    public static bool IsVolume(string variant) => Variant(variant).GetProperty("thd").GetBoolean();
    public static int Chunk(string variant) => IsVolume(variant) ? Variant(variant).GetProperty("chunk").GetInt32() : 1;
    public static string Images(string variant) => Variant(variant).GetProperty("images").GetString()!;

    /// <summary>
    /// The options reproducing the variant: the depth branch for the 3D ones; the reference's windowing where the variant has windowed blocks
    /// (<paramref name="referenceWindowing"/> null), else as given (3d_all_global has none, so it runs with the per-token default).
    /// </summary>
    public static MsaOptions Options(string variant, bool? referenceWindowing = null)
    {
        var c = Json("config.json");
        bool windowed = SamConfigOf(variant).GlobalAttnIndexes.Length < SamConfigOf(variant).EncoderDepth;
        return new MsaOptions
        {
            AdapterRatio = c.GetProperty("adapter_mlp_ratio").GetDouble(), DepthBranch = IsVolume(variant), Slices = Chunk(variant),
            ReferenceWindowing = referenceWindowing ?? windowed, ReferenceDecoder = true,
        };
    }

    /// <summary>The variant's reference state dict (base file plus its overrides).</summary>
    public static Dictionary<string, HostTensor> ReferenceStateDict(string variant)
    {
        var sd = new Dictionary<string, HostTensor>();
        foreach (var f in Variant(variant).GetProperty("state_dict").EnumerateArray())
            foreach (var (k, t) in SafeTensors.Load(Path(f.GetString()!)).Tensors) sd[k] = t;
        return sd;
    }

    /// <summary>The model of <paramref name="variant"/> with the fixture's weights, strictly (a 2D model has no depth branch: the
    /// reference's unused Depth_Adapter tensors are the only ones left out).</summary>
    public static MsaSam LoadModel(string variant, bool? referenceWindowing = null)
    {
        var model = new MsaSam(SamConfigOf(variant), Options(variant, referenceWindowing));
        try
        {
            using var scope = DisposeScope.Begin();
            var sd = MsaReferenceKeys.ToOurs(ReferenceStateDict(variant), model.SamConfig.ImageEmbeddingSize, "msa-tiny");
            if (!model.Options.DepthBranch)
                foreach (var k in sd.Keys.Where(k => k.Contains(".Depth_Adapter.", StringComparison.Ordinal)).ToList()) sd.Remove(k);
            model.load_state_dict(sd, strict: true);
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

    /// <summary>A float32 tensor of any stored dtype (u8 labels, i32 point labels).</summary>
    public static Tensor Float(NpyArray a) => a.DType == NpyDType.Float32 ? Tensor(a) : Tensor(a).to(DType.Float32);

    public static double RelativeError(float[] actual, float[] expected) => FixtureArrays.RelativeError(actual, expected);

    public static double AssertClose(string what, Tensor actual, NpyArray expected, Action<string>? log = null) =>
        FixtureArrays.AssertClose(what, actual, expected, log);

    public static double AssertClose(string what, float[] actual, long[] actualShape, float[] expected, long[] expectedShape, Action<string>? log = null) =>
        FixtureArrays.AssertClose(what, actual, actualShape, expected, expectedShape, log);

    public static void AssertScalarClose(string what, double actual, double expected, Action<string> log)
    {
        double rel = Math.Abs(actual - expected) / Math.Max(Math.Abs(expected), 1e-30);
        log($"{what}: {actual:R} vs {expected:R} (rel {rel:E2})");
        Assert.True(rel <= Bound, $"{what}: {actual} vs reference {expected} (relative error {rel:E3})");
    }

    /// <summary>
    /// The prompts of a case folder as one prompt row per image: the "click_as_their_code" layout (1, N, 2) — one set holding every
    /// image's click, broadcast by the reference to all N images — is tiled to (N, N, 2); the others are already per image.
    /// </summary>
    public static (Tensor? Coords, Tensor? Labels, Tensor? Boxes) Prompts(string folder, long n)
    {
        Tensor? coords = null, labels = null, boxes = null;
        if (File.Exists(Path(folder, "point_coords.npy")))
        {
            coords = Tensor(Npy(folder, "point_coords.npy"));
            labels = Float(Npy(folder, "point_labels.npy"));
            if (coords.size(0) == 1 && n > 1)
            {
                coords = coords.expand(n, -1, -1).contiguous();
                labels = labels.expand(n, -1).contiguous();
            }
        }
        if (File.Exists(Path(folder, "boxes.npy"))) boxes = Tensor(Npy(folder, "boxes.npy"));
        return (coords, labels, boxes);
    }
}
