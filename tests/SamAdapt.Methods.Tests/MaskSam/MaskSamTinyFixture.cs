using System.Text.Json;
using SamAdapt.Imaging.Npy;
using SamAdapt.Tests;
using SamAdapt.Torch;

namespace SamAdapt.Methods.Tests.MaskSam;

/// <summary>The masksam-tiny golden fixture (outputs of the reference MaskSAM code): arrays, JSON files, relative-error checks.</summary>
internal static class MaskSamTinyFixture
{
    public const double Bound = 1e-4;

    public static string Path(params string[] parts) => TestPaths.Fixture(["masksam-tiny", .. parts]);

    public static JsonElement Json(params string[] parts)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path(parts)));
        return doc.RootElement.Clone();
    }

    public static NpyArray Npy(string name) => NpyFile.Read(Path(name + ".npy"));

    /// <summary>An array as a tensor: float32/float64 as stored, integers as int64.</summary>
    public static Tensor Tensor(string name)
    {
        var a = Npy(name);
        return a.DType switch
        {
            NpyDType.Float32 => Torch.Tensor.FromArray<float>(a.AsFloat32(), a.Shape),
            NpyDType.Float64 => Torch.Tensor.FromArray<double>(a.AsFloat64(), a.Shape),
            _ => Torch.Tensor.FromArray<long>(a.AsInt64(), a.Shape),
        };
    }

    public static int Config(string name) => Json("config.json").GetProperty(name).GetInt32();

    /// <summary>‖a − b‖ / ‖b‖ in float64.</summary>
    public static double RelativeError(double[] actual, double[] expected)
    {
        Assert.Equal(expected.Length, actual.Length);
        double num = 0, den = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            double d = actual[i] - expected[i];
            num += d * d;
            den += expected[i] * expected[i];
        }
        return Math.Sqrt(num) / Math.Max(Math.Sqrt(den), 1e-30);
    }

    public static double AssertClose(string what, Tensor actual, string expectedFile, Action<string>? log = null)
    {
        var e = Npy(expectedFile);
        Assert.Equal(e.Shape, actual.shape);
        return AssertClose(what, actual.to(DType.Float64).contiguous().ToArray<double>(), e.AsFloat64(), log);
    }

    public static double AssertClose(string what, double[] actual, double[] expected, Action<string>? log = null)
    {
        double rel = RelativeError(actual, expected);
        log?.Invoke($"{what}: rel {rel:E2}");
        Assert.True(rel <= Bound, $"{what}: relative error {rel:E3} exceeds {Bound:E0}");
        return rel;
    }

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
