using System.Text.Json;
using SamAdapt.Tests;
using SamAdapt.Torch.Serialization;
using static SamAdapt.Torch.Tests.Serialization.SerializationTestUtil;

namespace SamAdapt.Torch.Tests.Serialization;

/// <summary>
/// Cross-checks against real PyTorch (Debian python3-torch at /usr/bin/python3). These fail, never skip, when it is missing.
/// </summary>
public class PyTorchCrossCheckTests
{
    /// <summary>Prints {key: [dtype, shape, sha256 of contiguous little-endian bytes]} for every tensor of a torch.load'ed state dict.</summary>
    private const string DescribeTensors = """
        import hashlib, torch
        def describe(sd):
            out = {}
            for k, t in sd.items():
                c = t.detach().contiguous()
                raw = c.view(torch.int16) if c.dtype == torch.bfloat16 else c
                out[k] = [str(c.dtype).replace('torch.', ''), list(c.shape), hashlib.sha256(raw.numpy().tobytes()).hexdigest()]
            return out
        """;

    private static void AssertDescribed(IReadOnlyDictionary<string, HostTensor> expected, JsonElement described)
    {
        var keys = described.EnumerateObject().Select(p => p.Name).ToList();
        Assert.Equal(expected.Keys, keys);
        foreach (var (k, t) in expected)
        {
            var d = described.GetProperty(k);
            Assert.Equal(t.DType.TorchName(), d[0].GetString());
            Assert.Equal(t.Shape, d[1].EnumerateArray().Select(x => x.GetInt64()));
            Assert.True(Sha256(t.Data) == d[2].GetString(), $"{k}: torch sees different bytes");
        }
    }

    [Fact]
    public void Torch_loads_what_csharp_writes()
    {
        using var dir = TestPaths.NewTempDir();
        var sd = RoundTripTests.AllDTypeStateDict();
        var shared = Random(DType.Float32, 77, 4, 3);
        sd["shared.a"] = shared;
        sd["shared.b"] = shared;
        var pth = dir.File("from_csharp.pth");
        PthWriter.Save(pth, new Dictionary<string, object?>
        {
            ["model"] = sd, ["epoch"] = 3, ["lr"] = 0.1, ["name"] = "x", ["betas"] = new PickleTuple(0.9, 0.999),
            ["big"] = long.MaxValue, ["neg"] = -5, ["flags"] = new List<object?> { true, null, "s" },
        });
        var z64 = dir.File("zip64.pth");
        PthWriter.Save(z64, sd, forceZip64: true);

        var output = RunPython(DescribeTensors + "\n" + """
            import collections, json, sys
            ck = torch.load(sys.argv[1])
            assert type(ck) is dict, type(ck)
            # the restricted unpickler accepts a plain state dict (torch 1.13's lacks BINFLOAT, so not the wrapper)
            safe = torch.load(sys.argv[2], weights_only=True)
            assert list(safe.keys()) == list(ck['model'].keys())
            sd = ck['model']
            assert type(sd) is collections.OrderedDict, type(sd)
            assert sd['shared.a'].data_ptr() == sd['shared.b'].data_ptr()
            z = torch.load(sys.argv[2])
            assert list(z.keys()) == list(sd.keys())
            assert all(torch.equal(z[k].view(torch.int16) if z[k].dtype == torch.bfloat16 else z[k],
                                   sd[k].view(torch.int16) if sd[k].dtype == torch.bfloat16 else sd[k]) for k in sd)
            other = {k: v for k, v in ck.items() if k != 'model'}
            print(json.dumps({'tensors': describe(sd), 'other': other}))
            """, pth, z64);

        using var doc = JsonDocument.Parse(output);
        AssertDescribed(sd, doc.RootElement.GetProperty("tensors"));
        var other = doc.RootElement.GetProperty("other");
        Assert.Equal(3, other.GetProperty("epoch").GetInt32());
        Assert.Equal(0.1, other.GetProperty("lr").GetDouble());
        Assert.Equal("x", other.GetProperty("name").GetString());
        Assert.Equal(0.999, other.GetProperty("betas")[1].GetDouble());
        Assert.Equal(long.MaxValue, other.GetProperty("big").GetInt64());
        Assert.Equal(-5, other.GetProperty("neg").GetInt32());
        Assert.Equal("[true,null,\"s\"]", other.GetProperty("flags").GetRawText().Replace(" ", ""));
    }

    [Fact]
    public void Plain_python_reads_the_safetensors_csharp_writes()
    {
        using var dir = TestPaths.NewTempDir();
        var sd = RoundTripTests.AllDTypeStateDict();
        var path = dir.File("from_csharp.safetensors");
        SafeTensors.Save(path, sd, new Dictionary<string, string> { ["format"] = "pt" });

        var output = RunPython("""
            import hashlib, json, struct, sys
            data = open(sys.argv[1], 'rb').read()
            (n,) = struct.unpack('<Q', data[:8])
            assert n % 8 == 0, n
            header = json.loads(data[8:8 + n])
            meta = header.pop('__metadata__')
            buf = data[8 + n:]
            end = 0
            out = {}
            for k, v in header.items():
                b, e = v['data_offsets']
                assert b == end, (k, b, end)
                end = e
                out[k] = [v['dtype'], v['shape'], hashlib.sha256(buf[b:e]).hexdigest()]
            assert end == len(buf)
            print(json.dumps({'meta': meta, 'tensors': out}))
            """, path);

        using var doc = JsonDocument.Parse(output);
        Assert.Equal("pt", doc.RootElement.GetProperty("meta").GetProperty("format").GetString());
        var tensors = doc.RootElement.GetProperty("tensors");
        Assert.Equal(sd.Keys, tensors.EnumerateObject().Select(p => p.Name));
        foreach (var (k, t) in sd)
        {
            var d = tensors.GetProperty(k);
            Assert.Equal(SafeTensors.DTypeName(t.DType), d[0].GetString());
            Assert.Equal(t.Shape, d[1].EnumerateArray().Select(x => x.GetInt64()));
            Assert.Equal(Sha256(t.Data), d[2].GetString());
        }
    }

    /// <summary>Python saves tricky layouts; C# must produce exactly the contiguous bytes torch computes.</summary>
    [Theory]
    [InlineData(2, false)]
    [InlineData(4, false)]
    [InlineData(2, true)]
    public void Csharp_reads_tricky_layouts_torch_writes(int protocol, bool viaBuffer)
    {
        using var dir = TestPaths.NewTempDir();
        var path = dir.File("tricky.pth");
        var expectedPath = dir.File("expected.json");
        RunPython(DescribeTensors + "\n" + """
            import collections, io, json, sys
            torch.manual_seed(0)
            base = torch.randn(6, 5)
            big = torch.arange(40, dtype=torch.int64) * 1000003 - 7
            sd = collections.OrderedDict()
            sd['transposed'] = base.t()
            sd['base'] = base
            sd['slice'] = base[2:4, 1:]
            sd['int64_strided'] = big[5:25:3]
            sd['int64_all'] = big
            sd['bf16'] = torch.randn(3, 4).to(torch.bfloat16)
            sd['bf16_permuted'] = torch.randn(2, 3, 4).to(torch.bfloat16).permute(2, 0, 1)
            sd['f16'] = torch.randn(7).half()
            sd['f64'] = torch.randn(2, 2).double()
            sd['i32'] = torch.randint(-1000, 1000, (4,), dtype=torch.int32)
            sd['i16'] = torch.randint(-1000, 1000, (2, 2), dtype=torch.int16)
            sd['i8'] = torch.randint(-100, 100, (5,), dtype=torch.int8)
            sd['u8'] = torch.randint(0, 255, (5,), dtype=torch.uint8)
            sd['bool'] = torch.rand(6) > 0.5
            sd['scalar'] = torch.tensor(3.5)
            sd['empty'] = torch.zeros(0, 4)
            sd['expanded'] = torch.randn(3, 1).expand(3, 4)
            sd['channels_first'] = torch.randn(1, 5, 4, 4).permute(0, 2, 3, 1)
            param = torch.nn.Parameter(torch.randn(2, 3))
            ck = {'model': sd, 'param': param, 'epoch': 7, 'lr': 1e-4, 'huge': 2**70, 'neg': -2**40,
                  'opt': {'state': {0: {'step': 3}}, 'param_groups': [{'betas': (0.9, 0.999), 'ids': [0, 1]}]},
                  'nothing': None, 'flag': True, 'blob': b'\x00\xffab', 'linear': torch.nn.Linear(3, 2).state_dict()}
            if sys.argv[3] == '1':
                buf = io.BytesIO()
                torch.save(ck, buf, pickle_protocol=int(sys.argv[2]))
                open(sys.argv[1], 'wb').write(buf.getvalue())
            else:
                torch.save(ck, sys.argv[1], pickle_protocol=int(sys.argv[2]))
            d = describe(sd)
            d['param'] = describe({'p': param})['p']
            json.dump(d, open(sys.argv[4], 'w'))
            """, path, protocol.ToString(), viaBuffer ? "1" : "0", expectedPath);

        using var doc = JsonDocument.Parse(File.ReadAllText(expectedPath));
        var root = Assert.IsType<PickleDict>(PthReader.Load(path));
        var model = Assert.IsType<PickleDict>(root["model"]);
        var sd = model.ToDictionary(kv => (string)kv.Key, kv => (HostTensor)kv.Value!);
        var param = Assert.IsType<HostTensor>(root["param"]);
        Assert.True(param.RequiresGrad);
        sd["param"] = param;
        AssertDescribed(sd, doc.RootElement);

        // the layouts really were tricky
        Assert.Equal(sd["base"].Storage!.StorageKey, sd["transposed"].Storage!.StorageKey);
        Assert.Equal(sd["base"].Storage!.StorageKey, sd["slice"].Storage!.StorageKey);
        Assert.Equal(11, sd["slice"].Storage!.StorageOffset);
        Assert.Equal([1L, 5], sd["transposed"].Storage!.Stride);
        Assert.Equal([3L], sd["int64_strided"].Storage!.Stride);
        Assert.Equal([1L, 0], sd["expanded"].Storage!.Stride);
        Assert.False(sd["channels_first"].Storage!.IsContiguous(sd["channels_first"].Shape));

        Assert.Equal(7L, root["epoch"]);
        Assert.Equal(1e-4, root["lr"]);
        Assert.Equal(System.Numerics.BigInteger.Pow(2, 70), root["huge"]);
        Assert.Equal(-(1L << 40), root["neg"]);
        Assert.Null(root["nothing"]);
        Assert.Equal(true, root["flag"]);
        Assert.Equal(new byte[] { 0, 255, (byte)'a', (byte)'b' }, root["blob"]);
        var opt = Assert.IsType<PickleDict>(root["opt"]);
        var state = Assert.IsType<PickleDict>(opt["state"]);
        Assert.Equal(3L, Assert.IsType<PickleDict>(state[0L])["step"]);
        var group = Assert.IsType<PickleDict>(Assert.IsType<List<object?>>(opt["param_groups"])[0]);
        Assert.Equal(new PickleTuple(0.9, 0.999), group["betas"]);

        // a real module state_dict: OrderedDict whose BUILD sets _metadata ({'': {'version': 1}} for nn.Linear)
        var linear = Assert.IsType<PickleDict>(root["linear"]);
        Assert.True(linear.IsOrderedDict);
        Assert.Equal(["weight", "bias"], linear.Keys.Cast<string>());
        var metadata = Assert.IsType<PickleDict>(linear.Attributes!["_metadata"]);
        Assert.Equal(1L, Assert.IsType<PickleDict>(metadata[""])["version"]);

        // and LoadStateDict finds the wrapped state dict
        Assert.Equal(model.Count, PthReader.LoadStateDict(path).Count);
    }
}
