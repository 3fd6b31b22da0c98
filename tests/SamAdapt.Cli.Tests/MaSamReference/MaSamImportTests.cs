using System.CommandLine;
using System.Diagnostics;
using System.IO.Compression;
using SamAdapt.Cli.Commands;
using SamAdapt.Imaging;
using SamAdapt.Imaging.Nifti;
using SamAdapt.Sam.Adapters;
using SamAdapt.Tests;
using SamAdapt.Torch;
using SamAdapt.Torch.Serialization;
using SamAdapt.Inference;
using SamAdapt.Methods.MaSam;
using Xunit.Abstractions;
using static SamAdapt.Methods.Tests.MaSamReference.MaSamTinyFixture;

namespace SamAdapt.Methods.Tests.MaSamReference;

/// <summary>
/// `samadapt import ma-sam` on the fixture's trained_params.pth (the reference's released-checkpoint layout) plus a SAM checkpoint made of
/// the fixture's frozen encoder: the run folder rebuilds (through predict's own loader) a model that reproduces the reference outputs,
/// also from a copy whose storages say cuda:0; `predict --run` segments a volume with it; bad inputs give one clear error.
/// </summary>
public class MaSamImportTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDir _tmp = TestPaths.NewTempDir();
    public void Dispose() => _tmp.Dispose();

    /// <summary>
    /// A plain-SAM-named checkpoint: the frozen encoder tensors of state_dict.safetensors (those the reference does not save), and the prompt
    /// encoder and SAM's decoder layers set to zero, so that the outputs can only match if the import takes those from the trained file.
    /// </summary>
    private string WriteBase()
    {
        var renamed = MaSamReferenceKeys.Rename(ReferenceStateDict());
        var sam = new Dictionary<string, HostTensor>();
        foreach (var (k, t) in renamed)
        {
            if (MaSamReferenceKeys.ToTrainedParams(k) is null) sam[k] = t;
            else if (k.StartsWith("prompt_encoder.", StringComparison.Ordinal) ||
                     (k.StartsWith("mask_decoder.", StringComparison.Ordinal) && MultiClassMaskDecoder.LoadsFromSam(k["mask_decoder.".Length..])) ||
                     k.StartsWith("mask_decoder.mask_tokens.", StringComparison.Ordinal) || k.StartsWith("mask_decoder.iou_prediction_head.", StringComparison.Ordinal) ||
                     k.StartsWith("mask_decoder.output_hypernetworks_mlps.", StringComparison.Ordinal))
                sam[k] = HostTensor.Zeros(t.DType, t.Shape);
        }
        Assert.DoesNotContain(sam.Keys, k => k.Contains("adapter", StringComparison.Ordinal) || k.Contains("fact", StringComparison.Ordinal));
        var path = _tmp.File("sam_base.pth");
        PthWriter.Save(path, sam);
        return path;
    }

    /// <summary>The fixture's SAM architecture as a --sam-config file (the decoder's head count is not in a checkpoint's shapes).</summary>
    private string WriteSamConfig()
    {
        var path = _tmp.File("sam_config.json");
        File.WriteAllText(path, SamConfigJson.ToJson(Config().Sam));
        return path;
    }

    /// <summary>A copy of trained_params.pth whose storages carry the location a GPU-saved file has ('cuda:0'), everything else byte-identical.</summary>
    private string CudaCopy()
    {
        var path = _tmp.File("trained_params_cuda.pth");
        using (var src = ZipFile.OpenRead(Path("trained_params.pth")))
        using (var fs = File.Create(path))
        {
            using var zw = new ZipArchive(fs, ZipArchiveMode.Create);
            int replaced = 0;
            foreach (var e in src.Entries)
            {
                using var ms = new MemoryStream();
                using (var s = e.Open()) s.CopyTo(ms);
                var bytes = ms.ToArray();
                if (e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal))
                    bytes = ReplaceAll(bytes, "X\x03\0\0\0cpu"u8.ToArray(), "X\x06\0\0\0cuda:0"u8.ToArray(), out replaced);
                using var w = zw.CreateEntry(e.FullName, CompressionLevel.NoCompression).Open();
                w.Write(bytes);
            }
            Assert.True(replaced > 0, "the fixture's data.pkl has no 'cpu' location string to rewrite");
        }
        return path;
    }

    private static byte[] ReplaceAll(byte[] data, byte[] from, byte[] to, out int count)
    {
        var result = new List<byte>(data.Length + 16);
        count = 0;
        for (int i = 0; i < data.Length;)
        {
            if (i + from.Length <= data.Length && data.AsSpan(i, from.Length).SequenceEqual(from)) { result.AddRange(to); i += from.Length; count++; }
            else result.Add(data[i++]);
        }
        return [.. result];
    }

    private static (int Code, string Out) Invoke(params string[] args)
    {
        var root = new RootCommand { new ImportCommand().Build(), new PredictCommand().Build() };
        var sw = new StringWriter();
        int code = root.Parse(args).Invoke(new InvocationConfiguration { Output = sw, Error = new StringWriter(), EnableDefaultExceptionHandler = false });
        return (code, sw.ToString());
    }

    private string ImportRun(string trained, string baseCkpt, string name, params string[] extra)
    {
        var run = _tmp.File(name);
        var (code, text) = Invoke(["import", "ma-sam", "--trained", trained, "--base", baseCkpt, "--out", run, "--image-size",
            Config().Sam.ImageSize.ToString(System.Globalization.CultureInfo.InvariantCulture), "--sam-config", WriteSamConfig(), .. extra]);
        output.WriteLine(text);
        Assert.Equal(0, code);
        return run;
    }

    private void AssertReproducesFixture(string run)
    {
        using var loaded = RunLoader.Load(run, RunWeights.Best, Device.CPU);
        var model = (AdaptedSam)loaded.Model.Semantic!;
        foreach (var name in Json("manifest.json").GetProperty("cases").EnumerateObject()
                     .Where(c => c.Value.GetProperty("kind").GetString() == "forward").Select(c => c.Name))
        {
            using var scope = DisposeScope.Begin();
            using var _ = torch.no_grad();
            var (images, b, d) = CaseInput(name);
            var files = Json("manifest.json").GetProperty("cases").GetProperty(name).GetProperty("files");
            var o = model.forward(images, d);
            AssertClose($"{name} masks", o.Logits, Npy(files.GetProperty("masks").GetString()!), output.WriteLine);
            AssertClose($"{name} iou_predictions", o.IouPredictions, Npy(files.GetProperty("iou_predictions").GetString()!), output.WriteLine);
        }
    }

    [Fact]
    public void Imported_release_reproduces_the_reference_outputs_through_predicts_loader()
    {
        var names = Enumerable.Range(1, Config().Adapter.NumClasses).Select(i => $"organ{i}").ToList();
        var run = ImportRun(Path("trained_params.pth"), WriteBase(), "run", "--classes", string.Join(",", names));
        Assert.True(File.Exists(System.IO.Path.Combine(run, "config.yaml")));
        using (var loaded = RunLoader.Load(run, RunWeights.Last, Device.CPU))
        {
            var model = (AdaptedSam)loaded.Model.Semantic!;
            Assert.Equal(["background", .. names], loaded.Model.ClassNames);
            Assert.Equal(Config().Adapter.FactRank, model.Config.FactRank);
            Assert.Equal(Config().Adapter.AdapterBottleneck, model.Config.AdapterBottleneck);
        }
        AssertReproducesFixture(run);
    }

    [Fact]
    public void A_file_saved_on_a_gpu_imports_on_the_cpu()
    {
        var cuda = CudaCopy();
        var root = PthReader.Load(cuda);
        var sd = PthReader.FindStateDict(root, cuda);
        Assert.Contains(sd.Values, t => t.Storage?.Location == "cuda:0");
        AssertReproducesFixture(ImportRun(cuda, WriteBase(), "run_cuda"));
    }

    [Fact]
    public void Predict_segments_a_volume_with_the_imported_run()
    {
        var run = ImportRun(Path("trained_params.pth"), WriteBase(), "run");
        int ni = 40, nj = 36, nk = 4;
        var rng = new Random(5);
        var img = new short[ni * nj * nk];
        for (int i = 0; i < img.Length; i++) img[i] = (short)rng.Next(-300, 300);
        var input = _tmp.File("case_0000.nii.gz");
        NiftiWriter.Write(new Volume([ni, nj, nk], VoxelType.Int16, img, [1.5, 0, 0, 0, 0, 1.5, 0, 0, 0, 0, 4, 0, 0, 0, 0, 1]), input);
        var outFile = _tmp.File("pred.nii.gz");
        var (code, _) = Invoke("predict", "--run", run, "--input", input, "--out", outFile);
        Assert.Equal(0, code);
        var pred = VolumeIO.Read(outFile);
        Assert.Equal(new[] { ni, nj, nk }, pred.Shape);
        var classes = Config().Adapter.NumClasses;
        Assert.All(pred.ToFloat64(), v => Assert.InRange(v, 0, classes));
    }

    [Fact]
    public void Missing_key_names_the_reference_key()
    {
        var path = _tmp.File("missing.pth");
        var sd = PthReader.LoadStateDict(Path("trained_params.pth"));
        sd.Remove("v_FacTs_002");
        PthWriter.Save(path, sd);
        var e = Assert.Throws<InvalidDataException>(() => Invoke("import", "ma-sam", "--trained", path, "--base", WriteBase(), "--out", _tmp.File("r"),
            "--image-size", Config().Sam.ImageSize.ToString(System.Globalization.CultureInfo.InvariantCulture), "--sam-config", WriteSamConfig()));
        output.WriteLine(e.Message);
        Assert.Contains("'v_FacTs_002' (image_encoder.blocks.2.attn.fact.v_FacTs.weight)", e.Message);
        Assert.Contains(path, e.Message);
        Assert.False(Directory.Exists(_tmp.File("r")), "a failed import must not leave a run folder");
    }

    [Fact]
    public void Shape_mismatch_names_key_and_both_shapes()
    {
        var path = _tmp.File("shape.pth");
        var sd = PthReader.LoadStateDict(Path("trained_params.pth"));
        const string key = "image_encoder.ImageEncoderViT.blocks.1.Block.adapter_conv_2.bias";
        var t = sd[key];
        sd[key] = HostTensor.Zeros(t.DType, t.Shape[0] + 1);
        PthWriter.Save(path, sd);
        var e = Assert.Throws<InvalidDataException>(() => Invoke("import", "ma-sam", "--trained", path, "--base", WriteBase(), "--out", _tmp.File("r"),
            "--image-size", Config().Sam.ImageSize.ToString(System.Globalization.CultureInfo.InvariantCulture), "--sam-config", WriteSamConfig()));
        output.WriteLine(e.Message);
        Assert.Contains($"'{key}' (image_encoder.blocks.1.adapter_2.conv.bias) has shape [{t.Shape[0] + 1}] in the file, the model expects [{t.Shape[0]}]", e.Message);
    }

    [Fact]
    public void A_sam_checkpoint_given_as_trained_file_is_refused()
    {
        var baseCkpt = WriteBase();
        var e = Assert.Throws<InvalidDataException>(() => Invoke("import", "ma-sam", "--trained", baseCkpt, "--base", baseCkpt, "--out", _tmp.File("r")));
        Assert.Contains("not an MA-SAM saved-parameters file", e.Message);
        var e2 = Assert.Throws<ArgumentException>(() => Invoke("import", "ma-sam", "--trained", Path("trained_params.pth"), "--base", baseCkpt,
            "--out", _tmp.File("r"), "--image-size", Config().Sam.ImageSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--sam-config", WriteSamConfig(), "--classes", "a,b"));
        Assert.Contains("--classes: 2 name(s) given", e2.Message);
    }

    [Fact]
    public void Wrong_file_type_exits_2_with_one_line()
    {
        var notPth = _tmp.File("notes.txt");
        File.WriteAllText(notPth, "not a checkpoint");
        var dll = System.IO.Path.Combine(AppContext.BaseDirectory, "samadapt.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var s in new[] { dll, "import", "ma-sam", "--trained", notPth, "--base", Path("state_dict.safetensors"), "--out", _tmp.File("r") }) psi.ArgumentList.Add(s);
        using var p = Process.Start(psi)!;
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        output.WriteLine(stderr);
        Assert.Equal(2, p.ExitCode);
        Assert.StartsWith("samadapt: error: ", stderr);
        Assert.Contains(notPth, stderr);
        Assert.DoesNotContain("   at ", stderr);
    }
}
