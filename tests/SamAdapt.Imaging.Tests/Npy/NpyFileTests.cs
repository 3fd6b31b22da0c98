using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using SamAdapt.Imaging.Npy;
using SamAdapt.Tests;

namespace SamAdapt.Imaging.Tests.Npy;

public class NpyFileTests
{
    private static readonly NpyDType[] AllTypes = Enum.GetValues<NpyDType>();

    // every .npy of the sam-tiny fixture with its exact dtype and shape (README.md)
    private static readonly (string Path, NpyDType Type, long[] Shape)[] SamTiny =
    [
        ("image.npy", NpyDType.UInt8, [100, 150, 3]),
        ("resized_image.npy", NpyDType.UInt8, [85, 128, 3]),
        ("input_tensor.npy", NpyDType.Float32, [1, 3, 128, 128]),
        ("image_embeddings.npy", NpyDType.Float32, [1, 32, 8, 8]),
        ("one_point/point_coords.npy", NpyDType.Float32, [1, 2]),
        ("one_point/point_labels.npy", NpyDType.Int64, [1]),
        ("one_point/masks_logits.npy", NpyDType.Float32, [3, 100, 150]),
        ("one_point/iou_predictions.npy", NpyDType.Float32, [3]),
        ("one_point/low_res_logits.npy", NpyDType.Float32, [3, 32, 32]),
        ("points_fg_bg/point_coords.npy", NpyDType.Float32, [2, 2]),
        ("points_fg_bg/point_labels.npy", NpyDType.Int64, [2]),
        ("points_fg_bg/masks_logits.npy", NpyDType.Float32, [1, 100, 150]),
        ("points_fg_bg/iou_predictions.npy", NpyDType.Float32, [1]),
        ("points_fg_bg/low_res_logits.npy", NpyDType.Float32, [1, 32, 32]),
        ("box/box.npy", NpyDType.Float32, [4]),
        ("box/masks_logits.npy", NpyDType.Float32, [1, 100, 150]),
        ("box/iou_predictions.npy", NpyDType.Float32, [1]),
        ("box/low_res_logits.npy", NpyDType.Float32, [1, 32, 32]),
        ("box_and_point/box.npy", NpyDType.Float32, [4]),
        ("box_and_point/point_coords.npy", NpyDType.Float32, [1, 2]),
        ("box_and_point/point_labels.npy", NpyDType.Int64, [1]),
        ("box_and_point/masks_logits.npy", NpyDType.Float32, [3, 100, 150]),
        ("box_and_point/iou_predictions.npy", NpyDType.Float32, [3]),
        ("box_and_point/low_res_logits.npy", NpyDType.Float32, [3, 32, 32]),
        ("mask_refine/point_coords.npy", NpyDType.Float32, [2, 2]),
        ("mask_refine/point_labels.npy", NpyDType.Int64, [2]),
        ("mask_refine/mask_input.npy", NpyDType.Float32, [1, 32, 32]),
        ("mask_refine/masks_logits.npy", NpyDType.Float32, [1, 100, 150]),
        ("mask_refine/iou_predictions.npy", NpyDType.Float32, [1]),
        ("mask_refine/low_res_logits.npy", NpyDType.Float32, [1, 32, 32]),
    ];

    [Fact]
    public void ReadsEveryFixtureFileWithExactDtypeAndShape()
    {
        var root = TestPaths.Fixture("sam-tiny");
        foreach (var (rel, type, shape) in SamTiny)
        {
            var a = NpyFile.Read(Path.Combine(root, rel));
            Assert.True(a.DType == type, $"{rel}: dtype {a.DType}, expected {type}");
            Assert.True(shape.SequenceEqual(a.Shape), $"{rel}: shape {a.ShapeString}, expected ({string.Join(", ", shape)})");
            Assert.Equal(a.Count * type.ItemSize(), a.Data.LongLength);
        }
        // and whatever else the fixture tree holds must read too
        var all = Directory.GetFiles(TestPaths.Shared, "*.npy", SearchOption.AllDirectories);
        Assert.True(all.Length >= SamTiny.Length);
        foreach (var f in all) NpyFile.Read(f);
    }

    [Fact]
    public void FixtureValuesMatchNumpy()
    {
        DebianPython.RequireNumpy();
        var files = Directory.GetFiles(TestPaths.Fixture(), "*.npy", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();
        var output = DebianPython.Run("""
            import sys, hashlib, json, numpy as np
            out = []
            for f in sys.argv[1:]:
                a = np.load(f, allow_pickle=False)
                b = np.ascontiguousarray(a.astype(a.dtype.newbyteorder('<')))
                out.append({"dtype": a.dtype.name, "shape": list(a.shape), "sha256": hashlib.sha256(b.tobytes()).hexdigest()})
            print(json.dumps(out))
            """, files);
        var expected = JsonDocument.Parse(output).RootElement;
        Assert.Equal(files.Length, expected.GetArrayLength());
        for (int i = 0; i < files.Length; i++)
        {
            var a = NpyFile.Read(files[i]);
            var e = expected[i];
            Assert.Equal(e.GetProperty("dtype").GetString(), a.DType.NumpyName());
            Assert.Equal(e.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()), a.Shape);
            Assert.True(e.GetProperty("sha256").GetString() == Sha(a.Data), $"{files[i]}: bytes differ from numpy's");
        }
    }

    public static TheoryData<NpyDType> Types() => new(AllTypes);

    [Theory]
    [MemberData(nameof(Types))]
    public void RoundTripsEveryDtypeAndShape(NpyDType type)
    {
        using var tmp = TestPaths.NewTempDir();
        long[][] shapes = [[], [0], [1], [7], [2, 0, 3], [3, 4], [2, 3, 5], [1, 1, 1, 1, 2], [2, 1, 3, 1, 2, 2]];
        var rng = new Random(1234 + (int)type);
        foreach (var shape in shapes)
        {
            var a = RandomArray(rng, type, shape);
            var path = tmp.File($"a_{type}_{shape.Length}.npy");
            NpyFile.Write(path, a);
            var bytes = File.ReadAllBytes(path);
            AssertWellFormedV1(bytes, a);
            var b = NpyFile.Read(path);
            Assert.Equal(a.DType, b.DType);
            Assert.Equal(a.Shape, b.Shape);
            Assert.Equal(a.Data, b.Data);
        }
        Assert.Empty(Directory.GetFiles(tmp.Path, "*.tmp", SearchOption.AllDirectories));
    }

    [Fact]
    public void HeaderIsNumpyStyleAndDataIs64Aligned()
    {
        var h = NpyFile.BuildHeader(NpyDType.Float32, [3, 4]);
        Assert.Equal(0, h.Length % 64);
        var text = Encoding.Latin1.GetString(h, 10, h.Length - 10);
        Assert.StartsWith("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", text);
        Assert.EndsWith("\n", text);
        Assert.Equal(h.Length - 10, BinaryPrimitives.ReadUInt16LittleEndian(h.AsSpan(8)));
        Assert.Contains("'shape': (5,), }", Encoding.Latin1.GetString(NpyFile.BuildHeader(NpyDType.UInt8, [5])));
        Assert.Contains("'shape': (), }", Encoding.Latin1.GetString(NpyFile.BuildHeader(NpyDType.Bool, [])));
    }

    [Fact]
    public void CSharpWrittenFilesLoadInNumpyWithIdenticalValues()
    {
        DebianPython.RequireNumpy();
        using var tmp = TestPaths.NewTempDir();
        var rng = new Random(99);
        var written = new List<(string Path, NpyArray Array)>();
        long[][] shapes = [[], [0], [5], [4, 3], [2, 3, 4], [2, 0, 2]];
        foreach (var type in AllTypes)
            for (int s = 0; s < shapes.Length; s++)
            {
                var a = RandomArray(rng, type, shapes[s]);
                var p = tmp.File($"{type}_{s}.npy");
                NpyFile.Write(p, a);
                written.Add((p, a));
            }
        var output = DebianPython.Run("""
            import sys, hashlib, json, numpy as np
            from numpy.lib import format as fmt
            out = []
            for f in sys.argv[1:]:
                with open(f, 'rb') as fh:
                    version = fmt.read_magic(fh)
                    shape, fortran, dtype = fmt._read_array_header(fh, version)
                    offset = fh.tell()
                a = np.load(f, allow_pickle=False)
                out.append({"version": list(version), "fortran": fortran, "descr": a.dtype.str, "dtype": a.dtype.name,
                            "shape": list(a.shape), "offset": offset, "sha256": hashlib.sha256(a.tobytes()).hexdigest(),
                            "repr": repr(a.ravel()[:3].tolist())})
            print(json.dumps(out))
            """, written.Select(w => w.Path).ToArray());
        var res = JsonDocument.Parse(output).RootElement;
        for (int i = 0; i < written.Count; i++)
        {
            var (p, a) = written[i];
            var e = res[i];
            Assert.Equal([1, 0], e.GetProperty("version").EnumerateArray().Select(x => x.GetInt32()));
            Assert.False(e.GetProperty("fortran").GetBoolean());
            Assert.Equal(a.Descr, e.GetProperty("descr").GetString());
            Assert.Equal(a.DType.NumpyName(), e.GetProperty("dtype").GetString());
            Assert.Equal(a.Shape, e.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()));
            Assert.Equal(0, e.GetProperty("offset").GetInt32() % 64);
            Assert.True(Sha(a.Data) == e.GetProperty("sha256").GetString(), $"{Path.GetFileName(p)}: numpy sees different values {e.GetProperty("repr")}");
        }
    }

    [Fact]
    public void NumpyWrittenFilesLoadInCSharp()
    {
        DebianPython.RequireNumpy();
        using var tmp = TestPaths.NewTempDir();
        // numpy writes each array in several layouts, plus its canonical little-endian C-order bytes as .bin
        var output = DebianPython.Run("""
            import sys, os, json, numpy as np
            from numpy.lib import format as fmt
            d = sys.argv[1]
            rng = np.random.default_rng(7)
            types = ['|b1', '|i1', '|u1', '<i2', '<u2', '<i4', '<u4', '<i8', '<u8', '<f2', '<f4', '<f8']
            shapes = [(), (0,), (6,), (3, 4), (2, 3, 4), (2, 1, 3, 2), (3, 0, 2)]
            cases = []
            for t in types:
                dt = np.dtype(t)
                for si, shape in enumerate(shapes):
                    if dt.kind == 'b':
                        a = rng.integers(0, 2, size=shape).astype(dt)
                    elif dt.kind in 'iu':
                        info = np.iinfo(dt)
                        a = rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dt)
                    else:
                        a = (rng.standard_normal(size=shape) * 1000).astype(dt)
                    canon = np.ascontiguousarray(a)  # note: asfortranarray makes rank 0 into shape (1,)
                    variants = {
                        'c': (canon, (1, 0)),
                        'f': (np.asfortranarray(canon), (1, 0)),
                        'be': (canon.astype(dt.newbyteorder('>')), (1, 0)),
                        'fbe': (np.asfortranarray(canon.astype(dt.newbyteorder('>'))), (1, 0)),
                        'v2': (canon, (2, 0)),
                        'v3': (canon, (3, 0)),
                        'v2f': (np.asfortranarray(canon), (2, 0)),
                    }
                    base = f"{t[1:]}_{si}"
                    with open(os.path.join(d, base + '.bin'), 'wb') as fh:
                        fh.write(canon.tobytes(order='C'))
                    for name, (arr, ver) in variants.items():
                        p = os.path.join(d, f"{base}_{name}.npy")
                        with open(p, 'wb') as fh:
                            fmt.write_array(fh, arr, version=ver, allow_pickle=False)
                        with open(p, 'rb') as fh:
                            v = fmt.read_magic(fh)
                            _, fortran, dtr = fmt._read_array_header(fh, v)
                        cases.append({"file": p, "bin": os.path.join(d, base + '.bin'), "dtype": dt.name,
                                      "shape": list(arr.shape), "version": list(v), "fortran": bool(fortran), "descr": dtr.str})
            # np.save itself (the common path)
            a = np.arange(24, dtype='>f8').reshape(2, 3, 4, order='F')
            np.save(os.path.join(d, 'save_default.npy'), a)
            with open(os.path.join(d, 'save_default.bin'), 'wb') as fh:
                fh.write(np.ascontiguousarray(a.astype('<f8')).tobytes())
            cases.append({"file": os.path.join(d, 'save_default.npy'), "bin": os.path.join(d, 'save_default.bin'),
                          "dtype": "float64", "shape": [2, 3, 4], "version": [1, 0], "fortran": False, "descr": ">f8"})
            print(json.dumps(cases))
            """, tmp.Path);
        var cases = JsonDocument.Parse(output).RootElement;
        int fortranSeen = 0, bigSeen = 0, v2Seen = 0, v3Seen = 0;
        foreach (var c in cases.EnumerateArray())
        {
            var file = c.GetProperty("file").GetString()!;
            var a = NpyFile.Read(file);
            Assert.True(c.GetProperty("dtype").GetString() == a.DType.NumpyName(), file);
            Assert.Equal(c.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()), a.Shape);
            Assert.True(File.ReadAllBytes(c.GetProperty("bin").GetString()!).AsSpan().SequenceEqual(a.Data), $"{Path.GetFileName(file)}: bytes differ");
            if (c.GetProperty("fortran").GetBoolean()) fortranSeen++;
            if (c.GetProperty("descr").GetString()!.StartsWith('>')) bigSeen++;
            var v = c.GetProperty("version")[0].GetInt32();
            if (v == 2) v2Seen++;
            if (v == 3) v3Seen++;
        }
        // make sure the layouts under test really were produced
        Assert.True(fortranSeen > 50 && bigSeen > 20 && v2Seen > 50 && v3Seen > 50, $"fortran {fortranSeen}, big-endian {bigSeen}, v2 {v2Seen}, v3 {v3Seen}");
    }

    [Fact]
    public void FortranOrderIsTransposedToCOrder()
    {
        // a[i,j] = data[i + 2j] for a (2,3) Fortran array
        var npy = RawNpy("{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3), }", ToBytes<int>([0, 1, 2, 3, 4, 5]));
        var a = NpyFile.Read(new MemoryStream(npy));
        Assert.Equal([0, 2, 4, 1, 3, 5], a.ToArray<int>());
        // (2,2,2): a[i,j,k] = data[i + 2j + 4k]
        var b = NpyFile.Read(new MemoryStream(RawNpy("{'descr': '|u1', 'fortran_order': True, 'shape': (2, 2, 2), }", [0, 1, 2, 3, 4, 5, 6, 7])));
        Assert.Equal(new byte[] { 0, 4, 2, 6, 1, 5, 3, 7 }, b.Data);
    }

    [Fact]
    public void BigEndianIsSwapped()
    {
        var a = NpyFile.Read(new MemoryStream(RawNpy("{'descr': '>u2', 'fortran_order': False, 'shape': (2,), }", [0x01, 0x02, 0xAB, 0xCD])));
        Assert.Equal(new ushort[] { 0x0102, 0xABCD }, a.ToArray<ushort>());
        var f = NpyFile.Read(new MemoryStream(RawNpy("{'descr': '>f4', 'fortran_order': False, 'shape': (), }", [0x3F, 0x80, 0, 0])));
        Assert.Equal([1.0f], f.AsFloat32());
        Assert.Empty(f.Shape);
    }

    [Fact]
    public void AccessorsConvert()
    {
        var a = NpyArray.FromArray(new short[] { -3, 0, 7, 300 }, 2, 2);
        Assert.Equal(NpyDType.Int16, a.DType);
        Assert.Equal([-3f, 0f, 7f, 300f], a.AsFloat32());
        Assert.Equal([-3.0, 0.0, 7.0, 300.0], a.AsFloat64());
        Assert.Equal([-3L, 0L, 7L, 300L], a.AsInt64());
        Assert.Equal(7, a.AsSpan<short>()[2]);
        Assert.Throws<InvalidOperationException>(() => a.AsSpan<float>());
        Assert.Throws<InvalidOperationException>(() => a.AsSpan<ushort>());
        var h = NpyArray.FromArray(new Half[] { (Half)1.5f, (Half)(-2f) }, 2);
        Assert.Equal([1.5f, -2f], h.AsFloat32());
        var big = NpyArray.FromArray(new long[] { (1L << 53) + 1, 16777217 }, 2);
        Assert.Equal([(float)((1L << 53) + 1), 16777216f], big.AsFloat32());
        Assert.Throws<ArgumentException>(() => NpyArray.FromArray(new float[3], 2, 2));
        Assert.Throws<InvalidOperationException>(() => NpyArray.FromArray(new float[] { 1 }, 1).AsInt64());
        a.Expect(NpyDType.Int16, -1, 2);
        Assert.Throws<InvalidDataException>(() => a.Expect(NpyDType.Int16, 4));
    }

    [Fact]
    public void ClearErrors()
    {
        var ok = RawNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", new byte[16]);

        var bad = (byte[])ok.Clone();
        bad[1] = (byte)'X';
        Assert.Contains("bad magic", Assert.Throws<NpyFormatException>(() => NpyFile.Read(new MemoryStream(bad))).Message);
        Assert.Contains("bad magic", Assert.Throws<NpyFormatException>(() => NpyFile.Read(new MemoryStream("PK\x03\x04xxxxxxxxxxx"u8.ToArray()))).Message);

        Assert.Contains("truncated", Assert.Throws<NpyFormatException>(() => NpyFile.Read(new MemoryStream(ok[..5]))).Message);
        Assert.Contains("truncated file: header", Assert.Throws<NpyFormatException>(() => NpyFile.Read(new MemoryStream(ok[..40]))).Message);
        var e = Assert.Throws<NpyFormatException>(() => NpyFile.Read(new MemoryStream(ok[..^1])));
        Assert.Contains("truncated file: array data (16 bytes", e.Message);

        Assert.Contains("'<c8'", Assert.Throws<NpyFormatException>(() => Read("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }")).Message);
        Assert.Contains("'<U3'", Assert.Throws<NpyFormatException>(() => Read("{'descr': '<U3', 'fortran_order': False, 'shape': (1,), }")).Message);
        Assert.Contains("'<M8[s]'", Assert.Throws<NpyFormatException>(() => Read("{'descr': '<M8[s]', 'fortran_order': False, 'shape': (1,), }")).Message);
        Assert.Contains("object arrays", Assert.Throws<NpyFormatException>(() => Read("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }")).Message);
        Assert.Contains("structured", Assert.Throws<NpyFormatException>(() => Read("{'descr': [('a', '<f4'), ('b', '<i4')], 'fortran_order': False, 'shape': (1,), }")).Message);
        Assert.Contains("lacks 'shape'", Assert.Throws<NpyFormatException>(() => Read("{'descr': '<f4', 'fortran_order': False, }")).Message);
        Assert.Contains("malformed header", Assert.Throws<NpyFormatException>(() => Read("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), ")).Message);

        Assert.Contains("too large", Assert.Throws<NpyFormatException>(() => Read("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }")).Message);
        Assert.Contains("too large", Assert.Throws<NpyFormatException>(() => Read("{'descr': '<f8', 'fortran_order': False, 'shape': (100000, 100000), }")).Message);
        Assert.Contains("non-integer or negative", Assert.Throws<NpyFormatException>(() => Read("{'descr': '<f8', 'fortran_order': False, 'shape': (-1, 2), }")).Message);

        var v9 = (byte[])ok.Clone();
        v9[6] = 9;
        Assert.Contains("version 9.0", Assert.Throws<NpyFormatException>(() => NpyFile.Read(new MemoryStream(v9))).Message);

        // the path is named when reading a file
        using var tmp = TestPaths.NewTempDir();
        var p = tmp.File("broken.npy");
        File.WriteAllBytes(p, ok[..^3]);
        Assert.Contains(p, Assert.Throws<NpyFormatException>(() => NpyFile.Read(p)).Message);

        static NpyArray Read(string header) => NpyFile.Read(new MemoryStream(RawNpy(header, new byte[64])));
    }

    [Fact]
    public void ObjectArraysWrittenByNumpyAreRejected()
    {
        DebianPython.RequireNumpy();
        using var tmp = TestPaths.NewTempDir();
        var p = tmp.File("obj.npy");
        DebianPython.Run("import sys, numpy as np; np.save(sys.argv[1], np.array([{'a': 1}, None], dtype=object), allow_pickle=True)", p);
        Assert.Contains("object arrays", Assert.Throws<NpyFormatException>(() => NpyFile.Read(p)).Message);
    }

    [Fact]
    public void WriteIsAtomic()
    {
        using var tmp = TestPaths.NewTempDir();
        var p = tmp.File("x.npy");
        File.WriteAllText(p, "old content");
        NpyFile.Write<float>(p, [1f, 2f, 3f], 3);
        Assert.Equal([1f, 2f, 3f], NpyFile.Read(p).AsFloat32());
        Assert.Single(Directory.GetFiles(tmp.Path));
        // failure (directory missing) leaves nothing behind
        Assert.ThrowsAny<IOException>(() => NpyFile.Write<float>(tmp.File("missing/y.npy"), [1f], 1));
        Assert.Single(Directory.GetFiles(tmp.Path, "*", SearchOption.AllDirectories));
    }

    // ---- helpers ----

    internal static NpyArray RandomArray(Random rng, NpyDType type, long[] shape)
    {
        long n = 1;
        foreach (var d in shape) n *= d;
        var bytes = new byte[n * type.ItemSize()];
        rng.NextBytes(bytes);
        if (type == NpyDType.Bool) for (int i = 0; i < bytes.Length; i++) bytes[i] &= 1;
        if (type is NpyDType.Float16 or NpyDType.Float32 or NpyDType.Float64)
        {
            // finite values only, so numpy's and C#'s views agree on every bit (NaN payloads included anyway)
            var a = new NpyArray(type, shape, bytes);
            for (int i = 0; i < n; i++)
            {
                double v = (rng.NextDouble() - 0.5) * 2000;
                switch (type)
                {
                    case NpyDType.Float16: a.AsSpan<Half>()[i] = (Half)v; break;
                    case NpyDType.Float32: a.AsSpan<float>()[i] = (float)v; break;
                    default: a.AsSpan<double>()[i] = v; break;
                }
            }
            return a;
        }
        return new NpyArray(type, shape, bytes);
    }

    private static void AssertWellFormedV1(byte[] file, NpyArray a)
    {
        Assert.Equal(0x93, file[0]);
        Assert.Equal("NUMPY", Encoding.ASCII.GetString(file, 1, 5));
        Assert.Equal(1, file[6]);
        Assert.Equal(0, file[7]);
        int hl = BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(8));
        Assert.Equal(0, (10 + hl) % 64);
        Assert.Equal((byte)'\n', file[10 + hl - 1]);
        Assert.Equal(10 + hl + a.Data.Length, file.Length);
    }

    internal static byte[] RawNpy(string header, byte[] data)
    {
        var h = header + "\n";
        var r = new byte[10 + h.Length + data.Length];
        r[0] = 0x93;
        Encoding.ASCII.GetBytes("NUMPY").CopyTo(r, 1);
        r[6] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(r.AsSpan(8), (ushort)h.Length);
        Encoding.Latin1.GetBytes(h).CopyTo(r, 10);
        data.CopyTo(r, 10 + h.Length);
        return r;
    }

    private static byte[] ToBytes<T>(T[] v) where T : unmanaged => System.Runtime.InteropServices.MemoryMarshal.AsBytes(v.AsSpan()).ToArray();

    private static string Sha(byte[] b) => Convert.ToHexStringLower(SHA256.HashData(b));
}
