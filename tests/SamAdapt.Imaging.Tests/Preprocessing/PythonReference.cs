using System.Diagnostics;

namespace SamAdapt.Imaging.Tests.Preprocessing;

/// <summary>
/// Runs Debian's /usr/bin/python3 (which has numpy; scipy is absent on the project machines) as an independent
/// reference. Tests return early, passing, when it or the module is not installed.
/// </summary>
internal static class PythonReference
{
    private const string Python = "/usr/bin/python3";
    private static readonly Dictionary<string, bool> Available = [];

    public static bool Has(string module)
    {
        lock (Available)
        {
            if (Available.TryGetValue(module, out var ok)) return ok;
            ok = File.Exists(Python) && TryRun($"import {module}", "", out _);
            Available[module] = ok;
            return ok;
        }
    }

    /// <summary>Runs a script with the given stdin; returns stdout, throws with stderr on failure.</summary>
    public static string Run(string script, string stdin)
    {
        if (!TryRun(script, stdin, out var output)) throw new InvalidOperationException("python reference failed: " + output);
        return output;
    }

    private static bool TryRun(string script, string stdin, out string output)
    {
        var dir = Path.Combine(Path.GetTempPath(), "samadapt-py-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            var file = Path.Combine(dir, "ref.py");
            File.WriteAllText(file, script);
            var psi = new ProcessStartInfo(Python, [file])
            {
                RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            };
            using var p = Process.Start(psi)!;
            var stdoutTask = p.StandardOutput.ReadToEndAsync();
            var stderrTask = p.StandardError.ReadToEndAsync();
            p.StandardInput.Write(stdin);
            p.StandardInput.Close();
            if (!p.WaitForExit(120_000)) { p.Kill(); output = "timeout"; return false; }
            output = p.ExitCode == 0 ? stdoutTask.Result : stderrTask.Result;
            return p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception e) { output = e.Message; return false; }
        finally { try { Directory.Delete(dir, true); } catch (IOException) { } }
    }
}
