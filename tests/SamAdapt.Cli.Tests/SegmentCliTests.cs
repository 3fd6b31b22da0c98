using System.CommandLine;
using System.Text.Json;
using SamAdapt.Cli;
using SamAdapt.Cli.Commands;
using SamAdapt.Imaging;
using SamAdapt.Imaging.Images2D;
using SamAdapt.Imaging.Nifti;
using SamAdapt.Imaging.Npy;
using SamAdapt.Sam.Tests.Modeling;
using SamAdapt.Tests;
using Xunit.Abstractions;
using static SamAdapt.Sam.Tests.Modeling.SamTinyFixture;

namespace SamAdapt.Cli.Tests;

/// <summary>
/// `samadapt segment` end to end on the sam-tiny fixture: the same parity as the library (npy in, npy out) for every case and both
/// checkpoint files, PNG and NIfTI-slice inputs against the npy result, the automatic mode, and the error contract (exit 2, nothing written).
/// </summary>
public class SegmentCliTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDir _tmp = TestPaths.NewTempDir();
    public void Dispose() => _tmp.Dispose();

    /// <summary>Runs the verb in-process like Program.cs does; returns (exit code, stdout + stderr). Exceptions propagate.</summary>
    private static (int Code, string Out) Invoke(params string[] args)
    {
        var cmd = new SegmentCommand().Build();
        var root = new RootCommand { cmd };
        var sw = new StringWriter();
        int code = root.Parse([cmd.Name, .. args]).Invoke(new InvocationConfiguration { Output = sw, Error = sw, EnableDefaultExceptionHandler = false });
        return (code, sw.ToString());
    }

    /// <summary>Runs samadapt's real entry point (Program.cs, with its error handling) in-process; returns the exit code.</summary>
    private static int RunProgram(params string[] args)
    {
        var entry = typeof(SegmentCommand).Assembly.EntryPoint!;
        var err = Console.Error;
        Console.SetError(new StringWriter());
        try { return (int)entry.Invoke(null, [args])!; }
        finally { Console.SetError(err); }
    }

    private static string[] PromptArgs(string name)
    {
        var p = SamTinyFixture.CasePrompt(name);
        var args = new List<string>();
        for (int i = 0; i < p.PointCount; i++)
            args.AddRange(["--point", $"{p.PointCoords![2 * i]:R},{p.PointCoords[2 * i + 1]:R},{p.PointLabels![i]}"]);
        if (p.Box is { } b) args.AddRange(["--box", string.Join(",", b.Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture)))]);
        if (p.MaskInput is not null) args.AddRange(["--mask-input", Path(name, "mask_input.npy")]);
        return args.ToArray();
    }

    private double Compare(string what, string actualPath, NpyArray expected)
    {
        var a = NpyFile.Read(actualPath);
        Assert.Equal(NpyDType.Float32, a.DType);
        Assert.Equal(expected.Shape, a.Shape);
        double rel = RelativeError(a.AsFloat32(), expected.AsFloat32());
        output.WriteLine($"{what}: rel {rel:E2}");
        Assert.True(rel <= 1e-4, $"{what}: relative error {rel:E3} exceeds 1e-4");
        return rel;
    }

    public static TheoryData<string, string> Models => new()
    {
        { "checkpoint.pth", "auto" },            // config.json beside the checkpoint
        { "checkpoint.safetensors", "config" },  // --model CONFIG.json
    };

    [Theory]
    [MemberData(nameof(Models))]
    public void Npy_in_npy_out_matches_the_reference_for_every_case(string checkpoint, string model)
    {
        foreach (var (name, multimask) in Cases())
        {
            string outMask = _tmp.File($"{name}-mask.npy"), logits = _tmp.File($"{name}-logits.npy"), low = _tmp.File($"{name}-low.npy"), iou = _tmp.File($"{name}-iou.npy");
            var args = new List<string>
            {
                "--checkpoint", Path(checkpoint), "--model", model == "auto" ? "auto" : Path("config.json"), "--image", Path("image.npy"),
                "--out", outMask, "--logits", logits, "--low-res-logits", low, "--iou", iou,
            };
            args.AddRange(PromptArgs(name));
            if (multimask) args.Add("--multimask");
            var (code, text) = Invoke([.. args]);
            Assert.Equal(0, code);
            output.WriteLine(text.Trim());
            Compare($"cli {checkpoint} {name} masks_logits", logits, Npy(name, "masks_logits.npy"));
            Compare($"cli {checkpoint} {name} iou_predictions", iou, Npy(name, "iou_predictions.npy"));
            Compare($"cli {checkpoint} {name} low_res_logits", low, Npy(name, "low_res_logits.npy"));
            var masks = NpyFile.Read(outMask);
            Assert.Equal(NpyDType.Bool, masks.DType);
            Assert.Equal(Npy(name, "masks_logits.npy").Shape, masks.Shape);
            Assert.Equal(NpyFile.Read(logits).AsFloat32().Select(v => v > 0).ToArray(), masks.ToArray<bool>());
        }
    }

    [Fact]
    public void Png_and_nifti_slice_inputs_give_the_npy_result()
    {
        var (px, h, w) = SamTinyFixture.FixtureImage();
        string[] common = ["--checkpoint", Path("checkpoint.pth"), "--point", "90,40", "--point", "15,90,0", "--box", "60,20,120,60", "--multimask"];

        // PNG: the same RGB bytes → identical outputs
        var png = _tmp.File("image.png");
        ImageFile.WriteRgbPng(png, w, h, px);
        Invoke([.. common, "--image", Path("image.npy"), "--out", _tmp.File("a.npy"), "--logits", _tmp.File("a-logits.npy")]);
        Invoke([.. common, "--image", png, "--out", _tmp.File("b.png"), "--logits", _tmp.File("b-logits.npy")]);
        Assert.Equal(NpyFile.Read(_tmp.File("a-logits.npy")).Data, NpyFile.Read(_tmp.File("b-logits.npy")).Data);
        var maskPng = ImageFile.Read(_tmp.File("b.png"));
        Assert.Equal((w, h, 1), (maskPng.Width, maskPng.Height, maskPng.Channels));
        Assert.All(maskPng.Pixels8!, v => Assert.True(v is 0 or 255));

        // NIfTI: a uint8 volume holding the grey image as slice 1 of 3 along z (x = i, y = j) → identical to the grey .npy input
        var grey = Enumerable.Range(0, h * w).Select(i => px[3 * i + 1]).ToArray();
        var greyNpy = _tmp.File("grey.npy");
        NpyFile.Write(greyNpy, NpyArray.FromArray(grey, h, w));
        var data = new byte[w * h * 3];
        var rng = new Random(2);
        rng.NextBytes(data);
        Array.Copy(grey, 0, data, w * h, w * h);
        double[] affine = [-0.8, 0, 0, 40, 0, 0.8, 0, -30, 0, 0, 2.5, 7, 0, 0, 0, 1];
        var nii = _tmp.File("volume.nii.gz");
        NiftiWriter.Write(new Volume([w, h, 3], VoxelType.UInt8, data, affine), nii);
        Invoke([.. common, "--image", greyNpy, "--out", _tmp.File("c.npy"), "--logits", _tmp.File("c-logits.npy")]);
        var (code, text) = Invoke([.. common, "--image", nii, "--slice", "1", "--out", _tmp.File("d.nii.gz"), "--logits", _tmp.File("d-logits.npy")]);
        Assert.Equal(0, code);
        Assert.Contains("uint8 as stored", text);
        Assert.Equal(NpyFile.Read(_tmp.File("c-logits.npy")).Data, NpyFile.Read(_tmp.File("d-logits.npy")).Data);
        // the mask volume overlays the slice: one z slice, the source affine moved to k = 1
        var mask = NiftiReader.Read(_tmp.File("d.nii.gz"));
        Assert.Equal([w, h, 1], mask.Shape);
        Assert.Equal(VoxelType.UInt8, mask.Type);
        Assert.Equal([-0.8, 0, 0, 40, 0, 0.8, 0, -30, 0, 0, 2.5, 9.5, 0, 0, 0, 1], mask.Affine.Select(v => Math.Round(v, 5)).ToArray());
        var best = NpyFile.Read(_tmp.File("c.npy")).ToArray<bool>();
        var ious = Invoke([.. common, "--image", greyNpy, "--out", _tmp.File("e.npy"), "--iou", _tmp.File("e-iou.npy")]);
        var iou = NpyFile.Read(_tmp.File("e-iou.npy")).AsFloat32();
        int k = Array.IndexOf(iou, iou.Max());
        Assert.Equal(best.AsSpan(k * h * w, h * w).ToArray().Select(v => v ? (byte)1 : (byte)0).ToArray(), (byte[])mask.Data);

        // a non-uint8 volume is min-max scaled over the slice (here: an exact ×4 + 100 of the grey image → the same bytes back when the
        // slice spans a full 0..255 range; otherwise only checked to run)
        var f = new float[w * h * 2];
        for (int i = 0; i < w * h; i++) f[w * h + i] = grey[i] * 4f + 100f;
        var niiF = _tmp.File("float.nii");
        NiftiWriter.Write(new Volume([w, h, 2], VoxelType.Float32, f, affine), niiF);
        var (code2, text2) = Invoke([.. common, "--image", niiF, "--slice", "1", "--out", _tmp.File("f.npy")]);
        Assert.Equal(0, code2);
        Assert.Contains("slice min-max", text2);
        Assert.Equal(0, Invoke([.. common, "--image", niiF, "--slice", "1", "--window", "0,1200", "--out", _tmp.File("g.png")]).Code);
    }

    [Fact]
    public void Bad_prompts_fail_with_exit_2_and_write_nothing()
    {
        string[] baseArgs = ["--checkpoint", Path("checkpoint.pth"), "--image", Path("image.npy")];
        var outs = new[] { _tmp.File("m.npy"), _tmp.File("l.npy"), _tmp.File("i.npy") };
        string[] outArgs = ["--out", outs[0], "--logits", outs[1], "--iou", outs[2]];
        var cases = new (string[] Args, string Message)[]
        {
            (["--point", "151,10"], "outside the 150x100 image"),
            (["--point", "10,-3"], "outside"),
            (["--box", "50,10,40,20"], "x1 < x0"),
            (["--box", "0,0,10"], "X0,Y0,X1,Y1"),
            (["--point", "10,10,2"], "must be 1 (foreground) or 0"),
            (["--point", "ten,10"], "not a number"),
            ([], "give a prompt"),
            (["--point", "10,10", "--mask-input", Path("image.npy")], "expected float low-res logits"),
        };
        foreach (var (args, message) in cases)
        {
            var e = Assert.Throws<CliException>(() => Invoke([.. baseArgs, .. args, .. outArgs]));
            Assert.Contains(message, e.Message);
            Assert.Equal(2, RunProgram(["segment", .. baseArgs, .. args, .. outArgs]));
            Assert.All(outs, p => Assert.False(File.Exists(p), $"{p} was written despite the error"));
        }
        Assert.Equal(2, RunProgram(["segment", .. baseArgs, "--point", "10,10", "--out", _tmp.File("m.txt")]));
        Assert.Equal(2, RunProgram(["segment", "--checkpoint", Path("checkpoint.pth"), "--image", _tmp.File("missing.png"), "--point", "1,1", "--out", outs[0]]));
        Assert.Equal(0, RunProgram(["segment", .. baseArgs, "--point", "150,100", .. outArgs])); // the image corner is inside
        Assert.True(File.Exists(outs[0]));
    }

    [Fact]
    public void Auto_mode_writes_a_label_map_and_records()
    {
        string[] args = ["--checkpoint", Path("checkpoint.pth"), "--image", Path("image.npy"), "--auto", "--points-per-side", "8",
            "--pred-iou-thresh", "0", "--stability-score-thresh", "0"];
        var (code, text) = Invoke([.. args, "--out", _tmp.File("labels.png"), "--masks-json", _tmp.File("masks.json")]);
        Assert.Equal(0, code);
        output.WriteLine(text);
        using var doc = JsonDocument.Parse(File.ReadAllText(_tmp.File("masks.json")));
        var recs = doc.RootElement.EnumerateArray().ToList();
        Assert.NotEmpty(recs);
        Assert.Equal(Enumerable.Range(1, recs.Count), recs.Select(r => r.GetProperty("id").GetInt32()));
        var areas = recs.Select(r => r.GetProperty("area").GetInt64()).ToList();
        Assert.Equal(areas.OrderByDescending(a => a), areas);
        var png = ImageFile.Read(_tmp.File("labels.png"));
        var (_, h, w) = SamTinyFixture.FixtureImage();
        Assert.Equal((w, h), (png.Width, png.Height));
        for (int id = 1; id <= recs.Count; id++)
            Assert.InRange(png.Pixels8!.Count(v => v == id), 0, areas[id - 1]);
        Assert.All(png.Pixels8!, v => Assert.InRange(v, 0, recs.Count));
        Assert.Equal(0, Invoke([.. args, "--out", _tmp.File("labels.nii.gz")]).Code);
        Assert.Equal(VoxelType.UInt16, NiftiReader.Read(_tmp.File("labels.nii.gz")).Type);
        Assert.Throws<CliException>(() => Invoke([.. args, "--point", "1,1", "--out", _tmp.File("x.png")]));
    }

    [Fact]
    public void MedSam_preset_runs_from_the_cli()
    {
        var (code, text) = Invoke("--checkpoint", Path("checkpoint.pth"), "--image", Path("image.npy"), "--preset", "medsam", "--box", "60,20,120,60",
            "--out", _tmp.File("med.nii.gz"), "--logits", _tmp.File("med-prob.npy"));
        Assert.Equal(0, code);
        Assert.Contains("preset medsam", text);
        var prob = NpyFile.Read(_tmp.File("med-prob.npy")).AsFloat32();
        Assert.All(prob, v => Assert.InRange(v, 0f, 1f));
        var mask = NiftiReader.Read(_tmp.File("med.nii.gz"));
        Assert.Equal(prob.Select(v => v > 0.5f ? (byte)1 : (byte)0).ToArray(), (byte[])mask.Data);
    }
}
