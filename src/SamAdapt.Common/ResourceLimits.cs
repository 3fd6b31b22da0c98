using System.Globalization;

namespace SamAdapt.Common;

/// <summary>A size in an input or an option would need more memory than the limit allows; refused before allocating.</summary>
public sealed class ResourceLimitException(string message) : Exception(message);

/// <summary>
/// The memory limit every reader and verb checks before a large allocation (docs/reliability.md): by default 75% of the
/// memory this process may use, at most 16 GB; raised or lowered with the environment variable <see cref="EnvironmentVariable"/>
/// (gigabytes) or the CLI's <c>--max-memory GB</c>.
/// </summary>
public static class ResourceLimits
{
    public const string EnvironmentVariable = "SAMADAPT_MAX_MEMORY_GB";
    private static long _maxBytes = DefaultMaxBytes();

    /// <summary>The largest single buffer (or estimated working set of one step) allowed, in bytes.</summary>
    public static long MaxBytes
    {
        get => Interlocked.Read(ref _maxBytes);
        set => Interlocked.Exchange(ref _maxBytes, value > 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "the memory limit must be positive"));
    }

    /// <summary>Sets the limit from a number of gigabytes (an option or environment value); throws a user-facing error when not a positive number.</summary>
    public static void SetGigabytes(string text, string source)
    {
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var gb) || !(gb > 0) || !double.IsFinite(gb) || gb > 1 << 30)
            throw new ResourceLimitException($"{source}: expected a positive number of gigabytes, found '{text}'");
        MaxBytes = (long)Math.Min(gb * (1L << 30), long.MaxValue / 2);
    }

    private static long DefaultMaxBytes()
    {
        long total = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (total <= 0) total = 8L << 30;
        long d = Math.Min(total / 4 * 3, 16L << 30);
        if (Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } env
            && double.TryParse(env, NumberStyles.Float, CultureInfo.InvariantCulture, out var gb) && gb > 0 && double.IsFinite(gb))
            d = (long)Math.Min(gb * (1L << 30), long.MaxValue / 2);
        return d;
    }

    /// <summary>Throws <see cref="ResourceLimitException"/> when <paramref name="count"/> elements of
    /// <paramref name="bytesPerElement"/> bytes exceed the limit (or overflow). <paramref name="what"/> names the file/field.</summary>
    public static long Check(string what, double count, double bytesPerElement = 1)
    {
        double bytes = count * bytesPerElement;
        if (double.IsNaN(bytes) || bytes < 0)
            throw new ResourceLimitException($"{what}: expected a non-negative size, found {count.ToString("G6", CultureInfo.InvariantCulture)}");
        if (bytes > MaxBytes)
            throw new ResourceLimitException(
                $"{what}: needs {Gb(bytes)} of memory, expected at most {Gb(MaxBytes)} (the limit; raise it with --max-memory GB or {EnvironmentVariable})");
        return (long)bytes;
    }

    /// <summary>Product of sizes as a double (no overflow), for <see cref="Check"/>.</summary>
    public static double Product(IEnumerable<long> sizes)
    {
        double p = 1;
        foreach (var s in sizes) p *= s;
        return p;
    }

    private static string Gb(double bytes) => (bytes / (1L << 30)).ToString(bytes < (1L << 30) ? "0.###" : "0.#", CultureInfo.InvariantCulture) + " GB";
}
