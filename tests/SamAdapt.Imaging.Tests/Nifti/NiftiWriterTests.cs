using SamAdapt.Common;
using System.Buffers.Binary;
using SamAdapt.Imaging.Nifti;
using SamAdapt.Tests;

namespace SamAdapt.Imaging.Tests.Nifti;

public class NiftiWriterTests : IDisposable
{
    private readonly TempDir _tmp = TestPaths.NewTempDir();
    public void Dispose() => _tmp.Dispose();

    internal static Volume Sample(VoxelType t, int[]? shape = null, double[]? affine = null)
    {
        shape ??= [5, 4, 3];
        long n = shape.Aggregate(1L, (a, b) => a * b);
        var rng = new Random(42);
        var data = Volume.Allocate(t, n);
        for (int i = 0; i < data.Length; i++)
        {
            // switch on the type, not the array: the CLR lets sbyte[] match a byte[] pattern
            switch (t)
            {
                case VoxelType.UInt8 or VoxelType.Rgb24 or VoxelType.Rgba32: ((byte[])data)[i] = (byte)rng.Next(256); break;
                case VoxelType.Int8: ((sbyte[])data)[i] = (sbyte)rng.Next(-128, 128); break;
                case VoxelType.Int16: ((short[])data)[i] = (short)rng.Next(short.MinValue, short.MaxValue + 1); break;
                case VoxelType.UInt16: ((ushort[])data)[i] = (ushort)rng.Next(65536); break;
                case VoxelType.Int32: ((int[])data)[i] = rng.Next(int.MinValue, int.MaxValue); break;
                case VoxelType.UInt32: ((uint[])data)[i] = (uint)rng.NextInt64(uint.MaxValue); break;
                case VoxelType.Int64: ((long[])data)[i] = rng.NextInt64(long.MinValue, long.MaxValue); break;
                case VoxelType.UInt64: ((ulong[])data)[i] = (ulong)rng.NextInt64() * 2 + 1; break;
                case VoxelType.Float32: ((float[])data)[i] = (float)(rng.NextDouble() * 1e4 - 5e3); break;
                case VoxelType.Float64: ((double[])data)[i] = rng.NextDouble() * 1e-3 - 7; break;
            }
        }
        if (t == VoxelType.Float32) { var fa = (float[])data; fa[0] = float.NaN; fa[1] = float.NegativeInfinity; }
        return new Volume(shape, t, data, affine ?? Oblique());
    }

    /// <summary>A rotated, anisotropic, reflected affine with float32-representable entries.</summary>
    internal static double[] Oblique()
    {
        double c = Math.Cos(0.3), s = Math.Sin(0.3);
        double[] a = [0.8 * c, -1.25 * s, 0, -90.5, 0.8 * s, 1.25 * c, 0, 102.25, 0, 0, -2.5, 33.75, 0, 0, 0, 1];
        for (int i = 0; i < 12; i++) a[i] = (float)a[i];
        return a;
    }

    public static IEnumerable<object[]> AllTypes() => Enum.GetValues<VoxelType>().Select(t => new object[] { t });

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void Round_trip_is_exact_for_every_type_and_layout(VoxelType t)
    {
        var v = Sample(t);
        v.Slope = t is VoxelType.Rgb24 or VoxelType.Rgba32 ? 1 : 0.5; v.Intercept = t is VoxelType.Rgb24 or VoxelType.Rgba32 ? 0 : -3.25;
        v.IntentCode = 1002; v.Description = "round trip"; v.IntentName = "labels";
        foreach (var name in new[] { "a.nii", "a.nii.gz", "b.hdr", "c.hdr.gz" })
        {
            var p = _tmp.File(name);
            NiftiWriter.Write(v, p);
            var r = NiftiReader.Read(p);
            Assert.Equal(v.Shape, r.Shape);
            Assert.Equal(v.Type, r.Type);
            Assert.Equal(RawBytes(v), RawBytes(r));
            Assert.Equal(v.Affine, r.Affine); // sform stores float32-exact values
            Assert.Equal(v.Slope, r.Slope);
            Assert.Equal(v.Intercept, r.Intercept);
            Assert.Equal(1002, r.IntentCode);
            Assert.Equal("round trip", r.Description);
            Assert.Equal("labels", r.IntentName);
            // and again: read → write → read leaves the file content identical
            var p2 = _tmp.File("again_" + name);
            NiftiWriter.Write(r, p2);
            Assert.Equal(RawNifti.ReadMaybeGz(p), RawNifti.ReadMaybeGz(p2));
        }
    }

    private static byte[] RawBytes(Volume v)
    {
        // Buffer.BlockCopy works on any primitive array, independent of the element type
        var b = new byte[Buffer.ByteLength(v.Data)];
        Buffer.BlockCopy(v.Data, 0, b, 0, b.Length);
        return b;
    }

    [Fact]
    public void Header_fields_at_spec_offsets()
    {
        var v = Sample(VoxelType.Int16);
        NiftiWriter.Write(v, _tmp.File("h.nii.gz"));
        var b = RawNifti.ReadMaybeGz(_tmp.File("h.nii.gz"));
        Assert.Equal(348, BinaryPrimitives.ReadInt32LittleEndian(b));
        Assert.Equal("n+1\0"u8.ToArray(), b[344..348]);
        Assert.Equal(352f, BinaryPrimitives.ReadSingleLittleEndian(b.AsSpan(108)));
        Assert.Equal(352 + 5 * 4 * 3 * 2, b.Length);
        Assert.Equal([0, 0, 0, 0], b[348..352]);
        Assert.Equal(3, BinaryPrimitives.ReadInt16LittleEndian(b.AsSpan(40)));
        Assert.Equal(5, BinaryPrimitives.ReadInt16LittleEndian(b.AsSpan(42)));
        Assert.Equal(4, BinaryPrimitives.ReadInt16LittleEndian(b.AsSpan(70)));
        Assert.Equal(16, BinaryPrimitives.ReadInt16LittleEndian(b.AsSpan(72)));
        Assert.Equal(2, BinaryPrimitives.ReadInt16LittleEndian(b.AsSpan(252))); // qform_code aligned
        Assert.Equal(2, BinaryPrimitives.ReadInt16LittleEndian(b.AsSpan(254))); // sform_code aligned
        Assert.Equal(10, b[123]); // mm + s
        Assert.Equal(1f, BinaryPrimitives.ReadSingleLittleEndian(b.AsSpan(112)));
        for (int i = 0; i < 12; i++)
            Assert.Equal((float)v.Affine[i], BinaryPrimitives.ReadSingleLittleEndian(b.AsSpan(280 + 4 * i)));
        // pixdim[0] = qfac = -1 (the oblique affine is a reflection), pixdim[1..3] = voxel sizes
        Assert.Equal(-1f, BinaryPrimitives.ReadSingleLittleEndian(b.AsSpan(76)));
        Assert.Equal(0.8f, BinaryPrimitives.ReadSingleLittleEndian(b.AsSpan(80)), 5);
        Assert.Equal(1.25f, BinaryPrimitives.ReadSingleLittleEndian(b.AsSpan(84)), 5);
        Assert.Equal(2.5f, BinaryPrimitives.ReadSingleLittleEndian(b.AsSpan(88)), 5);
    }

    [Theory]
    [InlineData(0.0, 0.0, 0.0, false)]
    [InlineData(0.3, 0.0, 0.0, false)]
    [InlineData(0.0, 2.5, 0.0, true)]
    [InlineData(1.1, -0.4, 2.9, true)]
    [InlineData(3.14159, 0.0, 0.0, true)]  // 180° rotation: a ≈ 0
    public void Qform_encodes_the_same_affine_as_the_sform(double rz, double ry, double rx, bool reflect)
    {
        var r = Rotation(rz, ry, rx);
        double[] z = [0.7, 1.3, reflect ? -2.1 : 2.1];
        var affine = new double[16];
        for (int i = 0; i < 3; i++) for (int j = 0; j < 3; j++) affine[i * 4 + j] = r[i * 3 + j] * z[j];
        affine[3] = 12.5; affine[7] = -40; affine[11] = 7.25; affine[15] = 1;
        var v = Sample(VoxelType.UInt8, affine: affine);
        var p = _tmp.File("q.nii");
        NiftiWriter.Write(v, p);
        var h = NiftiReader.ReadHeader(p);
        Assert.Equal(reflect ? -1.0 : 1.0, h.PixDim[0]);
        // NIfTI-1 stores b, c, d as float32 and a = sqrt(1 − b² − c² − d²) loses precision for rotations near 180°
        // (the (1.1, −0.4, 2.9) case has a ≈ 0.0024), an inherent limit of the format
        RawNifti.AssertAffine(affine, h.QFormAffine(p), 1e-4);
        RawNifti.AssertAffine(affine, h.SFormAffine(), 2e-6);
        NiftiWriter.Write(v, _tmp.File("q2.nii"), new NiftiWriteOptions { Version = 2 });
        var h2 = NiftiReader.ReadHeader(_tmp.File("q2.nii"));
        RawNifti.AssertAffine(affine, h2.QFormAffine(p), 1e-9); // NIfTI-2 doubles: essentially exact
        // and a file whose sform is disabled falls back to the qform with the same geometry
        var onlyQ = Sample(VoxelType.UInt8, affine: affine);
        NiftiWriter.Write(onlyQ, _tmp.File("q2.nii"), new NiftiWriteOptions { SFormCode = 0, QFormCode = 1 });
        RawNifti.AssertAffine(affine, NiftiReader.Read(_tmp.File("q2.nii")).Affine, 1e-4);
    }

    internal static double[] Rotation(double rz, double ry, double rx)
    {
        double[] Z = [Math.Cos(rz), -Math.Sin(rz), 0, Math.Sin(rz), Math.Cos(rz), 0, 0, 0, 1];
        double[] Y = [Math.Cos(ry), 0, Math.Sin(ry), 0, 1, 0, -Math.Sin(ry), 0, Math.Cos(ry)];
        double[] X = [1, 0, 0, 0, Math.Cos(rx), -Math.Sin(rx), 0, Math.Sin(rx), Math.Cos(rx)];
        return Geometry.Multiply3(Z, Geometry.Multiply3(Y, X));
    }

    [Fact]
    public void Sheared_affine_sform_exact_qform_is_nearest_rigid()
    {
        double[] a = [1, 0.25, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
        var v = Sample(VoxelType.Int16, affine: a);
        NiftiWriter.Write(v, _tmp.File("shear.nii"));
        var r = NiftiReader.Read(_tmp.File("shear.nii"));
        Assert.Equal(a, r.Affine);
        var h = NiftiReader.ReadHeader(_tmp.File("shear.nii"));
        var q = h.QFormAffine("x");
        // shear removed: the qform's direction matrix is orthogonal
        var m = Geometry.Linear(q);
        var zooms = Geometry.SpacingFromAffine(q);
        double dot = (m[0] * m[1] + m[3] * m[4] + m[6] * m[7]) / (zooms[0] * zooms[1]);
        Assert.True(Math.Abs(dot) < 1e-6);
    }

    [Fact]
    public void Source_codes_are_kept()
    {
        var v = Sample(VoxelType.UInt8); v.QFormCode = 1; v.SFormCode = 4;
        NiftiWriter.Write(v, _tmp.File("codes.nii"));
        var h = NiftiReader.ReadHeader(_tmp.File("codes.nii"));
        Assert.Equal(1, h.QFormCode); Assert.Equal(4, h.SFormCode);
        v.QFormCode = 0; v.SFormCode = 3;
        NiftiWriter.Write(v, _tmp.File("codes2.nii"));
        h = NiftiReader.ReadHeader(_tmp.File("codes2.nii"));
        Assert.Equal(3, h.QFormCode); Assert.Equal(3, h.SFormCode);
    }

    [Fact]
    public void Nifti2_is_used_for_dimensions_beyond_int16()
    {
        var v = new Volume([40000, 1, 1], VoxelType.UInt8, new byte[40000], Geometry.Identity());
        NiftiWriter.Write(v, _tmp.File("wide.nii"));
        var h = NiftiReader.ReadHeader(_tmp.File("wide.nii"));
        Assert.Equal(2, h.Version);
        Assert.Equal(544, h.VoxOffset);
        Assert.Equal(40000, NiftiReader.Read(_tmp.File("wide.nii")).Shape[0]);
        Assert.Throws<InvalidDataException>(() => NiftiWriter.Write(v, _tmp.File("wide1.nii"), new NiftiWriteOptions { Version = 1 }));
        Assert.False(File.Exists(_tmp.File("wide1.nii")));
    }

    [Fact]
    public void Explicit_nifti2_round_trip_with_double_precision_affine()
    {
        var v = Sample(VoxelType.Float64, affine: [0.1, 0, 0, 1.0 / 3, 0, 0.2, 0, 0, 0, 0, 0.3, 0, 0, 0, 0, 1]);
        NiftiWriter.Write(v, _tmp.File("v2.nii.gz"), new NiftiWriteOptions { Version = 2 });
        var r = NiftiReader.Read(_tmp.File("v2.nii.gz"));
        Assert.Equal(v.Affine, r.Affine); // NIfTI-2 stores doubles
        Assert.Equal((double[])v.Data, (double[])r.Data);
    }

    [Fact]
    public void Five_d_and_time_step_round_trip()
    {
        var v = Sample(VoxelType.Float32, [3, 2, 2, 4, 2]);
        v.TimeStep = 1.5; v.TimeUnit = "ms";
        NiftiWriter.Write(v, _tmp.File("5d.nii"));
        var r = NiftiReader.Read(_tmp.File("5d.nii"));
        Assert.Equal([3, 2, 2, 4, 2], r.Shape);
        Assert.Equal(1.5, r.TimeStep);
        Assert.Equal("ms", r.TimeUnit);
        Assert.Equal(RawBytes(v), RawBytes(r));
    }

    [Fact]
    public void Failed_write_leaves_nothing_behind_and_keeps_the_old_file()
    {
        var p = _tmp.File("keep.nii.gz");
        NiftiWriter.Write(Sample(VoxelType.UInt8), p);
        var before = File.ReadAllBytes(p);
        var bad = Sample(VoxelType.UInt8); bad.Affine = (double[])bad.Affine.Clone(); bad.Affine[5] = double.NaN;
        var e = Assert.Throws<InvalidDataException>(() => NiftiWriter.Write(bad, p));
        Assert.Contains("NaN", e.Message);
        Assert.Equal(before, File.ReadAllBytes(p));
        Assert.Single(Directory.GetFiles(_tmp.Path));
        Assert.Throws<InvalidDataException>(() => NiftiWriter.Write(bad, _tmp.File("new.nii")));
        Assert.False(File.Exists(_tmp.File("new.nii")));
        Assert.Throws<DirectoryNotFoundException>(() => NiftiWriter.Write(Sample(VoxelType.UInt8), _tmp.File("no/such/dir.nii")));
        Assert.Throws<NotSupportedException>(() => NiftiWriter.Write(Sample(VoxelType.UInt8), _tmp.File("x.png")));
        Assert.Single(Directory.GetFiles(_tmp.Path));
    }

    [Fact]
    public void Exception_during_data_write_removes_the_temporary_file()
    {
        var p = _tmp.File("boom.nii");
        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(p, s => { s.Write(new byte[100]); throw new InvalidOperationException("boom"); }));
        Assert.Empty(Directory.GetFiles(_tmp.Path));
    }

    // ------------------------------------------------------------------------------------------ dtype conversion

    [Fact]
    public void ConvertTo_rounds_half_away_from_zero_and_checks_ranges()
    {
        var v = new Volume([6, 1, 1], VoxelType.Float32, new float[] { 0.5f, 1.5f, 2.5f, -0.5f, -2.5f, 254.49f }, Geometry.Identity());
        var i16 = v.ConvertTo(VoxelType.Int16);
        Assert.Equal(new short[] { 1, 2, 3, -1, -3, 254 }, (short[])i16.Data);
        Assert.False(i16.IsScaled);
        var e = Assert.Throws<InvalidDataException>(() => v.ConvertTo(VoxelType.UInt8));
        Assert.Contains("do not fit uint8", e.Message);
        var big = new Volume([2, 1, 1], VoxelType.Float32, new float[] { 0, 255.5f }, Geometry.Identity());
        Assert.Throws<InvalidDataException>(() => big.ConvertTo(VoxelType.UInt8)); // 255.5 rounds to 256
        var nan = new Volume([2, 1, 1], VoxelType.Float32, new float[] { 0, float.NaN }, Geometry.Identity());
        Assert.Contains("NaN", Assert.Throws<InvalidDataException>(() => nan.ConvertTo(VoxelType.Int16)).Message);
        Assert.True(float.IsNaN(((float[])nan.ConvertTo(VoxelType.Float32).Data)[1]));
        var huge = new Volume([1, 1, 1], VoxelType.Float64, new double[] { 1e300 }, Geometry.Identity());
        Assert.Throws<InvalidDataException>(() => huge.ConvertTo(VoxelType.Float32));
    }

    [Fact]
    public void ConvertTo_applies_scaling()
    {
        var v = new Volume([3, 1, 1], VoxelType.UInt16, new ushort[] { 0, 1000, 2000 }, Geometry.Identity()) { Slope = 1, Intercept = -1024 };
        var s = v.ConvertTo(VoxelType.Int16);
        Assert.Equal(new short[] { -1024, -24, 976 }, (short[])s.Data);
        var f = v.ConvertTo(VoxelType.Float32);
        Assert.Equal(new float[] { -1024, -24, 976 }, (float[])f.Data);
    }
}

public class LabelMapTests
{
    [Fact]
    public void ToLabelMap_picks_uint8_or_int16_and_sets_intent()
    {
        var small = new Volume([3, 1, 1], VoxelType.Int32, new[] { 0, 5, 255 }, Geometry.Identity());
        var a = small.ToLabelMap();
        Assert.Equal(VoxelType.UInt8, a.Type);
        Assert.Equal(1002, a.IntentCode);
        Assert.Equal(new byte[] { 0, 5, 255 }, (byte[])a.Data);
        var wide = new Volume([3, 1, 1], VoxelType.Float32, new[] { -1f, 0f, 300f }, Geometry.Identity());
        Assert.Equal(VoxelType.Int16, wide.ToLabelMap().Type);
        var frac = new Volume([2, 1, 1], VoxelType.Float32, new[] { 0.5f, 1f }, Geometry.Identity());
        Assert.Throws<InvalidDataException>(() => frac.ToLabelMap());
        var huge = new Volume([1, 1, 1], VoxelType.Int32, new[] { 70000 }, Geometry.Identity());
        Assert.Throws<InvalidDataException>(() => huge.ToLabelMap());
    }
}
