using System.Text.Json;
using SamAdapt.Imaging.Npy;
using SamAdapt.Sam.Modeling;
using SamAdapt.Sam.Prediction;
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

    public static (byte[] Pixels, int H, int W) FixtureImage()
    {
        var a = Npy("image.npy");
        return (a.ToArray<byte>(), (int)a.Shape[0], (int)a.Shape[1]);
    }

    /// <summary>The prompt of a fixture case, as the reference's predict() receives it (float32 .npy values widened to float64).</summary>
    public static SamPrompt CasePrompt(string name)
    {
        string dir = Path(name);
        double[]? coords = null, box = null;
        int[]? labels = null;
        float[]? mask = null;
        if (File.Exists(System.IO.Path.Combine(dir, "point_coords.npy")))
        {
            coords = Npy(name, "point_coords.npy").AsFloat64();
            labels = Npy(name, "point_labels.npy").AsInt64().Select(l => (int)l).ToArray();
        }
        if (File.Exists(System.IO.Path.Combine(dir, "box.npy"))) box = Npy(name, "box.npy").AsFloat64();
        if (File.Exists(System.IO.Path.Combine(dir, "mask_input.npy"))) mask = Npy(name, "mask_input.npy").AsFloat32();
        return new SamPrompt { PointCoords = coords, PointLabels = labels, Box = box, MaskInput = mask };
    }

    public static NpyArray Npy(params string[] parts) => NpyFile.Read(Path(parts));

    public static Tensor Tensor(NpyArray a) => FixtureArrays.ToTensor(a);

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
    public static double RelativeError(float[] actual, float[] expected) => FixtureArrays.RelativeError(actual, expected);

    public static double MaxAbs(float[] actual, float[] expected)
    {
        double m = 0;
        for (int i = 0; i < expected.Length; i++) m = Math.Max(m, Math.Abs((double)actual[i] - expected[i]));
        return m;
    }
}
