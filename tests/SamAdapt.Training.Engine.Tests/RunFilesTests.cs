using System.Xml.Linq;
using SamAdapt.Tests;
using SamAdapt.Training.Engine.TestHost;

namespace SamAdapt.Training.Engine.Tests;

public class RunConfigTests
{
    private sealed record SampleTask
    {
        public string Dataset { get; init; } = "/data/Task09";
        public List<string> ValCases { get; init; } = ["case_1", "case_7"];
        public string BaseCheckpointSha256 { get; init; } = "ab12";
        public Dictionary<string, double> Intensity { get; init; } = new() { ["min"] = -125, ["max"] = 275 };
    }

    [Fact]
    public void Yaml_round_trips_trainer_options_and_the_task_section()
    {
        using var dir = TestPaths.NewTempDir();
        var o = new TrainerOptions { Iterations = 1234, Lr = 3e-4, Bf16 = true, Seed = 42, TimeBudgetMinutes = 12.5, Device = "cuda:1" };
        new RunConfig("ma-sam", o, new SampleTask()).Save(dir.File("config.yaml"));
        var text = File.ReadAllText(dir.File("config.yaml"));
        Assert.Contains("lr: 0.0003", text);
        Assert.Contains("base_checkpoint_sha256: ab12", text);
        var back = RunConfig.Load(dir.File("config.yaml"));
        Assert.Equal("ma-sam", back.Method);
        Assert.Equal(o, back.Trainer);
        var task = back.Task<SampleTask>();
        Assert.Equal(["case_1", "case_7"], task.ValCases);
        Assert.Equal(275, task.Intensity["max"]);
        Assert.Equal("case_7", back.Flat["task.val_cases[1]"]);
        Assert.Null(back.Flat["trainer.epochs"]);
    }

    [Fact]
    public void Differences_name_changed_keys_and_ignore_run_info_and_allowed_keys()
    {
        var a = new RunConfig("ma-sam", new TrainerOptions { Iterations = 10 }, new SampleTask()).Flatten();
        var b = new RunConfig("lora", new TrainerOptions { Iterations = 10, Device = "cuda", ValEvery = 3 }, new SampleTask { Dataset = "/other" }).Flatten();
        var d = RunConfig.Differences(a, b, TrainerOptions.ResumeMayChange);
        Assert.Equal(2, d.Count);
        Assert.Contains(d, x => x.StartsWith("method: run has ma-sam, now lora"));
        Assert.Contains(d, x => x.StartsWith("task.dataset: run has /data/Task09, now /other"));
    }

    [Fact]
    public void Loading_a_file_that_is_not_a_run_config_says_so()
    {
        using var dir = TestPaths.NewTempDir();
        File.WriteAllText(dir.File("c.yaml"), "foo: 1\n");
        Assert.Contains("no 'trainer:' section", Assert.Throws<InvalidDataException>(() => RunConfig.Load(dir.File("c.yaml"))).Message);
        File.WriteAllText(dir.File("d.yaml"), "foo: [1, \n");
        Assert.Contains("not valid YAML", Assert.Throws<InvalidDataException>(() => RunConfig.Load(dir.File("d.yaml"))).Message);
    }

    [Fact]
    public void Options_validation_names_the_bad_option()
    {
        Assert.Contains("--iterations N, --epochs N", Assert.Throws<ArgumentException>(() => new TrainerOptions().Validate()).Message);
        Assert.Contains("not both", Assert.Throws<ArgumentException>(() => new TrainerOptions { Iterations = 1, Epochs = 1 }.Validate()).Message);
        Assert.Contains("--device", Assert.Throws<ArgumentException>(() => new TrainerOptions { Iterations = 1, Device = "tpu" }.Validate()).Message);
        new TrainerOptions { TimeBudgetMinutes = 1 }.Validate();
    }
}

public class TrainingLogsTests
{
    [Fact]
    public void Resume_cuts_logs_back_to_the_checkpoint_and_drops_a_half_written_line()
    {
        using var dir = TestPaths.NewTempDir();
        var classes = new[] { "bg", "liver" };
        using (var logs = new TrainingLogs(dir.Path, classes))
        {
            logs.StartNew();
            for (int s = 1; s <= 7; s++) logs.Append(new TrainLogRow(s, 1, 1.0 / s, 1e-3, 0.5, 10, s, false));
            logs.Append(new ValLogRow(3, [0.9, 0.5], 0.7));
            logs.Append(new ValLogRow(6, [0.9, 0.6], 0.75));
        }
        File.AppendAllText(dir.File(TrainingLogs.TrainFile), "8,1,0.12"); // killed mid-line
        using (var logs = new TrainingLogs(dir.Path, classes))
        {
            logs.ResumeAt(5);
            Assert.Equal(5, logs.TrainRows.Count);
            Assert.Single(logs.ValRows);
            logs.Append(new TrainLogRow(6, 1, 0.2, 1e-3, 0.5, 10, 6, false));
        }
        var lines = File.ReadAllLines(dir.File(TrainingLogs.TrainFile));
        Assert.Equal(TrainLogRow.Header, lines[0]);
        Assert.Equal(Enumerable.Range(1, 6).Select(i => (long)i), lines.Skip(1).Select(l => TrainLogRow.Parse(l)!.Step));
        Assert.Equal(["step,dice_bg,dice_liver,mean_dice", "3,0.9,0.5,0.7"], File.ReadAllLines(dir.File(TrainingLogs.ValFile)));
        Assert.Equal(1.0 / 3, TrainingLogs.ReadTrainLog(dir.File(TrainingLogs.TrainFile))[2].Loss);
    }

    [Fact]
    public void Non_finite_values_round_trip()
    {
        var row = new TrainLogRow(4, 1, double.NaN, 1e-4, double.PositiveInfinity, 3, 4, true);
        Assert.Equal("4,1,nan,0.0001,inf,3.000,4.000,1", row.ToCsv());
        var back = TrainLogRow.Parse(row.ToCsv())!;
        Assert.True(double.IsNaN(back.Loss) && double.IsPositiveInfinity(back.GradNorm) && back.Skipped);
    }
}

public class CurvesSvgTests
{
    [Fact]
    public void Svg_is_well_formed_with_two_panels_ticks_and_legends()
    {
        var train = Enumerable.Range(1, 300).Select(s => new TrainLogRow(s, 1, 1.0 / Math.Sqrt(s) + (s % 7) * 0.01, 1e-3, 1, 10, s, s == 150)).ToList();
        var val = new[] { 50L, 100, 150, 200, 250, 300 }.Select(s => new ValLogRow(s, [0.9 + s / 10000.0, s / 400.0, double.NaN], (0.9 + s / 400.0) / 2)).ToList();
        var svg = CurvesSvg.Render(train, val, ["background", "liver", "tumour"]);
        var doc = XDocument.Parse(svg);
        XNamespace ns = "http://www.w3.org/2000/svg";
        Assert.Equal(ns + "svg", doc.Root!.Name);
        var texts = doc.Descendants(ns + "text").Select(t => t.Value).ToList();
        Assert.Contains("loss", texts);
        Assert.Contains("validation Dice", texts);
        Assert.Contains("iteration", texts);
        Assert.Contains("mean", texts);
        Assert.Contains("liver", texts);
        Assert.DoesNotContain("tumour", texts); // no finite values: no line, no legend entry
        Assert.Contains("300", texts);          // x tick at the end
        Assert.Contains("1", texts);            // Dice axis top
        Assert.Contains(texts, t => t.Contains("non-finite"));
        Assert.Contains(texts, t => t.StartsWith("best mean 0.") && t.EndsWith("at 300"));
        Assert.True(doc.Descendants(ns + "polyline").Count() >= 4);
        foreach (var p in doc.Descendants(ns + "polyline"))
            foreach (var pt in p.Attribute("points")!.Value.Split(' '))
            {
                var xy = pt.Split(',').Select(v => double.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
                Assert.InRange(xy[0], 0, 960);
                Assert.InRange(xy[1], 0, 770);
            }
    }

    [Fact]
    public void Empty_logs_still_render()
    {
        var doc = XDocument.Parse(CurvesSvg.Render([], [], ["bg"]));
        Assert.Contains(doc.Descendants().Select(e => e.Value), v => v == "no validation yet");
    }

    [Theory]
    [InlineData(0, 300, 8, 0, 300, 50)]
    [InlineData(0.21, 0.93, 6, 0.2, 1.0, 0.2)]
    [InlineData(0, 7, 8, 0, 7, 1)]
    public void Nice_ticks_cover_the_range_with_round_steps(double lo, double hi, int n, double first, double last, double step)
    {
        var t = CurvesSvg.NiceTicks(lo, hi, n);
        Assert.Equal(first, t[0], 9);
        Assert.Equal(last, t[^1], 9);
        Assert.Equal(step, t[1] - t[0], 9);
    }
}
