using System.Text.Json;
using SamAdapt.Imaging;
using SamAdapt.Cli.Commands;
using SamAdapt.Imaging.Nifti;
using SamAdapt.Imaging.Tests.Nifti;
using SamAdapt.Tests;
using static SamAdapt.Cli.Tests.CliRunner;

namespace SamAdapt.Cli.Tests;

public class CliTests : IDisposable
{
    private readonly TempDir _tmp = TestPaths.NewTempDir();
    public void Dispose() => _tmp.Dispose();

    private string LabelFile()
    {
        var labels = new byte[12 * 10 * 8];
        for (int i = 0; i < labels.Length; i++) labels[i] = (byte)((i % 12) / 4 * 2); // 0, 2, 4 in runs
        var v = new Volume([12, 10, 8], VoxelType.UInt8, labels, [-1.5, 0, 0, 20, 0, -1.5, 0, 30, 0, 0, 2, -10, 0, 0, 0, 1]);
        var p = _tmp.File("labels.nii.gz");
        NiftiWriter.Write(v, p);
        return p;
    }

    private string ImageFile()
    {
        var rng = new Random(5);
        var d = Enumerable.Range(0, 12 * 10 * 8).Select(_ => (short)rng.Next(-1000, 2000)).ToArray();
        var v = new Volume([12, 10, 8], VoxelType.Int16, d, [1, 0, 0, -6, 0, 1, 0, -5, 0, 0, 3, -12, 0, 0, 0, 1]) { Slope = 0.5, Intercept = 10 };
        var p = _tmp.File("image.nii");
        NiftiWriter.Write(v, p);
        return p;
    }

    [Fact]
    public void Info_json_has_exactly_the_documented_keys()
    {
        var (code, output) = Invoke(new InfoCommand(), LabelFile(), "--json");
        Assert.Equal(0, code);
        var j = JsonDocument.Parse(output).RootElement;
        Assert.Equal(["shape", "dtype", "spacing", "affine", "orientation", "min", "max", "labels"], j.EnumerateObject().Select(p => p.Name).ToArray());
        Assert.Equal([12, 10, 8], j.GetProperty("shape").EnumerateArray().Select(x => x.GetInt32()).ToArray());
        Assert.Equal("uint8", j.GetProperty("dtype").GetString());
        Assert.Equal([1.5, 1.5, 2], j.GetProperty("spacing").EnumerateArray().Select(x => x.GetDouble()).ToArray());
        var aff = j.GetProperty("affine").EnumerateArray().Select(r => r.EnumerateArray().Select(x => x.GetDouble()).ToArray()).ToArray();
        Assert.Equal(4, aff.Length);
        Assert.Equal([-1.5, 0, 0, 20], aff[0]);
        Assert.Equal([0, 0, 0, 1], aff[3]);
        Assert.Equal("LPS", j.GetProperty("orientation").GetString());
        Assert.Equal(0, j.GetProperty("min").GetDouble());
        Assert.Equal(4, j.GetProperty("max").GetDouble());
        Assert.Equal([0, 2, 4], j.GetProperty("labels").EnumerateArray().Select(x => x.GetInt32()).ToArray());
    }

    [Fact]
    public void Info_json_scaled_image_has_scaled_range_and_no_labels()
    {
        var (_, output) = Invoke(new InfoCommand(), ImageFile(), "--json");
        var j = JsonDocument.Parse(output).RootElement;
        var v = NiftiReader.Read(_tmp.File("image.nii"));
        Assert.Equal(((short[])v.Data).Min() * 0.5 + 10, j.GetProperty("min").GetDouble());
        Assert.Equal(((short[])v.Data).Max() * 0.5 + 10, j.GetProperty("max").GetDouble());
        Assert.Equal(JsonValueKind.Null, j.GetProperty("labels").ValueKind); // fractional scaling: not integer-valued
        Assert.Equal("int16", j.GetProperty("dtype").GetString());
    }

    [Fact]
    public void Info_table_is_readable()
    {
        var (code, output) = Invoke(new InfoCommand(), LabelFile());
        Assert.Equal(0, code);
        foreach (var s in new[] { "shape", "12 × 10 × 8", "uint8", "LPS", "1.5 × 1.5 × 2 mm", "labels", "3: 0 2 4", "20.00000" })
            Assert.Contains(s, output);
    }

    [Fact]
    public void Convert_reorients_exactly()
    {
        var src = LabelFile();
        var outPath = _tmp.File("ras.nii");
        var (code, output) = Invoke(new ConvertCommand(), src, outPath, "--orient", "RAS");
        Assert.Equal(0, code);
        Assert.Contains("orientation RAS", output);
        var a = NiftiReader.Read(src);
        var b = NiftiReader.Read(outPath);
        Assert.Equal("RAS", Orientation.AxisCodes(b.Affine));
        Assert.Equal(a.Shape, b.Shape);
        Assert.Equal(1002, b.IntentCode); // label-like input is marked as a label map
        // same value at the same world point, for every voxel
        var inv = Geometry.Inverse(a.Affine);
        for (int k = 0; k < 8; k++) for (int j = 0; j < 10; j++) for (int i = 0; i < 12; i++)
        {
            var (x, y, z) = Geometry.Apply(b.Affine, i, j, k);
            var (p, q, r) = Geometry.Apply(inv, x, y, z);
            Assert.Equal(a.Get((int)Math.Round(p), (int)Math.Round(q), (int)Math.Round(r)), b.Get(i, j, k));
        }
        // and back to the original orientation gives the original bytes
        Invoke(new ConvertCommand(), outPath, _tmp.File("back.nii.gz"), "--orient", "LPS");
        Assert.Equal((byte[])a.Data, (byte[])NiftiReader.Read(_tmp.File("back.nii.gz")).Data);
    }

    [Fact]
    public void Convert_spacing_picks_nearest_for_labels_and_linear_for_images()
    {
        var (_, o1) = Invoke(new ConvertCommand(), LabelFile(), _tmp.File("l1.nii.gz"), "--spacing", "1,1,1");
        Assert.Contains("nearest (auto: label map)", o1);
        var l = NiftiReader.Read(_tmp.File("l1.nii.gz"));
        Assert.Equal(VoxelType.UInt8, l.Type);
        Assert.Equal([18, 15, 16], l.Shape);
        Assert.Equal(new byte[] { 0, 2, 4 }, ((byte[])l.Data).Distinct().Order().ToArray());
        Assert.Equal(1002, l.IntentCode);

        var (_, o2) = Invoke(new ConvertCommand(), ImageFile(), _tmp.File("i1.nii.gz"), "--spacing", "2");
        Assert.Contains("linear (auto)", o2);
        var im = NiftiReader.Read(_tmp.File("i1.nii.gz"));
        Assert.Equal(VoxelType.Float32, im.Type);
        Assert.Equal([6, 5, 12], im.Shape);
        Assert.Equal(0, im.IntentCode);

        var (_, o3) = Invoke(new ConvertCommand(), LabelFile(), _tmp.File("l2.nii.gz"), "--spacing", "1,1,1", "--interp", "linear");
        Assert.Contains("interpolation linear", o3);
        Assert.Equal(VoxelType.Float32, NiftiReader.Read(_tmp.File("l2.nii.gz")).Type);
        Assert.Equal(0, NiftiReader.Read(_tmp.File("l2.nii.gz")).IntentCode);
    }

    [Fact]
    public void Convert_like_and_dtype()
    {
        var reference = LabelFile();
        Invoke(new ConvertCommand(), ImageFile(), _tmp.File("like.nii"), "--like", reference, "--dtype", "int16");
        var r = NiftiReader.Read(_tmp.File("like.nii"));
        var refV = NiftiReader.Read(reference);
        Assert.Equal(refV.Shape, r.Shape);
        Assert.Equal(refV.Affine, r.Affine);
        Assert.Equal(VoxelType.Int16, r.Type);
    }

    [Fact]
    public void Convert_dtype_out_of_range_writes_nothing()
    {
        var outPath = _tmp.File("u8.nii");
        var e = Assert.Throws<InvalidDataException>(() => Invoke(new ConvertCommand(), ImageFile(), outPath, "--dtype", "uint8"));
        Assert.Contains("do not fit uint8", e.Message);
        Assert.False(File.Exists(outPath));
        Assert.DoesNotContain(Directory.GetFiles(_tmp.Path), f => Path.GetFileName(f).StartsWith(".u8"));
    }

    [Fact]
    public void Convert_wide_integer_labels_are_stored_as_uint8()
    {
        var d = Enumerable.Range(0, 8 * 8 * 8).Select(i => (long)(i % 8 / 4 * 3)).ToArray();
        NiftiWriter.Write(new Volume([8, 8, 8], VoxelType.Int64, d, Geometry.Identity()), _tmp.File("i64.nii"));
        var (_, o) = Invoke(new ConvertCommand(), _tmp.File("i64.nii"), _tmp.File("u8lab.nii.gz"));
        Assert.Contains("label map stored as uint8", o);
        var v = NiftiReader.Read(_tmp.File("u8lab.nii.gz"));
        Assert.Equal(VoxelType.UInt8, v.Type);
        Assert.Equal(1002, v.IntentCode);
        Assert.Equal(d.Select(x => (byte)x).ToArray(), (byte[])v.Data);
    }

    [Theory]
    [InlineData("--orient", "RAX", "orient")]
    [InlineData("--spacing", "1,0,1", "spacing")]
    [InlineData("--spacing", "1,2", "spacing")]
    public void Convert_rejects_bad_options(string opt, string value, string mention)
    {
        var e = Assert.Throws<SamAdapt.Cli.CliException>(() => Invoke(new ConvertCommand(), ImageFile(), _tmp.File("x.nii"), opt, value));
        Assert.Contains(mention, e.Message);
        Assert.False(File.Exists(_tmp.File("x.nii")));
    }

    [Fact]
    public void Convert_like_with_spacing_is_rejected()
    {
        Assert.Throws<SamAdapt.Cli.CliException>(() =>
            Invoke(new ConvertCommand(), ImageFile(), _tmp.File("x.nii"), "--like", LabelFile(), "--spacing", "1"));
    }

    // ------------------------------------------------------------------------------------------ end to end

    [Fact]
    public void End_to_end_errors_name_the_file_and_exit_2()
    {
        var raw = new RawNifti { Dim = [3, 4, 4, 4, 1, 1, 1, 1], Data = new byte[64] };
        var bytes = RawNifti.Gzip(raw.SingleFile());
        File.WriteAllBytes(_tmp.File("cut.nii.gz"), bytes[..(bytes.Length - 30)]);
        var (code, _, err) = Run("info", _tmp.File("cut.nii.gz"));
        Assert.Equal(2, code);
        Assert.StartsWith("samadapt: error: ", err);
        Assert.Contains("cut.nii.gz", err);

        raw.Magic = "nop";
        raw.SaveNii(_tmp.File("magic.nii"));
        (code, _, err) = Run("convert", _tmp.File("magic.nii"), _tmp.File("out.nii"));
        Assert.Equal(2, code);
        Assert.Contains("magic", err);
        Assert.False(File.Exists(_tmp.File("out.nii")));

        (code, _, err) = Run("info", _tmp.File("missing.nii"));
        Assert.Equal(2, code);
        Assert.Contains("missing.nii", err);
    }

    [Fact]
    public void End_to_end_info_json_and_help()
    {
        var (code, output, _) = Run("info", "--json", LabelFile());
        Assert.Equal(0, code);
        Assert.Equal("LPS", JsonDocument.Parse(output).RootElement.GetProperty("orientation").GetString());
        (code, output, _) = Run("convert", "--help");
        Assert.Equal(0, code);
        Assert.Contains("nearest for label maps", output);
    }
}
