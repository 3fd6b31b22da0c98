using System.Diagnostics;
using System.IO.Compression;
using System.Security.Cryptography;
using SamAdapt.Torch.Serialization;

namespace SamAdapt.Torch.Tests.Serialization;

internal static class SerializationTestUtil
{
    public static readonly DType[] AllDTypes =
    [
        DType.Float32, DType.Float16, DType.BFloat16, DType.Float64, DType.Int64,
        DType.Int32, DType.Int16, DType.Int8, DType.UInt8, DType.Bool,
    ];

    /// <summary>A tensor with random bytes (bool: random 0/1).</summary>
    public static HostTensor Random(DType dtype, int seed, params long[] shape)
    {
        var rng = new Random(seed);
        var t = HostTensor.Zeros(dtype, shape);
        rng.NextBytes(t.Data);
        if (dtype == DType.Bool)
            for (int i = 0; i < t.Data.Length; i++) t.Data[i] &= 1;
        return t;
    }

    public static string Sha256(byte[] data) => Convert.ToHexString(SHA256.HashData(data)).ToLowerInvariant();

    public static void AssertSameTensor(HostTensor expected, HostTensor actual, string name)
    {
        Assert.True(expected.DType == actual.DType, $"{name}: dtype {actual.DType}, expected {expected.DType}");
        Assert.True(expected.Shape.SequenceEqual(actual.Shape),
            $"{name}: shape [{string.Join(",", actual.Shape)}], expected [{string.Join(",", expected.Shape)}]");
        Assert.True(expected.Data.AsSpan().SequenceEqual(actual.Data), $"{name}: data differs");
    }

    /// <summary>Builds a .pth-like zip (STORED records) from raw record contents.</summary>
    public static void WriteZip(string path, params (string Name, byte[] Data)[] records)
    {
        using var fs = File.Create(path);
        using var zip = new ZipArchive(fs, ZipArchiveMode.Create);
        foreach (var (name, data) in records)
        {
            var e = zip.CreateEntry(name, CompressionLevel.NoCompression);
            using var s = e.Open();
            s.Write(data);
        }
    }

    // ---------------------------------------------------------------- Python / PyTorch

    public const string Python = "/usr/bin/python3";

    private static readonly Lazy<string?> TorchProblem = new(() =>
    {
        try
        {
            var (code, output) = RunPythonRaw("import torch; print(torch.__version__)", []);
            return code == 0 ? null : output;
        }
        catch (Exception e) { return e.Message; }
    });

    /// <summary>Fails (never skips) when PyTorch is missing.</summary>
    public static void RequireTorch()
    {
        if (TorchProblem.Value is { } problem)
            Assert.Fail($"these cross-checks need PyTorch in {Python}: install the Debian package python3-torch " +
                        $"(apt-get install python3-torch; the project's test command installs it). Python said: {problem}");
    }

    /// <summary>Runs a Python script with the system interpreter; fails the test on a non-zero exit. Returns stdout.</summary>
    public static string RunPython(string script, params string[] args)
    {
        RequireTorch();
        var (code, output) = RunPythonRaw(script, args);
        Assert.True(code == 0, $"python exited with {code}:\n{output}");
        return output;
    }

    private static (int Code, string Output) RunPythonRaw(string script, string[] args)
    {
        var psi = new ProcessStartInfo(Python)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["PYTHONDONTWRITEBYTECODE"] = "1";
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start " + Python);
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(120_000)) { p.Kill(); return (-1, "timeout\n" + stdout + stderr.Result); }
        return p.ExitCode == 0 ? (0, stdout) : (p.ExitCode, stdout + stderr.Result);
    }
}
