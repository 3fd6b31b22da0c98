namespace SamAdapt.Torch.Tests.Memory;

/// <summary>The bridge's caching CPU allocator: large freed blocks are held and handed out again, contents are never
/// assumed (factories still initialise), small blocks are not held, and the cache can be emptied.</summary>
[Collection(SerialCollection.Name)]
public class CpuMemoryCacheTests
{
    [Fact]
    public void Large_blocks_are_reused_and_small_ones_are_not_held()
    {
        Assert.True(CpuMemoryCache.LimitBytes > 8L << 20, $"the default limit ({CpuMemoryCache.LimitBytes} bytes) holds no 8 MiB block");
        CpuMemoryCache.Empty();
        Assert.Equal(0, CpuMemoryCache.HeldBytes);

        using (var t = torch.full([2 << 20], 3.0)) Assert.Equal(3.0 * (2 << 20), t.sum().item()); // 8 MiB of float32
        long held = CpuMemoryCache.HeldBytes;
        Assert.True(held >= 8L << 20, $"an 8 MiB block was freed but {held} bytes are held");

        using (var z = torch.zeros([2 << 20]))
        {
            Assert.True(CpuMemoryCache.HeldBytes < held, "the held block was not handed out again");
            Assert.Equal(0.0, z.abs().sum().item());   // reused memory still holds 3s: zeros must have written it
        }

        long before = CpuMemoryCache.HeldBytes;
        using (var small = torch.ones([1000])) Assert.Equal(1000.0, small.sum().item());
        Assert.Equal(before, CpuMemoryCache.HeldBytes);

        CpuMemoryCache.Empty();
        Assert.Equal(0, CpuMemoryCache.HeldBytes);
    }
}
