using System.CommandLine;
using SamAdapt.Cli.Commands;
using SamAdapt.Inference;
using SamAdapt.Methods.Msa;
using SamAdapt.Sam.Adapters;
using SamAdapt.Tests;
using SamAdapt.Torch;
using SamAdapt.Torch.NN;
using SamAdapt.Torch.Serialization;
using Xunit.Abstractions;
using static SamAdapt.Methods.Tests.MsaReference.MsaTinyFixture;

namespace SamAdapt.Methods.Tests.MsaReference;

/// <summary>
/// `samadapt import msa --state-dict FILE --base SAM --out RUN` on the fixture's reference-layout state dict: the run folder, rebuilt through
/// predict's loader, reproduces the reference outputs of every variant; a SAM checkpoint given as --state-dict is one clear error.
/// </summary>
public class MsaImportTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDir _tmp = TestPaths.NewTempDir();
    public void Dispose() => _tmp.Dispose();

    /// <summary>A SAM-named base: the fixture's tensors without adapters, with the decoder zeroed so outputs only match if the import takes the file's.</summary>
    private string WriteBase(string variant)
    {
        var sam = new Dictionary<string, HostTensor>();
        foreach (var (k, t) in ReferenceStateDict(variant))
        {
            if (k.Contains("_Adapter.", StringComparison.Ordinal)) continue;
            var ours = MsaReferenceKeys.Rename(k);
            sam[ours] = ours.StartsWith("mask_decoder.", StringComparison.Ordinal) ? HostTensor.Zeros(t.DType, t.Shape) : t;
        }
        var path = _tmp.File($"sam_base_{variant}.pth");
        PthWriter.Save(path, sam);
        return path;
    }

    /// <summary>The reference state dict as the reference saves it (a .pth file).</summary>
    private string WriteStateDict(string variant)
    {
        var path = _tmp.File($"msa_{variant}.pth");
        PthWriter.Save(path, ReferenceStateDict(variant));
        return path;
    }

    private string WriteSamConfig(string variant)
    {
        var path = _tmp.File($"sam_config_{variant}.json");
        File.WriteAllText(path, SamConfigJson.ToJson(SamConfigOf(variant)));
        return path;
    }

    private static (int Code, string Out) Invoke(params string[] args)
    {
        var root = new RootCommand { new ImportCommand().Build() };
        var sw = new StringWriter();
        int code = root.Parse(args).Invoke(new InvocationConfiguration { Output = sw, Error = new StringWriter(), EnableDefaultExceptionHandler = false });
        return (code, sw.ToString());
    }

    [Theory]
    [InlineData("2d")]
    [InlineData("3d_windowed")]
    [InlineData("3d_all_global")]
    public void Imported_state_dict_reproduces_the_reference_through_predicts_loader(string variant)
    {
        var run = _tmp.File($"run_{variant}");
        var (code, text) = Invoke("import", "msa", "--state-dict", WriteStateDict(variant), "--base", WriteBase(variant), "--out", run,
            "--image-size", SamConfigOf(variant).ImageSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--slices", Chunk(variant).ToString(System.Globalization.CultureInfo.InvariantCulture), "--sam-config", WriteSamConfig(variant), "--classes", "organ");
        output.WriteLine(text);
        Assert.Equal(0, code);
        using var loaded = RunLoader.Load(run, RunWeights.Best, Device.CPU);
        Assert.Equal("msa", loaded.Model.Method);
        Assert.Equal(["background", "organ"], loaded.Model.ClassNames);
        var model = Assert.IsType<MsaSam>(loaded.Model.Promptable);
        using var _ = torch.no_grad();
        using var scope = DisposeScope.Begin();
        var images = Tensor(Npy(Images(variant)));
        var emb = model.EmbedImages(images);
        AssertClose($"{variant} embeddings", emb, Npy(variant, "image_embeddings.npy"), output.WriteLine);
        foreach (var c in Variant(variant).GetProperty("cases").EnumerateObject().Select(c => c.Name))
        {
            var (coords, labels, boxes) = Prompts(Path(variant, c), images.size(0));
            var o = model.Decode(emb, coords, labels, boxes);
            AssertClose($"{variant}/{c} masks_out", F.interpolate(o.LowResLogits, [OutSize, OutSize]), Npy(variant, c, "masks_out.npy"), output.WriteLine);
        }
    }

    [Fact]
    public void A_SAM_checkpoint_as_state_dict_is_one_clear_error()
    {
        var baseCkpt = WriteBase("2d");
        var e = Assert.Throws<InvalidDataException>(() => Invoke("import", "msa", "--state-dict", baseCkpt, "--base", baseCkpt, "--out", _tmp.File("r"),
            "--image-size", "128", "--sam-config", WriteSamConfig("2d")));
        Assert.Contains("not a Medical SAM Adapter state dict", e.Message);
        Assert.Contains(baseCkpt, e.Message);
        Assert.False(File.Exists(System.IO.Path.Combine(_tmp.File("r"), "config.yaml")));
    }
}
