using SamAdapt.Inference;
using SamAdapt.Methods.MaskSam;
using SamAdapt.Tests;
using SamAdapt.Torch;
using Xunit.Abstractions;
using static SamAdapt.Methods.Tests.MaskSam.MaskSamTinyFixture;

namespace SamAdapt.Methods.Tests.MaskSam;

/// <summary>
/// <c>import masksam</c>: the reference network of masksam-tiny (its state dict, reference key names) becomes a run folder whose
/// model, loaded as predict loads it, reproduces the reference's semantic output (normalised) and its argmax.
/// </summary>
public class MaskSamImportTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDir _tmp = TestPaths.NewTempDir();
    public void Dispose() => _tmp.Dispose();

    private string SamConfigFile()
    {
        // the decoder's heads cannot be read from shapes: the reduced SAM's architecture comes as a configuration file
        var c = Json("config.json");
        var keys = new[] { "img_size", "patch", "embed", "depth", "heads", "global_idx", "window", "prompt_dim", "mask_in_chans", "dec_mlp", "dec_heads", "iou_hidden" };
        var path = _tmp.File("sam.json");
        File.WriteAllText(path, "{" + string.Join(", ", keys.Select(k => $"\"{k}\": {c.GetProperty(k).GetRawText()}")) + "}");
        return path;
    }

    [Fact]
    public void The_reference_network_imports_into_a_run_that_predicts_its_semantic_output()
    {
        var run = _tmp.File("run");
        var log = new StringWriter();
        var result = MethodRegistry.GetImportable("masksam").Import(new ImportSettings
        {
            Trained = Path("state_dict.safetensors"), Base = "", OutDir = run, ImageSize = Config("H"), SamConfigFile = SamConfigFile(),
        }, log);
        output.WriteLine(log.ToString());
        Assert.Equal(Config("num_classes"), result.ClassNames.Count);

        using var loaded = RunLoader.Load(run, RunWeights.Last, Device.CPU);
        var seg = loaded.Model.Semantic!;
        seg.PrepareForInference();
        using var scope = DisposeScope.Begin();
        using var _ = torch.no_grad();
        int t = Config("T"), s = Config("H");
        var images = Tensor("input").view(t, 1, s, s).expand(-1, 3, -1, -1);      // (T, 3, S, S), channel 0 is the image
        var probs = SamAdapt.Torch.NN.F.softmax(seg.ClassLogits(images, t), 1);                  // (T, K, S, S)
        var semseg = Tensor("forward/semseg").select(0, 0).permute(1, 0, 2, 3);   // (T, K, S, S)
        var normalised = semseg / semseg.sum(1, keepdim: true);
        AssertClose("normalised semseg", probs, normalised.contiguous(), output.WriteLine);
        Assert.Equal(Npy("forward/semseg_argmax").AsInt64(), probs.argmax(1).ToArray<long>());
    }

    private static void AssertClose(string what, Tensor a, Tensor b, Action<string> log) =>
        MaskSamTinyFixture.AssertClose(what, a.to(DType.Float64).contiguous().ToArray<double>(), b.to(DType.Float64).contiguous().ToArray<double>(), log);

    [Fact]
    public void A_file_that_is_not_a_masksam_network_is_refused_by_name()
    {
        var e = Assert.Throws<InvalidDataException>(() => MaskSamImport.Import(new ImportSettings
        {
            Trained = TestPaths.Fixture("ma-sam-tiny", "state_dict.safetensors"), Base = "", OutDir = _tmp.File("bad"),
        }));
        Assert.Contains("not a MaskSAM network", e.Message);
    }
}
