using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using SamAdapt.Tests;
using SamAdapt.Torch.Serialization;
using static SamAdapt.Torch.Tests.Serialization.SerializationTestUtil;

namespace SamAdapt.Torch.Tests.Serialization;

/// <summary>Every malformed input gives a specific exception whose message names the problem and the file.</summary>
public class ErrorPathTests
{
    /// <summary>Assembles pickle bytes opcode by opcode.</summary>
    private sealed class Pkl
    {
        private readonly MemoryStream _s = new();
        public Pkl() { _s.WriteByte(0x80); _s.WriteByte(2); }
        public Pkl Op(char c) { _s.WriteByte((byte)c); return this; }
        public Pkl Byte(byte b) { _s.WriteByte(b); return this; }
        public Pkl Int(byte v) => Op('K').Byte(v);
        public Pkl Str(string s)
        {
            var b = Encoding.UTF8.GetBytes(s);
            Op('X');
            Span<byte> len = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(len, b.Length);
            _s.Write(len);
            _s.Write(b);
            return this;
        }
        public Pkl Global(string module, string name) { Op('c'); _s.Write(Encoding.ASCII.GetBytes(module + "\n" + name + "\n")); return this; }
        public byte[] Bytes => _s.ToArray();

        /// <summary>{key: _rebuild_tensor_v2(('storage', FloatStorage, '0', 'cpu', numel), offset, (size,), (stride,), False, {})}</summary>
        public static byte[] OneTensor(string key, byte storageNumel, byte offset, byte size, byte stride) => new Pkl()
            .Op('}').Str(key)
            .Global("torch._utils", "_rebuild_tensor_v2").Op('(')
            .Op('(').Str("storage").Global("torch", "FloatStorage").Str("0").Str("cpu").Int(storageNumel).Op('t').Op('Q')
            .Int(offset).Int(size).Byte(0x85).Int(stride).Byte(0x85).Byte(0x89).Op('}').Op('t').Op('R')
            .Op('s').Op('.').Bytes;
    }

    private static byte[] Floats(params float[] v) => System.Runtime.InteropServices.MemoryMarshal.AsBytes(v.AsSpan()).ToArray();

    [Fact]
    public void Missing_file()
    {
        var path = Path.Combine(Path.GetTempPath(), "does-not-exist-" + Guid.NewGuid() + ".pth");
        Assert.Contains(path, Assert.Throws<FileNotFoundException>(() => PthReader.Load(path)).Message);
        Assert.Throws<FileNotFoundException>(() => PthReader.LoadStateDict(path));
        Assert.Throws<FileNotFoundException>(() => SafeTensors.Load(path));
        Assert.Throws<FileNotFoundException>(() => CheckpointFile.LoadStateDict(path));
    }

    [Fact]
    public void Random_bytes_named_pth_is_a_corrupt_zip()
    {
        using var dir = TestPaths.NewTempDir();
        var path = dir.File("random.pth");
        var bytes = new byte[1000];
        new Random(5).NextBytes(bytes);
        bytes[0] = 0x13;
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<InvalidDataException>(() => PthReader.Load(path));
        Assert.StartsWith("corrupt zip:", e.Message);
        Assert.Contains("not a zip archive", e.Message);
        Assert.Contains(path, e.Message);
        Assert.Contains("neither", Assert.Throws<InvalidDataException>(() => CheckpointFile.LoadStateDict(path)).Message);
    }

    [Fact]
    public void Truncated_zip_is_a_corrupt_zip()
    {
        using var dir = TestPaths.NewTempDir();
        var good = dir.File("good.pth");
        PthWriter.Save(good, new Dictionary<string, HostTensor> { ["w"] = Random(DType.Float32, 1, 100) });
        var bytes = File.ReadAllBytes(good);
        var path = dir.File("cut.pth");
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        var e = Assert.Throws<InvalidDataException>(() => PthReader.LoadStateDict(path));
        Assert.StartsWith("corrupt zip:", e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Legacy_format_is_reported()
    {
        using var dir = TestPaths.NewTempDir();
        var path = dir.File("legacy.pth");
        byte[] head = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e, 0x80, 0x02, 0x4d, 0xe9, 0x03, 0x2e];
        File.WriteAllBytes(path, head);
        var e = Assert.Throws<NotSupportedException>(() => PthReader.Load(path));
        Assert.Contains("legacy torch.save format", e.Message);
        Assert.Contains("torch>=1.6", e.Message);
        Assert.Equal(CheckpointFile.Format.TorchLegacy, CheckpointFile.Detect(path));
    }

    [Fact]
    public void Missing_data_pkl()
    {
        using var dir = TestPaths.NewTempDir();
        var path = dir.File("nopkl.pth");
        WriteZip(path, ("nopkl/version", "3\n"u8.ToArray()));
        var e = Assert.Throws<InvalidDataException>(() => PthReader.Load(path));
        Assert.Contains("no record 'nopkl/data.pkl'", e.Message);
    }

    [Fact]
    public void Missing_storage_record()
    {
        using var dir = TestPaths.NewTempDir();
        var path = dir.File("nodata.pth");
        WriteZip(path, ("some_prefix/data.pkl", Pkl.OneTensor("w", 4, 0, 4, 1)));
        var e = Assert.Throws<InvalidDataException>(() => PthReader.Load(path));
        Assert.Contains("no record 'some_prefix/data/0'", e.Message);
        Assert.Contains("storage '0'", e.Message);
    }

    [Fact]
    public void Storage_record_too_short()
    {
        using var dir = TestPaths.NewTempDir();
        var path = dir.File("short.pth");
        WriteZip(path, ("short/data.pkl", Pkl.OneTensor("w", 4, 0, 4, 1)), ("short/data/0", Floats(1, 2, 3)));
        var e = Assert.Throws<InvalidDataException>(() => PthReader.Load(path));
        Assert.Contains("'short/data/0'", e.Message);
        Assert.Contains("has 12 bytes, expected 16", e.Message);
    }

    [Fact]
    public void View_outside_its_storage()
    {
        using var dir = TestPaths.NewTempDir();
        var path = dir.File("outside.pth");
        // offset 2 + 3 elements = 5 > storage numel 4
        WriteZip(path, ("outside/data.pkl", Pkl.OneTensor("w", 4, 2, 3, 1)), ("outside/data/0", Floats(1, 2, 3, 4)));
        var e = Assert.Throws<InvalidDataException>(() => PthReader.Load(path));
        Assert.Contains("outside storage '0' of 4 elements", e.Message);

        // the same view within bounds reads the right elements (and a custom prefix works)
        WriteZip(path, ("anything/data.pkl", Pkl.OneTensor("w", 4, 1, 3, 1)), ("anything/data/0", Floats(1, 2, 3, 4)));
        Assert.Equal([2f, 3f, 4f], PthReader.LoadStateDict(path)["w"].AsSpan<float>().ToArray());
    }

    [Fact]
    public void Big_endian_byteorder_is_swapped()
    {
        using var dir = TestPaths.NewTempDir();
        var path = dir.File("be.pth");
        var be = new byte[12];
        BinaryPrimitives.WriteSingleBigEndian(be, 1.5f);
        BinaryPrimitives.WriteSingleBigEndian(be.AsSpan(4), -2f);
        BinaryPrimitives.WriteSingleBigEndian(be.AsSpan(8), 1e10f);
        WriteZip(path, ("be/data.pkl", Pkl.OneTensor("w", 3, 0, 3, 1)), ("be/byteorder", "big"u8.ToArray()), ("be/data/0", be));
        Assert.Equal([1.5f, -2f, 1e10f], PthReader.LoadStateDict(path)["w"].AsSpan<float>().ToArray());
    }

    [Fact]
    public void Truncated_data_pkl()
    {
        using var dir = TestPaths.NewTempDir();
        var path = dir.File("trunc.pth");
        var pkl = Pkl.OneTensor("weight", 4, 0, 4, 1);
        int cut = 20; // inside the GLOBAL 'torch._utils' line
        WriteZip(path, ("trunc/data.pkl", pkl[..cut]), ("trunc/data/0", Floats(1, 2, 3, 4)));
        var e = Assert.Throws<InvalidDataException>(() => PthReader.Load(path));
        Assert.Contains($"data.pkl ended at byte {cut} while reading GLOBAL module", e.Message);
        Assert.Contains(path, e.Message);

        WriteZip(path, ("trunc/data.pkl", pkl[..^1]), ("trunc/data/0", Floats(1, 2, 3, 4))); // no STOP
        Assert.Contains($"data.pkl ended at byte {pkl.Length - 1} while reading an opcode", Assert.Throws<InvalidDataException>(() => PthReader.Load(path)).Message);
    }

    [Fact]
    public void Unknown_pickle_opcode()
    {
        using var dir = TestPaths.NewTempDir();
        var path = dir.File("op.pth");
        WriteZip(path, ("op/data.pkl", new Pkl().Op('}').Byte(0xFF).Op('.').Bytes));
        var e = Assert.Throws<InvalidDataException>(() => PthReader.Load(path));
        Assert.Contains("unknown pickle opcode 0xff", e.Message);
        Assert.Contains("at byte 3", e.Message);
        Assert.Contains("data.pkl", e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Unsupported_global_is_refused_and_never_executed()
    {
        using var dir = TestPaths.NewTempDir();
        var path = dir.File("evil.pth");
        var marker = dir.File("pwned");
        WriteZip(path, ("evil/data.pkl", new Pkl().Global("os", "system").Str("touch " + marker).Byte(0x85).Op('R').Op('.').Bytes));
        var e = Assert.Throws<NotSupportedException>(() => PthReader.Load(path));
        Assert.Contains("unsupported global 'os.system'", e.Message);
        Assert.Contains(path, e.Message);

        // opt-in: kept as an inert object
        var obj = Assert.IsType<PickleObject>(PthReader.Load(path, allowUnknownGlobals: true));
        Assert.Equal(new PickleGlobal("os", "system"), obj.Type);
        Assert.Equal("touch " + marker, obj.Args[0]);
        Assert.False(File.Exists(marker));
    }

    [Fact]
    public void Not_a_state_dict()
    {
        using var dir = TestPaths.NewTempDir();
        var path = dir.File("meta.pth");
        PthWriter.Save(path, new Dictionary<string, object?> { ["epoch"] = 3, ["note"] = "x" });
        var e = Assert.Throws<InvalidDataException>(() => PthReader.LoadStateDict(path));
        Assert.Contains("not a state dict", e.Message);
        Assert.Contains("epoch", e.Message);
        Assert.Throws<KeyNotFoundException>(() => PthReader.LoadStateDict(path, key: "model"));

        PthWriter.Save(path, new List<object?> { 1, 2 });
        Assert.Contains("holds a list", Assert.Throws<InvalidDataException>(() => PthReader.LoadStateDict(path)).Message);
    }

    // ---------------------------------------------------------------- safetensors

    private static void WriteSafe(string path, string json, int dataBytes, ulong? headerLength = null)
    {
        var h = Encoding.UTF8.GetBytes(json);
        var file = new byte[8 + h.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(file, headerLength ?? (ulong)h.Length);
        h.CopyTo(file, 8);
        File.WriteAllBytes(path, file);
    }

    [Fact]
    public void SafeTensors_header_length_beyond_file()
    {
        using var dir = TestPaths.NewTempDir();
        var path = dir.File("long.safetensors");
        WriteSafe(path, "{}", 0, headerLength: 1000);
        var e = Assert.Throws<InvalidDataException>(() => SafeTensors.Load(path));
        Assert.Contains("header length 1000", e.Message);
        Assert.Contains("beyond the end of the file (10 bytes)", e.Message);
        Assert.Contains("beyond the end", Assert.Throws<InvalidDataException>(() => CheckpointFile.LoadStateDict(path)).Message);

        WriteSafe(path, "{}", 0, headerLength: 200_000_000);
        Assert.Contains("exceeds the 100000000-byte limit", Assert.Throws<InvalidDataException>(() => SafeTensors.Load(path)).Message);

        File.WriteAllBytes(path, [1, 2, 3]);
        Assert.Contains("too short", Assert.Throws<InvalidDataException>(() => SafeTensors.Load(path)).Message);
    }

    [Fact]
    public void SafeTensors_bad_dtype()
    {
        using var dir = TestPaths.NewTempDir();
        var path = dir.File("dtype.safetensors");
        WriteSafe(path, """{"x":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}}""", 2);
        var e = Assert.Throws<NotSupportedException>(() => SafeTensors.Load(path));
        Assert.Contains("tensor 'x'", e.Message);
        Assert.Contains("dtype 'F8_E4M3'", e.Message);
        WriteSafe(path, """{"x":{"dtype":"Q7","shape":[2],"data_offsets":[0,2]}}""", 2);
        Assert.Contains("dtype 'Q7'", Assert.Throws<NotSupportedException>(() => SafeTensors.Load(path)).Message);
    }

    [Fact]
    public void SafeTensors_overlapping_offsets()
    {
        using var dir = TestPaths.NewTempDir();
        var path = dir.File("overlap.safetensors");
        WriteSafe(path, """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 12);
        var e = Assert.Throws<InvalidDataException>(() => SafeTensors.Load(path));
        Assert.Contains("'a' [0, 8) and 'b' [4, 12) overlap", e.Message);
    }

    [Fact]
    public void SafeTensors_other_header_errors()
    {
        using var dir = TestPaths.NewTempDir();
        var path = dir.File("bad.safetensors");

        WriteSafe(path, """{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", 8);
        Assert.Contains("has 8 bytes at [0, 8), but shape [3] of F32 needs 12", Assert.Throws<InvalidDataException>(() => SafeTensors.Load(path)).Message);

        WriteSafe(path, """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", 4);
        Assert.Contains("outside the data section of 4 bytes", Assert.Throws<InvalidDataException>(() => SafeTensors.Load(path)).Message);

        WriteSafe(path, """{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 8);
        Assert.Contains("key 'a' twice", Assert.Throws<InvalidDataException>(() => SafeTensors.Load(path)).Message);

        WriteSafe(path, """{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}""", 4);
        Assert.Contains("'shape' value -1", Assert.Throws<InvalidDataException>(() => SafeTensors.Load(path)).Message);

        WriteSafe(path, """{"a": nope}""", 0);
        Assert.Contains("not valid JSON", Assert.Throws<InvalidDataException>(() => SafeTensors.Load(path)).Message);

        WriteSafe(path, """{"__metadata__":{"n":1}}""", 0);
        Assert.Contains("metadata 'n'", Assert.Throws<InvalidDataException>(() => SafeTensors.Load(path)).Message);

        Assert.Throws<ArgumentException>(() => SafeTensors.Save(path, [new("a", Random(DType.Float32, 1, 1)), new("a", Random(DType.Float32, 1, 1))]));
    }
}
