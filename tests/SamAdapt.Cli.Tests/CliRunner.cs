using System.CommandLine;
using System.Diagnostics;
using SamAdapt.Tests;

namespace SamAdapt.Cli.Tests;

/// <summary>Runs `samadapt` verbs in-process (fast; exceptions propagate as they would to Program.cs) or end to end
/// through the built samadapt.dll (exit codes and stderr exactly as users see them).</summary>
internal static class CliRunner
{
    /// <summary>Runs a verb in-process; returns (exit code, stdout + stderr).</summary>
    public static (int Code, string Out) Invoke(SamAdapt.Cli.ICliCommand verb, params string[] args)
    {
        var cmd = verb.Build();
        var root = new RootCommand { cmd };
        var sw = new StringWriter();
        var err = new StringWriter();
        int code = root.Parse([cmd.Name, .. args]).Invoke(new InvocationConfiguration { Output = sw, Error = err, EnableDefaultExceptionHandler = false });
        return (code, sw + err.ToString());
    }

    public static string SamadaptDll()
    {
        var here = Path.Combine(AppContext.BaseDirectory, "samadapt.dll");
        if (File.Exists(here)) return here;
        var built = Directory.GetFiles(Path.Combine(TestPaths.RepoRoot, "src", "SamAdapt.Cli", "bin"), "samadapt.dll", SearchOption.AllDirectories);
        if (built.Length == 0) Assert.Fail("samadapt.dll was not built (dotnet build src/SamAdapt.Cli)");
        return built.OrderByDescending(File.GetLastWriteTimeUtc).First();
    }

    /// <summary>Runs `dotnet samadapt.dll ARGS`; returns (exit code, stdout, stderr).</summary>
    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(SamadaptDll());
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(TimeSpan.FromMinutes(3))) { p.Kill(); Assert.Fail("samadapt timed out: " + string.Join(' ', args)); }
        return (p.ExitCode, output, err.Result);
    }
}
