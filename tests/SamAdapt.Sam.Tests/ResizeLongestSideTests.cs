using System.Globalization;
using System.Text.Json;
using SamAdapt.Imaging.Npy;
using SamAdapt.Tests;

namespace SamAdapt.Sam.Tests;

public class ResizeLongestSideTests
{
    [Theory]
    [InlineData(100, 150, 128, 85, 128)]
    [InlineData(1500, 1000, 1024, 1024, 683)]
    [InlineData(480, 640, 1024, 768, 1024)]
    [InlineData(1, 500, 1024, 2, 1024)]
    [InlineData(1024, 1024, 1024, 1024, 1024)]
    [InlineData(1, 2048, 1024, 1, 1024)]   // 0.5 exactly: int(1.0) = 1
    [InlineData(3, 2048, 1024, 2, 1024)]   // 1.5 + 0.5 = 2
    [InlineData(2000, 3, 1024, 1024, 2)]   // 1.536 -> 2
    public void PreprocessShape(int h, int w, int target, int nh, int nw)
    {
        Assert.Equal((nh, nw), ResizeLongestSide.GetPreprocessShape(h, w, target));
        Assert.Equal((nh, nw), new ResizeLongestSide(target).GetPreprocessShape(h, w));
    }

    [Fact]
    public void ApplyImageReproducesFixtureResize()
    {
        var img = NpyFile.Read(TestPaths.Fixture("sam-tiny", "image.npy")).Expect(NpyDType.UInt8, 100, 150, 3);
        var expected = NpyFile.Read(TestPaths.Fixture("sam-tiny", "resized_image.npy")).Expect(NpyDType.UInt8, 85, 128, 3);
        var r = new ResizeLongestSide(128).ApplyImage(img.Data, 100, 150);
        Assert.Equal((85, 128, 3), (r.Height, r.Width, r.Channels));
        Assert.Equal(expected.Data, r.Pixels);
    }

    [Fact]
    public void CoordsUseTheFloat64ScaleFactor()
    {
        var t = new ResizeLongestSide(128);
        // 3x3 image -> 128x128: x * (128/3) differs from x * 128 / 3 in the last bit for x = 5
        var c = t.ApplyCoords([5.0, 5.0], 3, 3);
        Assert.Equal(5 * (128.0 / 3), c[0]);
        Assert.Equal(213.33333333333331, c[0]);
        Assert.NotEqual(5 * 128.0 / 3, c[0]);
        Assert.Equal([(float)c[0], (float)c[1]], t.ApplyCoordsFloat32([5.0, 5.0], 3, 3));

        // fixture geometry: 100x150 -> 85x128; x scales by 128/150, y by 85/100
        var p = t.ApplyCoords([75.0f, 40.0f, 150.0f, 100.0f], 100, 150);
        Assert.Equal([75 * (128.0 / 150), 40 * (85.0 / 100), 150 * (128.0 / 150), 100 * (85.0 / 100)], p);
        var b = t.ApplyBoxesFloat32([10f, 20f, 140f, 90f], 100, 150);
        Assert.Equal([(float)(10 * (128.0 / 150)), (float)(20 * 0.85), (float)(140 * (128.0 / 150)), (float)(90 * 0.85)], b);
        Assert.Throws<ArgumentException>(() => t.ApplyBoxes([1.0, 2.0], 10, 10));
        Assert.Throws<ArgumentException>(() => t.ApplyCoords([1.0, 2.0, 3.0], 10, 10));
    }

    [Fact]
    public void CoordsMatchNumpyFormulaBitForBit()
    {
        DebianPython.RequireNumpy();
        var rng = new Random(11);
        var cases = new List<(int H, int W, float[] Xy)>();
        for (int i = 0; i < 60; i++)
        {
            int h = rng.Next(1, 4000), w = rng.Next(1, 4000);
            var xy = new float[8];
            for (int k = 0; k < xy.Length; k += 2) { xy[k] = (float)(rng.NextDouble() * w); xy[k + 1] = (float)(rng.NextDouble() * h); }
            cases.Add((h, w, xy));
        }
        var json = JsonSerializer.Serialize(cases.Select(c => new { h = c.H, w = c.W, xy = c.Xy.Select(v => v.ToString("R", CultureInfo.InvariantCulture)).ToArray() }));
        using var tmp = TestPaths.NewTempDir();
        File.WriteAllText(tmp.File("c.json"), json);
        // the reference formulas (docs/sam.md §4.1–4.2), written with numpy
        var output = DebianPython.Run("""
            import sys, json, numpy as np
            out = []
            for c in json.load(open(sys.argv[1])):
                h, w = c['h'], c['w']
                scale = 1024 * 1.0 / max(h, w)
                nh, nw = int(h * scale + 0.5), int(w * scale + 0.5)
                coords = np.array([float(np.float32(v)) for v in c['xy']], dtype=np.float32).reshape(-1, 2).astype(float)
                coords[..., 0] = coords[..., 0] * (nw / w)
                coords[..., 1] = coords[..., 1] * (nh / h)
                out.append({'nh': nh, 'nw': nw, 'f64': [v.hex() for v in coords.ravel().tolist()],
                            'f32': [float(v).hex() for v in coords.astype(np.float32).ravel()]})
            print(json.dumps(out))
            """, tmp.File("c.json"));
        var res = JsonDocument.Parse(output).RootElement;
        var t = new ResizeLongestSide();
        for (int i = 0; i < cases.Count; i++)
        {
            var (h, w, xy) = cases[i];
            var e = res[i];
            Assert.Equal((e.GetProperty("nh").GetInt32(), e.GetProperty("nw").GetInt32()), t.GetPreprocessShape(h, w));
            var d = t.ApplyCoords(xy, h, w);
            var f = t.ApplyCoordsFloat32(xy, h, w);
            for (int k = 0; k < d.Length; k++)
            {
                Assert.Equal(ParseHex(e.GetProperty("f64")[k].GetString()!), d[k]);
                Assert.Equal((float)ParseHex(e.GetProperty("f32")[k].GetString()!), f[k]);
            }
        }
    }

    /// <summary>Parses Python's float.hex() output, e.g. 0x1.8000000000000p+1.</summary>
    internal static double ParseHex(string s)
    {
        bool neg = s.StartsWith('-');
        if (neg) s = s[1..];
        if (s is "0x0.0p+0") return neg ? -0.0 : 0.0;
        var p = s.IndexOf('p');
        var mant = s[2..p];
        int exp = int.Parse(s[(p + 1)..], CultureInfo.InvariantCulture);
        var parts = mant.Split('.');
        ulong intPart = ulong.Parse(parts[0], NumberStyles.HexNumber);
        string frac = parts.Length > 1 ? parts[1] : "";
        ulong fracBits = frac.Length > 0 ? ulong.Parse(frac, NumberStyles.HexNumber) : 0;
        double v = intPart + fracBits / Math.Pow(16, frac.Length);
        v = Math.ScaleB(v, exp);
        return neg ? -v : v;
    }
}
