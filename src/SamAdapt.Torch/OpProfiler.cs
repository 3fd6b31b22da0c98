using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using SamAdapt.Torch.Native;

namespace SamAdapt.Torch;

/// <summary>Wall time of one operator name (a forward op such as <c>aten::addmm</c> or a backward node such as
/// <c>GeluBackward0</c>): <see cref="SelfMs"/> excludes the ops it called, <see cref="TotalMs"/> includes them (wall time);
/// <see cref="SelfCpuMs"/> is the calling thread's CPU time without nested ops, steadier than wall time on a shared machine
/// when libtorch runs one intra-op thread (with more, the other threads' work is not in it).</summary>
public sealed record OpTime(string Name, long Calls, double SelfMs, double TotalMs, double SelfCpuMs);

/// <summary>
/// Time per operator, for finding where a training step goes: <see cref="Start"/> begins recording every op dispatched by
/// libtorch (forward and backward, on every thread), <see cref="Stop"/> ends it, <see cref="Report"/> reads the sums.
/// Recording costs about a microsecond per op. <c>SAMADAPT_PROFILE=1</c> makes the trainer print the table.
/// </summary>
public static class OpProfiler
{
    /// <summary>True when the environment asks for per-op timing (<c>SAMADAPT_PROFILE=1</c>).</summary>
    public static bool RequestedByEnvironment => Environment.GetEnvironmentVariable("SAMADAPT_PROFILE") is "1" or "true";

    /// <summary>Clears the sums and starts recording.</summary>
    public static void Start() => TorchNative.Check(TorchNative.sa_profiler_start());

    /// <summary>Stops recording; the sums stay readable.</summary>
    public static void Stop() => TorchNative.Check(TorchNative.sa_profiler_stop());

    /// <summary>The sums so far, by self time, largest first.</summary>
    public static IReadOnlyList<OpTime> Report()
    {
        var p = TorchNative.sa_profiler_report();
        if (p == IntPtr.Zero) TorchNative.Check();
        var text = Marshal.PtrToStringUTF8(p) ?? "";
        var rows = new List<OpTime>();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var f = line.Split('\t');
            if (f.Length != 5) continue;
            double Ms(string v) => double.Parse(v, CultureInfo.InvariantCulture) / 1000;
            rows.Add(new OpTime(f[0], long.Parse(f[1], CultureInfo.InvariantCulture), Ms(f[2]), Ms(f[3]), Ms(f[4])));
        }
        rows.Sort((a, b) => b.SelfMs.CompareTo(a.SelfMs));
        return rows;
    }

    /// <summary>A text table of the <paramref name="top"/> ops by self wall time (or CPU time), each with its share of all self
    /// time, divided by <paramref name="per"/> (e.g. the number of steps recorded, for time per step).</summary>
    public static string Format(IReadOnlyList<OpTime> rows, int top = 25, int per = 1, bool byCpu = false)
    {
        if (byCpu) rows = rows.OrderByDescending(r => r.SelfCpuMs).ToList();
        double all = rows.Sum(r => r.SelfMs);
        var sb = new StringBuilder();
        var ic = CultureInfo.InvariantCulture;
        double allCpu = rows.Sum(r => r.SelfCpuMs);
        sb.AppendLine(string.Create(ic, $"{(byCpu ? "op (by self CPU time)" : "op (by self wall time)"),-48} {"calls",8} {"self ms",10} {"share",7} {"total ms",10} {"self cpu ms",12} {"share",7}"));
        foreach (var r in rows.Take(top))
            sb.AppendLine(string.Create(ic, $"{Trim(r.Name),-48} {r.Calls / (double)per,8:F0} {r.SelfMs / per,10:F2} {100 * r.SelfMs / Math.Max(all, 1e-9),6:F1}% {r.TotalMs / per,10:F2} {r.SelfCpuMs / per,12:F2} {100 * r.SelfCpuMs / Math.Max(allCpu, 1e-9),6:F1}%"));
        sb.AppendLine(string.Create(ic, $"{"all ops",-48} {rows.Sum(r => r.Calls) / (double)per,8:F0} {all / per,10:F2} {"",7} {"",10} {allCpu / per,12:F2}"));
        return sb.ToString();
    }

    private static string Trim(string name) => name.Length <= 48 ? name : name[..45] + "...";
}
