using System.Text.Json;
using SamAdapt.Imaging.Npy;
using SamAdapt.Sam.Modeling;
using SamAdapt.Tests;
using SamAdapt.Torch;

namespace SamAdapt.Sam.Tests.Modeling;

/// <summary>Paths and helpers for the sam-tiny golden fixture.</summary>
internal static class SamTinyFixture
{
    public static string Path(params string[] parts) => TestPaths.Fixture(["sam-tiny", .. parts]);

    public static string PthPath => Path("checkpoint.pth");
    public static string SafeTensorsPath => Path("checkpoint.safetensors");

    public static SamConfig Config => SamConfig.FromJsonFile(Path("config.json"));

    public static SamModel Load(string checkpoint) => SamCheckpoint.Load(checkpoint, Config);

    public static NpyArray Npy(params string[] parts) => NpyFile.Read(Path(parts));

    public static Tensor Tensor(NpyArray a) => a.DType switch
    {
        NpyDType.Float32 => Torch.Tensor.FromArray<float>(a.AsFloat32(), a.Shape),
        _ => Torch.Tensor.FromArray<long>(a.AsInt64(), a.Shape),
    };

    public static (int H, int W) OriginalSize
    {
        get
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(Path("manifest.json")));
            var s = doc.RootElement.GetProperty("original_size");
            return (s[0].GetInt32(), s[1].GetInt32());
        }
    }

    public static IEnumerable<(string Name, bool Multimask)> Cases()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path("manifest.json")));
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateObject())
            yield return (c.Name, c.Value.GetProperty("multimask_output").GetBoolean());
    }

    /// <summary>‖a − b‖ / ‖b‖ over float32 arrays (computed in float64).</summary>
    public static double RelativeError(float[] actual, float[] expected)
    {
        Assert.Equal(expected.Length, actual.Length);
        double num = 0, den = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = (double)actual[i] - expected[i];
            num += d * d;
            den += (double)expected[i] * expected[i];
        }
        return Math.Sqrt(num) / Math.Max(Math.Sqrt(den), 1e-30);
    }

    public static double MaxAbs(float[] actual, float[] expected)
    {
        double m = 0;
        for (int i = 0; i < expected.Length; i++) m = Math.Max(m, Math.Abs((double)actual[i] - expected[i]));
        return m;
    }
}
