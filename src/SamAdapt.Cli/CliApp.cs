using System.CommandLine;

namespace SamAdapt.Cli;

/// <summary>
/// The command line as a function: parses <c>args</c>, runs the verb and applies the error policy (docs/reliability.md):
/// usage and input errors → one line <c>samadapt: error: …</c> and exit 2; internal errors → exit 1 with a hint; the stack
/// trace only with <c>--verbose</c>. Program.cs calls it with the console; the fuzz suite calls it in-process.
/// </summary>
public static class CliApp
{
    public static int Run(string[] args, TextWriter? stdout = null, TextWriter? stderr = null)
    {
        var err = new LineTrackingWriter(stderr ?? Console.Error);
        var output = stdout ?? Console.Out;
        bool verbose = args.Contains("--verbose");

        var root = new RootCommand(
            "SamAdapt — adapt Segment Anything to medical images: segment with prompts, fine-tune adapters, predict volumes, evaluate.");
        // `--version` prints the version plus the runtime facts users need in bug reports.
        root.Options.Remove(root.Options.OfType<VersionOption>().First());
        var version = new Option<bool>("--version") { Description = "Print the version, libtorch version, devices and BLAS in use" };
        root.Options.Add(version);
        // the error policy's switches, accepted by every verb
        var verboseOption = new Option<bool>("--verbose") { Description = "On an error, also print the stack trace", Recursive = true };
        var maxMemory = new Option<string?>("--max-memory")
        {
            Description = "Memory limit in GB for one input or working set (default: 75% of this machine's memory, at most 16 GB, or " +
                          $"${SamAdapt.Common.ResourceLimits.EnvironmentVariable}); larger requests are refused before allocating",
            Recursive = true,
        };
        root.Options.Add(verboseOption);
        root.Options.Add(maxMemory);
        root.SetAction(pr =>
        {
            if (pr.GetValue(version)) { output.WriteLine(VersionInfo.Describe()); return 0; }
            err.WriteLine("samadapt: error: a verb is required. Try `samadapt --help`.");
            return Errors.BadInput;
        });

        var commands = typeof(ICliCommand).Assembly.GetTypes()
            .Where(t => typeof(ICliCommand).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
            .Select(t => (ICliCommand)Activator.CreateInstance(t)!)
            .OrderBy(c => c.Order);
        foreach (var c in commands) root.Subcommands.Add(c.Build());

        try
        {
            var parsed = root.Parse(args);
            if (parsed.Errors.Count > 0)
            {
                // usage errors: exit 2 like every other bad input (System.CommandLine's own handler exits 1)
                var verb = parsed.CommandResult.Command == root ? "" : " " + parsed.CommandResult.Command.Name;
                err.WriteLine($"samadapt: error: {string.Join("; ", parsed.Errors.Select(e => e.Message))} (see `samadapt{verb} --help`)");
                return Errors.BadInput;
            }
            if (parsed.GetValue(maxMemory) is { } gb) SamAdapt.Common.ResourceLimits.SetGigabytes(gb, "--max-memory");
            return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false, Output = output, Error = err });
        }
        catch (Exception e)
        {
            err.EndOpenLine();
            err.WriteLine($"samadapt: error: {Errors.Message(e)}");
            if (verbose) err.WriteLine(e.ToString());
            return Errors.ExitCode(e);
        }
        finally
        {
            err.Flush();
        }
    }
}
