using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace SamAdapt.Training.Engine.Distributed;

/// <summary>
/// <c>--nproc N</c>: starts N worker processes of the same command on this machine (ranks 0..N−1, a free loopback
/// port for the store, torchrun-style environment), forwards their output (rank 0's as is, the others' prefixed
/// "[rank r]"), and supervises them: when one exits with an error the others get <see cref="Grace"/> to stop on their
/// own (their collectives fail at once when a peer's connection drops, or after the collective timeout when it hangs)
/// and are then killed. The exit code is 0 when every rank succeeded, else the first failing rank's.
/// </summary>
public sealed class LocalLauncher(string fileName, IReadOnlyList<string> arguments, int processes)
{
    public string FileName { get; } = fileName;
    public IReadOnlyList<string> Arguments { get; } = arguments;
    public int Processes { get; } = processes >= 1 ? processes : throw new ArgumentOutOfRangeException(nameof(processes), $"--nproc must be ≥ 1, got {processes}");

    /// <summary>How long the remaining ranks may take to stop by themselves after one failed.</summary>
    public TimeSpan Grace { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Extra environment for every worker.</summary>
    public IReadOnlyDictionary<string, string>? Environment { get; init; }

    /// <summary>The failure that ended the job, e.g. "rank 1 was killed by signal 9" (null after success).</summary>
    public string? Failure { get; private set; }

    private readonly object _sync = new(); // one writer at a time on the forwarded output

    /// <summary>The command that starts this same program again: (executable, leading arguments).</summary>
    public static (string FileName, IReadOnlyList<string> Prefix) Self()
    {
        var exe = System.Environment.ProcessPath ?? throw new InvalidOperationException("cannot tell this program's executable");
        // `dotnet app.dll ...`: the host is dotnet and the app is the entry assembly
        if (Path.GetFileNameWithoutExtension(exe) == "dotnet" && System.Reflection.Assembly.GetEntryAssembly()?.Location is { Length: > 0 } dll)
            return (exe, [dll]);
        return (exe, []);
    }

    /// <summary><paramref name="args"/> without <paramref name="option"/> and its value ("--nproc 2" or "--nproc=2"): what each worker is given.</summary>
    public static List<string> ArgumentsWithout(IEnumerable<string> args, string option)
    {
        var list = args.ToList();
        var result = new List<string>(list.Count);
        for (int i = 0; i < list.Count; i++)
        {
            if (list[i] == option) { i++; continue; }
            if (list[i].StartsWith(option + "=", StringComparison.Ordinal)) continue;
            result.Add(list[i]);
        }
        return result;
    }

    /// <summary>A free TCP port on the loopback interface (for the store).</summary>
    public static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    /// <summary>Runs the job to its end; returns the exit code.</summary>
    public int Run(TextWriter stdout, TextWriter stderr, CancellationToken cancellation = default)
    {
        int port = FreePort();
        var procs = new Process[Processes];
        // one libtorch thread pool per process: share the cores instead of oversubscribing them
        string threads = Math.Max(1, System.Environment.ProcessorCount / Processes).ToString(CultureInfo.InvariantCulture);
        try
        {
            for (int r = 0; r < Processes; r++)
            {
                var psi = new ProcessStartInfo(FileName) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
                foreach (var a in Arguments) psi.ArgumentList.Add(a);
                foreach (var (k, v) in new DistributedSettings(r, Processes, r, "127.0.0.1", port).ToEnvironment()) psi.Environment[k] = v;
                if (string.IsNullOrEmpty(System.Environment.GetEnvironmentVariable("SAMADAPT_NUM_THREADS")) &&
                    string.IsNullOrEmpty(System.Environment.GetEnvironmentVariable("OMP_NUM_THREADS")))
                    psi.Environment["SAMADAPT_NUM_THREADS"] = threads;
                if (Environment != null) foreach (var (k, v) in Environment) psi.Environment[k] = v;
                var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start rank {r}: {FileName}");
                int rank = r;
                string prefix = rank == 0 ? "" : $"[rank {rank}] ";
                p.OutputDataReceived += (_, e) => { if (e.Data != null) lock (_sync) { if (rank == 0) stdout.WriteLine(e.Data); else stderr.WriteLine(prefix + e.Data); } };
                p.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (_sync) stderr.WriteLine(prefix + e.Data); };
                p.BeginOutputReadLine();
                p.BeginErrorReadLine();
                procs[r] = p;
            }
            return Supervise(procs, stderr, cancellation);
        }
        finally
        {
            foreach (var p in procs)
            {
                if (p == null) continue;
                try { if (!p.HasExited) p.Kill(); } catch (InvalidOperationException) { }
                p.WaitForExit();
                p.Dispose();
            }
        }
    }

    private int Supervise(Process[] procs, TextWriter stderr, CancellationToken cancellation)
    {
        int? firstFailed = null;
        var failedAt = Stopwatch.StartNew();
        Stopwatch? rank0Done = null;
        bool killNow = false;
        while (true)
        {
            bool allDone = true;
            for (int r = 0; r < procs.Length; r++)
            {
                if (!procs[r].HasExited) { allDone = false; continue; }
                if (firstFailed is null && procs[r].ExitCode != 0)
                {
                    procs[r].WaitForExit(); // drain its output
                    firstFailed = r;
                    Failure = $"rank {r} {Describe(procs[r].ExitCode)}";
                    failedAt.Restart();
                    lock (_sync) stderr.WriteLine($"error: {Failure}; stopping the other ranks (they get {Grace.TotalSeconds:0.#} s to stop by themselves)");
                }
            }
            if (allDone) break;
            // rank 0 finished (it writes last, after the others' final step): a rank still running long after it is stuck
            if (firstFailed is null && procs[0].HasExited && procs[0].ExitCode == 0)
            {
                rank0Done ??= Stopwatch.StartNew();
                if (rank0Done.Elapsed > Grace)
                {
                    int stuck = Enumerable.Range(1, procs.Length - 1).First(r => !procs[r].HasExited);
                    firstFailed = stuck;
                    Failure = $"rank {stuck} did not exit within {Grace.TotalSeconds:0.#} s after rank 0 finished";
                    lock (_sync) stderr.WriteLine($"error: {Failure}: killing it");
                    killNow = true;
                }
            }
            if (firstFailed is not null && (killNow || failedAt.Elapsed > Grace))
            {
                for (int r = 0; r < procs.Length; r++)
                    if (!procs[r].HasExited)
                    {
                        lock (_sync) stderr.WriteLine($"error: rank {r} did not stop within {Grace.TotalSeconds:0.#} s after rank {firstFailed} failed: killing it");
                        try { procs[r].Kill(); } catch (InvalidOperationException) { }
                    }
            }
            if (cancellation.IsCancellationRequested && firstFailed is null)
            {
                firstFailed = -1;
                Failure = "cancelled";
                failedAt.Restart();
            }
            Thread.Sleep(50);
        }
        foreach (var p in procs) p.WaitForExit();
        if (firstFailed is null) return 0;
        if (firstFailed < 0) return 1;
        int code = procs[firstFailed.Value].ExitCode;
        return code is > 0 and < 128 ? code : 1;
    }

    private static string Describe(int exitCode) =>
        exitCode > 128 && exitCode < 160 ? $"was killed by signal {exitCode - 128} (exit code {exitCode})" : $"failed (exit code {exitCode})";
}
