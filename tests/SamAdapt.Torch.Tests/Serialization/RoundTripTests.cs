using System.Buffers.Binary;
using System.Numerics;
using SamAdapt.Tests;
using SamAdapt.Torch.Serialization;
using static SamAdapt.Torch.Tests.Serialization.SerializationTestUtil;

namespace SamAdapt.Torch.Tests.Serialization;

/// <summary>C# → file → C# for .pth and safetensors.</summary>
public class RoundTripTests
{
    /// <summary>Every dtype, in several shapes including rank 0 and zero-size.</summary>
    internal static Dictionary<string, HostTensor> AllDTypeStateDict()
    {
        var sd = new Dictionary<string, HostTensor>();
        int seed = 1;
        foreach (var dt in AllDTypes)
        {
            var n = dt.TorchName();
            sd[$"{n}.matrix"] = Random(dt, seed++, 3, 5);
            sd[$"{n}.rank4"] = Random(dt, seed++, 2, 1, 3, 2);
            sd[$"{n}.scalar"] = Random(dt, seed++);
            sd[$"{n}.empty"] = Random(dt, seed++, 0, 4);
        }
        return sd;
    }

    [Fact]
    public void Pth_round_trips_every_dtype_rank0_and_zero_size()
    {
        using var dir = TestPaths.NewTempDir();
        var path = dir.File("all.pth");
        var sd = AllDTypeStateDict();
        PthWriter.Save(path, sd);

        var back = PthReader.LoadStateDict(path);
        Assert.Equal(sd.Keys, back.Keys); // order preserved too
        foreach (var (k, v) in sd) AssertSameTensor(v, back[k], k);
        Assert.Empty(back["float32.scalar"].Shape);
        Assert.Equal(0, back["int64.empty"].Numel);
    }

    [Fact]
    public void Pth_writes_a_torch_style_zip_stored_and_64_byte_aligned()
    {
        using var dir = TestPaths.NewTempDir();
        var path = dir.File("my_model.pth");
        PthWriter.Save(path, new Dictionary<string, HostTensor> { ["a"] = Random(DType.Float32, 1, 7), ["b"] = Random(DType.Int8, 2, 3) });

        var bytes = File.ReadAllBytes(path);
        var records = new List<string>();
        long pos = 0;
        while (BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan((int)pos)) == 0x04034b50)
        {
            var h = bytes.AsSpan((int)pos);
            Assert.Equal(0, BinaryPrimitives.ReadUInt16LittleEndian(h[8..])); // STORED
            uint size = BinaryPrimitives.ReadUInt32LittleEndian(h[18..]);
            int nameLen = BinaryPrimitives.ReadUInt16LittleEndian(h[26..]);
            int extraLen = BinaryPrimitives.ReadUInt16LittleEndian(h[28..]);
            records.Add(System.Text.Encoding.UTF8.GetString(h.Slice(30, nameLen)));
            long dataStart = pos + 30 + nameLen + extraLen;
            Assert.True(dataStart % 64 == 0, $"record {records[^1]} data at offset {dataStart}");
            pos = dataStart + size;
        }
        Assert.Equal(["my_model/data.pkl", "my_model/byteorder", "my_model/data/0", "my_model/data/1", "my_model/version"], records);

        using var zip = System.IO.Compression.ZipFile.OpenRead(path); // the BCL reader agrees (CRCs, central directory)
        using var v = new StreamReader(zip.GetEntry("my_model/version")!.Open());
        Assert.Equal("3\n", v.ReadToEnd());
        Assert.Equal(28, zip.GetEntry("my_model/data/0")!.Length);
    }

    [Fact]
    public void Pth_round_trips_a_nested_training_checkpoint()
    {
        using var dir = TestPaths.NewTempDir();
        var path = dir.File("train.pth");
        var sd = new Dictionary<string, HostTensor>
        {
            ["module.encoder.weight"] = Random(DType.Float32, 3, 4, 4),
            ["module.encoder.bias"] = Random(DType.Float32, 4, 4),
        };
        var obj = new Dictionary<string, object?>
        {
            ["model"] = sd,
            ["epoch"] = 3,
            ["lr"] = 0.1,
            ["name"] = "x",
            ["done"] = true,
            ["none"] = null,
            ["big"] = BigInteger.Pow(2, 70),
            ["neg"] = -123456789012L,
            ["list"] = new List<object?> { 1, "two", 3.5, new PickleTuple(0.9, 0.999) },
            ["byid"] = new PickleDict { [0L] = "zero", [new PickleTuple(1L, 2L)] = "pair" },
        };
        PthWriter.Save(path, obj);

        var root = Assert.IsType<PickleDict>(PthReader.Load(path));
        Assert.False(root.IsOrderedDict);
        Assert.Equal(obj.Keys, root.Keys.Cast<string>());
        Assert.Equal(3L, root["epoch"]);
        Assert.Equal(0.1, root["lr"]);
        Assert.Equal("x", root["name"]);
        Assert.Equal(true, root["done"]);
        Assert.Null(root["none"]);
        Assert.Equal(BigInteger.Pow(2, 70), root["big"]);
        Assert.Equal(-123456789012L, root["neg"]);
        var list = Assert.IsType<List<object?>>(root["list"]);
        Assert.Equal([1L, "two", 3.5, new PickleTuple(0.9, 0.999)], list);
        var byid = Assert.IsType<PickleDict>(root["byid"]);
        Assert.Equal("zero", byid[0L]);
        Assert.Equal("pair", byid[new PickleTuple(1L, 2L)]);
        var model = Assert.IsType<PickleDict>(root["model"]);
        Assert.True(model.IsOrderedDict); // a state dict is written as OrderedDict

        var loaded = PthReader.LoadStateDict(path); // finds "model", strips the DDP "module." prefix
        Assert.Equal(["encoder.weight", "encoder.bias"], loaded.Keys);
        AssertSameTensor(sd["module.encoder.weight"], loaded["encoder.weight"], "weight");
        Assert.Equal(2, PthReader.LoadStateDict(path, key: "model").Count);
    }

    [Fact]
    public void Pth_same_tensor_twice_shares_one_storage_and_requires_grad_survives()
    {
        using var dir = TestPaths.NewTempDir();
        var path = dir.File("shared.pth");
        var t = Random(DType.Float32, 9, 2, 3);
        t.RequiresGrad = true;
        PthWriter.Save(path, new Dictionary<string, HostTensor> { ["a"] = t, ["b"] = t, ["c"] = Random(DType.Float16, 10, 5) });
        var back = PthReader.LoadStateDict(path);
        Assert.Equal(back["a"].Storage!.StorageKey, back["b"].Storage!.StorageKey);
        Assert.NotEqual(back["a"].Storage!.StorageKey, back["c"].Storage!.StorageKey);
        Assert.True(back["a"].RequiresGrad);
        Assert.False(back["c"].RequiresGrad);
        AssertSameTensor(t, back["b"], "b");
    }

    [Fact]
    public void Pth_with_forced_zip64_structures_reads_back()
    {
        using var dir = TestPaths.NewTempDir();
        var path = dir.File("z64.pth");
        var sd = AllDTypeStateDict();
        PthWriter.Save(path, sd, forceZip64: true);
        var bytes = File.ReadAllBytes(path);
        Assert.True(bytes.AsSpan().IndexOf("PK\x06\x06"u8) > 0, "no zip64 end of central directory record");
        var back = PthReader.LoadStateDict(path);
        foreach (var (k, v) in sd) AssertSameTensor(v, back[k], k);
    }

    [Fact]
    public void Pth_write_is_atomic_and_leaves_nothing_on_failure()
    {
        using var dir = TestPaths.NewTempDir();
        var path = dir.File("x.pth");
        File.WriteAllText(path, "old");
        var bad = new Dictionary<string, object?> { ["t"] = Random(DType.Float32, 1, 3), ["bad"] = new object() };
        var e = Assert.Throws<NotSupportedException>(() => PthWriter.Save(path, bad));
        Assert.Contains("Object", e.Message);
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(dir.Path));

        PthWriter.Save(path, new Dictionary<string, HostTensor> { ["t"] = Random(DType.Float32, 1, 3) });
        Assert.Single(Directory.GetFiles(dir.Path));
        Assert.Single(PthReader.LoadStateDict(path));
    }

    [Fact]
    public void SafeTensors_round_trips_every_dtype_and_metadata()
    {
        using var dir = TestPaths.NewTempDir();
        var path = dir.File("all.safetensors");
        var sd = AllDTypeStateDict();
        var meta = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "héllo \"quoted\"" };
        SafeTensors.Save(path, sd, meta);

        var bytes = File.ReadAllBytes(path);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0UL, n % 8);
        Assert.Equal((byte)'{', bytes[8]);
        long payload = sd.Values.Sum(t => t.ByteLength);
        Assert.Equal(8 + (long)n + payload, bytes.LongLength); // packed, nothing else

        var (back, backMeta) = SafeTensors.Load(path);
        Assert.Equal(sd.Keys, back.Keys);
        foreach (var (k, v) in sd) AssertSameTensor(v, back[k], k);
        Assert.Equal(meta, backMeta);
    }

    [Fact]
    public void SafeTensors_without_metadata_has_empty_metadata()
    {
        using var dir = TestPaths.NewTempDir();
        var path = dir.File("plain.safetensors");
        SafeTensors.Save(path, new Dictionary<string, HostTensor> { ["x"] = HostTensor.FromArray([1f, 2f, 3f]) });
        var (t, meta) = SafeTensors.Load(path);
        Assert.Empty(meta);
        Assert.Equal([1f, 2f, 3f], t["x"].ToFloat32Array());
        Assert.DoesNotContain("__metadata__", File.ReadAllText(path));
    }

    [Fact]
    public void HostTensor_helpers_convert_and_validate()
    {
        var f = HostTensor.FromArray([1f, -2.5f, 3f, 4f], 2, 2);
        Assert.Equal(DType.Float32, f.DType);
        Assert.Equal([2L, 2], f.Shape);
        Assert.Equal(4, f.Numel);
        Assert.Equal(-2.5f, f.AsSpan<float>()[1]);
        Assert.Throws<InvalidOperationException>(() => f.AsSpan<double>());
        Assert.Throws<ArgumentException>(() => HostTensor.FromArray([1f, 2f, 3f], 2, 2));
        Assert.Throws<ArgumentException>(() => new HostTensor(DType.Int16, [3], new byte[5]));

        Assert.Equal([1.5f, -2f], HostTensor.FromArray([(Half)1.5f, (Half)(-2f)]).ToFloat32Array());
        Assert.Equal([7f, -8f], HostTensor.FromArray([7L, -8L]).ToFloat32Array());
        Assert.Equal([0.25f], HostTensor.FromArray([0.25]).ToFloat32Array());
        Assert.Equal([1f, 0f], HostTensor.FromArray([true, false]).ToFloat32Array());
        Assert.Equal([255f, -128f], new[] { HostTensor.FromArray([(byte)255]), HostTensor.FromArray([(sbyte)-128]) }.SelectMany(t => t.ToFloat32Array()));
        // bfloat16 1.0 = 0x3F80, -3.0 = 0xC040
        var bf = new HostTensor(DType.BFloat16, [2], [0x80, 0x3F, 0x40, 0xC0]);
        Assert.Equal([1f, -3f], bf.ToFloat32Array());
        var s = HostTensor.Scalar(42);
        Assert.Empty(s.Shape);
        Assert.Equal(DType.Int32, s.DType);
        Assert.Equal([42f], s.ToFloat32Array());
    }
}
