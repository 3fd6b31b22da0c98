using System.Text.Json;
using SamAdapt.Imaging.Npy;
using SamAdapt.Tests;
using SamAdapt.Torch;

namespace SamAdapt.Methods.Tests.MaskSam;

/// <summary>The masksam-tiny golden fixture (outputs of the reference MaskSAM code): arrays, JSON files, relative-error checks.</summary>
internal static class MaskSamTinyFixture
{
    public const double Bound = FixtureArrays.Bound;

    public static string Path(params string[] parts) => TestPaths.Fixture(["masksam-tiny", .. parts]);

    public static JsonElement Json(params string[] parts)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path(parts)));
        return doc.RootElement.Clone();
    }

    public static NpyArray Npy(string name) => NpyFile.Read(Path(name + ".npy"));

    /// <summary>An array as a tensor: float32/float64 as stored, integers as int64.</summary>
    public static Tensor Tensor(string name) => FixtureArrays.ToTensor(Npy(name));

    public static int Config(string name) => Json("config.json").GetProperty(name).GetInt32();

    /// <summary>‖a − b‖ / ‖b‖ in float64.</summary>
    public static double RelativeError(double[] actual, double[] expected) => FixtureArrays.RelativeError(actual, expected);

    public static double AssertClose(string what, Tensor actual, string expectedFile, Action<string>? log = null)
    {
        var e = Npy(expectedFile);
        Assert.Equal(e.Shape, actual.shape);
        return AssertClose(what, actual.to(DType.Float64).contiguous().ToArray<double>(), e.AsFloat64(), log);
    }

    public static double AssertClose(string what, double[] actual, double[] expected, Action<string>? log = null) =>
        FixtureArrays.AssertWithinBound(what, RelativeError(actual, expected), log);

    /// <summary>A <see cref="SamAdapt.Methods.MaskSam.UniformSource"/> that hands out the given tensors in order (checking each shape).</summary>
    public static SamAdapt.Methods.MaskSam.UniformSource Replay(params Tensor[] draws)
    {
        int next = 0;
        return shape =>
        {
            Assert.True(next < draws.Length, $"more random draws than the reference made (draw {next + 1}, shape [{string.Join(", ", shape)}])");
            var t = draws[next++];
            Assert.Equal(shape, t.shape);
            return t.alias();
        };
    }
}
