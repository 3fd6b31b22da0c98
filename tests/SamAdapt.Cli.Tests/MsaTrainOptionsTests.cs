using System.CommandLine;
using SamAdapt.Cli;
using SamAdapt.Cli.Commands;
using SamAdapt.Tests;

namespace SamAdapt.Cli.Tests;

/// <summary>
/// `samadapt train --method msa` with the MSA options (docs/methods/msa.md, "Training"): adapter activation, decoder adapters, what trains,
/// loss, training prompt mixture; recorded in the run folder, and one clear error per bad value.
/// </summary>
public class MsaTrainOptionsTests : IDisposable
{
    private readonly TempDir _tmp = TestPaths.NewTempDir();
    public void Dispose() => _tmp.Dispose();

    private static int Invoke(params string[] args)
    {
        var root = new RootCommand { new TrainCommand().Build() };
        return root.Parse(args).Invoke(new InvocationConfiguration { Output = new StringWriter(), Error = new StringWriter(), EnableDefaultExceptionHandler = false });
    }

    private string[] Args(string ds, string run, params string[] extra) =>
    [
        "train", "--dataset", ds, "--method", "msa", "--out", run, "--model", "tiny", "--img-size", "32", "--slices", "3",
        "--intensity", "ct-window:-500,300", "--val-fraction", "0", "--iterations", "2", "--warmup", "1", "--seed", "7", "--threads", "1",
        "--augment", "none", .. extra,
    ];

    [Fact]
    public void The_msa_options_train_and_are_recorded_in_the_run_folder()
    {
        var ds = SyntheticDataset.Write(_tmp.Path, 2);
        var run = _tmp.File("run");
        Assert.Equal(0, Invoke(Args(ds, run, "--adapter-activation", "relu", "--decoder-adapters", "--trains", "adapters,decoder", "--loss", "bce",
            "--train-prompts", "box:1,click:1,iterative:2", "--max-clicks", "2", "--prompt-rounds", "2", "--multimask-clicks")));
        var yaml = File.ReadAllText(Path.Combine(run, "config.yaml"));
        foreach (var key in new[] { "\"Activation\":\"Relu\"", "\"DecoderAdapters\":true", "\"Trains\":\"Reference\"", "loss: bce", "\"MultimaskClicks\":true",
                     "train_prompts: box:1,click:1,iterative:2", "max_clicks: 2", "prompt_rounds: 2" })
            Assert.Contains(key, yaml);
    }

    [Fact]
    public void Slices_as_channels_trains_is_recorded_and_the_prompted_commands_apply_it()
    {
        var ds = SyntheticDataset.Write(_tmp.Path, 2);
        var run = _tmp.File("run25d");
        Assert.Equal(0, Invoke(Args(ds, run, "--slices-as-channels")));
        var yaml = File.ReadAllText(Path.Combine(run, "config.yaml"));
        Assert.Contains("\"SlicesAsChannels\":true", yaml);
        Assert.Contains("\"DepthBranch\":false", yaml);
        // the run loader rebuilds the model with the option, so predict and evaluate-prompted embed the 3 slices as channels
        using (var loaded = SamAdapt.Inference.RunLoader.Load(run, SamAdapt.Inference.RunWeights.Last, SamAdapt.Torch.Device.CPU))
        {
            var model = Assert.IsType<SamAdapt.Methods.Msa.MsaSam>(loaded.Model.Promptable);
            Assert.True(model.Options.SlicesAsChannels);
            Assert.False(model.Options.DepthBranch);
        }
        var root = new RootCommand { new EvaluatePromptedCommand().Build() };
        var sw = new StringWriter();
        Assert.Equal(0, root.Parse(["evaluate-prompted", "--run", run, "--dataset", ds, "--protocol", "box0.75", "--seed", "3", "--out", _tmp.File("e.json")])
            .Invoke(new InvocationConfiguration { Output = sw, Error = new StringWriter(), EnableDefaultExceptionHandler = false }));
        Assert.Contains("| box0.75 |", sw.ToString());
    }

    [Theory]
    [InlineData("1", "needs --slices 3, got --slices 1")]
    [InlineData("5", "needs --slices 3, got --slices 5")]
    public void Slices_as_channels_without_three_slices_is_one_clear_error(string slices, string expected)
    {
        var ds = SyntheticDataset.Write(_tmp.Path, 2);
        string[] args = ["train", "--dataset", ds, "--method", "msa", "--out", _tmp.File("bad25d"), "--model", "tiny", "--img-size", "32", "--slices", slices,
            "--slices-as-channels", "--intensity", "ct-window:-500,300", "--val-fraction", "0", "--iterations", "1", "--threads", "1"];
        var e = Assert.Throws<CliException>(() => Invoke(args));
        Assert.Contains("--slices-as-channels", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData("--train-prompts", "lasso:1", "unknown prompt kind 'lasso'")]
    [InlineData("--train-prompts", "box:-2", "weight of 'box'")]
    [InlineData("--adapter-activation", "tanh", "expected gelu or relu, got 'tanh'")]
    [InlineData("--trains", "wings", "unknown part 'wings'")]
    [InlineData("--loss", "l2", "unknown MSA loss 'l2'")]
    [InlineData("--prompt-rounds", "-1", "--prompt-rounds must be ≥ 0, got -1")]
    public void A_bad_msa_option_is_one_clear_error_naming_it(string option, string value, string expected)
    {
        var ds = SyntheticDataset.Write(_tmp.Path, 2);
        var e = Assert.Throws<CliException>(() => Invoke(Args(ds, _tmp.File("bad"), option, value)));
        Assert.Contains(expected, e.Message);
        Assert.Contains(option, e.Message);
    }
}
