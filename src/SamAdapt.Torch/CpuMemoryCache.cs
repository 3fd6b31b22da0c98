using SamAdapt.Torch.Native;

namespace SamAdapt.Torch;

/// <summary>
/// The bridge's CPU allocator keeps freed blocks of 1 MiB and more for reuse (native/src/allocator.cpp): a training step
/// allocates the same large tensors every time, and a fresh large block costs a page fault and zero-fill per page.
/// The limit comes from $SAMADAPT_CPU_CACHE_MB (default: the smaller of 2 GiB and 1/8 of physical memory; 0 = off).
/// </summary>
public static class CpuMemoryCache
{
    /// <summary>Bytes held for reuse now (not in use by any tensor).</summary>
    public static long HeldBytes => TorchNative.sa_cpu_cache_bytes();

    /// <summary>The most bytes the cache holds.</summary>
    public static long LimitBytes => TorchNative.sa_cpu_cache_limit();

    /// <summary>Returns every held block to the system (e.g. after training, before prediction of a large volume).</summary>
    public static void Empty() => TorchNative.sa_cpu_cache_empty();
}
