using System.Text.Json;
using SamAdapt.Imaging;
using SamAdapt.Cli.Commands;
using SamAdapt.Imaging.Datasets;
using SamAdapt.Imaging.Dicom;
using SamAdapt.Imaging.Images2D;
using SamAdapt.Imaging.Nifti;
using SamAdapt.Imaging.Tests.Datasets;
using SamAdapt.Imaging.Tests.Dicom;
using SamAdapt.Imaging.Tests.Nifti;
using SamAdapt.Tests;
using static SamAdapt.Cli.Tests.CliRunner;

namespace SamAdapt.Cli.Tests;

/// <summary>
/// `samadapt info` / `convert` / `dataset check` on every input kind the issue names — NIfTI, DICOM folders (pydicom's
/// CT_small.dcm and GDCM-written synthetic series), PNG — and on each kind of bad input.
/// </summary>
public class CliFormatsTests : IDisposable
{
    private readonly TempDir _tmp = TestPaths.NewTempDir();
    public void Dispose() => _tmp.Dispose();

    private static readonly string[] InfoKeys = ["shape", "dtype", "spacing", "affine", "orientation", "min", "max", "labels"];

    private const string PydicomFiles = "/usr/lib/python3/dist-packages/pydicom/data/test_files";

    private string CtSmallFolder()
    {
        var src = Path.Combine(PydicomFiles, "CT_small.dcm");
        if (!File.Exists(src)) Assert.Fail($"{src} is missing: install Debian's python3-pydicom (`apt-get install -y python3-pydicom`), which ships the DICOM test files");
        var dir = Path.Combine(_tmp.Path, "ct_small");
        Directory.CreateDirectory(dir);
        File.Copy(src, Path.Combine(dir, "CT_small.dcm"));
        return dir;
    }

    private const int Rows = 6, Cols = 5;

    /// <summary>An axial series of <paramref name="n"/> slices (0.7 × 0.8 mm pixels, 2.5 mm apart), written with GDCM in
    /// reverse file-name order, values 10·k + i + (rows·j) − 1024 HU.</summary>
    private static void Series(string folder, string uid, int n, string description, string prefix = "s", double intercept = -1024)
    {
        Directory.CreateDirectory(folder);
        var slices = Enumerable.Range(0, n).Select(k => new SyntheticDicom.SliceSpec(
            $"{prefix}{n - 1 - k:00}.dcm", [-40.5, 12.25, -100 + 2.5 * k],
            Enumerable.Range(0, Rows * Cols).Select(p => (short)(10 * k + p)).ToArray(), Slope: 1, Intercept: intercept)).ToList();
        SyntheticDicom.WriteSeries(folder, uid, Rows, Cols, [1, 0, 0, 0, 1, 0], rowSpacing: 0.8, colSpacing: 0.7, slices, description);
    }

    private static JsonElement Json(string output)
    {
        var j = JsonDocument.Parse(output).RootElement;
        Assert.Equal(InfoKeys, j.EnumerateObject().Select(p => p.Name).ToArray());
        return j;
    }

    private static double[] Affine(JsonElement j) =>
        j.GetProperty("affine").EnumerateArray().SelectMany(r => r.EnumerateArray().Select(x => x.GetDouble())).ToArray();

    private static int[] Ints(JsonElement j, string key) => j.GetProperty(key).EnumerateArray().Select(x => x.GetInt32()).ToArray();

    // ------------------------------------------------------------------------------------------ info

    [Fact]
    public void Info_dicom_folder_json_matches_the_dicom_reader()
    {
        var dir = CtSmallFolder();
        var (code, output) = Invoke(new InfoCommand(), dir, "--json");
        Assert.Equal(0, code);
        var j = Json(output);
        var v = DicomSeriesReader.Read(dir);
        Assert.Equal([128, 128, 1], Ints(j, "shape"));
        Assert.Equal("int16", j.GetProperty("dtype").GetString());
        RawNifti.AssertAffine(v.Affine, Affine(j), 1e-6);
        // CT_small: IOP (1,0,0,0,1,0), IPP (−158.135803, −179.035797, −75.699997) LPS → RAS
        RawNifti.AssertAffine([-0.661468, 0, 0, 158.135803, 0, -0.661468, 0, 179.035797, 0, 0, 5, -75.699997, 0, 0, 0, 1], Affine(j), 1e-5);
        Assert.Equal("LPS", j.GetProperty("orientation").GetString());
        var values = ((short[])v.Data).Select(x => (double)x).ToArray();
        Assert.Equal(values.Min(), j.GetProperty("min").GetDouble());
        Assert.Equal(values.Max(), j.GetProperty("max").GetDouble());
        Assert.Equal(-896, j.GetProperty("min").GetDouble()); // HU after RescaleIntercept −1024
        Assert.Equal(values.Distinct().Count() <= 1000 ? JsonValueKind.Array : JsonValueKind.Null, j.GetProperty("labels").ValueKind);

        // a single .dcm file works too, and the table names the orientation
        var (code2, table) = Invoke(new InfoCommand(), Path.Combine(dir, "CT_small.dcm"));
        Assert.Equal(0, code2);
        Assert.Contains("128 × 128 × 1", table);
        Assert.Contains("LPS", table);
    }

    [Fact]
    public void Info_png_json_uses_the_2d_image_convention()
    {
        var png = _tmp.File("mask.png");
        var mask = Enumerable.Range(0, 7 * 4).Select(i => (byte)(i % 3 == 0 ? 0 : i % 3 == 1 ? 1 : 3)).ToArray();
        ImageFile.WriteMaskPng(png, 7, 4, mask);
        var (code, output) = Invoke(new InfoCommand(), png, "--json");
        Assert.Equal(0, code);
        var j = Json(output);
        Assert.Equal([7, 4, 1], Ints(j, "shape"));
        Assert.Equal("uint8", j.GetProperty("dtype").GetString());
        Assert.Equal(Image2D.AffineFor(4), Affine(j));
        Assert.Equal("RPS", j.GetProperty("orientation").GetString());
        Assert.Equal([0, 1, 3], Ints(j, "labels"));
        Assert.Equal([1.0, 1.0, 1.0], j.GetProperty("spacing").EnumerateArray().Select(x => x.GetDouble()).ToArray());

        // JPEG reads the same way (RGB → rgb24) and converts to NIfTI with the 2-D image affine
        var rgb = Enumerable.Range(0, 16 * 8 * 3).Select(i => (byte)(i * 5)).ToArray();
        ImageFile.WriteJpeg(_tmp.File("photo.jpg"), new Image2D(16, 8, 3, rgb));
        var (cj, oj) = Invoke(new InfoCommand(), _tmp.File("photo.jpg"), "--json");
        Assert.Equal(0, cj);
        var jj = Json(oj);
        Assert.Equal([16, 8, 1], Ints(jj, "shape"));
        Assert.Equal("rgb24", jj.GetProperty("dtype").GetString());
        Invoke(new ConvertCommand(), _tmp.File("photo.jpg"), _tmp.File("photo.nii.gz"));
        var pn = NiftiReader.Read(_tmp.File("photo.nii.gz"));
        Assert.Equal(VoxelType.Rgb24, pn.Type);
        Assert.Equal(ImageFile.Read(_tmp.File("photo.jpg")).Pixels8, (byte[])pn.Data);
        Assert.Equal(Image2D.AffineFor(8), pn.Affine);
    }

    [Fact]
    public void Info_lists_several_series_and_series_selects_one()
    {
        var dir = _tmp.File("two");
        Series(dir, "1.2.826.0.1.3680043.9.7777.21", 4, "first", "a");
        Series(dir, "1.2.826.0.1.3680043.9.7777.22", 3, "second", "b");

        var (code, table) = Invoke(new InfoCommand(), dir);
        Assert.Equal(0, code);
        Assert.Contains("2 DICOM series", table);
        Assert.Contains("1.2.826.0.1.3680043.9.7777.21", table);
        Assert.Contains("1.2.826.0.1.3680043.9.7777.22", table);
        Assert.Contains("--series", table);

        var (_, json) = Invoke(new InfoCommand(), dir, "--json");
        var list = JsonDocument.Parse(json).RootElement.GetProperty("series").EnumerateArray().ToList();
        Assert.Equal(["first", "second"], list.Select(s => s.GetProperty("description").GetString()));
        Assert.Equal([4, 3], list.Select(s => s.GetProperty("files").GetInt32()));

        var (code2, one) = Invoke(new InfoCommand(), dir, "--series", "1.2.826.0.1.3680043.9.7777.22", "--json");
        Assert.Equal(0, code2);
        Assert.Equal([Cols, Rows, 3], Ints(Json(one), "shape"));

        // convert needs a choice: exit 2 with the list, nothing written
        var (rc, _, err) = Run("convert", dir, _tmp.File("x.nii.gz"));
        Assert.Equal(2, rc);
        Assert.Contains("2 image series", err);
        Assert.Contains("1.2.826.0.1.3680043.9.7777.21", err);
        Assert.False(File.Exists(_tmp.File("x.nii.gz")));
        var (rc2, _, _) = Run("convert", dir, _tmp.File("x.nii.gz"), "--series", "1.2.826.0.1.3680043.9.7777.21");
        Assert.Equal(0, rc2);
        Assert.Equal([Cols, Rows, 4], NiftiReader.Read(_tmp.File("x.nii.gz")).Shape);

        // --series is for DICOM only
        NiftiWriter.Write(new Volume([2, 2, 2], VoxelType.UInt8, new byte[8], Geometry.Identity()), _tmp.File("n.nii"));
        Assert.Throws<SamAdapt.Cli.CliException>(() => Invoke(new InfoCommand(), _tmp.File("n.nii"), "--series", "1"));
    }

    // ------------------------------------------------------------------------------------------ convert

    [Fact]
    public void Convert_dicom_to_nifti_preserves_geometry_and_values()
    {
        foreach (var dir in new[] { CtSmallFolder(), SyntheticFolder() })
        {
            var outPath = Path.Combine(_tmp.Path, Path.GetFileName(dir) + ".nii.gz");
            var (code, report) = Invoke(new ConvertCommand(), dir, outPath);
            Assert.Equal(0, code);
            Assert.Contains("wrote", report);
            var d = DicomSeriesReader.Read(dir);
            var n = NiftiReader.Read(outPath);
            Assert.Equal(d.Shape, n.Shape);
            Assert.Equal(d.Type, n.Type);
            Assert.Equal((short[])d.Data, (short[])n.Data);
            // the NIfTI header stores float32 (sform and qform both set): equal up to float32 rounding
            RawNifti.AssertAffine(d.Affine, n.Affine, 1e-4);
            Assert.Equal(1, n.SFormCode);
        }
    }

    private string SyntheticFolder()
    {
        var dir = _tmp.File("synthetic");
        Series(dir, "1.2.826.0.1.3680043.9.7777.31", 5, "known geometry");
        var v = DicomSeriesReader.Read(dir);
        // i along the row cosine (0.7 mm columns), j along the column cosine (0.8 mm rows), k along +z, LPS → RAS
        RawNifti.AssertAffine([-0.7, 0, 0, 40.5, 0, -0.8, 0, -12.25, 0, 0, 2.5, -100, 0, 0, 0, 1], v.Affine, 1e-9);
        Assert.Equal(-1024 + 10 * 3 + 2, v.Get(2, 0, 3)); // sorted by position, not by file name
        return dir;
    }

    [Fact]
    public void Convert_dicom_with_orient_spacing_like_and_dtype()
    {
        var dir = SyntheticFolder();
        var d = DicomSeriesReader.Read(dir);

        // --orient: exact permutation/flip, every voxel keeps its world position
        var (c1, r1) = Invoke(new ConvertCommand(), dir, _tmp.File("ras.nii"), "--orient", "RAS");
        Assert.Equal(0, c1);
        Assert.Contains("orientation RAS", r1);
        var ras = NiftiReader.Read(_tmp.File("ras.nii"));
        Assert.Equal("RAS", Orientation.AxisCodes(ras.Affine));
        var inv = Geometry.Inverse(d.Affine);
        for (int k = 0; k < ras.Shape[2]; k++) for (int j = 0; j < ras.Shape[1]; j++) for (int i = 0; i < ras.Shape[0]; i++)
        {
            var (x, y, z) = Geometry.Apply(ras.Affine, i, j, k);
            var (p, q, r) = Geometry.Apply(inv, x, y, z);
            Assert.Equal(d.Get((int)Math.Round(p), (int)Math.Round(q), (int)Math.Round(r)), ras.Get(i, j, k));
        }

        // --spacing: field of view kept, trilinear → float32
        var (c2, r2) = Invoke(new ConvertCommand(), dir, _tmp.File("sp.nii.gz"), "--spacing", "0.35,0.4,1.25");
        Assert.Equal(0, c2);
        Assert.Contains("linear", r2);
        var sp = NiftiReader.Read(_tmp.File("sp.nii.gz"));
        Assert.Equal([10, 12, 10], sp.Shape);
        Assert.Equal([0.35, 0.4, 1.25], sp.Spacing.Select(x => Math.Round(x, 5)).ToArray());
        Assert.Equal(VoxelType.Float32, sp.Type);

        // --like: onto the grid of a NIfTI reference; --dtype int16
        var refV = new Volume([4, 4, 3], VoxelType.UInt8, new byte[48], [-0.7, 0, 0, 39.8, 0, -0.8, 0, -13.05, 0, 0, 2.5, -97.5, 0, 0, 0, 1]);
        NiftiWriter.Write(refV, _tmp.File("ref.nii"));
        var (c3, r3) = Invoke(new ConvertCommand(), dir, _tmp.File("like.nii"), "--like", _tmp.File("ref.nii"), "--dtype", "int16", "--interp", "nearest");
        Assert.Equal(0, c3);
        Assert.Contains("converted to int16", r3);
        var like = NiftiReader.Read(_tmp.File("like.nii"));
        Assert.Equal(refV.Shape, like.Shape);
        RawNifti.AssertAffine(NiftiReader.Read(_tmp.File("ref.nii")).Affine, like.Affine, 1e-6);
        Assert.Equal(VoxelType.Int16, like.Type);
        // reference voxel (0,0,0) sits on DICOM voxel (1,1,1): the same world point, the same value
        Assert.Equal(d.Get(1, 1, 1), like.Get(0, 0, 0));
        Assert.Equal(d.Get(4, 4, 3), like.Get(3, 3, 2));
    }

    [Fact]
    public void Convert_nifti_to_png_writes_a_chosen_slice()
    {
        var labels = new byte[12 * 10 * 8];
        for (int i = 0; i < labels.Length; i++) labels[i] = (byte)(i / 120 + (i % 12 < 6 ? 0 : 10));
        var aff = new double[] { -1.5, 0, 0, 20, 0, -1.5, 0, 30, 0, 0, 2, -10, 0, 0, 0, 1 };
        NiftiWriter.Write(new Volume([12, 10, 8], VoxelType.UInt8, labels, aff), _tmp.File("lab.nii.gz"));

        // a multi-slice volume needs --slice: exit 2 (CLI error) and nothing written
        var (rc, _, err) = Run("convert", _tmp.File("lab.nii.gz"), _tmp.File("all.png"));
        Assert.Equal(2, rc);
        Assert.Contains("--slice", err);
        Assert.Contains("all.png", err);
        Assert.False(File.Exists(_tmp.File("all.png")));

        var (code, report) = Invoke(new ConvertCommand(), _tmp.File("lab.nii.gz"), _tmp.File("s3.png"), "--slice", "3");
        Assert.Equal(0, code);
        Assert.Contains("slice 3 of 8", report);
        var img = ImageFile.Read(_tmp.File("s3.png"));
        Assert.Equal((12, 10, 1, 8), (img.Width, img.Height, img.Channels, img.BitDepth));
        Assert.Equal(labels.AsSpan(3 * 120, 120).ToArray(), img.Pixels8);

        // the slice as NIfTI keeps its world position
        Invoke(new ConvertCommand(), _tmp.File("lab.nii.gz"), _tmp.File("s3.nii"), "--slice", "3");
        var s3 = NiftiReader.Read(_tmp.File("s3.nii"));
        Assert.Equal([12, 10, 1], s3.Shape);
        Assert.Equal(Geometry.Apply(aff, 4, 5, 3), Geometry.Apply(s3.Affine, 4, 5, 0));

        // PNG → NIfTI → PNG is exact
        Invoke(new ConvertCommand(), _tmp.File("s3.png"), _tmp.File("s3png.nii.gz"));
        Invoke(new ConvertCommand(), _tmp.File("s3png.nii.gz"), _tmp.File("again.png"));
        Assert.Equal(img.Pixels8, ImageFile.Read(_tmp.File("again.png")).Pixels8);
        Assert.Equal(Image2D.AffineFor(10), NiftiReader.Read(_tmp.File("s3png.nii.gz")).Affine);

        Assert.Throws<SamAdapt.Cli.CliException>(() => Invoke(new ConvertCommand(), _tmp.File("lab.nii.gz"), _tmp.File("x.png"), "--slice", "8"));
        Assert.False(File.Exists(_tmp.File("x.png")));
    }

    [Fact]
    public void Convert_dicom_slice_to_png_keeps_pixel_order()
    {
        var dir = _tmp.File("mask_series");
        Series(dir, "1.2.826.0.1.3680043.9.7777.41", 4, "mask-like", intercept: 0);
        var d = DicomSeriesReader.Read(dir);
        var (code, _) = Invoke(new ConvertCommand(), dir, _tmp.File("k2.png"), "--slice", "2");
        Assert.Equal(0, code);
        var img = ImageFile.Read(_tmp.File("k2.png"));
        Assert.Equal((Cols, Rows), (img.Width, img.Height));
        for (int y = 0; y < Rows; y++)
            for (int x = 0; x < Cols; x++)
                Assert.Equal(d.Get(x, y, 2), img[x, y]); // column i → x, row j → y: the DICOM frame as displayed

        // HU values (negative) cannot be a grey PNG: a specific error naming the file, nothing written
        var ct = SyntheticFolder();
        var e = Assert.Throws<ArgumentException>(() => Invoke(new ConvertCommand(), ct, _tmp.File("hu.png"), "--slice", "1"));
        Assert.Contains("hu.png", e.Message);
        Assert.Contains("non-negative integers", e.Message);
        Assert.False(File.Exists(_tmp.File("hu.png")));
    }

    // ------------------------------------------------------------------------------------------ dataset check

    private string Dataset(bool broken)
    {
        var root = _tmp.File(broken ? "broken" : "good");
        Directory.CreateDirectory(Path.Combine(root, "imagesTr"));
        Directory.CreateDirectory(Path.Combine(root, "labelsTr"));
        File.WriteAllText(Path.Combine(root, "dataset.json"), """
            {"channel_names": {"0": "CT"}, "labels": {"background": 0, "liver": 1}, "numTraining": 3, "file_ending": ".nii.gz"}
            """);
        int[] shape = [6, 5, 4];
        var aff = TestNifti.Affine(0.8, 0.8, 2.5);
        foreach (var id in new[] { "liver_001", "liver_002", "liver_003" })
        {
            TestNifti.Image(Path.Combine(root, $"imagesTr/{id}_0000.nii.gz"), shape, aff);
            TestNifti.Labels(Path.Combine(root, $"labelsTr/{id}.nii.gz"), shape, aff, 0, 1);
        }
        if (broken)
        {
            File.Delete(Path.Combine(root, "labelsTr/liver_002.nii.gz"));
            TestNifti.Labels(Path.Combine(root, "labelsTr/liver_003.nii.gz"), shape, aff, 0, 1, 7);
        }
        return root;
    }

    [Fact]
    public void Dataset_check_good_exits_0_and_lists_every_case()
    {
        var (code, output) = Invoke(new DatasetCommand(), "check", Dataset(broken: false));
        Assert.Equal(0, code);
        foreach (var id in new[] { "liver_001", "liver_002", "liver_003" }) Assert.Contains(id, output);
        Assert.Contains("OK: 3 training and 0 test case(s), no problems.", output);
        Assert.Contains("6×5×4", output);
    }

    [Fact]
    public void Dataset_check_broken_exits_1_and_names_cases_and_problems()
    {
        var root = Dataset(broken: true);
        var (code, output, _) = Run("dataset", "check", root);
        Assert.Equal(2, code); // problems found: bad input (docs/reliability.md)
        Assert.Contains("2 problem(s)", output);
        var lines = output.Split('\n');
        Assert.Contains(lines, l => l.Contains("liver_002") && l.Contains("labelsTr/liver_002.nii.gz"));
        Assert.Contains(lines, l => l.Contains("liver_003") && l.Contains('7'));
        // the table has a row per case with its status
        Assert.Contains(lines, l => l.Contains("liver_001") && l.Contains("ok"));
        Assert.Contains(lines, l => l.Contains("liver_002") && l.Contains("MissingFile"));
        Assert.Contains(lines, l => l.Contains("liver_003") && l.Contains("UnknownLabel"));

        var (code2, _, err) = Run("dataset", "check", _tmp.File("no-such-dataset"));
        Assert.Equal(2, code2);
        Assert.Contains("no-such-dataset", err);
    }

    // ------------------------------------------------------------------------------------------ bad input

    public static TheoryData<string> BadInputs => new()
    {
        "truncated-gzip", "wrong-magic", "size-mismatch", "dim0-out-of-range", "nan-affine", "dicom-folder-without-images",
    };

    /// <summary>Writes the damaged input; returns (path, words the error must contain).</summary>
    private (string Path, string[] Expect) MakeBad(string kind)
    {
        RawNifti Good() => new() { Dim = [3, 4, 4, 4, 1, 1, 1, 1], Data = Enumerable.Range(0, 64).Select(i => (byte)i).ToArray(), SCode = 1 };
        switch (kind)
        {
            case "truncated-gzip":
            {
                var bytes = RawNifti.Gzip(Good().SingleFile());
                var p = _tmp.File("cut.nii.gz");
                File.WriteAllBytes(p, bytes[..(bytes.Length - 30)]);
                return (p, ["cut.nii.gz", "gzip"]);
            }
            case "wrong-magic":
            {
                var r = Good(); r.Magic = "nop";
                return (r.SaveNii(_tmp.File("magic.nii")), ["magic.nii", "magic"]);
            }
            case "size-mismatch":
            {
                var r = Good(); r.Data = r.Data[..40];
                return (r.SaveNii(_tmp.File("short.nii")), ["short.nii", "too short", "64 bytes"]);
            }
            case "dim0-out-of-range":
            {
                var r = Good(); r.Dim[0] = 9;
                return (r.SaveNii(_tmp.File("dim0.nii")), ["dim0.nii", "dim[0] = 9", "out of range"]);
            }
            case "nan-affine":
            {
                var r = Good(); r.SRow[3] = double.NaN;
                return (r.SaveNii(_tmp.File("nan.nii.gz"), gzip: true), ["nan.nii.gz", "NaN", "sform"]);
            }
            case "dicom-folder-without-images":
            {
                var dir = _tmp.File("no_images");
                Directory.CreateDirectory(dir);
                File.WriteAllText(Path.Combine(dir, "README.txt"), "not an image");
                return (dir, ["no_images", "no DICOM images"]);
            }
            default: throw new ArgumentException(kind);
        }
    }

    [Theory]
    [MemberData(nameof(BadInputs))]
    public void Bad_input_exits_2_with_a_specific_message_and_writes_nothing(string kind)
    {
        var (path, expect) = MakeBad(kind);
        var outPath = _tmp.File("out.nii.gz");
        var (code, stdout, err) = Run("convert", path, outPath);
        Assert.True(code == 2, $"{kind}: exit {code}\n{stdout}\n{err}");
        Assert.StartsWith("samadapt: error: ", err);
        foreach (var e in expect) Assert.Contains(e, err);
        Assert.False(File.Exists(outPath));
        Assert.DoesNotContain(Directory.GetFiles(_tmp.Path), f => Path.GetFileName(f).Contains("out.nii"));

        var (code2, _, err2) = Run("info", path, "--json");
        Assert.Equal(2, code2);
        foreach (var e in expect) Assert.Contains(e, err2);
    }
}
