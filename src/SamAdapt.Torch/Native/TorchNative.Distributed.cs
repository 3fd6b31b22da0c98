using System.Runtime.InteropServices;

namespace SamAdapt.Torch.Native;

/// <summary>P/Invoke declarations of the distributed (c10d) part of native/include/samadapt_torch.h.</summary>
internal static unsafe partial class TorchNative
{
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] public static partial IntPtr sa_store_create(string host, int port, int worldSize, int isServer, long timeoutMs);
    [LibraryImport(Lib)] public static partial void sa_store_free(IntPtr store);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] public static partial int sa_store_set(IntPtr store, string key, byte* data, long len);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] public static partial long sa_store_get(IntPtr store, string key, byte* buf, long cap, long timeoutMs);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] public static partial long sa_store_add(IntPtr store, string key, long delta);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] public static partial int sa_store_check(IntPtr store, string key);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] public static partial IntPtr sa_pg_create(IntPtr store, int backend, int rank, int size, long timeoutMs, string? device);
    [LibraryImport(Lib)] public static partial void sa_pg_free(IntPtr pg);
    [LibraryImport(Lib)] public static partial int sa_pg_broadcast(IntPtr pg, IntPtr* tensors, int n, int root);
    [LibraryImport(Lib)] public static partial int sa_pg_allreduce(IntPtr pg, IntPtr* tensors, int n, double divisor, long bucketBytes);
    [LibraryImport(Lib)] public static partial int sa_pg_barrier(IntPtr pg);
}
