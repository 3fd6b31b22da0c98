using System.Diagnostics;
using SamAdapt.Cli;
using SamAdapt.Tests;

namespace SamAdapt.Reliability.Tests.Fuzz;

/// <summary>What one fuzz case did: its verb line, exit code and the first violated invariant (null when it held up).</summary>
public sealed record FuzzOutcome(int Case, string Seed, string Mutation, string Verb, int ExitCode, string? Violation, string FirstErrorLine);

/// <summary>
/// Runs every verb that reads a seed's kind on mutated copies of it, in-process through <see cref="CliApp.Run"/> (what
/// `samadapt` runs), and checks the reliability invariants of docs/reliability.md:
/// exit 0 or 2 (never 1: no internal error; a native abort kills the run and fails the suite); no stack trace; on failure
/// no output and no temporary file left in the output folder; on success every written NIfTI reads back with `info`;
/// the process's memory stays under a bound; no case takes longer than the hang limit.
/// </summary>
public sealed class FuzzRunner : IDisposable
{
    public const double MemoryLimitGb = 2;
    /// <summary>Peak working set allowed for the whole fuzzing process (the limit plus the runtime, libtorch and GDCM).</summary>
    public const long PeakBound = 6L << 30;
    public static readonly TimeSpan HangLimit = TimeSpan.FromSeconds(120);

    private readonly TempDir _tmp = TestPaths.NewTempDir();
    private readonly string _image, _checkpoint, _config, _label;

    public FuzzRunner()
    {
        _image = TestPaths.Fixture("sam-tiny", "image.npy");
        _checkpoint = TestPaths.Fixture("sam-tiny", "checkpoint.safetensors");
        _config = TestPaths.Fixture("sam-tiny", "config.json");
        _label = Path.Combine(Corpus.Mricron, "JHU-WhiteMatter-labels-2mm.nii.gz");
    }

    public void Dispose() => _tmp.Dispose();

    /// <summary>The verb lines (arguments) run on a mutated file <paramref name="f"/>; outputs go to <paramref name="o"/>.</summary>
    public IEnumerable<(string Name, string[] Args, string[] Outputs)> Verbs(Seed seed, string f, string o, Random rng, bool all = false)
    {
        string Out(string name) => Path.Combine(o, name);
        string[] segment = ["segment", "--checkpoint", _checkpoint, "--model", _config, "--box", "10,10,60,50"];
        switch (seed.Kind)
        {
            case SeedKind.Nifti or SeedKind.NiftiGz:
                yield return ("info", ["info", f], []);
                yield return ("convert", ["convert", f, Out("c.nii.gz")], [Out("c.nii.gz")]);
                bool evaluate = rng.Next(2) == 0;
                if (all || evaluate)
                    yield return ("evaluate", ["evaluate", "--pred", f, "--gt", _label, "--labels", "1,2", "--metrics", "dice", "--out", Out("r.json"), "--csv", Out("r.csv")],
                        [Out("r.json"), Out("r.csv")]);
                if (all || !evaluate)
                    yield return ("segment", [.. segment[..^2], "--image", f, "--slice", "0", "--point", "5,5", "--out", Out("m.nii.gz"), "--logits", Out("l.npy")],
                        [Out("m.nii.gz"), Out("l.npy")]);
                break;
            case SeedKind.Dicom:
                yield return ("info", ["info", f], []);
                yield return ("convert", ["convert", f, Out("c.nii")], [Out("c.nii")]);
                break;
            case SeedKind.Png or SeedKind.Jpeg or SeedKind.Bmp:
                yield return ("info", ["info", f], []);
                yield return ("convert", ["convert", f, Out("c.nii.gz")], [Out("c.nii.gz")]);
                if (all || rng.Next(3) == 0)
                    yield return ("segment", [.. segment[..^2], "--point", "2,2", "--image", f, "--out", Out("m.png"), "--iou", Out("i.npy")], [Out("m.png"), Out("i.npy")]);
                break;
            case SeedKind.Npy when seed.Name.Contains("low_res", StringComparison.Ordinal):
                yield return ("segment --mask-input", [.. segment, "--image", _image, "--mask-input", f, "--out", Out("m.png")], [Out("m.png")]);
                break;
            case SeedKind.Npy:
                yield return ("segment --image", [.. segment, "--image", f, "--out", Out("m.npy"), "--logits", Out("l.npy")], [Out("m.npy"), Out("l.npy")]);
                break;
            case SeedKind.Pth or SeedKind.SafeTensors:
                yield return ("segment --checkpoint", ["segment", "--checkpoint", f, "--model", _config, "--box", "10,10,60,50", "--image", _image, "--out", Out("m.png")], [Out("m.png")]);
                break;
            case SeedKind.ModelJson:
                yield return ("segment --model", ["segment", "--checkpoint", _checkpoint, "--model", f, "--box", "10,10,60,50", "--image", _image, "--out", Out("m.png")], [Out("m.png")]);
                break;
            case SeedKind.DatasetJson:
                var ds = Path.Combine(o, "ds");
                Directory.CreateDirectory(Path.Combine(ds, "imagesTr"));
                Directory.CreateDirectory(Path.Combine(ds, "labelsTr"));
                File.Copy(f, Path.Combine(ds, "dataset.json"));
                File.Copy(_label, Path.Combine(ds, "imagesTr", "case_0000.nii.gz"));
                File.Copy(_label, Path.Combine(ds, "labelsTr", "case.nii.gz"));
                yield return ("dataset check", ["dataset", "check", ds], []);
                break;
        }
    }

    /// <summary>Runs every verb of <paramref name="seed"/>'s kind on the seed itself (no mutation).</summary>
    public IEnumerable<FuzzOutcome> RunUnmutated(int caseNo, Seed seed) =>
        RunOn(caseNo, seed, new Mutation("none", seed.Bytes), new Random(caseNo), allVerbs: true);

    /// <summary>Runs case <paramref name="caseNo"/>: one mutation of one seed (both chosen by the seeded generator), every verb on it.</summary>
    public IEnumerable<FuzzOutcome> RunCase(int caseNo, IReadOnlyList<Seed> seeds, int masterSeed)
    {
        var rng = new Random(unchecked(masterSeed * 1_000_003 + caseNo) & 0x7fffffff); // reproducible (HashCode is per-process random)
        var seed = seeds[caseNo % seeds.Count];
        var mutation = Mutator.Mutate(seed, rng);
        return RunOn(caseNo, seed, mutation, rng, allVerbs: false);
    }

    private List<FuzzOutcome> RunOn(int caseNo, Seed seed, Mutation mutation, Random rng, bool allVerbs)
    {
        var dir = Path.Combine(_tmp.Path, $"case{caseNo}");
        var o = Path.Combine(dir, "out");
        Directory.CreateDirectory(o);
        var f = Path.Combine(dir, "input" + seed.Extension);
        File.WriteAllBytes(f, mutation.Bytes);
        var results = new List<FuzzOutcome>();
        foreach (var (name, args, outputs) in Verbs(seed, f, o, rng, allVerbs).ToList())
        {
            var (code, stderr, elapsed) = Invoke([.. args, "--max-memory", MemoryLimitGb.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            string? violation = Check(code, stderr, elapsed, outputs, o, f, mutation.Bytes);
            var first = stderr.Split('\n').FirstOrDefault(l => l.StartsWith("samadapt: error:", StringComparison.Ordinal)) ?? "";
            results.Add(new FuzzOutcome(caseNo, seed.Name, mutation.Description, name, code, violation, first));
            foreach (var p in outputs) if (File.Exists(p)) File.Delete(p);
        }
        try { Directory.Delete(dir, true); } catch (IOException) { }
        return results;
    }

    private static (int Code, string Stderr, TimeSpan Elapsed) Invoke(string[] args)
    {
        var sw = Stopwatch.StartNew();
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var task = Task.Run(() => CliApp.Run(args, stdout, stderr));
        if (!task.Wait(HangLimit)) return (-1, $"hang: still running after {HangLimit.TotalSeconds} s", sw.Elapsed);
        return (task.Result, stderr.ToString(), sw.Elapsed);
    }

    private string? Check(int code, string stderr, TimeSpan elapsed, string[] outputs, string outDir, string input, byte[] inputBytes)
    {
        if (code == -1) return "hang";
        if (code is not (0 or 2)) return $"exit code {code} (expected 0 or 2): {Head(stderr)}";
        if (stderr.Contains("   at ", StringComparison.Ordinal) || stderr.Contains("Unhandled exception", StringComparison.Ordinal))
            return "stack trace on stderr: " + Head(stderr);
        if (code == 2 && !stderr.Contains("samadapt: error:", StringComparison.Ordinal)) return "exit 2 without a 'samadapt: error:' line";
        if (!File.ReadAllBytes(input).AsSpan().SequenceEqual(inputBytes)) return "the input file was modified (data loss)";
        var temps = Directory.GetFiles(outDir, "*.tmp", SearchOption.AllDirectories);
        if (temps.Length > 0) return $"temporary file left: {Path.GetFileName(temps[0])}";
        if (code != 0)
        {
            var left = outputs.Where(File.Exists).ToList();
            if (left.Count > 0) return $"failed (exit {code}) but left output {Path.GetFileName(left[0])}";
        }
        else
        {
            // success: outputs that belong together are all there, and a written volume reads back
            var written = outputs.Where(File.Exists).ToList();
            if (written.Count is > 0 and var n && n != outputs.Length)
                return $"only {n} of {outputs.Length} outputs written ({string.Join(", ", written.Select(Path.GetFileName))})";
            foreach (var p in written.Where(p => p.EndsWith(".nii", StringComparison.Ordinal) || p.EndsWith(".nii.gz", StringComparison.Ordinal)))
            {
                var (c2, e2, _) = Invoke(["info", p]);
                if (c2 != 0) return $"wrote {Path.GetFileName(p)} that `info` refuses (silent wrong output): {Head(e2)}";
            }
        }
        using var self = Process.GetCurrentProcess();
        if (self.PeakWorkingSet64 > PeakBound) return $"peak working set {self.PeakWorkingSet64 >> 20} MB exceeds {PeakBound >> 20} MB";
        return null;
    }

    private static string Head(string s) => s.Length > 300 ? s[..300] + "…" : s.Trim();
}
