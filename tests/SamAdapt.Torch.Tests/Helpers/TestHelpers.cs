using System.Text.Json;
using SamAdapt.Tests;

namespace SamAdapt.Torch.Tests;

/// <summary>
/// Tests that use the global CPU generator (manual_seed) or process-wide counters (live tensors, RSS, GC handles)
/// run in this collection: xunit runs it alone, after the parallel collections, so nothing else disturbs them.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialCollection
{
    public const string Name = "serial: global RNG and process-wide counters";
}

/// <summary>Deterministic test data (System.Random, not torch's generator, so parallel tests cannot disturb it).</summary>
public static class Data
{
    public static double[] Uniform(int n, int seed, double lo = -1, double hi = 1)
    {
        var r = new Random(seed);
        var a = new double[n];
        for (int i = 0; i < n; i++) a[i] = lo + (hi - lo) * r.NextDouble();
        return a;
    }

    public static long Numel(long[] shape) { long n = 1; foreach (var d in shape) n *= d; return n; }

    /// <summary>A float64 tensor with uniform values in [lo, hi).</summary>
    public static Tensor Rand(long[] shape, int seed, double lo = -1, double hi = 1, bool requiresGrad = false) =>
        Tensor.FromArray<double>(Uniform((int)Numel(shape), seed, lo, hi), shape, requiresGrad: requiresGrad);

    /// <summary>A float32 tensor with uniform values in [lo, hi).</summary>
    public static Tensor RandF(long[] shape, int seed, double lo = -1, double hi = 1) =>
        Tensor.FromArray<float>(Uniform((int)Numel(shape), seed, lo, hi).Select(v => (float)v).ToArray(), shape);

    public static double[] D(Tensor t) => (t.dtype == DType.Float64 ? t : t.to(DType.Float64)).ToArray<double>();
}

public static class Approx
{
    /// <summary>Asserts |a − e| ≤ atol + rtol·|e| elementwise (NaNs must match), naming the first offending index.</summary>
    public static void Equal(double[] expected, double[] actual, double atol, double rtol = 0, string what = "")
    {
        Assert.True(expected.Length == actual.Length, $"{what}: {expected.Length} expected values, got {actual.Length}");
        double worst = 0;
        int worstAt = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = actual[i];
            if (double.IsNaN(e) || double.IsNaN(a))
            {
                Assert.True(double.IsNaN(e) && double.IsNaN(a), $"{what}[{i}]: expected {e}, got {a}");
                continue;
            }
            if (e == a) continue;
            double err = Math.Abs(a - e) - (atol + rtol * Math.Abs(e));
            if (err > worst) { worst = err; worstAt = i; }
        }
        Assert.True(worstAt < 0, worstAt < 0 ? "" :
            $"{what}[{worstAt}]: expected {expected[worstAt]:R}, got {actual[worstAt]:R} (|diff| {Math.Abs(actual[worstAt] - expected[worstAt]):E3}, atol {atol:E1}, rtol {rtol:E1})");
    }

    public static void Equal(Tensor expected, Tensor actual, double atol, double rtol = 0, string what = "")
    {
        Assert.True(expected.shape.SequenceEqual(actual.shape),
            $"{what}: expected shape [{string.Join(",", expected.shape)}], got [{string.Join(",", actual.shape)}]");
        Equal(Data.D(expected), Data.D(actual), atol, rtol, what);
    }

    public static void Equal(double[] expected, Tensor actual, double atol, string what = "") => Equal(expected, Data.D(actual), atol, 0, what);
}

/// <summary>
/// Exchanges tensors with Debian's Python torch (the same libtorch 1.13) through raw .bin files plus a .json header.
/// In the script, <c>load(name)</c> returns a torch tensor and <c>save(name, tensor)</c> writes one back.
/// </summary>
public sealed class PyTorchExchange : IDisposable
{
    private readonly TempDir _dir = TestPaths.NewTempDir();

    private const string Prelude = """
        import sys, os, json
        try:
            import numpy as np
        except ImportError:
            sys.stderr.write('numpy is missing for /usr/bin/python3: apt-get install -y python3-numpy\n'); sys.exit(3)
        try:
            import torch
            import torch.nn.functional as F
        except ImportError:
            sys.stderr.write('torch is missing for /usr/bin/python3: apt-get install -y python3-torch\n'); sys.exit(3)
        D = sys.argv[1]
        def load(n):
            meta = json.load(open(os.path.join(D, n + '.json')))
            a = np.fromfile(os.path.join(D, n + '.bin'), dtype=meta['dtype']).reshape(meta['shape'])
            return torch.from_numpy(a.copy())
        def save(n, t):
            a = t.detach().contiguous().numpy()
            a.tofile(os.path.join(D, n + '.bin'))
            json.dump({'dtype': a.dtype.name, 'shape': list(a.shape)}, open(os.path.join(D, n + '.json'), 'w'))

        """;

    public PyTorchExchange()
    {
        if (!File.Exists(DebianPython.Interpreter))
            Assert.Fail($"{DebianPython.Interpreter} is missing: install Debian's python3 with `apt-get install -y python3 python3-torch python3-numpy`");
    }

    public void Put(string name, Tensor t)
    {
        var np = t.dtype switch
        {
            DType.Float32 => "float32", DType.Float64 => "float64", DType.Int64 => "int64", DType.Int32 => "int32",
            DType.UInt8 => "uint8", DType.Bool => "bool", DType.Int8 => "int8", DType.Int16 => "int16", DType.Float16 => "float16",
            _ => throw new ArgumentException($"no numpy dtype for {t.dtype}"),
        };
        File.WriteAllBytes(_dir.File(name + ".bin"), t.ToBytes());
        File.WriteAllText(_dir.File(name + ".json"), JsonSerializer.Serialize(new { dtype = np, shape = t.shape }));
    }

    public Tensor Get(string name)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(_dir.File(name + ".json")));
        var dt = doc.RootElement.GetProperty("dtype").GetString() switch
        {
            "float32" => DType.Float32, "float64" => DType.Float64, "int64" => DType.Int64, "int32" => DType.Int32,
            "uint8" => DType.UInt8, "bool" => DType.Bool, "int8" => DType.Int8, "int16" => DType.Int16, "float16" => DType.Float16,
            var s => throw new InvalidDataException($"unexpected dtype {s}"),
        };
        var shape = doc.RootElement.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
        return Tensor.FromBytes(File.ReadAllBytes(_dir.File(name + ".bin")), dt, shape);
    }

    /// <summary>Runs the script (after the prelude) in Debian's Python; returns stdout. A failure fails the test.</summary>
    public string Run(string script)
    {
        var text = Prelude + script.Replace("\r", "");
        return DebianPython.Run(text, _dir.Path);
    }

    public void Dispose() => _dir.Dispose();
}
