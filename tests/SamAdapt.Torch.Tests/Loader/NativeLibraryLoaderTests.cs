using SamAdapt.Common;
using SamAdapt.Tests;
using SamAdapt.Torch.Native;

namespace SamAdapt.Torch.Tests.Loader;

/// <summary>Serial: these set the process-wide SAMADAPT_NATIVE_DIR variable for a moment.</summary>
[Collection(SerialCollection.Name)]
public class NativeLibraryLoaderTests
{
    private static string AssemblyDir => Path.GetDirectoryName(typeof(NativeLibraryLoader).Assembly.Location)!;

    private static T WithEnv<T>(string? value, Func<T> f)
    {
        var old = Environment.GetEnvironmentVariable(NativeLibraryLoader.EnvVar);
        Environment.SetEnvironmentVariable(NativeLibraryLoader.EnvVar, value);
        try { return f(); }
        finally { Environment.SetEnvironmentVariable(NativeLibraryLoader.EnvVar, old); }
    }

    [Fact]
    public void CandidatesAreAssemblyFolderThenEnvironmentThenRepositoryBuild()
    {
        using var dir = TestPaths.NewTempDir();
        var withEnv = WithEnv(dir.Path, () => NativeLibraryLoader.Candidates("samadapt_torch"));
        Assert.Equal(
            [
                Path.Combine(AssemblyDir, "libsamadapt_torch.so"),
                Path.Combine(dir.Path, "libsamadapt_torch.so"),
                Path.Combine(TestPaths.RepoRoot, "build", "native", "libsamadapt_torch.so"),
            ],
            withEnv);
        var withoutEnv = WithEnv(null, () => NativeLibraryLoader.Candidates("samadapt_image"));
        Assert.Equal(
            [Path.Combine(AssemblyDir, "libsamadapt_image.so"), Path.Combine(TestPaths.RepoRoot, "build", "native", "libsamadapt_image.so")],
            withoutEnv);
    }

    [Fact]
    public void TheBridgeInUseCameFromACandidate()
    {
        Assert.NotEqual(IntPtr.Zero, NativeLibraryLoader.Load(NativeLibraryLoader.TorchBridge));
        Assert.False(string.IsNullOrEmpty(torch.version));
        var mapped = File.ReadLines("/proc/self/maps")
            .Select(l => l.IndexOf('/') is var i and >= 0 ? l[i..] : "")
            .Where(p => p.EndsWith("/libsamadapt_torch.so", StringComparison.Ordinal))
            .Distinct().ToList();
        Assert.Single(mapped);
        Assert.Contains(Path.GetFullPath(mapped[0]), NativeLibraryLoader.Candidates(NativeLibraryLoader.TorchBridge).Select(Path.GetFullPath));
        // loading again returns the cached handle
        Assert.Equal(NativeLibraryLoader.Load(NativeLibraryLoader.TorchBridge), NativeLibraryLoader.Load(NativeLibraryLoader.TorchBridge));
    }

    [Fact]
    public void AMissingLibraryFailsWithTheSearchListAndTheFix()
    {
        var e = WithEnv(null, () => Assert.Throws<DllNotFoundException>(() => NativeLibraryLoader.Load("samadapt_no_such_lib")));
        Assert.Contains("libsamadapt_no_such_lib.so could not be loaded", e.Message);
        foreach (var c in WithEnv(null, () => NativeLibraryLoader.Candidates("samadapt_no_such_lib")))
            Assert.Contains($"{c}: not found", e.Message);
        Assert.Contains("./build.sh native", e.Message);
        Assert.Contains(NativeLibraryLoader.EnvVar, e.Message);
    }

    [Fact]
    public void AnUnloadableFileIsReportedWithTheLoaderError()
    {
        using var dir = TestPaths.NewTempDir();
        var bogus = dir.File("libsamadapt_garbage.so");
        File.WriteAllText(bogus, "this is not an ELF file");
        var e = WithEnv(dir.Path, () => Assert.Throws<DllNotFoundException>(() => NativeLibraryLoader.Load("samadapt_garbage")));
        Assert.Contains(bogus + ": ", e.Message);
        Assert.DoesNotContain(bogus + ": not found", e.Message);
    }

    [Fact]
    public void RuntimeInfoDescribesTheRuntime()
    {
        var d = RuntimeInfo.Describe();
        Assert.Contains($"libtorch {torch.version}", d);
        Assert.Contains("devices: cpu", d);
        Assert.Contains("BLAS:", d);
        Assert.StartsWith("cpu", RuntimeInfo.Devices()[0]);
        Assert.Equal(torch.cuda.device_count() + 1, RuntimeInfo.Devices().Count);
        Assert.Contains("PyTorch built with", torch.config);
        Assert.True(torch.get_num_threads() >= 1);
        // CUDA queries are safe without a GPU
        if (!torch.cuda.is_available())
        {
            Assert.Equal((0L, 0L, 0L), torch.cuda.memory_stats());
            torch.cuda.empty_cache();
            torch.cuda.synchronize();
            torch.cuda.reset_peak_memory_stats();
            Assert.Equal("cpu", torch.cuda.get_device_name());
        }
        torch.set_tf32(false, true);
        torch.use_deterministic_algorithms(false);
    }
}
