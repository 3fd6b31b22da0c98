using System.Diagnostics;

namespace SamAdapt.Tests;

/// <summary>
/// Runs scripts with Debian's system Python (<c>/usr/bin/python3</c>, not whatever python3 is first on PATH), which
/// cross-checks use for NumPy and Pillow. A missing interpreter or module FAILS the test with the package to install;
/// nothing is skipped silently.
/// </summary>
public static class DebianPython
{
    public const string Interpreter = "/usr/bin/python3";

    public static void RequireNumpy() => RequireModule("numpy", "python3-numpy");

    public static void RequirePillow()
    {
        RequireNumpy();
        RequireModule("PIL", "python3-pil");
    }

    /// <summary>Fails the test (never skips) when Debian's python lacks <paramref name="module"/>, naming the apt package.</summary>
    public static void RequireModule(string module, string package)
    {
        if (!File.Exists(Interpreter))
            Assert.Fail($"{Interpreter} is missing: this cross-check needs Debian's Python with {module}; install it with `apt-get install -y python3 {package}`");
        var (rc, _, err) = RunRaw($"import {module}", null, []);
        if (rc != 0)
            Assert.Fail($"{Interpreter} cannot import {module}: install it with `apt-get install -y {package}` (the cross-check against {module} must not be skipped).\n{err}");
    }

    /// <summary>Runs <paramref name="script"/> with the given arguments; fails the test on a non-zero exit. Returns stdout.</summary>
    public static string Run(string script, params string[] args)
    {
        var (rc, output, err) = RunRaw(script, null, args);
        if (rc != 0) Assert.Fail($"{Interpreter} script failed (exit {rc}):\n{err}\n--- stdout ---\n{output}");
        return output;
    }

    private static (int Rc, string Out, string Err) RunRaw(string script, string? workDir, string[] args)
    {
        var psi = new ProcessStartInfo(Interpreter)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        // run the script from stdin ("-") so no temp file is needed; arguments follow
        psi.ArgumentList.Add("-");
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (workDir != null) psi.WorkingDirectory = workDir;
        // keep the system interpreter isolated from any pyenv/venv settings of the caller
        psi.Environment.Remove("PYTHONPATH");
        psi.Environment.Remove("PYTHONHOME");
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("could not start " + Interpreter);
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.StandardInput.Write(script);
        p.StandardInput.Close();
        if (!p.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            p.Kill();
            Assert.Fail($"{Interpreter} script timed out");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
