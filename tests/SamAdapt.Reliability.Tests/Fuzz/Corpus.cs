using System.IO.Compression;
using SamAdapt.Tests;

namespace SamAdapt.Reliability.Tests.Fuzz;

/// <summary>The kind of a seed file: decides the mutators and the verbs that read it.</summary>
public enum SeedKind { Nifti, NiftiGz, Dicom, Npy, Pth, SafeTensors, Png, Jpeg, Bmp, ModelJson, DatasetJson }

public sealed record Seed(string Name, SeedKind Kind, byte[] Bytes)
{
    /// <summary>File extension the mutated copy is written with (readers dispatch on it).</summary>
    public string Extension => Kind switch
    {
        SeedKind.Nifti => ".nii",
        SeedKind.NiftiGz => ".nii.gz",
        SeedKind.Dicom => ".dcm",
        SeedKind.Npy => ".npy",
        SeedKind.Pth => ".pth",
        SeedKind.SafeTensors => ".safetensors",
        SeedKind.Png => ".png",
        SeedKind.Jpeg => ".jpg",
        SeedKind.Bmp => ".bmp",
        _ => ".json",
    };
}

/// <summary>
/// Real files from Debian packages and the golden fixtures: mricron-data's NIfTI templates (the small label atlases, plus an
/// uncompressed copy so header mutations are not all caught by the gzip checksum), python3-pydicom's DICOM test files,
/// python3-numpy's .npy test data and the fixtures' .npy arrays, the fixture checkpoints (.pth, .safetensors) and model
/// configurations, PNG icons, JPEG images and a BMP (docs/reliability.md). A missing package fails the test, naming it.
/// </summary>
public static class Corpus
{
    public const string Mricron = "/usr/share/mricron/templates";
    public const string Pydicom = "/usr/lib/python3/dist-packages/pydicom/data/test_files";
    public const string NumpyData = "/usr/lib/python3/dist-packages/numpy/lib/tests/data";

    private static readonly string[] NiftiSeeds = ["JHU-WhiteMatter-labels-2mm.nii.gz", "AICHAmc.nii.gz"];

    public static IReadOnlyList<Seed> Load()
    {
        Require(Mricron, "mricron-data");
        Require(Pydicom, "python3-pydicom");
        var seeds = new List<Seed>();
        foreach (var n in NiftiSeeds)
        {
            var gz = File.ReadAllBytes(Path.Combine(Mricron, n));
            seeds.Add(new Seed(n, SeedKind.NiftiGz, gz));
            seeds.Add(new Seed(n[..^3], SeedKind.Nifti, Gunzip(gz)));
        }
        // uncompressed, single-frame images GDCM decodes plus a few compressed and exotic encodings
        foreach (var n in new[] { "CT_small.dcm", "MR_small.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm", "MR_small_RLE.dcm",
                     "JPEG-lossy.dcm", "SC_rgb_small_odd.dcm", "image_dfl.dcm", "liver_1frame.dcm", "rtdose_1frame.dcm", "no_meta.dcm" })
            if (File.Exists(Path.Combine(Pydicom, n))) seeds.Add(new Seed(n, SeedKind.Dicom, File.ReadAllBytes(Path.Combine(Pydicom, n))));
        if (Directory.Exists(NumpyData))
            foreach (var f in Directory.GetFiles(NumpyData, "*.npy").Where(f => new FileInfo(f).Length < 200_000).Order())
                seeds.Add(new Seed(Path.GetFileName(f), SeedKind.Npy, File.ReadAllBytes(f)));
        seeds.Add(new Seed("sam-tiny/image.npy", SeedKind.Npy, File.ReadAllBytes(TestPaths.Fixture("sam-tiny", "image.npy"))));
        var lowRes = Directory.GetFiles(TestPaths.Fixture("sam-tiny", "box"), "low_res_logits.npy");
        if (lowRes.Length > 0) seeds.Add(new Seed("sam-tiny/box/low_res_logits.npy", SeedKind.Npy, File.ReadAllBytes(lowRes[0])));
        seeds.Add(new Seed("sam-tiny/checkpoint.pth", SeedKind.Pth, File.ReadAllBytes(TestPaths.Fixture("sam-tiny", "checkpoint.pth"))));
        seeds.Add(new Seed("sam-tiny/checkpoint.safetensors", SeedKind.SafeTensors, File.ReadAllBytes(TestPaths.Fixture("sam-tiny", "checkpoint.safetensors"))));
        seeds.Add(new Seed("sam-tiny/config.json", SeedKind.ModelJson, File.ReadAllBytes(TestPaths.Fixture("sam-tiny", "config.json"))));
        foreach (var png in new[] { "/usr/share/pixmaps/debian-logo.png", "/usr/share/icons/hicolor/48x48/apps/gvim.png" })
            if (File.Exists(png)) seeds.Add(new Seed(Path.GetFileName(png), SeedKind.Png, File.ReadAllBytes(png)));
        foreach (var jpg in new[] { "/usr/share/doc/nodejs/thin-white-stripe.jpg", "/usr/share/doc/nodejs/full-white-stripe.jpg" })
            if (File.Exists(jpg)) seeds.Add(new Seed(Path.GetFileName(jpg), SeedKind.Jpeg, File.ReadAllBytes(jpg)));
        seeds.Add(new Seed("synthetic.bmp", SeedKind.Bmp, Bmp(24, 17)));
        seeds.Add(new Seed("dataset.json", SeedKind.DatasetJson, System.Text.Encoding.UTF8.GetBytes(DatasetJson)));
        if (!seeds.Any(s => s.Kind == SeedKind.Png)) Assert.Fail("no PNG seed found (/usr/share/pixmaps/debian-logo.png)");
        return seeds;
    }

    /// <summary>The dataset.json of the one-case dataset <see cref="FuzzRunner"/> builds (image and label: mricron's JHU
    /// white-matter atlas, labels 0..48).</summary>
    public static readonly string DatasetJson =
        "{\"name\": \"fuzz\", \"channel_names\": {\"0\": \"MR\"}, \"labels\": {\"background\": 0, " +
        string.Join(", ", Enumerable.Range(1, 48).Select(i => $"\"l{i}\": {i}")) + "}, \"numTraining\": 1, \"file_ending\": \".nii.gz\"}";

    private static void Require(string dir, string package)
    {
        if (!Directory.Exists(dir)) Assert.Fail($"{dir} is missing: install Debian's {package} (`apt-get install -y {package}`); the fuzz corpus needs its files");
    }

    public static byte[] Gunzip(byte[] gz)
    {
        using var z = new GZipStream(new MemoryStream(gz), CompressionMode.Decompress);
        using var ms = new MemoryStream();
        z.CopyTo(ms);
        return ms.ToArray();
    }

    /// <summary>A 24-bit uncompressed BMP with a gradient (stb_image reads it).</summary>
    public static byte[] Bmp(int w, int h)
    {
        int stride = (w * 3 + 3) / 4 * 4, size = 54 + stride * h;
        var b = new byte[size];
        b[0] = (byte)'B'; b[1] = (byte)'M';
        BitConverter.GetBytes(size).CopyTo(b, 2);
        BitConverter.GetBytes(54).CopyTo(b, 10);
        BitConverter.GetBytes(40).CopyTo(b, 14);
        BitConverter.GetBytes(w).CopyTo(b, 18);
        BitConverter.GetBytes(h).CopyTo(b, 22);
        BitConverter.GetBytes((short)1).CopyTo(b, 26);
        BitConverter.GetBytes((short)24).CopyTo(b, 28);
        BitConverter.GetBytes(stride * h).CopyTo(b, 34);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int o = 54 + y * stride + 3 * x;
                b[o] = (byte)(10 * x); b[o + 1] = (byte)(12 * y); b[o + 2] = (byte)(x * y);
            }
        return b;
    }
}
