using System.Globalization;
using System.Text;
using Xunit.Abstractions;

namespace SamAdapt.Reliability.Tests.Fuzz;

/// <summary>
/// The fuzz suite (docs/reliability.md). CI runs a short sample; the full corpus runs by command:
/// <code>SAMADAPT_FUZZ_CASES=3000 SAMADAPT_FUZZ_REPORT=/tmp/fuzz.tsv dotnet test tests/SamAdapt.Reliability.Tests -c Release --filter Fuzz</code>
/// Every case is reproducible from (SAMADAPT_FUZZ_SEED, case number).
/// </summary>
public class FuzzTests(ITestOutputHelper output)
{
    private static int Env(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : fallback;

    /// <summary>The seeds themselves are accepted by every verb that reads them: otherwise the fuzz run measures a broken
    /// setup (a missing native library, a missing package), not the readers.</summary>
    [Fact]
    public void Unmutated_seeds_pass_every_verb()
    {
        var seeds = Corpus.Load().Where(s => s.Name is "JHU-WhiteMatter-labels-2mm.nii" or "JHU-WhiteMatter-labels-2mm.nii.gz" or "CT_small.dcm"
            or "MR_small_RLE.dcm" or "sam-tiny/image.npy" or "sam-tiny/box/low_res_logits.npy" or "sam-tiny/checkpoint.pth"
            or "sam-tiny/checkpoint.safetensors" or "sam-tiny/config.json" or "debian-logo.png" or "synthetic.bmp" or "dataset.json").ToList();
        Assert.Equal(12, seeds.Count);
        using var runner = new FuzzRunner();
        var outcomes = seeds.SelectMany((s, i) => runner.RunUnmutated(i, s)).ToList();
        var failed = outcomes.Where(o => o.ExitCode != 0 || o.Violation is not null).ToList();
        Assert.True(failed.Count == 0, string.Join("\n", failed.Select(o => $"{o.Seed} {o.Verb}: exit {o.ExitCode} {o.Violation} {o.FirstErrorLine}")));
        Assert.Contains(outcomes, o => o.Verb.StartsWith("segment", StringComparison.Ordinal));
    }

    [Fact]
    public void Fuzz_mutated_real_files_through_every_reader_and_verb_give_exit_0_or_2_no_trace_no_leftovers()
    {
        int cases = Env("SAMADAPT_FUZZ_CASES", 48), first = Env("SAMADAPT_FUZZ_FIRST", 0), masterSeed = Env("SAMADAPT_FUZZ_SEED", 20261207);
        var seeds = Corpus.Load();
        using var runner = new FuzzRunner();
        var all = new List<FuzzOutcome>();
        var report = Environment.GetEnvironmentVariable("SAMADAPT_FUZZ_REPORT");
        using var tsv = report is null ? null : new StreamWriter(report, append: false, Encoding.UTF8);
        tsv?.WriteLine("case\tseed\tmutation\tverb\texit\tviolation\terror");
        for (int c = first; c < first + cases; c++)
            foreach (var r in runner.RunCase(c, seeds, masterSeed))
            {
                all.Add(r);
                tsv?.WriteLine($"{r.Case}\t{r.Seed}\t{r.Mutation}\t{r.Verb}\t{r.ExitCode}\t{r.Violation}\t{r.FirstErrorLine.Replace('\t', ' ')}");
                tsv?.Flush();
            }
        var bad = all.Where(r => r.Violation is not null).ToList();
        output.WriteLine($"{cases} mutated inputs from {seeds.Count} seeds, {all.Count} verb runs: {all.Count(r => r.ExitCode == 0)} exit 0, " +
                         $"{all.Count(r => r.ExitCode == 2)} exit 2, {bad.Count} violation(s)");
        foreach (var g in all.GroupBy(r => r.Verb)) output.WriteLine($"  {g.Key}: {g.Count()} runs, {g.Count(r => r.ExitCode == 0)} accepted, {g.Count(r => r.ExitCode == 2)} refused");
        Assert.True(bad.Count == 0, $"{bad.Count} of {all.Count} runs broke an invariant:\n" +
            string.Join("\n", bad.Take(20).Select(r => $"  case {r.Case} ({r.Seed}, {r.Mutation}) {r.Verb}: {r.Violation}")));
        // the suite must exercise both outcomes, or it tests nothing
        Assert.Contains(all, r => r.ExitCode == 0);
        Assert.Contains(all, r => r.ExitCode == 2);
    }
}
