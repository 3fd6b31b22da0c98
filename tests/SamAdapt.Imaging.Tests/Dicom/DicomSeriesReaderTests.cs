using System.Globalization;
using System.Text.Json;
using SamAdapt.Imaging.Dicom;
using SamAdapt.Tests;

namespace SamAdapt.Imaging.Tests.Dicom;

public class DicomSeriesReaderTests
{
    /// <summary>Physical value by exact element type (Volume.Get's array patterns mistake short[] for ushort[]).</summary>
    private static double Value(Volume v, long i) => VoxelValues.Get(v.Data, i) * v.Slope + v.Intercept;

    private const string PydicomFiles = "/usr/lib/python3/dist-packages/pydicom/data/test_files";

    private static string TestFile(string name)
    {
        var p = Path.Combine(PydicomFiles, name);
        if (!File.Exists(p)) Assert.Fail($"{p} is missing: install Debian's python3-pydicom (it ships the DICOM test files)");
        return p;
    }

    /// <summary>A temp folder holding copies of the given pydicom test files.</summary>
    private static TempDir FolderWith(params string[] names)
    {
        var dir = TestPaths.NewTempDir();
        foreach (var n in names) File.Copy(TestFile(n), dir.File(n));
        return dir;
    }

    [Fact]
    public void CtSmall_RescaledToInt16Hu_WithLpsToRasAffine()
    {
        using var dir = FolderWith("CT_small.dcm");
        var v = DicomSeriesReader.Read(dir.Path);
        Assert.Equal([128, 128, 1], v.Shape);
        // slope 1, intercept −1024 (integer) and the HU range fits int16 → int16, already rescaled
        Assert.Equal(VoxelType.Int16, v.Type);
        Assert.False(v.IsScaled);
        // IOP = [1,0,0, 0,1,0], PixelSpacing 0.661468, IPP (−158.135803, −179.035797, −75.699997) in LPS
        double s = 0.661468;
        double[] expected =
        [
            -s, 0, 0, 158.135803,
            0, -s, 0, 179.035797,
            0, 0, 5.0, -75.699997,
            0, 0, 0, 1,
        ];
        // single slice: k step = SliceThickness (5 mm in CT_small)
        for (int i = 0; i < 16; i++) Assert.Equal(expected[i], v.Affine[i], 5);
        Assert.Equal(s, v.Spacing[0], 6);
        Assert.Equal(s, v.Spacing[1], 6);
    }

    [Theory]
    [InlineData("MR_small_RLE.dcm")]
    [InlineData("MR_small_jpeg_ls_lossless.dcm")]
    [InlineData("MR_small_jp2klossless.dcm")]
    [InlineData("MR_small_bigendian.dcm")]
    [InlineData("MR_small_implicit.dcm")]
    [InlineData("MR_small_expb.dcm")]
    public void CompressedAndOtherTransferSyntaxes_MatchUncompressed(string name)
    {
        using var a = FolderWith("MR_small.dcm");
        using var b = FolderWith(name);
        var reference = DicomSeriesReader.Read(a.Path);
        var v = DicomSeriesReader.Read(b.Path);
        Assert.Equal(reference.Shape, v.Shape);
        Assert.Equal(VoxelType.Int16, reference.Type); // no rescale → stored type kept
        Assert.Equal(reference.Type, v.Type);
        Assert.Equal((short[])reference.Data, (short[])v.Data);
        Assert.Equal(reference.Affine, v.Affine);
        Assert.Equal([64, 64, 1], v.Shape);
        Assert.Equal(0.3125, v.Spacing[0], 6);
        Assert.Equal(0.3125, v.Spacing[1], 6);
    }

    /// <summary>Independent reference: pydicom + numpy under Debian's /usr/bin/python3 (not GDCM).</summary>
    [Theory]
    [InlineData("CT_small.dcm")]
    [InlineData("MR_small.dcm")]
    [InlineData("MR_small_RLE.dcm")]
    [InlineData("MR_small_jp2klossless.dcm")]
    [InlineData("MR_small_bigendian.dcm")]
    public void PixelValuesAndGeometry_MatchPydicom(string name)
    {
        using var dir = FolderWith(name);
        var outFile = dir.File("values.f64");
        const string script = """
            import sys, json
            import numpy as np, pydicom
            ds = pydicom.dcmread(sys.argv[1])
            a = ds.pixel_array.astype(np.float64)
            slope = float(ds.get('RescaleSlope', 1) or 1); inter = float(ds.get('RescaleIntercept', 0) or 0)
            (a * slope + inter).astype('<f8').tofile(sys.argv[2])
            print(json.dumps({'rows': int(ds.Rows), 'cols': int(ds.Columns),
                              'ipp': [float(x) for x in ds.ImagePositionPatient],
                              'iop': [float(x) for x in ds.ImageOrientationPatient],
                              'ps': [float(x) for x in ds.PixelSpacing]}))
            """;
        var json = DebianPython.Run(script, dir.File(name), outFile);
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        var v = DicomSeriesReader.Read(dir.Path);
        Assert.Equal(root.GetProperty("cols").GetInt32(), v.Shape[0]);
        Assert.Equal(root.GetProperty("rows").GetInt32(), v.Shape[1]);
        var bytes = File.ReadAllBytes(outFile);
        var expected = new double[bytes.Length / 8];
        Buffer.BlockCopy(bytes, 0, expected, 0, bytes.Length);
        Assert.Equal(expected.Length, (int)v.VoxelCount);
        for (int i = 0; i < expected.Length; i++)
            if (expected[i] != Value(v, i)) Assert.Fail($"voxel {i}: pydicom {expected[i]}, SamAdapt {Value(v, i)}");

        var ipp = root.GetProperty("ipp").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        var iop = root.GetProperty("iop").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        var ps = root.GetProperty("ps").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        // voxel (i, j) → LPS = ipp + i·ps[1]·r + j·ps[0]·c ; RAS negates x, y
        foreach (var (i, j) in new[] { (0, 0), (5, 0), (0, 7), (13, 29) })
        {
            var lps = new double[3];
            for (int d = 0; d < 3; d++) lps[d] = ipp[d] + i * ps[1] * iop[d] + j * ps[0] * iop[3 + d];
            double[] ras = [-lps[0], -lps[1], lps[2]];
            for (int d = 0; d < 3; d++)
                Assert.Equal(ras[d], v.Affine[4 * d] * i + v.Affine[4 * d + 1] * j + v.Affine[4 * d + 3], 5);
        }
    }

    // ------------------------------------------------------------ synthetic series

    private const int Rows = 5, Cols = 7;
    private const double RowSpacing = 0.8, ColSpacing = 0.6, SliceGap = 2.5;

    /// <summary>An oblique orientation: rows rotated 30° about z, columns tilted 20° out of the axial plane.</summary>
    private static double[] Oblique()
    {
        double a = 30 * Math.PI / 180, b = 20 * Math.PI / 180;
        double[] r = [Math.Cos(a), Math.Sin(a), 0];
        double[] c = [-Math.Sin(a) * Math.Cos(b), Math.Cos(a) * Math.Cos(b), Math.Sin(b)];
        return [.. r, .. c];
    }

    private static double[] Normal(double[] o) =>
        [o[1] * o[5] - o[2] * o[4], o[2] * o[3] - o[0] * o[5], o[0] * o[4] - o[1] * o[3]];

    private static short[] Pixels(int k)
    {
        var p = new short[Rows * Cols];
        for (int j = 0; j < Rows; j++)
            for (int i = 0; i < Cols; i++)
                p[j * Cols + i] = (short)(i + 10 * j + 100 * k);
        return p;
    }

    private static readonly double[] Origin = [-12.5, 30.25, 7.75];

    private static double[] PositionOf(int k, double[] step) =>
        [Origin[0] + k * step[0], Origin[1] + k * step[1], Origin[2] + k * step[2]];

    /// <summary>Writes slices k ∈ <paramref name="ks"/> in a shuffled file order with misleading InstanceNumbers.</summary>
    private static void WriteStack(string folder, string uid, IEnumerable<int> ks, double[]? step = null,
        Func<int, (double Slope, double Intercept)>? rescale = null, double[]? orientation = null, string description = "synthetic")
    {
        var o = orientation ?? Oblique();
        step ??= Normal(o).Select(x => x * SliceGap).ToArray();
        var list = ks.Select(k =>
        {
            var (slope, inter) = rescale?.Invoke(k) ?? (1, 0);
            return new SyntheticDicom.SliceSpec($"{uid[^4..]}_{(k * 7919) % 1000:000}.dcm", PositionOf(k, step), Pixels(k), slope, inter);
        }).ToList();
        // shuffle deterministically and write in that order (InstanceNumber = write order, unrelated to position)
        var rng = new Random(42);
        list = list.OrderBy(_ => rng.Next()).ToList();
        SyntheticDicom.WriteSeries(folder, uid, Rows, Cols, o, RowSpacing, ColSpacing, list, description);
    }

    private static double[] ExpectedRasAffine(double[] o, double[] stepLps)
    {
        double[] a =
        [
            o[0] * ColSpacing, o[3] * RowSpacing, stepLps[0], Origin[0],
            o[1] * ColSpacing, o[4] * RowSpacing, stepLps[1], Origin[1],
            o[2] * ColSpacing, o[5] * RowSpacing, stepLps[2], Origin[2],
            0, 0, 0, 1,
        ];
        for (int c = 0; c < 4; c++) { a[c] = -a[c]; a[4 + c] = -a[4 + c]; }
        return a;
    }

    [Fact]
    public void ObliqueShuffledSeries_GeometryAndVoxelOrderExactlyAsConstructed()
    {
        using var dir = TestPaths.NewTempDir();
        const string uid = "1.2.826.0.1.3680043.9.7777.2.1001";
        WriteStack(dir.Path, uid, Enumerable.Range(0, 6));
        var v = DicomSeriesReader.Read(dir.Path);
        Assert.Equal([Cols, Rows, 6], v.Shape);
        Assert.Equal(VoxelType.Int16, v.Type);
        var data = (short[])v.Data;
        for (int k = 0; k < 6; k++)
            for (int j = 0; j < Rows; j++)
                for (int i = 0; i < Cols; i++)
                    Assert.Equal(i + 10 * j + 100 * k, data[i + Cols * (j + Rows * k)]);
        var o = Oblique();
        var expected = ExpectedRasAffine(o, Normal(o).Select(x => x * SliceGap).ToArray());
        for (int e = 0; e < 16; e++) Assert.Equal(expected[e], v.Affine[e], 4);
        Assert.Equal(ColSpacing, v.Spacing[0], 5);
        Assert.Equal(RowSpacing, v.Spacing[1], 5);
        Assert.Equal(SliceGap, v.Spacing[2], 4);
        Assert.Equal("synthetic", v.Description);
        Assert.Equal(dir.Path, v.Source);
    }

    [Fact]
    public void IntegerIntercept_GivesInt16_VaryingSlope_GivesFloat32()
    {
        using var a = TestPaths.NewTempDir();
        WriteStack(a.Path, "1.2.826.0.1.3680043.9.7777.2.2001", Enumerable.Range(0, 3), rescale: _ => (1, -1024));
        var va = DicomSeriesReader.Read(a.Path);
        Assert.Equal(VoxelType.Int16, va.Type);
        Assert.Equal(3 + 10 * 2 + 100 * 1 - 1024, Value(va, 3 + Cols * (2 + Rows * 1)));

        using var b = TestPaths.NewTempDir();
        WriteStack(b.Path, "1.2.826.0.1.3680043.9.7777.2.2002", Enumerable.Range(0, 3), rescale: k => (0.5 * (k + 1), -10));
        var vb = DicomSeriesReader.Read(b.Path);
        Assert.Equal(VoxelType.Float32, vb.Type);
        Assert.False(vb.IsScaled);
        for (int k = 0; k < 3; k++)
            Assert.Equal((4 + 10 * 1 + 100 * k) * 0.5 * (k + 1) - 10, Value(vb, 4 + Cols * (1 + Rows * k)), 4);
    }

    [Fact]
    public void MissingSlice_IsNonUniformSpacingError()
    {
        using var dir = TestPaths.NewTempDir();
        WriteStack(dir.Path, "1.2.826.0.1.3680043.9.7777.2.3001", new[] { 0, 1, 2, 4, 5 });
        var e = Assert.Throws<DicomSeriesException>(() => DicomSeriesReader.Read(dir.Path));
        Assert.Contains("non-uniform slice spacing", e.Message);
        Assert.Contains("5 mm", e.Message);
    }

    [Fact]
    public void TiltedSeries_IsError_OrExactShearedAffineWhenAllowed()
    {
        using var dir = TestPaths.NewTempDir();
        var o = Oblique();
        var n = Normal(o);
        // each slice moves 0.9 mm along the column direction as well as 2.5 mm along the normal (≈ 20° tilt)
        double[] step = [n[0] * SliceGap + o[3] * 0.9, n[1] * SliceGap + o[4] * 0.9, n[2] * SliceGap + o[5] * 0.9];
        WriteStack(dir.Path, "1.2.826.0.1.3680043.9.7777.2.4001", Enumerable.Range(0, 5), step);
        var e = Assert.Throws<DicomSeriesException>(() => DicomSeriesReader.Read(dir.Path));
        Assert.Contains("gantry tilt", e.Message);

        var v = DicomSeriesReader.Read(dir.Path, options: new DicomReadOptions { AllowGantryTilt = true });
        var expected = ExpectedRasAffine(o, step);
        for (int i = 0; i < 16; i++) Assert.Equal(expected[i], v.Affine[i], 4);
        Assert.Equal(100 * 3 + 2, Value(v, 2 + Cols * (0 + Rows * 3)));
    }

    [Fact]
    public void DuplicatePositions_AreReported()
    {
        using var dir = TestPaths.NewTempDir();
        WriteStack(dir.Path, "1.2.826.0.1.3680043.9.7777.2.5001", Enumerable.Range(0, 3));
        File.Copy(Directory.GetFiles(dir.Path)[0], dir.File("copy.dcm"));
        var e = Assert.Throws<DicomSeriesException>(() => DicomSeriesReader.Read(dir.Path));
        Assert.Contains("same position", e.Message);
    }

    [Fact]
    public void SeveralSeries_AreListed_AndMustBeChosen()
    {
        using var dir = TestPaths.NewTempDir();
        const string a = "1.2.826.0.1.3680043.9.7777.2.6001", b = "1.2.826.0.1.3680043.9.7777.2.6002";
        WriteStack(dir.Path, a, Enumerable.Range(0, 4), description: "first");
        WriteStack(dir.Path, b, Enumerable.Range(0, 2), orientation: [1, 0, 0, 0, 1, 0], description: "second");
        File.WriteAllText(dir.File("notes.txt"), "not DICOM");

        var list = DicomSeriesReader.ListSeries(dir.Path);
        Assert.Equal(2, list.Count);
        Assert.Equal([a, b], list.Select(s => s.Id).ToArray());
        Assert.Equal([4, 2], list.Select(s => s.SliceCount).ToArray());

        var e = Assert.Throws<DicomSeriesException>(() => DicomSeriesReader.Read(dir.Path));
        Assert.Contains(a, e.Message);
        Assert.Contains(b, e.Message);
        Assert.Contains("2 image series", e.Message);

        var vb = DicomSeriesReader.Read(dir.Path, b);
        Assert.Equal([Cols, Rows, 2], vb.Shape);
        Assert.Equal(-ColSpacing, vb.Affine[0], 6); // axial: i → −x (L→R flip of LPS)
        var va = DicomSeriesReader.ReadSeries(list[0]);
        Assert.Equal([Cols, Rows, 4], va.Shape);

        Assert.Throws<DicomSeriesException>(() => DicomSeriesReader.Read(dir.Path, "1.2.3.4"));
    }

    [Fact]
    public void An_unchanged_folder_reuses_its_scanned_headers_and_a_changed_one_is_scanned_again()
    {
        using var dir = TestPaths.NewTempDir();
        const string uid = "1.2.826.0.1.3680043.9.7777.2.9001";
        WriteStack(dir.Path, uid, Enumerable.Range(0, 3));
        foreach (var f in Directory.GetFiles(dir.Path)) File.SetLastWriteTimeUtc(f, DateTime.UtcNow.AddMinutes(-1)); // settled files
        var full = Path.GetFullPath(dir.Path);
        int scans = 0;
        void Count(string key) { if (key == full) Interlocked.Increment(ref scans); }
        DicomSeriesReader.HeadersScanned += Count;
        try
        {
            // listing, reading and referencing the same series read the headers once (the viewer's open → export path)
            Assert.Equal(3, DicomSeriesReader.ListSeries(dir.Path).Single().SliceCount);
            Assert.Equal([Cols, Rows, 3], DicomSeriesReader.Read(dir.Path).Shape);
            Assert.Equal(3, SamAdapt.Imaging.Dicom.Seg.DicomSeriesReference.Read(dir.Path).Slices.Count);
            Assert.Equal(1, scans);
            // a slice added: scanned again, and the new slice is part of the series; just written, so not kept: scanned each time
            WriteStack(dir.Path, uid, [3]);
            Assert.Equal(4, DicomSeriesReader.ListSeries(dir.Path).Single().SliceCount);
            Assert.Equal(2, scans);
            Assert.Equal(4, DicomSeriesReader.ListSeries(dir.Path).Single().SliceCount);
            Assert.Equal(3, scans);
            // once settled it is kept again; a file rewritten later (new modification time) is scanned again
            foreach (var f in Directory.GetFiles(dir.Path)) File.SetLastWriteTimeUtc(f, DateTime.UtcNow.AddMinutes(-1));
            DicomSeriesReader.ListSeries(dir.Path);
            DicomSeriesReader.ListSeries(dir.Path);
            Assert.Equal(4, scans);
            File.SetLastWriteTimeUtc(Directory.GetFiles(dir.Path)[0], DateTime.UtcNow.AddSeconds(-30));
            Assert.Equal(4, DicomSeriesReader.ListSeries(dir.Path).Single().SliceCount);
            Assert.Equal(5, scans);
        }
        finally { DicomSeriesReader.HeadersScanned -= Count; }
    }

    [Fact]
    public void SeriesSplitByOrientation_GetsSuffixedIds()
    {
        using var dir = TestPaths.NewTempDir();
        const string uid = "1.2.826.0.1.3680043.9.7777.2.7001";
        WriteStack(dir.Path, uid, Enumerable.Range(0, 3));
        var sub = Path.Combine(dir.Path, "b");
        Directory.CreateDirectory(sub);
        WriteStack(sub, uid, Enumerable.Range(0, 2), orientation: [1, 0, 0, 0, 1, 0]);
        var list = DicomSeriesReader.ListSeries(dir.Path, new DicomReadOptions { Recursive = true });
        Assert.Equal(2, list.Count);
        Assert.All(list, s => Assert.StartsWith(uid + "#", s.Id));
        var e = Assert.Throws<DicomSeriesException>(() => DicomSeriesReader.Read(dir.Path, uid, new DicomReadOptions { Recursive = true }));
        Assert.Contains("splits into 2 parts", e.Message);
        var v = DicomSeriesReader.Read(dir.Path, list.Single(s => s.SliceCount == 2).Id, new DicomReadOptions { Recursive = true });
        Assert.Equal(2, v.Shape[2]);
    }

    [Fact]
    public void FolderWithoutImages_IsSpecificError()
    {
        using var dir = TestPaths.NewTempDir();
        File.WriteAllText(dir.File("a.txt"), "hello");
        File.Copy(TestFile("rtplan.dcm"), dir.File("rtplan.dcm"));
        var e = Assert.Throws<DicomSeriesException>(() => DicomSeriesReader.Read(dir.Path));
        Assert.Contains("no DICOM images", e.Message);
        Assert.Contains("1 not DICOM", e.Message);
        Assert.Contains("1 DICOM without pixel data", e.Message);

        using var empty = TestPaths.NewTempDir();
        Assert.Contains("no DICOM images", Assert.Throws<DicomSeriesException>(() => DicomSeriesReader.Read(empty.Path)).Message);
        Assert.Throws<DirectoryNotFoundException>(() => DicomSeriesReader.Read(Path.Combine(empty.Path, "nope")));
    }

    [Fact]
    public void TruncatedFile_IsErrorWithFileName()
    {
        using var dir = TestPaths.NewTempDir();
        var bytes = File.ReadAllBytes(TestFile("CT_small.dcm"));
        File.WriteAllBytes(dir.File("cut.dcm"), bytes[..(bytes.Length - 20000)]);
        var e = Assert.Throws<DicomSeriesException>(() => DicomSeriesReader.Read(dir.Path));
        Assert.Contains("cut.dcm", e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void SingleFilePath_IsAccepted()
    {
        var v = DicomSeriesReader.Read(TestFile("MR_small.dcm"));
        Assert.Equal([64, 64, 1], v.Shape);
        Assert.Equal(string.Format(CultureInfo.InvariantCulture, "{0}", TestFile("MR_small.dcm")), v.Source);
    }
}
