using System.Diagnostics;

namespace SamAdapt.Imaging.Tests.Dicom;

/// <summary>
/// Runs Debian's /usr/bin/python3 (not a pyenv python on PATH) as an independent reference implementation
/// (pydicom + numpy for DICOM, Pillow for PNG). A missing interpreter or module fails the test with the apt package
/// to install — these cross-checks are never skipped silently.
/// </summary>
internal static class DebianPython
{
    public const string Interpreter = "/usr/bin/python3";

    public static string Run(string script, params string[] args)
    {
        if (!File.Exists(Interpreter))
            Assert.Fail($"{Interpreter} is missing: install Debian's python3, python3-pydicom, python3-numpy and python3-pil (apt-get install python3-pydicom python3-numpy python3-pil)");
        var psi = new ProcessStartInfo(Interpreter)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment.Remove("PYTHONPATH");
        psi.Environment.Remove("PYTHONHOME");
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            if (stderr.Contains("No module named"))
                Assert.Fail($"{Interpreter} lacks a module the cross-check needs — install python3-pydicom, python3-numpy and python3-pil:\n{stderr}");
            Assert.Fail($"{Interpreter} failed (exit {p.ExitCode}):\n{stderr}");
        }
        return stdout.Result;
    }
}
