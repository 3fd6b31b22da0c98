using System.Text.Json;
using SamAdapt.Imaging.Npy;
using SamAdapt.Imaging.Resize;
using SamAdapt.Tests;

namespace SamAdapt.Imaging.Tests.Resize;

public class PilResizeTests
{
    [Fact]
    public void MatchesReferenceResizeOfFixtureExactly()
    {
        var img = NpyFile.Read(TestPaths.Fixture("sam-tiny", "image.npy")).Expect(NpyDType.UInt8, 100, 150, 3);
        var expected = NpyFile.Read(TestPaths.Fixture("sam-tiny", "resized_image.npy")).Expect(NpyDType.UInt8, 85, 128, 3);
        var got = PilResize.Bilinear(img.Data, 100, 150, 3, 85, 128);
        Assert.Equal(0, Mismatches(expected.Data, got));
    }

    [Fact]
    public void IdentityReturnsACopy()
    {
        var src = new byte[] { 1, 2, 3, 4, 5, 6 };
        var r = PilResize.Bilinear(src, 1, 2, 3, 1, 2);
        Assert.Equal(src, r);
        Assert.NotSame(src, r);
    }

    [Fact]
    public void HandComputedCases()
    {
        // 2 -> 1 (width): scale 2, support 2, center 1: weights over x=0,1 are 0.5/0.5 -> (10+20)/2 = 15
        Assert.Equal(new byte[] { 15 }, PilResize.Bilinear(new byte[] { 10, 20 }, 1, 2, 1, 1, 1));
        // constant images stay constant through both passes
        var c = Enumerable.Repeat((byte)200, 7 * 9 * 3).ToArray();
        Assert.All(PilResize.Bilinear(c, 7, 9, 3, 20, 4), v => Assert.Equal(200, v));
        // 1 -> 3 (upscale): every output reads the single input pixel with weight 1
        Assert.Equal(new byte[] { 77, 77, 77 }, PilResize.Bilinear(new byte[] { 77 }, 1, 1, 1, 1, 3));
        // 2 -> 4 upscale: centers 0.25, 0.75, 1.25, 1.75; weights (1-|j-c+0.5|), normalised
        // o=0: j=0 w=0.75 (j=1 w=0.25) -> 0.75*0+0.25*100 = 25; o=1: 0.25/0.75 -> 75; o=2 clipped window... see assert
        var up = PilResize.Bilinear(new byte[] { 0, 100 }, 1, 2, 1, 1, 4);
        Assert.Equal(new byte[] { 0, 25, 75, 100 }, up);
    }

    [Fact]
    public void CoefficientsAreFixedPointAndNormalised()
    {
        foreach (var (i, o) in new[] { (150, 128), (100, 85), (3, 1000), (1000, 3), (1, 1), (7, 2) })
        {
            var co = PilResize.ComputeCoefficients(i, o);
            for (int x = 0; x < o; x++)
            {
                long sum = 0;
                for (int j = 0; j < co.KernelSize; j++) sum += co.Weights[x * co.KernelSize + j];
                Assert.InRange(sum, (1 << 22) - co.KernelSize, (1 << 22) + co.KernelSize);
                Assert.InRange(co.Bounds[2 * x], 0, i - 1);
                Assert.InRange(co.Bounds[2 * x] + co.Bounds[2 * x + 1], 1, i);
            }
        }
    }

    [Fact]
    public void ChannelsAreIndependent()
    {
        var rng = new Random(5);
        int h = 13, w = 17, nh = 29, nw = 6;
        foreach (int c in new[] { 2, 4 })
        {
            var img = new byte[h * w * c];
            rng.NextBytes(img);
            var all = PilResize.Bilinear(img, h, w, c, nh, nw);
            for (int ch = 0; ch < c; ch++)
            {
                var plane = new byte[h * w];
                for (int i = 0; i < plane.Length; i++) plane[i] = img[i * c + ch];
                var r = PilResize.Bilinear(plane, h, w, 1, nh, nw);
                for (int i = 0; i < r.Length; i++) Assert.Equal(r[i], all[i * c + ch]);
            }
        }
    }

    [Fact]
    public void RejectsBadArguments()
    {
        Assert.Throws<ArgumentException>(() => PilResize.Bilinear(new byte[5], 2, 2, 1, 3, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => PilResize.Bilinear(new byte[4], 2, 2, 1, 0, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => PilResize.Bilinear(Array.Empty<byte>(), 0, 2, 1, 3, 3));
    }

    /// <summary>Byte-exact agreement with Pillow (Debian's python3-pil) on many size pairs, 1 and 3 channels.</summary>
    [Fact]
    public void MatchesPillowOnManySizes()
    {
        DebianPython.RequirePillow();
        var pairs = new List<(int H, int W, int C, int NH, int NW)>
        {
            (100, 150, 3, 85, 128),      // the fixture
            (480, 640, 3, 768, 1024),    // SAM upscale to 1024
            (1500, 1000, 3, 1024, 683),  // SAM downscale to 1024
            (375, 500, 3, 768, 1024),
            (720, 1280, 3, 576, 1024),
            (17, 23, 3, 100, 200),       // upscale both
            (30, 40, 3, 30, 40),         // identity
            (1, 500, 3, 2, 1024),        // extreme aspect
            (1000, 3, 1, 1024, 3),       // height only
            (3, 1000, 3, 3, 77),         // width only
            (1, 1, 3, 5, 7),             // 1-pixel up
            (7, 5, 1, 1, 1),             // to 1 pixel
            (1, 1, 1, 1, 1),
            (2, 2, 3, 600, 600),         // huge upscale
            (1024, 1024, 1, 10, 13),     // huge downscale
            (333, 777, 1, 439, 1024),
            (64, 64, 1, 63, 65),         // near-identity
            (5, 1, 1, 1024, 1),
            (256, 256, 3, 1024, 1024),
        };
        var rng = new Random(2024);
        for (int i = 0; i < 40; i++)
            pairs.Add((rng.Next(1, 300), rng.Next(1, 300), rng.Next(2) == 0 ? 1 : 3, rng.Next(1, 300), rng.Next(1, 300)));

        using var tmp = TestPaths.NewTempDir();
        var jobs = new List<object>();
        var inputs = new List<byte[]>();
        for (int k = 0; k < pairs.Count; k++)
        {
            var (h, w, c, nh, nw) = pairs[k];
            var img = new byte[h * w * c];
            switch (k % 3)
            {
                case 0: rng.NextBytes(img); break;
                case 1: for (int i = 0; i < img.Length; i++) img[i] = (byte)(((i / c) % w + (i / c) / w) % 2 == 0 ? 0 : 255); break; // checkerboard
                default: for (int i = 0; i < img.Length; i++) img[i] = (byte)((i / c % w) * 255 / Math.Max(1, w - 1) ^ (i % c) * 40); break; // ramps
            }
            inputs.Add(img);
            var inPath = tmp.File($"in{k}.npy");
            NpyFile.Write(inPath, c == 1 ? NpyArray.FromArray(img, h, w) : NpyArray.FromArray(img, h, w, c));
            jobs.Add(new { input = inPath, output = tmp.File($"out{k}.npy"), w = nw, h = nh });
        }
        var jobFile = tmp.File("jobs.json");
        File.WriteAllText(jobFile, JsonSerializer.Serialize(jobs));
        DebianPython.Run("""
            import sys, json, numpy as np
            from PIL import Image
            BILINEAR = getattr(getattr(Image, 'Resampling', Image), 'BILINEAR')
            for j in json.load(open(sys.argv[1])):
                a = np.load(j['input'])
                im = Image.fromarray(a, mode='L' if a.ndim == 2 else 'RGB')
                np.save(j['output'], np.asarray(im.resize((j['w'], j['h']), BILINEAR)))
            """, jobFile);

        var failures = new List<string>();
        for (int k = 0; k < pairs.Count; k++)
        {
            var (h, w, c, nh, nw) = pairs[k];
            var expected = NpyFile.Read(tmp.File($"out{k}.npy"));
            Assert.Equal(c == 1 ? new long[] { nh, nw } : [nh, nw, c], expected.Shape);
            var got = PilResize.Bilinear(inputs[k], h, w, c, nh, nw);
            int bad = Mismatches(expected.Data, got);
            if (bad != 0) failures.Add($"{h}x{w}x{c} -> {nh}x{nw}: {bad} mismatching bytes");
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    private static int Mismatches(byte[] a, byte[] b)
    {
        Assert.Equal(a.Length, b.Length);
        int n = 0;
        for (int i = 0; i < a.Length; i++) if (a[i] != b[i]) n++;
        return n;
    }
}
