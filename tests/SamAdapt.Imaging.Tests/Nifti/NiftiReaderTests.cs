using SamAdapt.Imaging.Nifti;
using SamAdapt.Tests;

namespace SamAdapt.Imaging.Tests.Nifti;

public class NiftiReaderTests : IDisposable
{
    private readonly TempDir _tmp = TestPaths.NewTempDir();
    public void Dispose() => _tmp.Dispose();

    private static RawNifti Int16Volume(bool big = false, int version = 1)
    {
        var values = Enumerable.Range(0, 24).Select(i => (short)(i * 100 - 1000)).ToArray();
        return new RawNifti { Big = big, Version = version, DataType = 4, BitPix = 16, Data = RawNifti.Bytes(values), ElementSize = 2 };
    }

    private static void AssertInt16Values(Volume v)
    {
        Assert.Equal([2, 3, 4], v.Shape);
        Assert.Equal(VoxelType.Int16, v.Type);
        var d = (short[])v.Data;
        for (int i = 0; i < 24; i++) Assert.Equal((short)(i * 100 - 1000), d[i]);
    }

    [Theory]
    [InlineData(false, 1)]
    [InlineData(true, 1)]
    [InlineData(false, 2)]
    [InlineData(true, 2)]
    public void Reads_both_versions_and_byte_orders(bool big, int version)
    {
        var raw = Int16Volume(big, version);
        raw.SCode = 2; raw.SRow = [0.5, 0, 0, 10, 0, 2, 0, -20, 0, 0, 3, 30.25];
        var v = NiftiReader.Read(raw.SaveNii(_tmp.File("a.nii")));
        AssertInt16Values(v);
        RawNifti.AssertAffine([0.5, 0, 0, 10, 0, 2, 0, -20, 0, 0, 3, 30.25, 0, 0, 0, 1], v.Affine);
        var h = NiftiReader.ReadHeader(_tmp.File("a.nii"));
        Assert.Equal(version, h.Version);
        Assert.Equal(big, h.BigEndian);
    }

    [Theory]
    [InlineData(2, VoxelType.UInt8, 1)]
    [InlineData(256, VoxelType.Int8, 1)]
    [InlineData(4, VoxelType.Int16, 2)]
    [InlineData(512, VoxelType.UInt16, 2)]
    [InlineData(8, VoxelType.Int32, 4)]
    [InlineData(768, VoxelType.UInt32, 4)]
    [InlineData(1024, VoxelType.Int64, 8)]
    [InlineData(1280, VoxelType.UInt64, 8)]
    [InlineData(16, VoxelType.Float32, 4)]
    [InlineData(64, VoxelType.Float64, 8)]
    public void Reads_every_scalar_datatype_in_both_byte_orders(short code, VoxelType type, int size)
    {
        // values 0..23 with the top bit pattern exercised: element i = i * 3 - 7 (negative for signed types)
        var expected = Enumerable.Range(0, 24).Select(i => (double)(i * 3 - 7)).ToArray();
        bool unsigned = type is VoxelType.UInt8 or VoxelType.UInt16 or VoxelType.UInt32 or VoxelType.UInt64;
        if (unsigned) expected = expected.Select(x => x + 7).ToArray();
        byte[] bytes = type switch
        {
            VoxelType.UInt8 => RawNifti.Bytes(expected.Select(x => (byte)x).ToArray()),
            VoxelType.Int8 => RawNifti.Bytes(expected.Select(x => (sbyte)x).ToArray()),
            VoxelType.Int16 => RawNifti.Bytes(expected.Select(x => (short)x).ToArray()),
            VoxelType.UInt16 => RawNifti.Bytes(expected.Select(x => (ushort)(x * 900)).ToArray()),
            VoxelType.Int32 => RawNifti.Bytes(expected.Select(x => (int)x * 100000).ToArray()),
            VoxelType.UInt32 => RawNifti.Bytes(expected.Select(x => (uint)x * 60000000u).ToArray()),
            VoxelType.Int64 => RawNifti.Bytes(expected.Select(x => (long)x * 10000000000L).ToArray()),
            VoxelType.UInt64 => RawNifti.Bytes(expected.Select(x => (ulong)x * 100000000000000000UL).ToArray()),
            VoxelType.Float32 => RawNifti.Bytes(expected.Select(x => (float)(x + 0.25)).ToArray()),
            _ => RawNifti.Bytes(expected.Select(x => x + 1e-10).ToArray()),
        };
        double[] want = type switch
        {
            VoxelType.UInt16 => expected.Select(x => x * 900).ToArray(),
            VoxelType.Int32 => expected.Select(x => x * 100000).ToArray(),
            VoxelType.UInt32 => expected.Select(x => x * 60000000.0).ToArray(),
            VoxelType.Int64 => expected.Select(x => x * 1e10).ToArray(),
            VoxelType.UInt64 => expected.Select(x => x * 1e17).ToArray(),
            VoxelType.Float32 => expected.Select(x => x + 0.25).ToArray(),
            VoxelType.Float64 => expected.Select(x => x + 1e-10).ToArray(),
            _ => expected,
        };
        foreach (var big in new[] { false, true })
        {
            var raw = new RawNifti { Big = big, DataType = code, BitPix = (short)(size * 8), Data = bytes, ElementSize = size };
            var v = NiftiReader.Read(raw.SaveNii(_tmp.File($"t{code}{big}.nii")));
            Assert.Equal(type, v.Type);
            for (int i = 0; i < 24; i++) Assert.Equal(want[i], v.GetRaw(i));
        }
    }

    [Theory]
    [InlineData(128, VoxelType.Rgb24, 3)]
    [InlineData(2304, VoxelType.Rgba32, 4)]
    public void Reads_rgb_channel_minor_and_ignores_scaling(short code, VoxelType type, int channels)
    {
        var bytes = Enumerable.Range(0, 24 * channels).Select(i => (byte)(i % 251)).ToArray();
        var raw = new RawNifti { Big = true, DataType = code, BitPix = (short)(channels * 8), Data = bytes, Slope = 2, Inter = 5 };
        var v = NiftiReader.Read(raw.SaveNii(_tmp.File("rgb.nii.gz"), gzip: true));
        Assert.Equal(type, v.Type);
        Assert.Equal(bytes, (byte[])v.Data);
        Assert.False(v.IsScaled);
    }

    [Theory]
    [InlineData(1536, "float128")]
    [InlineData(32, "complex64")]
    [InlineData(1792, "complex128")]
    [InlineData(2048, "complex256")]
    [InlineData(1, "binary")]
    [InlineData(0, "unknown")]
    [InlineData(999, "unrecognised")]
    public void Unsupported_datatypes_are_named(short code, string name)
    {
        var raw = new RawNifti { DataType = code, BitPix = 128, Data = new byte[24 * 16] };
        var p = raw.SaveNii(_tmp.File("u.nii"));
        var e = Assert.Throws<NotSupportedException>(() => NiftiReader.Read(p));
        Assert.Contains($"unsupported datatype {code}", e.Message);
        Assert.Contains(name, e.Message);
        Assert.Contains(p, e.Message);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void Reads_hdr_img_pairs_gzipped_or_not(bool gzHeader, bool gzImage)
    {
        var raw = Int16Volume(big: true);
        raw.QCode = 1; raw.PixDim = [1, 2, 3, 4, 1, 1, 1, 1]; raw.QX = 1; raw.QY = 2; raw.QZ = 3;
        string hdr = raw.SavePair(_tmp.File("pair"), gzHeader, gzImage);
        var v = NiftiReader.Read(hdr);
        AssertInt16Values(v);
        RawNifti.AssertAffine([2, 0, 0, 1, 0, 3, 0, 2, 0, 0, 4, 3, 0, 0, 0, 1], v.Affine);
        // either member of the pair can be named
        var v2 = NiftiReader.Read(_tmp.File("pair.img" + (gzImage ? ".gz" : "")));
        Assert.Equal((short[])v.Data, (short[])v2.Data);
    }

    [Fact]
    public void Pair_honours_vox_offset_in_the_image_file()
    {
        var raw = Int16Volume(); raw.VoxOffset = 32;
        var v = NiftiReader.Read(raw.SavePair(_tmp.File("off")));
        AssertInt16Values(v);
    }

    [Fact]
    public void Pair_without_image_is_a_clear_error()
    {
        var hdr = Int16Volume().SavePair(_tmp.File("lonely"));
        File.Delete(_tmp.File("lonely.img"));
        var e = Assert.Throws<FileNotFoundException>(() => NiftiReader.Read(hdr));
        Assert.Contains("lonely.img", e.Message);
    }

    [Fact]
    public void Extensions_are_skipped_and_vox_offset_honoured()
    {
        var raw = Int16Volume(big: true);
        raw.Extensions.Add((6, "label names: liver, spleen"u8.ToArray()));
        raw.Extensions.Add((4, new byte[40]));
        raw.VoxOffset = 512; // beyond the extensions, with padding
        var p = raw.SaveNii(_tmp.File("ext.nii.gz"), gzip: true);
        var v = NiftiReader.Read(p);
        AssertInt16Values(v);
        Assert.Equal(2, v.Extensions.Count);
        Assert.Equal(6, v.Extensions[0].Code);
        Assert.StartsWith("label names", System.Text.Encoding.ASCII.GetString(v.Extensions[0].Data));
        Assert.Equal(4, v.Extensions[1].Code);
    }

    [Fact]
    public void Extension_running_past_vox_offset_is_ignored_with_a_warning()
    {
        var raw = Int16Volume();
        raw.Extensions.Add((6, new byte[100])); // esize 112, but vox_offset says data start at 368
        raw.VoxOffset = 368;
        var v = NiftiReader.Read(raw.SaveNii(_tmp.File("badext.nii")));
        AssertInt16Values(v);
        Assert.Empty(v.Extensions);
        Assert.Contains(v.Warnings, w => w.Contains("extension"));
    }

    [Fact]
    public void Nifti2_with_extensions_and_5d()
    {
        var values = Enumerable.Range(0, 2 * 3 * 4 * 1 * 3).Select(i => (float)i / 7).ToArray();
        var raw = new RawNifti
        {
            Version = 2, Big = true, Dim = [5, 2, 3, 4, 1, 3, 1, 1], DataType = 16, BitPix = 32, Data = RawNifti.Bytes(values),
            ElementSize = 4, IntentCode = 1007,
        };
        raw.Extensions.Add((0, new byte[20]));
        var v = NiftiReader.Read(raw.SaveNii(_tmp.File("five.nii")));
        Assert.Equal([2, 3, 4, 1, 3], v.Shape);
        Assert.Equal(values, (float[])v.Data);
        Assert.Equal(1007, v.IntentCode);
        Assert.Single(v.Extensions);
    }

    [Fact]
    public void Nifti2_damaged_eol_bytes_are_rejected_but_zeros_accepted()
    {
        var raw = Int16Volume(version: 2);
        raw.Eol = [0x0A, 0x0A, 0x1A, 0x0A];
        var e = Assert.Throws<InvalidDataException>(() => NiftiReader.Read(raw.SaveNii(_tmp.File("eol.nii"))));
        Assert.Contains("EOL", e.Message);
        raw.Eol = [0, 0, 0, 0];
        AssertInt16Values(NiftiReader.Read(raw.SaveNii(_tmp.File("eol0.nii"))));
    }

    [Fact]
    public void Four_d_keeps_time_step_and_units()
    {
        var raw = new RawNifti { Dim = [4, 2, 2, 2, 3, 1, 1, 1], Data = new byte[24], PixDim = [1, 1, 1, 1, 2.5, 1, 1, 1], XyztUnits = 2 | 16 };
        var v = NiftiReader.Read(raw.SaveNii(_tmp.File("4d.nii")));
        Assert.Equal([2, 2, 2, 3], v.Shape);
        Assert.Equal(2.5, v.TimeStep);
        Assert.Equal("ms", v.TimeUnit);
    }

    [Fact]
    public void Dims_beyond_dim0_are_ignored()
    {
        var raw = Int16Volume(); raw.Dim = [3, 2, 3, 4, 7, -1, 0, 99];
        AssertInt16Values(NiftiReader.Read(raw.SaveNii(_tmp.File("d.nii"))));
    }

    // ------------------------------------------------------------------------------------------ scaling

    [Theory]
    // slope, inter → scaled?, expected slope, expected inter
    [InlineData(2.0, 10.0, true, 2.0, 10.0)]
    [InlineData(1.0, 0.0, false, 1.0, 0.0)]
    [InlineData(0.0, 5.0, false, 1.0, 0.0)]           // slope 0 = no scaling (intercept ignored)
    [InlineData(double.NaN, 5.0, false, 1.0, 0.0)]    // NaN slope = no scaling
    [InlineData(double.PositiveInfinity, 0.0, false, 1.0, 0.0)]
    [InlineData(double.NegativeInfinity, 0.0, false, 1.0, 0.0)]
    [InlineData(-0.5, 0.0, true, -0.5, 0.0)]           // negative slope is valid
    [InlineData(1.0, -1024.0, true, 1.0, -1024.0)]     // intercept only (CT)
    [InlineData(0.0, double.NaN, false, 1.0, 0.0)]     // invalid slope: intercept not even looked at
    public void Slope_intercept_table(double slope, double inter, bool scaled, double expSlope, double expInter)
    {
        var raw = Int16Volume(); raw.Slope = slope; raw.Inter = inter;
        var v = NiftiReader.Read(raw.SaveNii(_tmp.File("s.nii")));
        Assert.Equal(scaled, v.IsScaled);
        Assert.Equal(expSlope, v.Slope);
        Assert.Equal(expInter, v.Intercept);
        Assert.Equal(-1000 * expSlope + expInter, v.Get(0));
        Assert.Equal((float)(1300 * expSlope + expInter), v.ToFloat32()[23]);
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void Valid_slope_with_invalid_intercept_is_an_error(double inter)
    {
        var raw = Int16Volume(); raw.Slope = 2; raw.Inter = inter;
        var e = Assert.Throws<InvalidDataException>(() => NiftiReader.Read(raw.SaveNii(_tmp.File("si.nii"))));
        Assert.Contains("scl_inter", e.Message);
    }

    [Fact]
    public void Scaling_applies_to_float_data_too()
    {
        var raw = new RawNifti { DataType = 16, BitPix = 32, Data = RawNifti.Bytes(Enumerable.Repeat(1.5f, 24).ToArray()), ElementSize = 4, Slope = 2, Inter = 1 };
        var v = NiftiReader.Read(raw.SaveNii(_tmp.File("fs.nii")));
        Assert.Equal(4.0, v.Get(5));
    }

    // ------------------------------------------------------------------------------------------ geometry

    [Fact]
    public void Qform_with_qfac_minus_one_and_rotation()
    {
        // 90° about z: quaternion (a, 0, 0, d) with a = d = sqrt(0.5)
        double d = Math.Sqrt(0.5);
        var raw = Int16Volume(big: true);
        raw.QCode = 1; raw.QB = 0; raw.QC = 0; raw.QD = d; raw.QX = -5; raw.QY = 6; raw.QZ = 7;
        raw.PixDim = [-1, 2, 3, 4, 1, 1, 1, 1];
        var v = NiftiReader.Read(raw.SaveNii(_tmp.File("q.nii")));
        // R = [[0,-1,0],[1,0,0],[0,0,1]]; columns scaled by (2, 3, -4)
        RawNifti.AssertAffine([0, -3, 0, -5, 2, 0, 0, 6, 0, 0, -4, 7, 0, 0, 0, 1], v.Affine, 1e-6);
        Assert.Equal("AL" + "I", Orientation.AxisCodes(v.Affine));
    }

    [Theory]
    [InlineData(0.0, 4.0)]   // pixdim[0] = 0 is treated as qfac = 1
    [InlineData(1.0, 4.0)]
    [InlineData(-1.0, -4.0)]
    public void Qfac_from_pixdim0(double pixdim0, double expectedZ)
    {
        var raw = Int16Volume(); raw.QCode = 2; raw.PixDim = [pixdim0, 2, 3, 4, 1, 1, 1, 1];
        var v = NiftiReader.Read(raw.SaveNii(_tmp.File("qf.nii")));
        Assert.Equal(expectedZ, v.Affine[10], 12);
    }

    [Fact]
    public void Quaternion_b_slightly_above_one_still_valid()
    {
        var raw = Int16Volume(); raw.QCode = 1;
        raw.QB = 1 + 1.1920929e-7; // 1 + float32 eps
        var v = NiftiReader.Read(raw.SaveNii(_tmp.File("qe.nii")));
        // 180° about x: diag(1, -1, -1)
        RawNifti.AssertAffine([1, 0, 0, 0, 0, -1, 0, 0, 0, 0, -1, 0, 0, 0, 0, 1], v.Affine, 1e-6);
        raw.QB = 1.01;
        var e = Assert.Throws<InvalidDataException>(() => NiftiReader.Read(raw.SaveNii(_tmp.File("qbad.nii"))));
        Assert.Contains("quaternion", e.Message);
    }

    [Theory]
    // sform_code, qform_code → which affine
    [InlineData(2, 1, "sform")]
    [InlineData(4, 0, "sform")]
    [InlineData(0, 1, "qform")]
    [InlineData(0, 0, "base")]
    [InlineData(6, 1, "qform")]   // invalid sform code is treated as 0
    [InlineData(-1, 0, "base")]
    [InlineData(10, -1, "base")]
    public void Affine_precedence_like_nibabel(int scode, int qcode, string which)
    {
        var raw = Int16Volume();
        raw.SCode = scode; raw.QCode = qcode;
        raw.SRow = [0, 0, 3, 1, 2, 0, 0, 2, 0, 1, 0, 3];
        raw.PixDim = [1, 2, 3, 4, 1, 1, 1, 1]; raw.QX = -1; raw.QY = -2; raw.QZ = -3;
        var v = NiftiReader.Read(raw.SaveNii(_tmp.File("p.nii")));
        double[] expected = which switch
        {
            "sform" => [0, 0, 3, 1, 2, 0, 0, 2, 0, 1, 0, 3, 0, 0, 0, 1],
            "qform" => [2, 0, 0, -1, 0, 3, 0, -2, 0, 0, 4, -3, 0, 0, 0, 1],
            // nibabel base affine: diag(-2, 3, 4), centre (dims 2,3,4 → (0.5, 1, 1.5)) at the origin
            _ => [-2, 0, 0, 1, 0, 3, 0, -3, 0, 0, 4, -6, 0, 0, 0, 1],
        };
        RawNifti.AssertAffine(expected, v.Affine);
        Assert.Equal(NiftiHeader.IsValidXformCode(scode) ? scode : 0, v.SFormCode);
        if (!NiftiHeader.IsValidXformCode(scode) || !NiftiHeader.IsValidXformCode(qcode)) Assert.NotEmpty(v.Warnings);
    }

    [Fact]
    public void Method1_fallback_is_selectable()
    {
        var raw = Int16Volume(); raw.PixDim = [1, 2, 3, 4, 1, 1, 1, 1];
        var v = NiftiReader.Read(raw.SaveNii(_tmp.File("m1.nii")), new NiftiReadOptions { Fallback = NiftiFallbackAffine.Method1 });
        RawNifti.AssertAffine([2, 0, 0, 0, 0, 3, 0, 0, 0, 0, 4, 0, 0, 0, 0, 1], v.Affine);
    }

    [Theory]
    [InlineData(1, 1000.0, "mm")]   // metres → mm
    [InlineData(3, 0.001, "mm")]    // micrometres → mm
    [InlineData(2, 1.0, "mm")]
    [InlineData(0, 1.0, "mm")]      // unknown: mm assumed
    public void Spatial_units_are_converted_to_mm(int unitCode, double factor, string unit)
    {
        var raw = Int16Volume(); raw.SCode = 1; raw.SRow = [0.002, 0, 0, 0.1, 0, 0.002, 0, 0.2, 0, 0, 0.004, 0.3]; raw.XyztUnits = unitCode | 8;
        var v = NiftiReader.Read(raw.SaveNii(_tmp.File("u.nii")));
        Assert.Equal(unit, v.SpatialUnit);
        Assert.Equal((float)0.002 * factor, v.Affine[0], 9);
        Assert.Equal((float)0.3 * factor, v.Affine[11], 9);
        var kept = NiftiReader.Read(_tmp.File("u.nii"), new NiftiReadOptions { ConvertToMillimetres = false });
        Assert.Equal((double)(float)0.002, kept.Affine[0]);
    }

    [Fact]
    public void Zero_pixdim_is_read_as_one_for_2d_images()
    {
        var raw = new RawNifti { Dim = [2, 4, 6, 1, 1, 1, 1, 1], Data = new byte[24], PixDim = [1, 0.5, 0.5, 0, 0, 0, 0, 0], QCode = 1 };
        var v = NiftiReader.Read(raw.SaveNii(_tmp.File("2d.nii")));
        Assert.Equal([4, 6], v.Shape);
        RawNifti.AssertAffine([0.5, 0, 0, 0, 0, 0.5, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1], v.Affine);
    }

    // ------------------------------------------------------------------------------------------ bad input

    [Fact]
    public void Wrong_magic()
    {
        var raw = Int16Volume(); raw.Magic = "xyz";
        var p = raw.SaveNii(_tmp.File("m.nii"));
        var e = Assert.Throws<InvalidDataException>(() => NiftiReader.Read(p));
        Assert.Contains("magic", e.Message);
        Assert.Contains(p, e.Message);
    }

    [Fact]
    public void Not_nifti_at_all()
    {
        File.WriteAllText(_tmp.File("text.nii"), "hello, this is not an image at all, but it is long enough to have a header........");
        var e = Assert.Throws<InvalidDataException>(() => NiftiReader.Read(_tmp.File("text.nii")));
        Assert.Contains("sizeof_hdr", e.Message);
        File.WriteAllBytes(_tmp.File("empty.nii"), []);
        Assert.Contains("too short", Assert.Throws<InvalidDataException>(() => NiftiReader.Read(_tmp.File("empty.nii"))).Message);
    }

    [Fact]
    public void Truncated_header()
    {
        var bytes = Int16Volume().SingleFile();
        File.WriteAllBytes(_tmp.File("th.nii"), bytes[..200]);
        Assert.Contains("truncated NIfTI-1 header", Assert.Throws<InvalidDataException>(() => NiftiReader.Read(_tmp.File("th.nii"))).Message);
    }

    [Fact]
    public void Single_file_with_pair_magic_is_rejected()
    {
        var raw = Int16Volume(); raw.Magic = "ni1";
        Assert.Contains("separate .img", Assert.Throws<InvalidDataException>(() => NiftiReader.Read(raw.SaveNii(_tmp.File("pm.nii")))).Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void File_shorter_than_dims_times_bitpix(bool gzip)
    {
        var raw = Int16Volume();
        raw.Data = raw.Data[..40]; // 20 of 24 voxels
        var p = raw.SaveNii(_tmp.File("short.nii" + (gzip ? ".gz" : "")), gzip);
        var e = Assert.Throws<InvalidDataException>(() => NiftiReader.Read(p));
        Assert.Contains(p, e.Message);
        Assert.Contains("48 bytes", e.Message);
        Assert.Contains("2×3×4", e.Message);
    }

    [Fact]
    public void Truncated_gzip_stream()
    {
        var raw = new RawNifti { Dim = [3, 64, 64, 64, 1, 1, 1, 1], DataType = 16, BitPix = 32, ElementSize = 4 };
        var rng = new Random(1);
        raw.Data = RawNifti.Bytes(Enumerable.Range(0, 64 * 64 * 64).Select(_ => (float)rng.NextDouble()).ToArray());
        var gz = RawNifti.Gzip(raw.SingleFile());
        File.WriteAllBytes(_tmp.File("cut.nii.gz"), gz[..(gz.Length / 2)]);
        var e = Assert.Throws<InvalidDataException>(() => NiftiReader.Read(_tmp.File("cut.nii.gz")));
        Assert.Contains("cut.nii.gz", e.Message);
        Assert.Matches("truncated|corrupt", e.Message);
        // a gzip stream with garbage in the middle
        var bad = (byte[])gz.Clone();
        for (int i = gz.Length / 3; i < gz.Length / 3 + 64; i++) bad[i] ^= 0x5A;
        File.WriteAllBytes(_tmp.File("bad.nii.gz"), bad);
        var e2 = Assert.Throws<InvalidDataException>(() => NiftiReader.Read(_tmp.File("bad.nii.gz")));
        Assert.Contains("bad.nii.gz", e2.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(8)]
    [InlineData(-3)]
    public void Dim0_out_of_range(long dim0)
    {
        var raw = Int16Volume(); raw.Dim[0] = dim0;
        var e = Assert.Throws<InvalidDataException>(() => NiftiReader.Read(raw.SaveNii(_tmp.File("d0.nii"))));
        Assert.Contains("dim[0]", e.Message);
    }

    [Theory]
    [InlineData(1, 0)]
    [InlineData(2, -1)]
    [InlineData(3, -5)]
    public void Zero_or_negative_dims(int index, long value)
    {
        var raw = Int16Volume(); raw.Dim[index] = value;
        var e = Assert.Throws<InvalidDataException>(() => NiftiReader.Read(raw.SaveNii(_tmp.File("neg.nii"))));
        Assert.Contains($"dim[{index}] = {value}", e.Message);
    }

    [Fact]
    public void NaN_in_sform_or_qform()
    {
        var raw = Int16Volume(); raw.SCode = 1; raw.SRow[5] = double.NaN;
        Assert.Contains("sform", Assert.Throws<InvalidDataException>(() => NiftiReader.Read(raw.SaveNii(_tmp.File("n1.nii")))).Message);
        raw = Int16Volume(); raw.QCode = 1; raw.QX = double.NaN;
        Assert.Contains("qform", Assert.Throws<InvalidDataException>(() => NiftiReader.Read(raw.SaveNii(_tmp.File("n2.nii")))).Message);
        raw = Int16Volume(); raw.QCode = 1; raw.QC = double.NaN;
        Assert.Throws<InvalidDataException>(() => NiftiReader.Read(raw.SaveNii(_tmp.File("n3.nii"))));
        raw = Int16Volume(); raw.QCode = 1; raw.PixDim[2] = double.NaN;
        Assert.Contains("pixdim[2]", Assert.Throws<InvalidDataException>(() => NiftiReader.Read(raw.SaveNii(_tmp.File("n4.nii")))).Message);
    }

    [Fact]
    public void Negative_pixdim_with_qform_is_an_error()
    {
        var raw = Int16Volume(); raw.QCode = 1; raw.PixDim[1] = -2;
        Assert.Contains("negative", Assert.Throws<InvalidDataException>(() => NiftiReader.Read(raw.SaveNii(_tmp.File("np.nii")))).Message);
    }

    [Fact]
    public void Vox_offset_below_minimum_is_raised_to_352()
    {
        var raw = Int16Volume();
        var bytes = raw.SingleFile(); // vox_offset 352
        BitConverter.GetBytes(0f).CopyTo(bytes, 108); // claim vox_offset 0
        File.WriteAllBytes(_tmp.File("vo.nii"), bytes);
        var v = NiftiReader.Read(_tmp.File("vo.nii"));
        AssertInt16Values(v);
        Assert.Contains(v.Warnings, w => w.Contains("vox_offset"));
    }

    [Fact]
    public void Vox_offset_past_end_of_file()
    {
        var raw = Int16Volume(); raw.VoxOffset = 352;
        var bytes = raw.SingleFile();
        BitConverter.GetBytes(4096f).CopyTo(bytes, 108);
        File.WriteAllBytes(_tmp.File("vo2.nii"), bytes);
        Assert.Contains("vox_offset", Assert.Throws<InvalidDataException>(() => NiftiReader.Read(_tmp.File("vo2.nii"))).Message);
    }

    [Fact]
    public void Missing_file_and_unknown_extension()
    {
        Assert.Throws<FileNotFoundException>(() => NiftiReader.Read(_tmp.File("nope.nii.gz")));
        Assert.Throws<FileNotFoundException>(() => VolumeIO.Read(_tmp.File("nope.nii.gz")));
        File.WriteAllText(_tmp.File("x.txt"), "x");
        Assert.Contains("unrecognised", Assert.Throws<NotSupportedException>(() => VolumeIO.Read(_tmp.File("x.txt"))).Message);
    }

    [Fact]
    public void Gzip_detected_by_content_not_name()
    {
        var raw = Int16Volume();
        File.WriteAllBytes(_tmp.File("actually_gz.nii"), RawNifti.Gzip(raw.SingleFile()));
        File.WriteAllBytes(_tmp.File("plain.nii.gz"), raw.SingleFile());
        AssertInt16Values(NiftiReader.Read(_tmp.File("actually_gz.nii")));
        AssertInt16Values(NiftiReader.Read(_tmp.File("plain.nii.gz")));
    }
}
