using SamAdapt.Tests;
using SamAdapt.Torch.Serialization;
using static SamAdapt.Torch.Tests.Serialization.SerializationTestUtil;

namespace SamAdapt.Torch.Tests.Serialization;

/// <summary>The sam-tiny fixture: a .pth laid out like the released SAM files, and the same weights as safetensors.</summary>
public class FixtureCheckpointTests
{
    private static readonly string Pth = TestPaths.Fixture("sam-tiny", "checkpoint.pth");
    private static readonly string Safe = TestPaths.Fixture("sam-tiny", "checkpoint.safetensors");

    private static readonly string[] PointKeys =
    [
        "prompt_encoder.point_embeddings.0.weight", "prompt_encoder.point_embeddings.1.weight",
        "prompt_encoder.point_embeddings.2.weight", "prompt_encoder.point_embeddings.3.weight",
        "prompt_encoder.not_a_point_embed.weight",
    ];

    [Fact]
    public void Pth_matches_safetensors_bit_for_bit_for_every_key()
    {
        var pth = PthReader.LoadStateDict(Pth);
        var (safe, _) = SafeTensors.Load(Safe);

        Assert.Equal(safe.Keys.Order(StringComparer.Ordinal), pth.Keys.Order(StringComparer.Ordinal));
        Assert.True(pth.Count > 100, $"only {pth.Count} tensors");
        foreach (var (k, expected) in safe)
        {
            Assert.Equal(DType.Float32, expected.DType);
            AssertSameTensor(expected, pth[k], k);
        }
        // the tricky ones, named explicitly
        foreach (var k in PointKeys.Concat(["image_encoder.pos_embed", "mask_decoder.iou_token.weight", "mask_decoder.mask_tokens.weight"]))
            AssertSameTensor(safe[k], pth[k], k);
    }

    [Fact]
    public void Pos_embed_is_a_non_contiguous_channels_first_view()
    {
        var sd = PthReader.LoadStateDict(Pth);
        var pos = sd["image_encoder.pos_embed"];
        Assert.Equal([1L, 8, 8, 48], pos.Shape);
        var info = pos.Storage!;
        Assert.Equal([3072L, 8, 1, 64], info.Stride);
        Assert.False(info.IsContiguous(pos.Shape));
        Assert.Equal(0, info.StorageOffset);
        Assert.Equal(3072, info.StorageNumel);

        // element [0, y, x, c] lives at storage index c*64 + y*8 + x: check against the raw storage record
        var raw = ReadStorageRecord(info.StorageKey);
        var values = pos.AsSpan<float>();
        for (int y = 0; y < 8; y++)
            for (int x = 0; x < 8; x++)
                for (int c = 0; c < 48; c++)
                    Assert.Equal(raw[c * 64 + y * 8 + x], values[(y * 8 + x) * 48 + c]);
    }

    [Fact]
    public void Tokens_share_one_storage_at_different_offsets()
    {
        var sd = PthReader.LoadStateDict(Pth);
        var iou = sd["mask_decoder.iou_token.weight"];
        var mask = sd["mask_decoder.mask_tokens.weight"];
        Assert.Equal(iou.Storage!.StorageKey, mask.Storage!.StorageKey);
        Assert.Equal(0, iou.Storage.StorageOffset);
        Assert.Equal(32, mask.Storage.StorageOffset);
        Assert.Equal(160, mask.Storage.StorageNumel);
        Assert.Equal([4L, 32], mask.Shape);

        var raw = ReadStorageRecord(mask.Storage.StorageKey);
        Assert.Equal(raw.AsSpan(32, 128).ToArray(), mask.AsSpan<float>().ToArray());
        Assert.Equal(raw.AsSpan(0, 32).ToArray(), iou.AsSpan<float>().ToArray());
        Assert.NotSame(iou.Data, mask.Data); // materialised copies, no aliasing
    }

    [Fact]
    public void Point_embeddings_share_one_storage_at_non_zero_offsets()
    {
        var sd = PthReader.LoadStateDict(Pth);
        var infos = PointKeys.Select(k => sd[k].Storage!).ToArray();
        Assert.Single(infos.Select(i => i.StorageKey).Distinct());
        Assert.Equal([0L, 32, 64, 96, 128], infos.Select(i => i.StorageOffset));
        var raw = ReadStorageRecord(infos[0].StorageKey);
        for (int i = 0; i < PointKeys.Length; i++)
            Assert.Equal(raw.AsSpan(32 * i, 32).ToArray(), sd[PointKeys[i]].AsSpan<float>().ToArray());
    }

    [Fact]
    public void Archive_prefix_comes_from_the_file_and_load_returns_an_ordered_dict_with_locations()
    {
        var root = Assert.IsType<PickleDict>(PthReader.Load(Pth));
        Assert.True(root.IsOrderedDict);
        Assert.Equal("image_encoder.pos_embed", root.Keys.First());
        var t = Assert.IsType<HostTensor>(root["image_encoder.pos_embed"]);
        Assert.Equal("cpu", t.Storage!.Location);
        Assert.Equal("FloatStorage", t.Storage.StorageType);
    }

    [Fact]
    public void CheckpointFile_dispatches_on_content()
    {
        Assert.Equal(CheckpointFile.Format.TorchZip, CheckpointFile.Detect(Pth));
        Assert.Equal(CheckpointFile.Format.SafeTensors, CheckpointFile.Detect(Safe));
        var a = CheckpointFile.LoadStateDict(Pth);
        var b = CheckpointFile.LoadStateDict(Safe);
        Assert.Equal(b.Count, a.Count);
        foreach (var (k, v) in b) AssertSameTensor(v, a[k], k);

        // content, not extension: a safetensors file named .pth still loads
        using var dir = TestPaths.NewTempDir();
        var renamed = dir.File("weights.pth");
        File.Copy(Safe, renamed);
        Assert.Equal(b.Count, CheckpointFile.LoadStateDict(renamed).Count);
    }

    /// <summary>The storage record bytes, read independently with System.IO.Compression.</summary>
    private static float[] ReadStorageRecord(string key)
    {
        using var zip = System.IO.Compression.ZipFile.OpenRead(Pth);
        var entry = zip.Entries.Single(e => e.FullName.EndsWith("/data/" + key, StringComparison.Ordinal));
        var bytes = new byte[entry.Length];
        using (var s = entry.Open()) s.ReadExactly(bytes);
        return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes).ToArray();
    }
}
