using System.Buffers.Binary;
using System.Numerics;
using SamAdapt.Tests;
using SamAdapt.Torch.Serialization;

namespace SamAdapt.Torch.Tests.Serialization;

public class StridedCopyAndPickleTests
{
    /// <summary>Random shapes, strides (incl. 0 and permutations) and offsets against a naive index computation.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(8)]
    public void Gather_matches_naive_indexing(int elemSize)
    {
        var rng = new Random(elemSize);
        for (int trial = 0; trial < 300; trial++)
        {
            int rank = rng.Next(0, 5);
            var shape = Enumerable.Range(0, rank).Select(_ => (long)rng.Next(0, 5)).ToArray();
            var stride = Enumerable.Range(0, rank).Select(_ => (long)rng.Next(0, 30)).ToArray();
            if (trial % 3 == 0) stride = PickleWriter.ContiguousStrides(shape); // exercise the merged fast path too
            long offset = rng.Next(0, 10);
            long extent = StridedCopy.Extent(shape, stride, offset);
            var storage = new byte[(extent + 3) * elemSize];
            rng.NextBytes(storage);
            long numel = HostTensor.NumelOf(shape);
            var dst = new byte[numel * elemSize];
            StridedCopy.Gather(storage, elemSize, offset, shape, stride, dst);

            var index = new long[rank];
            for (long i = 0; i < numel; i++)
            {
                long rem = i, src = offset;
                for (int d = rank - 1; d >= 0; d--) { index[d] = rem % shape[d]; rem /= shape[d]; src += index[d] * stride[d]; }
                Assert.True(storage.AsSpan((int)(src * elemSize), elemSize).SequenceEqual(dst.AsSpan((int)(i * elemSize), elemSize)),
                    $"trial {trial}: shape [{string.Join(",", shape)}] stride [{string.Join(",", stride)}] offset {offset}, element {i}");
            }
        }
    }

    [Fact]
    public void Contiguity_ignores_size_one_dims()
    {
        Assert.True(StridedCopy.IsContiguous([1, 3, 4], [999, 4, 1]));
        Assert.False(StridedCopy.IsContiguous([2, 3], [1, 2]));
        Assert.True(StridedCopy.IsContiguous([0, 3], [7, 7]));
        Assert.True(StridedCopy.IsContiguous([], []));
    }

    private static object? Unpickle(params byte[] pkl) =>
        new PickleReader(pkl, "data.pkl", "test", (m, n) => new PickleGlobal(m, n), pid => pid).Load();

    [Fact]
    public void Protocol_4_opcodes_and_scalars()
    {
        var frame = new byte[] { 0x95, 0, 0, 0, 0, 0, 0, 0, 0 };
        var pkl = new List<byte> { 0x80, 4 };
        pkl.AddRange(frame);
        pkl.Add((byte)'(');
        pkl.AddRange([0x8c, 1, (byte)'m', 0x94, 0x8c, 1, (byte)'n', 0x94, 0x93, 0x94]); // STACK_GLOBAL m.n, memoized as 2
        pkl.Add((byte)'0'); // POP the global (fetched again below)
        pkl.Add((byte)'G');
        var d = new byte[8];
        BinaryPrimitives.WriteDoubleBigEndian(d, -0.375);
        pkl.AddRange(d);
        pkl.AddRange([(byte)'J', 0xFE, 0xFF, 0xFF, 0xFF]);              // BININT -2
        pkl.AddRange([0x8a, 2, 0x00, 0x80]);                            // LONG1 -32768
        pkl.AddRange([0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1]);             // LONG1 2**64
        pkl.AddRange([(byte)'C', 2, 7, 8]);                             // SHORT_BINBYTES
        pkl.AddRange([(byte)'U', 2, (byte)'h', (byte)'i']);             // SHORT_BINSTRING
        pkl.AddRange([(byte)'h', 2]);                                   // BINGET 2 → the global
        pkl.AddRange([(byte)'N', 0x88, (byte)'l', (byte)'.']);         // None, True, LIST from mark
        var list = Assert.IsType<List<object?>>(Unpickle([.. pkl]));
        Assert.Equal(-0.375, list[0]);
        Assert.Equal(-2L, list[1]);
        Assert.Equal(-32768L, list[2]);
        Assert.Equal(BigInteger.Pow(2, 64), list[3]);
        Assert.Equal(new byte[] { 7, 8 }, list[4]);
        Assert.Equal("hi", list[5]);
        Assert.Equal(new PickleGlobal("m", "n"), list[6]);
        Assert.Null(list[7]);
        Assert.Equal(true, list[8]);
    }

    [Fact]
    public void Writer_output_reads_back_through_the_generic_reader()
    {
        var obj = new List<object?> { "a", "a", 1.5f, (Half)2, (byte)200, 70000, -1, ulong.MaxValue, new PickleTuple(1L, 2L, 3L, 4L) };
        var pkl = new PickleWriter(_ => throw new InvalidOperationException()).Write(obj);
        var back = Assert.IsType<List<object?>>(Unpickle(pkl));
        Assert.Equal(["a", "a", 1.5, 2.0, 200L, 70000L, -1L, new BigInteger(ulong.MaxValue), new PickleTuple(1L, 2L, 3L, 4L)], back);
    }

    /// <summary>Loading must be a copy, not per-element work: ~200 MB each way in well under 20 s.</summary>
    [Fact]
    public void Two_hundred_megabytes_round_trip_quickly()
    {
        using var dir = TestPaths.NewTempDir();
        var sd = new Dictionary<string, HostTensor>();
        for (int i = 0; i < 10; i++)
        {
            var t = HostTensor.Zeros(DType.Float32, 1024, 5120); // 20 MiB each
            var span = t.AsSpan<float>();
            for (int j = 0; j < span.Length; j += 4099) span[j] = i + j;
            sd[$"layer{i}.weight"] = t;
        }
        var pth = dir.File("big.pth");
        var safe = dir.File("big.safetensors");

        PthWriter.Save(pth, sd);
        var back = PthReader.LoadStateDict(pth);
        SafeTensors.Save(safe, sd);
        var (back2, _) = SafeTensors.Load(safe);

        Assert.True(new FileInfo(pth).Length > 200_000_000);
        foreach (var (k, v) in sd)
        {
            Assert.True(v.Data.AsSpan().SequenceEqual(back[k].Data), k);
            Assert.True(v.Data.AsSpan().SequenceEqual(back2[k].Data), k);
        }
    }
}
