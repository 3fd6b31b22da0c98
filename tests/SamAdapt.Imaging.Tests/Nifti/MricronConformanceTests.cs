using System.Text.Json;
using SamAdapt.Imaging.Nifti;
using SamAdapt.Tests;

namespace SamAdapt.Imaging.Tests.Nifti;

/// <summary>
/// Every NIfTI file shipped by Debian's mricron-data must read with the shape, datatype, values and affine that
/// nibabel would report. Two independent references: (1) a minimal BinaryReader decoder in this file, written from
/// the nifti1.h offsets; (2) Debian's /usr/bin/python3 with plain numpy (nifti_numpy_reference.py). A missing
/// mricron-data package or numpy FAILS the tests with the package to install — nothing passes vacuously.
/// </summary>
public class MricronConformanceTests
{
    internal const string Root = "/usr/share/mricron";
    internal const string Missing = "(mricron-data not installed)";

    public static IEnumerable<object[]> Files()
    {
        var files = Directory.Exists(Root)
            ? Directory.EnumerateFiles(Root, "*", SearchOption.AllDirectories)
                .Where(f => f.EndsWith(".nii") || f.EndsWith(".nii.gz") || f.EndsWith(".hdr") || f.EndsWith(".hdr.gz"))
                .Order().ToList()
            : [];
        if (files.Count == 0) yield return [Missing];
        foreach (var f in files) yield return [f];
    }

    /// <summary>Fails (never skips) when the mricron-data file is not there.</summary>
    internal static void RequireFile(string path)
    {
        if (path == Missing || !File.Exists(path))
            Assert.Fail($"{(path == Missing ? $"no NIfTI files under {Root}" : path + " is missing")}: install Debian's mricron-data " +
                        "(`apt-get install -y mricron-data`, or ./build.sh deps); the conformance tests must not be skipped");
    }

    [Fact]
    public void Mricron_templates_are_installed()
    {
        var files = Files().Select(f => (string)f[0]).ToList();
        Assert.DoesNotContain(Missing, files);
        Assert.True(files.Count >= 5, $"only {files.Count} NIfTI files under {Root}");
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Matches_independent_binaryreader_decoding(string path)
    {
        RequireFile(path);
        var v = NiftiReader.Read(path);
        var bytes = RawNifti.ReadMaybeGz(path);
        using var br = new BinaryReader(new MemoryStream(bytes));
        Assert.Equal(348, br.ReadInt32()); // these files are little-endian NIfTI-1
        br.BaseStream.Position = 40;
        var dim = Enumerable.Range(0, 8).Select(_ => (int)br.ReadInt16()).ToArray();
        br.BaseStream.Position = 70;
        int datatype = br.ReadInt16();
        br.BaseStream.Position = 76;
        var pixdim = Enumerable.Range(0, 8).Select(_ => (double)br.ReadSingle()).ToArray();
        double voxOffset = br.ReadSingle(), slope = br.ReadSingle(), inter = br.ReadSingle();
        br.BaseStream.Position = 252;
        int qcode = br.ReadInt16(), scode = br.ReadInt16();
        double qb = br.ReadSingle(), qc = br.ReadSingle(), qd = br.ReadSingle();
        double qx = br.ReadSingle(), qy = br.ReadSingle(), qz = br.ReadSingle();
        var srow = Enumerable.Range(0, 12).Select(_ => (double)br.ReadSingle()).ToArray();

        Assert.Equal(dim.Skip(1).Take(dim[0]).ToArray(), v.Shape);
        Assert.Equal(NiftiDataType.ToVoxelType(datatype), v.Type);

        // affine: sform if sform_code > 0, else qform, else base (nibabel get_best_affine)
        double a = Math.Sqrt(Math.Max(0, 1 - (qb * qb + qc * qc + qd * qd)));
        double[] r =
        [
            a * a + qb * qb - qc * qc - qd * qd, 2 * qb * qc - 2 * a * qd, 2 * qb * qd + 2 * a * qc,
            2 * qb * qc + 2 * a * qd, a * a + qc * qc - qb * qb - qd * qd, 2 * qc * qd - 2 * a * qb,
            2 * qb * qd - 2 * a * qc, 2 * qc * qd + 2 * a * qb, a * a + qd * qd - qc * qc - qb * qb,
        ];
        double qfac = pixdim[0] < 0 ? -1 : 1;
        double[] zq = [pixdim[1], pixdim[2], pixdim[3] * qfac];
        double[] qform =
        [
            r[0] * zq[0], r[1] * zq[1], r[2] * zq[2], qx, r[3] * zq[0], r[4] * zq[1], r[5] * zq[2], qy,
            r[6] * zq[0], r[7] * zq[1], r[8] * zq[2], qz, 0, 0, 0, 1,
        ];
        double[] expected = scode > 0 ? [.. srow, 0, 0, 0, 1]
            : qcode > 0 ? qform
            : [-pixdim[1], 0, 0, pixdim[1] * (dim[1] - 1) / 2, 0, pixdim[2], 0, -pixdim[2] * (dim[2] - 1) / 2, 0, 0, pixdim[3], -pixdim[3] * (dim[3] - 1) / 2, 0, 0, 0, 1];
        RawNifti.AssertAffine(expected, v.Affine, 1e-6);
        if (qcode > 0) RawNifti.AssertAffine(qform, NiftiReader.ReadHeader(path).QFormAffine(path), 1e-6);
        Assert.Equal(scode, v.SFormCode);
        Assert.Equal(qcode, v.QFormCode);

        // values: decode every voxel again with BinaryReader and compare exactly
        bool scaled = slope != 0 && double.IsFinite(slope);
        br.BaseStream.Position = (long)voxOffset;
        long n = v.VoxelCount;
        double sum = 0;
        for (long i = 0; i < n; i++)
        {
            double raw = datatype switch
            {
                2 => br.ReadByte(), 4 => br.ReadInt16(), 8 => br.ReadInt32(), 16 => br.ReadSingle(), 64 => br.ReadDouble(),
                256 => br.ReadSByte(), 512 => br.ReadUInt16(), 768 => br.ReadUInt32(),
                _ => throw new InvalidOperationException($"test decoder lacks datatype {datatype}"),
            };
            double x = scaled ? raw * slope + inter : raw;
            double got = v.Get(i);
            if (!(got == x || (double.IsNaN(got) && double.IsNaN(x))))
                Assert.Fail($"{path}: voxel {i}: reader {got}, independent decoder {x}");
            sum += x;
        }
        Assert.True(sum > 0);
    }

    private static readonly Lazy<Dictionary<string, JsonElement>> NumpyResults = new(RunNumpy);

    private static Dictionary<string, JsonElement> RunNumpy()
    {
        var files = Files().Select(f => (string)f[0]).Where(File.Exists).ToArray();
        string script = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Nifti", "nifti_numpy_reference.py"));
        return DebianPython.Run(script, files).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement)
            .ToDictionary(e => e.GetProperty("file").GetString()!);
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Matches_numpy_reference(string path)
    {
        RequireFile(path);
        DebianPython.RequireNumpy();
        var j = NumpyResults.Value[path];
        var v = NiftiReader.Read(path);
        Assert.Equal(j.GetProperty("shape").EnumerateArray().Select(x => x.GetInt32()).ToArray(), v.Shape);
        Assert.Equal(NiftiDataType.ToVoxelType(j.GetProperty("datatype").GetInt32()), v.Type);
        var affine = j.GetProperty("affine").EnumerateArray().SelectMany(r => r.EnumerateArray().Select(x => x.GetDouble())).ToArray();
        RawNifti.AssertAffine(affine, v.Affine, 1e-6);
        var qform = j.GetProperty("qform").EnumerateArray().SelectMany(r => r.EnumerateArray().Select(x => x.GetDouble())).ToArray();
        RawNifti.AssertAffine(qform, NiftiReader.ReadHeader(path).QFormAffine(path), 1e-6);
        Assert.Equal(j.GetProperty("sform_code").GetInt32() > 0 ? "sform" : j.GetProperty("qform_code").GetInt32() > 0 ? "qform" : "base",
            j.GetProperty("which").GetString());

        double sum = 0, min = double.PositiveInfinity, max = double.NegativeInfinity; long nonzero = 0;
        for (long i = 0; i < v.VoxelCount; i++)
        {
            double x = v.Get(i);
            if (double.IsNaN(x)) continue;
            sum += x; min = Math.Min(min, x); max = Math.Max(max, x);
            if (x != 0) nonzero++;
        }
        double refSum = j.GetProperty("sum").GetDouble();
        Assert.True(Math.Abs(sum - refSum) <= 1e-9 * Math.Max(1, Math.Abs(refSum)), $"sum {sum} vs numpy {refSum}");
        Assert.Equal(j.GetProperty("min").GetDouble(), min);
        Assert.Equal(j.GetProperty("max").GetDouble(), max);
        Assert.Equal(j.GetProperty("nonzero").GetInt64(), nonzero);
        foreach (var s in j.GetProperty("samples").EnumerateObject())
            Assert.Equal(s.Value.GetDouble(), v.Get(long.Parse(s.Name)));
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Round_trips_exactly_through_the_writer(string path)
    {
        RequireFile(path);
        var v = NiftiReader.Read(path);
        using var tmp = SamAdapt.Tests.TestPaths.NewTempDir();
        var outPath = tmp.File("rt.nii.gz");
        NiftiWriter.Write(v, outPath, new NiftiWriteOptions { GzipLevel = System.IO.Compression.CompressionLevel.Fastest });
        var r = NiftiReader.Read(outPath);
        Assert.Equal(v.Shape, r.Shape);
        Assert.Equal(v.Type, r.Type);
        Assert.Equal(v.Affine, r.Affine);
        Assert.True(StructuralEqual(v.Data, r.Data));
        // reorienting to RAS and back is exact as well
        var back = Orientation.Reorient(Orientation.Reorient(v, "RAS"), Orientation.AxisCodes(v.Affine));
        Assert.True(StructuralEqual(v.Data, back.Data));
        RawNifti.AssertAffine(v.Affine, back.Affine, 1e-9);
    }

    private static bool StructuralEqual(Array a, Array b) =>
        System.Collections.StructuralComparisons.StructuralEqualityComparer.Equals(a, b);
}
