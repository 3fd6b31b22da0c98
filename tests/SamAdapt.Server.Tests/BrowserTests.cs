using System.Diagnostics;
using System.Text.Json;
using SamAdapt.Imaging;
using SamAdapt.Imaging.Images2D;
using SamAdapt.Inference;
using SamAdapt.Tests;
using SamAdapt.Torch;

namespace SamAdapt.Server.Tests;

/// <summary>
/// The viewer page end to end in a real headless browser (Debian's chromium, driven by npm playwright-core through
/// web/e2e/viewer.e2e.mjs): load a volume and see it render, click a point and see the mask overlay, run the automatic
/// prediction, save, and compare the saved NIfTI's geometry and labels with the input and the run's own prediction.
/// Missing tools fail the test with the command that installs them (./build.sh web, apt-get install chromium).
/// </summary>
public class BrowserTests(ServerFixture fx) : IClassFixture<ServerFixture>
{
    private static string Web => Path.Combine(TestPaths.RepoRoot, "web");

    private static void RequireTools()
    {
        var chromium = Environment.GetEnvironmentVariable("SAMADAPT_CHROMIUM") ?? "/usr/bin/chromium";
        if (!File.Exists(chromium)) Assert.Fail($"{chromium} is missing: install Debian's chromium (apt-get install -y chromium; ./build.sh deps does it)");
        if (!Directory.Exists(Path.Combine(Web, "node_modules", "playwright-core")))
            Assert.Fail("web/node_modules is missing: run ./build.sh web (npm ci of web/package-lock.json)");
        if (ServerHost.FindStaticRoot(new ServeSettings()) is null)
            Assert.Fail("the page is not built (src/SamAdapt.Server/wwwroot): run ./build.sh web");
    }

    /// <summary>Grey levels of a screenshot (mean of R, G, B per pixel).</summary>
    private static double[] Grey(string png)
    {
        var img = ImageFile.Read(png);
        var px = img.Pixels8!;
        var r = new double[img.Width * img.Height];
        for (int p = 0; p < r.Length; p++)
        {
            double s = 0;
            for (int c = 0; c < Math.Min(3, img.Channels); c++) s += px[p * img.Channels + c];
            r[p] = s / Math.Min(3, img.Channels);
        }
        return r;
    }

    private static double Std(double[] v)
    {
        double m = v.Average();
        return Math.Sqrt(v.Sum(x => (x - m) * (x - m)) / v.Length);
    }

    [Fact]
    public async Task Page_LoadsClicksPredictsAndSaves_InARealBrowser()
    {
        RequireTools();
        await using var server = await fx.Start();
        using var outDir = TestPaths.NewTempDir();
        var psi = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = Web };
        foreach (var a in new[] { Path.Combine(Web, "e2e", "viewer.e2e.mjs"), server.Url + "/", outDir.Path, ServerFixture.Nifti, ServerFixture.Study, "T2 axial" }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = await p.StandardOutput.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(4))) { p.Kill(true); Assert.Fail("the browser test timed out"); }
        Assert.True(p.ExitCode == 0, $"node exited {p.ExitCode}: {await stderr}\n{stdout}");
        var lastLine = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1];
        var r = JsonDocument.Parse(lastLine).RootElement;
        Assert.True(r.GetProperty("errors").GetArrayLength() == 0, $"errors in the page: {r.GetProperty("errors")}");

        // the volume renders: the canvas is not one flat colour
        var loaded = Grey(Path.Combine(outDir.Path, "loaded.png"));
        Assert.True(Std(loaded) > 5, $"the canvas looks empty (grey-level std {Std(loaded):F1})");

        // the click was placed on a slice of the volume, inside it, and its mask is drawn over the image
        var prompt = r.GetProperty("prompt");
        int slice = prompt.GetProperty("slice").GetInt32();
        Assert.InRange(slice, 0, 8);
        Assert.InRange(prompt.GetProperty("point").GetProperty("x").GetDouble(), 0, 24);
        Assert.InRange(prompt.GetProperty("point").GetProperty("y").GetDouble(), 0, 20);
        int voxels = prompt.GetProperty("voxels").GetInt32();
        var clicked = Grey(Path.Combine(outDir.Path, "clicked.png"));
        int changed = loaded.Zip(clicked).Count(t => Math.Abs(t.First - t.Second) > 8);
        if (voxels > 0) Assert.True(changed > 50, $"a {voxels}-voxel mask came back but only {changed} screen pixels changed");
        Assert.StartsWith("accepted", r.GetProperty("accepted").GetString());

        // the page's screen → voxel mapping: at every clicked point the image holds the intensity NiiVue itself shows there
        var image = VolumeIO.Read(Path.Combine(fx.DataRoot, ServerFixture.Nifti));
        var checks = r.GetProperty("checks").EnumerateArray().ToList();
        Assert.Equal(5, checks.Count);
        var seen = new HashSet<double>();
        foreach (var c in checks)
        {
            double x = c.GetProperty("point").GetProperty("x").GetDouble(), y = c.GetProperty("point").GetProperty("y").GetDouble();
            int i = Math.Min(23, (int)Math.Floor(x)), j = Math.Min(19, (int)Math.Floor(y)), k = c.GetProperty("slice").GetInt32();
            double shown = c.GetProperty("value").GetDouble();
            Assert.True(image.Get(i, j, k) == shown, $"click at voxel ({i}, {j}, {k}) (x {x:F2}, y {y:F2}): the image holds {image.Get(i, j, k)}, NiiVue shows {shown}");
            seen.Add(shown);
        }
        Assert.True(seen.Count >= 2, $"the clicks all hit one intensity ({string.Join(", ", seen)}): the mapping check needs points inside and outside the organs");

        // automatic prediction ran to the end of its progress
        Assert.StartsWith("automatic prediction done", r.GetProperty("auto").GetString());
        var progress = r.GetProperty("progress").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        Assert.Equal(9, progress[0]);
        Assert.Equal(9, progress[1]);

        // the saved NIfTI: the input's grid, and the automatic prediction's labels (it replaced the edited map)
        Assert.StartsWith("saved out/e2e_labels.nii.gz", r.GetProperty("saved").GetString());
        var input = VolumeIO.Read(Path.Combine(fx.DataRoot, ServerFixture.Nifti));
        var saved = VolumeIO.Read(Path.Combine(fx.DataRoot, "out", "e2e_labels.nii.gz"));
        Assert.Equal(input.Shape, saved.Shape);
        for (int i = 0; i < 16; i++) Assert.Equal(input.Affine[i], saved.Affine[i], 5);
        Assert.Equal(Volume.IntentLabel, saved.IntentCode);
        using var run = RunLoader.Load(fx.Run, RunWeights.Best, Device.CPU);
        var expected = new VolumePredictor(run.Model, Device.CPU).Predict(input, "x").Labels;
        for (long i = 0; i < input.VoxelCount; i++) Assert.Equal(expected.Get(i), saved.Get(i));

        // a folder holding two DICOM series: the page lists both and opens the one clicked
        Assert.Equal(2, r.GetProperty("seriesListed").GetInt32());
        var opened = r.GetProperty("series");
        Assert.True(opened.GetProperty("dicom").GetBoolean());
        Assert.Equal([14, 12, 5], opened.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray());
    }
}
