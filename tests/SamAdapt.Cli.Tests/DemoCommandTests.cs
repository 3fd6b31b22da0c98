using SamAdapt.Cli;
using SamAdapt.Cli.Commands;
using SamAdapt.Imaging;
using SamAdapt.Tests;
using SamAdapt.Training.Demo;

namespace SamAdapt.Cli.Tests;

/// <summary>`samadapt demo` end to end with a couple of iterations: every step runs and writes its files.</summary>
public class DemoCommandTests : IDisposable
{
    private readonly TempDir _tmp = TestPaths.NewTempDir();
    public void Dispose() => _tmp.Dispose();

    [Fact]
    public void Demo_runs_every_step_and_writes_run_predictions_report_and_overlays()
    {
        Assert.True(DemoDataset.Available(), "mricron-data is a build dependency (build.sh deps)");
        var root = Path.Combine(_tmp.Path, "demo");
        var stdout = new StringWriter();
        int rc = DemoCommand.Run(new DemoCommand.Args { Out = root, Iterations = 2, Batch = 1 }, stdout, TextWriter.Null, interactive: false);
        var text = stdout.ToString();
        Assert.Equal(0, rc);
        Assert.Contains("No pretrained SAM weights ship with Debian", text);
        Assert.Contains("hippocampus_amygdala", text);   // the per-class table
        foreach (var f in new[] { "run/config.yaml", "run/adapter.safetensors", "run/last.ckpt", "run/curves.svg", "evaluation.json", "evaluation.md" })
            Assert.True(File.Exists(Path.Combine(root, f)), f);
        var ds = Path.Combine(root, "Dataset900_Colin27AAL");
        foreach (var img in Directory.GetFiles(Path.Combine(ds, "imagesTs")))
        {
            var id = Path.GetFileName(img)[..^"_0000.nii.gz".Length];
            var pred = VolumeIO.Read(Path.Combine(root, "predictions", id + ".nii.gz"));
            var src = VolumeIO.Read(img);
            Assert.Equal(src.Shape, pred.Shape);
            Assert.Equal(src.Affine, pred.Affine);
        }
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(root, "overlays"), "*.png"));

        // a second demo into the same folder is refused instead of mixing runs
        Assert.Throws<CliException>(() => DemoCommand.Run(new DemoCommand.Args { Out = root, Iterations = 2 }, TextWriter.Null, TextWriter.Null, false));
    }
}
