using SamAdapt.Cli;
using SamAdapt.Reliability.Tests.Fuzz;
using SamAdapt.Tests;

namespace SamAdapt.Reliability.Tests;

/// <summary>The error policy and the data-loss rules of docs/reliability.md, verb by verb, through the real command line.</summary>
public class ErrorPolicyTests : IDisposable
{
    private readonly TempDir _tmp = TestPaths.NewTempDir();
    public void Dispose() => _tmp.Dispose();

    private static (int Code, string Out, string Err) Cli(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        int code = CliApp.Run(args, o, e);
        return (code, o.ToString(), e.ToString());
    }

    private string Label()
    {
        var p = _tmp.File("label.nii.gz");
        File.Copy(Path.Combine(Corpus.Mricron, "JHU-WhiteMatter-labels-2mm.nii.gz"), p, overwrite: true);
        return p;
    }

    private static void AssertOneLineError(int code, string err, params string[] mentions)
    {
        Assert.Equal(2, code);
        var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("samadapt: error: ", lines[0]);
        Assert.DoesNotContain("   at ", err);
        foreach (var m in mentions) Assert.Contains(m, lines[0]);
    }

    [Fact]
    public void Usage_errors_exit_2_with_one_line()
    {
        var (code, _, err) = Cli("evaluate", "--gt", "g.nii", "--out", "r.json");
        AssertOneLineError(code, err, "--pred");
        (code, _, err) = Cli("frobnicate");
        AssertOneLineError(code, err);
    }

    [Fact]
    public void An_output_equal_to_an_input_is_refused_and_the_input_kept_for_every_verb()
    {
        var label = Label();
        var before = File.ReadAllBytes(label);
        var checkpoint = TestPaths.Fixture("sam-tiny", "checkpoint.safetensors");
        var config = TestPaths.Fixture("sam-tiny", "config.json");
        var image = _tmp.File("image.npy");
        File.Copy(TestPaths.Fixture("sam-tiny", "image.npy"), image);
        var imageBefore = File.ReadAllBytes(image);
        var run = _tmp.File("run");
        Directory.CreateDirectory(run);
        string[][] cases =
        [
            ["evaluate", "--pred", label, "--gt", label, "--out", label],
            ["evaluate", "--pred", label, "--gt", label, "--out", _tmp.File("r.json"), "--csv", label],
            ["convert", label, label],
            ["predict", "--run", run, "--input", label, "--out", label],
            ["segment", "--checkpoint", checkpoint, "--model", config, "--image", image, "--box", "1,1,9,9", "--out", image],
            ["segment", "--checkpoint", checkpoint, "--model", config, "--image", image, "--box", "1,1,9,9", "--out", _tmp.File("m.npy"), "--logits", _tmp.File("m.npy")],
        ];
        foreach (var args in cases)
        {
            var (code, _, err) = Cli(args);
            AssertOneLineError(code, err, "expected");
            Assert.Equal(before, File.ReadAllBytes(label));
            Assert.Equal(imageBefore, File.ReadAllBytes(image));
        }
        Assert.False(File.Exists(_tmp.File("r.json")), "a refused evaluate wrote its JSON");
        // a symbolic link to the input is the input too
        var link = _tmp.File("link.nii.gz");
        File.CreateSymbolicLink(link, label);
        var (c2, _, e2) = Cli("convert", label, link);
        AssertOneLineError(c2, e2, "destroy the input");
        Assert.Equal(before, File.ReadAllBytes(label));
    }

    [Fact]
    public void A_bad_case_in_a_parallel_folder_evaluation_is_one_line_naming_the_file_not_an_aggregate_trace()
    {
        var pred = Directory.CreateDirectory(_tmp.File("pred")).FullName;
        var gt = Directory.CreateDirectory(_tmp.File("gt")).FullName;
        var label = Label();
        for (int i = 0; i < 4; i++)
        {
            File.Copy(label, Path.Combine(pred, $"c{i}.nii.gz"));
            File.Copy(label, Path.Combine(gt, $"c{i}.nii.gz"));
        }
        var bad = Path.Combine(pred, "c2.nii.gz");
        File.WriteAllBytes(bad, File.ReadAllBytes(bad)[..2000]);
        var (code, _, err) = Cli("evaluate", "--pred", pred, "--gt", gt, "--labels", "1", "--metrics", "dice", "--threads", "3", "--out", _tmp.File("r.json"), "--csv", _tmp.File("r.csv"));
        Assert.Equal(2, code);
        var errorLine = err.Split('\n').Single(l => l.StartsWith("samadapt: error:", StringComparison.Ordinal));
        Assert.Contains("c2.nii.gz", errorLine);
        Assert.DoesNotContain("AggregateException", err);
        Assert.DoesNotContain("   at ", err);
        Assert.False(File.Exists(_tmp.File("r.json")));
        Assert.False(File.Exists(_tmp.File("r.csv")));
    }

    [Fact]
    public void Verbose_adds_the_stack_trace_and_internal_errors_would_exit_1_with_a_hint()
    {
        var (code, _, err) = Cli("info", _tmp.File("missing.nii"), "--verbose");
        Assert.Equal(2, code);
        Assert.StartsWith("samadapt: error: ", err);
        Assert.Contains("   at ", err); // --verbose: the trace follows the one-line message
        // the classification itself: a bug (not an input problem) exits 1 and says how to report it
        var e = new AggregateException(new InvalidOperationException("boom"));
        Assert.Equal(1, Errors.ExitCode(e));
        Assert.Contains("please report it", Errors.Message(e));
        Assert.Equal(2, Errors.ExitCode(new AggregateException(new InvalidOperationException("x"), new InvalidDataException("bad.nii: truncated"))));
        Assert.Equal("bad.nii: truncated", Errors.Message(new AggregateException(new InvalidDataException("bad.nii: truncated"))));
        Assert.DoesNotContain("(Parameter", Errors.Message(new ArgumentOutOfRangeException("name", -3, "must be positive")));
        Assert.DoesNotContain("Actual value", Errors.Message(new ArgumentOutOfRangeException("name", -3, "must be positive")));
    }

    [Fact]
    public void Nonsense_sizes_are_refused_before_allocating_with_a_raisable_limit()
    {
        var npy = _tmp.File("big.npy");
        // a valid header claiming 100000 × 100000 × 3 uint8 (30 GB) over 1 KB of data
        var header = "{'descr': '|u1', 'fortran_order': False, 'shape': (100000, 100000, 3), }";
        header = header.PadRight(118) + "\n";
        var bytes = new List<byte> { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0, (byte)header.Length, 0 };
        bytes.AddRange(System.Text.Encoding.ASCII.GetBytes(header));
        bytes.AddRange(new byte[1024]);
        File.WriteAllBytes(npy, bytes.ToArray());
        var (code, _, err) = Cli("segment", "--checkpoint", TestPaths.Fixture("sam-tiny", "checkpoint.safetensors"), "--image", npy, "--box", "1,1,5,5", "--out", _tmp.File("m.png"));
        AssertOneLineError(code, err, "big.npy");
        // --points-per-side and the model size: refused with the field named
        (code, _, err) = Cli("segment", "--checkpoint", TestPaths.Fixture("sam-tiny", "checkpoint.safetensors"), "--image", TestPaths.Fixture("sam-tiny", "image.npy"),
            "--auto", "--points-per-side", "100000", "--out", _tmp.File("a.png"));
        AssertOneLineError(code, err, "--points-per-side");
        var cfg = _tmp.File("deep.json");
        File.WriteAllText(cfg, File.ReadAllText(TestPaths.Fixture("sam-tiny", "config.json")).Replace("\"depth\": 4", "\"depth\": 100000").Replace("\"embed\": 48", "\"embed\": 4800"));
        (code, _, err) = Cli("segment", "--checkpoint", TestPaths.Fixture("sam-tiny", "checkpoint.safetensors"), "--model", cfg, "--image", TestPaths.Fixture("sam-tiny", "image.npy"),
            "--box", "1,1,5,5", "--out", _tmp.File("b.png"), "--max-memory", "4");
        AssertOneLineError(code, err, "--max-memory");
        Assert.False(File.Exists(_tmp.File("m.png")) || File.Exists(_tmp.File("a.png")) || File.Exists(_tmp.File("b.png")));
    }

    [Fact]
    public void Geometry_that_float32_cannot_hold_is_refused_instead_of_writing_an_unreadable_file()
    {
        var label = Label();
        var (code, _, err) = Cli("convert", label, _tmp.File("huge.nii"), "--spacing", "1e300");
        AssertOneLineError(code, err, "float32");
        Assert.False(File.Exists(_tmp.File("huge.nii")));
    }
}
