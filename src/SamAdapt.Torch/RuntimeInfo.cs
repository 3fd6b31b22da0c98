using SamAdapt.Torch.Native;

namespace SamAdapt.Torch;

/// <summary>Facts about the running libtorch for `samadapt --version`, logs and bug reports.</summary>
public static class RuntimeInfo
{
    /// <summary>The BLAS library actually mapped into this process (resolved through Debian's alternatives), or "unknown".</summary>
    public static string Blas()
    {
        TorchNative.EnsureLoaded();
        try
        {
            foreach (var line in File.ReadLines("/proc/self/maps"))
            {
                var idx = line.IndexOf('/');
                if (idx < 0) continue;
                var path = line[idx..];
                var file = Path.GetFileName(path);
                if (!(file.StartsWith("libblas", StringComparison.Ordinal) || file.StartsWith("libopenblas", StringComparison.Ordinal)
                      || file.StartsWith("libmkl", StringComparison.Ordinal))) continue;
                var real = new FileInfo(path).ResolveLinkTarget(true)?.FullName ?? path;
                if (real.Contains("openblas", StringComparison.Ordinal)) return $"OpenBLAS ({real})";
                if (real.Contains("mkl", StringComparison.Ordinal)) return $"MKL ({real})";
                if (real.Contains("blis", StringComparison.Ordinal)) return $"BLIS ({real})";
                return $"reference BLAS ({real}) — slow: install libopenblas0-pthread";
            }
        }
        catch (IOException) { }
        return "none mapped (libtorch may use its own kernels)";
    }

    public static IReadOnlyList<string> Devices()
    {
        var list = new List<string> { "cpu" };
        int n = torch.cuda.device_count();
        for (int i = 0; i < n; i++) list.Add($"cuda:{i} ({torch.cuda.get_device_name(i)})");
        return list;
    }

    public static string Describe() =>
        $"libtorch {torch.version}\ndevices: {string.Join(", ", Devices())}\nthreads: {torch.get_num_threads()}\nBLAS: {Blas()}";
}
