using System.Globalization;
using System.Text.Json;
using SamAdapt.Imaging.Preprocessing;
using SamAdapt.Tests;

namespace SamAdapt.Imaging.Tests.Preprocessing;

public class IntensityTransformTests
{
    private static void Close(IEnumerable<double> expected, IEnumerable<float> actual, double tol = 1e-6)
    {
        var e = expected.ToArray(); var a = actual.ToArray();
        Assert.Equal(e.Length, a.Length);
        for (int i = 0; i < e.Length; i++) Assert.True(Math.Abs(e[i] - a[i]) <= tol, $"[{i}] expected {e[i]}, got {a[i]}");
    }

    [Fact]
    public void Ct_window_clips_then_scales_to_unit_range()
    {
        float[] hu = [-1000, -175, 0, 37.5f, 250, 3000];
        var t = IntensityTransform.Parse("abdomen-btcv");
        Assert.Equal(new CtWindow(-175, 250), t);
        Close([0, 0, 175.0 / 425, 212.5 / 425, 1, 1], t.Apply(hu));
        Assert.Equal(new CtWindow(-125, 275), IntensityTransform.Parse("synapse"));
        Assert.Equal(new CtWindow(-200, 250), IntensityTransform.Parse("ma-sam"));
        Assert.Equal(new CtWindow(-160, 240), IntensityTransform.Parse("medsam"));
        Assert.Equal(new CtWindow(-160, 240), IntensityTransform.Parse("ct-level-width:40,400"));
        var medsam = (CtWindow)IntensityTransform.Parse("MEDSAM");
        Assert.Equal((40.0, 400.0), (medsam.Level, medsam.Width));
    }

    [Fact]
    public void Synapse_window_matches_hand_values()
    {
        Close([0, 0.3125, 0.40625, 0.9375, 1], new CtWindow(-125, 275).Apply(new float[] { -1000, 0, 37.5f, 250, 3000 }));
    }

    [Fact]
    public void Ma_sam_exact_is_clip_then_min_max_of_the_sample()
    {
        // clip to [-200, 250] → [-200, -50, 100, 250]; min-max → [0, 1/3, 2/3, 1]
        Close([0, 1.0 / 3, 2.0 / 3, 1], IntensityTransform.Parse("ma-sam-exact").Apply(new float[] { -1000, -50, 100, 900 }));
        // a sample that does not reach the window ends: min-max uses the sample's own range
        Close([0, 0.5, 1], new CtWindowMinMax(-200, 250).Apply(new float[] { -100, 0, 100 }));
        // the MA-SAM chain written out step by step gives the same numbers
        float[] x = [-300, -120, 10, 80, 240];
        var chain = x.Select(v => (Math.Clamp(v, -200.0, 250.0) + 200) / 450 * 255).Select(v => (v - 50.21997) / 68.47154).ToArray();
        double mn = chain.Min(), mx = chain.Max();
        Close(chain.Select(v => (v - mn) / (mx - mn)), new CtWindowMinMax(-200, 250).Apply(x), 1e-6);
        Close([0, 0, 0], new CtWindowMinMax(-200, 250).Apply(new float[] { 5, 5, 5 }));
    }

    [Fact]
    public void Medsam_exact_truncates_to_uint8()
    {
        // clip [-160, 240]: [-160, 0, 100, 240]; (x+160)/400·255 = [0, 102, 165.75, 255] → uint8 [0, 102, 165, 255]
        Close([0, 102.0 / 255, 165.0 / 255, 1], IntensityTransform.Parse("medsam-exact").Apply(new float[] { -500, 0, 100, 500 }));
        Close([0, 0], new CtWindowUInt8(-160, 240).Apply(new float[] { 7, 7 }));
    }

    [Fact]
    public void Zscore_uses_population_std()
    {
        // [1,2,3,4]: mean 2.5, population std √1.25
        double s = Math.Sqrt(1.25);
        Close([-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s], new ZScore(false).Apply(new float[] { 1, 2, 3, 4 }));
        // nonzero: stats of [2, 4] = mean 3, std 1; zeros stay 0
        Close([0, -1, 1, 0], IntensityTransform.Parse("zscore:nonzero").Apply(new float[] { 0, 2, 4, 0 }));
        var v = new float[] { 5, 6, 100 };
        ZScore.ApplyInPlace(v, [true, true, false]);
        Close([-1, 1, 0], v);
        Close([0, 0, 0], new ZScore(false).Apply(new float[] { 3, 3, 3 })); // std 0 → divided by 1e-8 of zero
    }

    [Fact]
    public void Percentile_clip_follows_numpy_linear()
    {
        // 0..100 (101 values): P0.5 → h = 0.5 → 0.5; P99.5 → 99.5
        var x = Enumerable.Range(0, 101).Select(i => (float)i).ToArray();
        var t = new PercentileClip(0.5, 99.5);
        Assert.Equal((0.5, 99.5), t.Bounds(x));
        var y = t.Apply(x);
        Assert.Equal(0.5f, y[0]);
        Assert.Equal(1f, y[1]);
        Assert.Equal(99.5f, y[100]);
        // with rescale: [0.5, 99.5] → [0, 1]
        var r = new PercentileClip(0.5, 99.5, Rescale: true).Apply(x);
        Assert.Equal(0f, r[0]);
        Assert.Equal(1f, r[100]);
        Assert.Equal(49.5 / 99, r[50], 6);
        // nonzero: zeros ignored and kept
        var nz = new PercentileClip(0, 50, NonZero: true).Apply(new float[] { 0, 10, 20, 30, 0 });
        Assert.Equal([0f, 10f, 20f, 20f, 0f], nz);
    }

    [Fact]
    public void Percentile_hand_values()
    {
        double[] a = [3, 1, 4, 1, 5, 9, 2, 6];
        // sorted [1,1,2,3,4,5,6,9]; p=95: h = 7·0.95 = 6.65 → γ=0.65 ≥ 0.5: 9 − 3·0.35 = 7.95
        Assert.Equal(7.95, Percentile.Of(a, 95), 12);
        // p=50: h = 3.5 → 3 + 1·0.5... γ = 0.5 uses b − (b−a)(1−γ) = 4 − 0.5 = 3.5
        Assert.Equal(3.5, Percentile.Of(a, 50), 12);
        // p=10: h = 0.7 → 1 + 0 = 1 ; p=30: h = 2.1 → 2 + 0.1 = 2.1
        Assert.Equal(1, Percentile.Of(a, 10), 12);
        Assert.Equal(2.1, Percentile.Of(a, 30), 12);
        Assert.Equal(1, Percentile.Of(a, 0));
        Assert.Equal(9, Percentile.Of(a, 100));
        Assert.Equal(42, Percentile.Of([42.0], 95));
        Assert.Throws<ArgumentException>(() => Percentile.Of(Array.Empty<double>(), 50));
        Assert.Throws<ArgumentOutOfRangeException>(() => Percentile.Of(a, 101));
    }

    [Fact]
    public void Percentile_matches_numpy_bit_for_bit()
    {
        DebianPython.RequireNumpy();
        var rng = new Random(5);
        var sets = Enumerable.Range(0, 30).Select(i => Enumerable.Range(0, 1 + rng.Next(i < 10 ? 8 : 500)).Select(_ => Math.Round(rng.NextDouble() * 100, i % 3 == 0 ? 0 : 6)).ToArray()).ToArray();
        double[] ps = [0, 0.5, 5, 25, 50, 90, 95, 99.5, 100, 33.3];
        var json = JsonSerializer.Serialize(new { sets, ps });
        const string script = """
import json, sys
import numpy as np
d = json.load(open(sys.argv[1]))
print(json.dumps([[repr(float(np.percentile(np.array(s, dtype=np.float64), p))) for p in d["ps"]] for s in d["sets"]]))
""";
        var reference = JsonSerializer.Deserialize<string[][]>(RunWithInput(script, json))!;
        for (int i = 0; i < sets.Length; i++)
            for (int j = 0; j < ps.Length; j++)
                Assert.Equal(double.Parse(reference[i][j], CultureInfo.InvariantCulture), Percentile.Of(sets[i], ps[j]));
    }

    public static TheoryData<string> RoundTrips => new()
    {
        "none", "ct-window:-175,250", "ct-window:-125.5,275.25", "ct-window-minmax:-200,250", "ct-window-uint8:-160,240",
        "zscore", "zscore:nonzero", "percentile-clip:0.5,99.5", "percentile-clip:0.5,99.5,nonzero,rescale", "percentile-clip:1,99,rescale",
        "nnunet-ct:-958,1254.5,101.3,298.77",
    };

    [Theory]
    [MemberData(nameof(RoundTrips))]
    public void Text_form_round_trips(string text)
    {
        var t = IntensityTransform.Parse(text);
        Assert.Equal(text, t.ToString());
        Assert.Equal(t, IntensityTransform.Parse(t.ToString()));
    }

    [Fact]
    public void Every_preset_round_trips_to_its_canonical_form()
    {
        foreach (var (name, t) in IntensityTransform.Presets)
        {
            Assert.Equal(t, IntensityTransform.Parse(name));
            Assert.Equal(t, IntensityTransform.Parse(t.ToString()));
            Assert.DoesNotContain(name, t.ToString());
        }
        Assert.Equal("ct-window:0.1,0.30000000000000004", new CtWindow(0.1, 0.1 + 0.2).ToString());
        Assert.Equal(new CtWindow(0.1, 0.1 + 0.2), IntensityTransform.Parse(new CtWindow(0.1, 0.1 + 0.2).ToString()));
        Assert.Equal(new PercentileClip(1, 99, true, true), IntensityTransform.Parse(" percentile-clip : 1 , 99 , rescale , nonzero "));
    }

    [Theory]
    [InlineData("")]
    [InlineData("ct-window")]
    [InlineData("ct-window:250,-175")]
    [InlineData("ct-window:a,b")]
    [InlineData("ct-window:1,2,3")]
    [InlineData("zscore:mask")]
    [InlineData("percentile-clip:0.5,99.5,nonzero,nonzero")]
    [InlineData("percentile-clip:5,101")]
    [InlineData("gamma:2")]
    [InlineData("ct-level-width:40,-1")]
    [InlineData("ct-window:NaN,1")]
    public void Bad_text_is_a_format_error(string text)
    {
        var e = Assert.Throws<FormatException>(() => IntensityTransform.Parse(text));
        Assert.False(string.IsNullOrWhiteSpace(e.Message));
        Assert.False(IntensityTransform.TryParse(text, out _, out _));
    }

    [Fact]
    public void Volumes_are_transformed_with_slope_and_intercept()
    {
        var v = new Volume([2, 2], VoxelType.Int16, new short[] { 0, 1000, 1024, 2000 }, Geometry.Identity()) { Slope = 1, Intercept = -1024 };
        var t = new CtWindow(-175, 250);
        Close([0, 151.0 / 425, 175.0 / 425, 1], t.Apply(v)); // HU −1024, −24, 0, 976
        var w = t.ApplyToVolume(v);
        Assert.Equal(VoxelType.Float32, w.Type);
        Assert.False(w.IsScaled);
        Assert.Equal(v.Affine, w.Affine);
    }

    [Fact]
    public void Foreground_statistics_and_nnunet_transform()
    {
        var stats = new ForegroundIntensityStatistics();
        stats.Add(new float[] { -1000, 10, 20, 30 }, new int[] { 0, 1, 2, 1 });
        stats.Add(new float[] { 40, -500, 50 }, new int[] { 3, 0, 1 });
        var s = stats.Compute();
        // foreground values [10, 20, 30, 40, 50]: mean 30, population std √200, P0.5: h = 0.02 → 10.2, P99.5: h = 3.98 → 49.8
        Assert.Equal(5, s.Count);
        Assert.Equal(30, s.Mean, 12);
        Assert.Equal(Math.Sqrt(200), s.Std, 12);
        Assert.Equal(10.2, s.Percentile00_5, 12);
        Assert.Equal(49.8, s.Percentile99_5, 12);
        Assert.Equal((10.0, 50.0, 30.0), (s.Min, s.Max, s.Median));
        var t = s.ToTransform();
        Assert.Equal(t, IntensityTransform.Parse(t.ToString()));
        Close([(10.2 - 30) / Math.Sqrt(200), 0, (49.8 - 30) / Math.Sqrt(200)], t.Apply(new float[] { -1000, 30, 1e6f }));
        Assert.Equal(2, stats.CaseCount);

        var ignoring = new ForegroundIntensityStatistics(ignoreLabel: 2);
        ignoring.Add(new float[] { 1, 2, 3 }, new int[] { 1, 2, 1 });
        Assert.Equal(2, ignoring.Compute().Mean);
        Assert.Throws<InvalidOperationException>(() => new ForegroundIntensityStatistics().Compute());

        var sampled = new ForegroundIntensityStatistics(maxSamplesPerCase: 3, seed: 9);
        sampled.Add(Enumerable.Range(0, 100).Select(i => (float)i).ToArray(), Enumerable.Repeat(1, 100).ToArray());
        var ss = sampled.Compute();
        Assert.Equal(3, ss.Count);
        Assert.InRange(ss.Min, 0, 99);
    }

    [Fact]
    public void Foreground_statistics_from_volumes()
    {
        var img = new Volume([3], VoxelType.Int16, new short[] { 1000, 1100, 1200 }, Geometry.Identity()) { Intercept = -1024 };
        var lab = new Volume([3], VoxelType.UInt8, new byte[] { 0, 1, 1 }, Geometry.Identity());
        var stats = new ForegroundIntensityStatistics();
        stats.Add(img, lab);
        Assert.Equal(126, stats.Compute().Mean, 12);
    }

    /// <summary>Runs a Debian-python script whose JSON input is in the file named by sys.argv[1]; returns stdout.</summary>
    internal static string RunWithInput(string script, string json)
    {
        using var tmp = TestPaths.NewTempDir();
        var input = tmp.File("input.json");
        File.WriteAllText(input, json);
        return DebianPython.Run(script, input);
    }
}
