using System.Runtime.InteropServices;

namespace SamAdapt.Torch.Native;

/// <summary>
/// OpenMP settings that must be in the process environment before libtorch (and with it libgomp) is loaded: libgomp
/// reads them once, when it initialises. By default its idle threads spin for a long while between parallel regions;
/// when the cores are shared with other work (more runnable threads than cores) a spinning thread holds a core that
/// the thread it waits for needs, and a 2-thread training step measured 20× slower than with passive waiting
/// (docs/benchmarks.md). So SamAdapt asks for passive waiting unless the user chose a policy (OMP_WAIT_POLICY or
/// GOMP_SPINCOUNT set).
/// <para>OpenBLAS (pthread build, Debian's libtorch BLAS) keeps its own worker threads, which spin (sched_yield) for about
/// 2^28 cycles after each product before they sleep: on 2 cores the spinning worker takes turns with libtorch's OpenMP
/// threads in the element-wise work and attention that follow every linear layer. SamAdapt sets
/// OPENBLAS_THREAD_TIMEOUT=4 (the shortest: they sleep at once; the next large product wakes them) unless the user set it.</para>
/// </summary>
internal static partial class OpenMpEnvironment
{
    private static int _applied;

    /// <summary>Sets OMP_WAIT_POLICY=PASSIVE and OPENBLAS_THREAD_TIMEOUT=4 in the native environment where the user chose
    /// neither; once per process.</summary>
    public static void Apply()
    {
        if (Interlocked.Exchange(ref _applied, 1) != 0) return;
        if (!OperatingSystem.IsLinux()) return;
        // .NET's Environment.SetEnvironmentVariable does not reach the C library's environment, which both libraries read
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("OPENBLAS_THREAD_TIMEOUT"))) _ = setenv("OPENBLAS_THREAD_TIMEOUT", "4", 0);
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("OMP_WAIT_POLICY")) ||
            !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("GOMP_SPINCOUNT"))) return;
        _ = setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int setenv(string name, string value, int overwrite);
}
