using System.Text.Json;
using SamAdapt.Common;
using SamAdapt.Imaging;
using SamAdapt.Imaging.Nifti;
using SamAdapt.Tests;

namespace SamAdapt.Evaluation.Tests;

/// <summary><see cref="EvaluationRunner"/>: one `evaluate` run as a library call, without the CLI.</summary>
public sealed class EvaluationRunnerTests : IDisposable
{
    private readonly TempDir _tmp = TestPaths.NewTempDir();

    public void Dispose() => _tmp.Dispose();

    private string Write(string name, Func<int, int> label)
    {
        var d = new byte[8 * 8 * 4];
        for (int i = 0; i < d.Length; i++) d[i] = (byte)label(i);
        var path = _tmp.File(name);
        NiftiWriter.Write(new Volume([8, 8, 4], VoxelType.UInt8, d, Geometry.Identity()) { IntentCode = 1002 }, path);
        return path;
    }

    [Fact]
    public void Run_collects_the_labels_scores_and_writes_every_report()
    {
        var gt = Write("case1_gt.nii.gz", i => i < 64 ? 1 : i >= 200 ? 2 : 0);
        var pred = Write("case1.nii.gz", i => i < 64 ? 1 : 0); // label 2 missed entirely
        var log = new StringWriter();
        var report = EvaluationRunner.Run(new EvaluateSettings
        {
            Pred = pred, Gt = gt, Out = _tmp.File("r.json"), Csv = _tmp.File("r.csv"), Markdown = _tmp.File("r.md"), Threads = 1,
        }, log);

        Assert.Equal([1, 2], report.Options.Labels); // every non-zero ground-truth label
        Assert.Equal(1.0, report.Labels.Single(s => s.Label == 1).Dice.Value, 12);
        Assert.Equal(0.0, report.Labels.Single(s => s.Label == 2).Dice.Value, 12);
        using var doc = JsonDocument.Parse(File.ReadAllText(_tmp.File("r.json")));
        Assert.Equal(0.5, doc.RootElement.GetProperty("mean_foreground").GetProperty("dice").GetDouble(), 12);
        Assert.Equal("Infinity", doc.RootElement.GetProperty("mean").GetProperty("2").GetProperty("hd95").GetString());
        Assert.Equal(2, File.ReadAllLines(_tmp.File("r.csv")).Length - 1);
        Assert.Contains("| **Mean** |", File.ReadAllText(_tmp.File("r.md")));
    }

    [Fact]
    public void Bad_settings_are_settings_errors_naming_the_option_and_write_nothing()
    {
        var gt = Write("a_gt.nii.gz", i => i % 2);
        var e = Assert.Throws<SettingsException>(() => EvaluationRunner.Run(new EvaluateSettings
        {
            Pred = _tmp.Path, Gt = gt, Out = _tmp.File("x.json"),
        }, TextWriter.Null));
        Assert.Contains("--pred and --gt must both be files or both be folders", e.Message);

        e = Assert.Throws<SettingsException>(() => EvaluationRunner.Run(new EvaluateSettings
        {
            Pred = gt, Gt = gt, Labels = "1,x", Out = _tmp.File("x.json"),
        }, TextWriter.Null));
        Assert.Contains("--labels: 'x'", e.Message);

        e = Assert.Throws<SettingsException>(() => EvaluationRunner.Run(new EvaluateSettings
        {
            Pred = gt, Gt = gt, Out = Path.Combine(_tmp.Path, "missing", "x.json"),
        }, TextWriter.Null));
        Assert.Contains("--out: output folder does not exist", e.Message);
        Assert.False(File.Exists(_tmp.File("x.json")));
    }
}
