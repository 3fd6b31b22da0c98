using System.Text.Json;
using SamAdapt.Imaging.Images2D;
using SamAdapt.Imaging.Tests.Dicom;
using SamAdapt.Tests;

namespace SamAdapt.Imaging.Tests.Png;

public class ImageFileTests
{
    private static byte[] Ramp8(int w, int h, int c, int seed = 1)
    {
        var rng = new Random(seed);
        var p = new byte[w * h * c];
        rng.NextBytes(p);
        return p;
    }

    private static ushort[] Ramp16(int w, int h, int c, int seed = 1)
    {
        var rng = new Random(seed);
        var p = new ushort[w * h * c];
        for (int i = 0; i < p.Length; i++) p[i] = (ushort)rng.Next(0, 65536);
        p[0] = 0;
        p[^1] = 65535;
        return p;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Png8_RoundTripsExactly(int channels)
    {
        using var dir = TestPaths.NewTempDir();
        var path = dir.File("a.png");
        var src = new Image2D(13, 7, channels, Ramp8(13, 7, channels));
        ImageFile.WritePng(path, src);
        var back = ImageFile.Read(path);
        Assert.Equal((13, 7, channels, 8), (back.Width, back.Height, back.Channels, back.BitDepth));
        Assert.Equal(src.Pixels8, back.Pixels8);
        Assert.Equal(path, back.Source);
        Assert.Equal((13, 7, channels, 8), ImageFile.ReadInfo(path));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Png16_RoundTripsExactly_Keeping16Bits(int channels)
    {
        using var dir = TestPaths.NewTempDir();
        var path = dir.File("a16.png");
        var src = new Image2D(9, 11, channels, Ramp16(9, 11, channels));
        ImageFile.WritePng(path, src);
        var back = ImageFile.Read(path);
        Assert.Equal(16, back.BitDepth);
        Assert.Equal(channels, back.Channels);
        Assert.Equal(src.Pixels16, back.Pixels16);
    }

    /// <summary>Independent decoder: Pillow reads our 16-bit and 8-bit PNGs to the same samples.</summary>
    [Fact]
    public void OurPngs_DecodeIdenticallyInPillow()
    {
        using var dir = TestPaths.NewTempDir();
        var p16 = dir.File("g16.png");
        var src16 = new Image2D(9, 5, 1, Ramp16(9, 5, 1, seed: 3));
        ImageFile.WritePng(p16, src16);
        var prgb = dir.File("rgb.png");
        var srcRgb = new Image2D(6, 4, 3, Ramp8(6, 4, 3, seed: 4));
        ImageFile.WritePng(prgb, srcRgb);
        const string script = """
            import sys, json
            import numpy as np
            from PIL import Image
            out = []
            for f in sys.argv[1:]:
                im = Image.open(f)
                a = np.asarray(im)
                out.append({'mode': im.mode, 'size': list(im.size), 'values': a.astype(np.int64).ravel().tolist()})
            print(json.dumps(out))
            """;
        using var doc = JsonDocument.Parse(DebianPython.Run(script, p16, prgb));
        var r16 = doc.RootElement[0];
        Assert.Equal([9, 5], r16.GetProperty("size").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(src16.Pixels16!.Select(x => (long)x), r16.GetProperty("values").EnumerateArray().Select(e => e.GetInt64()));
        var rgb = doc.RootElement[1];
        Assert.Equal("RGB", rgb.GetProperty("mode").GetString());
        Assert.Equal(srcRgb.Pixels8!.Select(x => (long)x), rgb.GetProperty("values").EnumerateArray().Select(e => e.GetInt64()));
    }

    /// <summary>Independent encoder: Pillow writes palette (with and without transparency), 16-bit grey and grey+alpha
    /// PNGs; we must decode them to Pillow's own expansion of the same file.</summary>
    [Fact]
    public void PillowWrittenPngs_DecodeLikePillow()
    {
        using var dir = TestPaths.NewTempDir();
        const string script = """
            import sys, json
            import numpy as np
            from PIL import Image
            d = sys.argv[1]
            rng = np.random.default_rng(7)
            pal = Image.fromarray(rng.integers(0, 6, (5, 8), dtype=np.uint8), mode='P')
            pal.putpalette([255,0,0, 0,255,0, 0,0,255, 10,20,30, 200,100,50, 7,7,7])
            pal.save(d + '/pal.png')
            pal.save(d + '/palt.png', transparency=bytes([255, 128, 0, 255, 255, 255]))
            g16 = rng.integers(0, 65536, (6, 7), dtype=np.uint16)
            Image.fromarray(g16.astype(np.uint16), mode='I;16').save(d + '/g16.png')
            la = Image.fromarray(rng.integers(0, 256, (4, 3, 2), dtype=np.uint8), mode='LA')
            la.save(d + '/la.png')
            out = {}
            for name, conv in [('pal', 'RGB'), ('palt', 'RGBA'), ('g16', None), ('la', None)]:
                im = Image.open(d + '/' + name + '.png')
                if conv: im = im.convert(conv)
                a = np.asarray(im)
                out[name] = {'size': list(im.size), 'values': a.astype(np.int64).ravel().tolist()}
            print(json.dumps(out))
            """;
        using var doc = JsonDocument.Parse(DebianPython.Run(script, dir.Path));
        foreach (var (name, channels, bits) in new[] { ("pal", 3, 8), ("palt", 4, 8), ("g16", 1, 16), ("la", 2, 8) })
        {
            var img = ImageFile.Read(dir.File(name + ".png"));
            var expected = doc.RootElement.GetProperty(name);
            Assert.Equal(expected.GetProperty("size").EnumerateArray().Select(e => e.GetInt32()), new[] { img.Width, img.Height });
            Assert.Equal((channels, bits), (img.Channels, img.BitDepth));
            var values = bits == 16 ? img.Pixels16!.Select(x => (long)x) : img.Pixels8!.Select(x => (long)x);
            Assert.Equal(expected.GetProperty("values").EnumerateArray().Select(e => e.GetInt64()), values);
        }
    }

    [Fact]
    public void RealPngFromDebian_DecodesLikePillow()
    {
        string[] preferred =
        [
            "/usr/share/doc/libpng-dev/examples/pngtest.png",
            "/usr/share/icons/Adwaita/512x512/places/folder.png",
            "/usr/share/cmake-3.25/Templates/Windows/ApplicationIcon.png",
        ];
        var path = preferred.FirstOrDefault(File.Exists)
                   ?? Directory.EnumerateFiles("/usr/share", "*.png", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true })
                       .FirstOrDefault();
        if (path is null) Assert.Fail("no PNG file under /usr/share to test with: install e.g. libpng-dev or adwaita-icon-theme");
        const string script = """
            import sys, json
            import numpy as np
            from PIL import Image
            im = Image.open(sys.argv[1])
            im.load()
            mode = im.mode
            if mode == 'P':
                im = im.convert('RGBA' if 'transparency' in im.info else 'RGB')
            elif mode in ('1', 'L;4', 'L;2'):
                im = im.convert('L')
            a = np.asarray(im)
            print(json.dumps({'mode': mode, 'size': list(im.size), 'shape': list(a.shape), 'sum': int(a.astype(np.int64).sum()),
                              'first': a.astype(np.int64).ravel()[:64].tolist()}))
            """;
        using var doc = JsonDocument.Parse(DebianPython.Run(script, path));
        var r = doc.RootElement;
        var img = ImageFile.Read(path);
        Assert.Equal(r.GetProperty("size").EnumerateArray().Select(e => e.GetInt32()), new[] { img.Width, img.Height });
        var shape = r.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.Equal(shape.Length == 2 ? 1 : shape[2], img.Channels);
        long sum = img.BitDepth == 16 ? img.Pixels16!.Sum(x => (long)x) : img.Pixels8!.Sum(x => (long)x);
        Assert.Equal(r.GetProperty("sum").GetInt64(), sum);
        var first = img.BitDepth == 16 ? img.Pixels16!.Take(64).Select(x => (long)x) : img.Pixels8!.Take(64).Select(x => (long)x);
        Assert.Equal(r.GetProperty("first").EnumerateArray().Select(e => e.GetInt64()), first);
    }

    [Fact]
    public void Jpeg_GeneratedWithStbWriter_DecodesClose()
    {
        using var dir = TestPaths.NewTempDir();
        int w = 48, h = 32;
        var rgb = new byte[w * h * 3];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int o = (y * w + x) * 3;
                rgb[o] = (byte)(x * 5);
                rgb[o + 1] = (byte)(y * 7);
                rgb[o + 2] = (byte)(128 + (x - y));
            }
        var path = dir.File("g.jpg");
        ImageFile.WriteJpeg(path, new Image2D(w, h, 3, rgb), quality: 95);
        Assert.Equal(0xFF, File.ReadAllBytes(path)[0]);
        var back = ImageFile.Read(path);
        Assert.Equal((w, h, 3, 8), (back.Width, back.Height, back.Channels, back.BitDepth));
        double sumAbs = 0;
        int maxAbs = 0;
        for (int i = 0; i < rgb.Length; i++)
        {
            int d = Math.Abs(rgb[i] - back.Pixels8![i]);
            sumAbs += d;
            maxAbs = Math.Max(maxAbs, d);
        }
        Assert.True(sumAbs / rgb.Length < 2.0, $"mean abs error {sumAbs / rgb.Length}");
        Assert.True(maxAbs <= 16, $"max abs error {maxAbs}");

        var v = ImageFile.ReadVolume(path);
        Assert.Equal(VoxelType.Rgb24, v.Type);
        Assert.Equal([w, h, 1], v.Shape);
    }

    [Fact]
    public void CorruptTruncatedAndEmptyFiles_GiveErrorsNamingTheFile()
    {
        using var dir = TestPaths.NewTempDir();
        var good = dir.File("good.png");
        ImageFile.WritePng(good, new Image2D(64, 64, 3, Ramp8(64, 64, 3)));
        var bytes = File.ReadAllBytes(good);

        var truncated = dir.File("truncated.png");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        var e1 = Assert.Throws<InvalidDataException>(() => ImageFile.Read(truncated));
        Assert.Contains("truncated.png", e1.Message);

        var garbage = dir.File("garbage.png");
        File.WriteAllBytes(garbage, Ramp8(500, 1, 1, seed: 9));
        var e2 = Assert.Throws<InvalidDataException>(() => ImageFile.Read(garbage));
        Assert.Contains("garbage.png", e2.Message);
        Assert.Contains("cannot decode image:", e2.Message);

        var badCrcBody = (byte[])bytes.Clone();
        for (int i = 60; i < badCrcBody.Length - 20; i++) badCrcBody[i] ^= 0x5A; // scramble the zlib stream
        var scrambled = dir.File("scrambled.png");
        File.WriteAllBytes(scrambled, badCrcBody);
        Assert.Contains("scrambled.png", Assert.Throws<InvalidDataException>(() => ImageFile.Read(scrambled)).Message);

        var empty = dir.File("empty.png");
        File.WriteAllBytes(empty, []);
        Assert.Contains("empty.png", Assert.Throws<InvalidDataException>(() => ImageFile.Read(empty)).Message);

        Assert.Throws<FileNotFoundException>(() => ImageFile.Read(dir.File("missing.png")));
    }

    [Fact]
    public void ToVolume_AxisConventionAndTypes()
    {
        int w = 5, h = 3;
        var grey = new byte[w * h];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                grey[y * w + x] = (byte)(10 * y + x);
        var v = new Image2D(w, h, 1, grey).ToVolume();
        Assert.Equal([w, h, 1], v.Shape);
        Assert.Equal(VoxelType.UInt8, v.Type);
        var data = (byte[])v.Data;
        Assert.Equal(10 * 2 + 4, data[4 + w * 2]); // voxel (i = x = 4, j = y = 2)
        // top row (j = 0) at y = H − 1, rows go to −y
        Assert.Equal([1, 0, 0, 0, 0, -1, 0, h - 1, 0, 0, 1, 0, 0, 0, 0, 1], v.Affine);

        var la = new Image2D(2, 1, 2, new byte[] { 7, 200, 9, 100 }).ToVolume();
        Assert.Equal(new byte[] { 7, 9 }, (byte[])la.Data); // alpha dropped
        Assert.Equal(VoxelType.Rgba32, new Image2D(2, 1, 4, new byte[8]).ToVolume().Type);
        var rgb16 = new Image2D(2, 1, 3, new ushort[] { 1, 2, 3, 4, 5, 6 }).ToVolume();
        Assert.Equal([2, 1, 1, 1, 3], rgb16.Shape);
        Assert.Equal(new ushort[] { 1, 4, 2, 5, 3, 6 }, (ushort[])rgb16.Data);
    }

    [Fact]
    public void WriteVolume_MasksAndLabelMaps()
    {
        using var dir = TestPaths.NewTempDir();
        int w = 4, h = 3;
        var labels = new short[w * h];
        for (int i = 0; i < labels.Length; i++) labels[i] = (short)(i % 3);
        var v = new Volume([w, h, 1], VoxelType.Int16, labels, Image2D.AffineFor(h));
        var path = dir.File("mask.png");
        ImageFile.WritePng(path, v);
        var back = ImageFile.Read(path);
        Assert.Equal((1, 8), (back.Channels, back.BitDepth));
        Assert.Equal(labels.Select(x => (byte)x), back.Pixels8!);
        // read → volume → write → read is exact
        var again = dir.File("again.png");
        ImageFile.WritePng(again, ImageFile.ReadVolume(path));
        Assert.Equal(back.Pixels8, ImageFile.Read(again).Pixels8);

        var big = new Volume([2, 1], VoxelType.Int32, new[] { 0, 1000 }, Geometry.Identity());
        ImageFile.WritePng(dir.File("big.png"), big);
        Assert.Equal(new ushort[] { 0, 1000 }, ImageFile.Read(dir.File("big.png")).Pixels16!);

        var negative = new Volume([2, 1], VoxelType.Int16, new short[] { -1, 3 }, Geometry.Identity());
        Assert.Throws<ArgumentException>(() => ImageFile.WritePng(dir.File("neg.png"), negative));
        var threeD = new Volume([2, 2, 2], VoxelType.UInt8, new byte[8], Geometry.Identity());
        Assert.Throws<ArgumentException>(() => ImageFile.WritePng(dir.File("3d.png"), threeD));

        ImageFile.WriteRgbPng(dir.File("overlay.png"), 2, 1, [255, 0, 0, 0, 255, 0]);
        Assert.Equal(new byte[] { 255, 0, 0, 0, 255, 0 }, ImageFile.Read(dir.File("overlay.png")).Pixels8);
        ImageFile.WriteMaskPng(dir.File("m.png"), 2, 1, [0, 1]);
        Assert.Equal(new byte[] { 0, 1 }, ImageFile.Read(dir.File("m.png")).Pixels8);
    }
}
