using System.CommandLine;
using System.Reflection;
using SamAdapt.Cli;

var root = new RootCommand(
    "SamAdapt — adapt Segment Anything to medical images: segment with prompts, fine-tune adapters, predict volumes, evaluate.");

// `--version` prints the version plus the runtime facts users need in bug reports.
root.Options.Remove(root.Options.OfType<VersionOption>().First());
var version = new Option<bool>("--version") { Description = "Print the version, libtorch version, devices and BLAS in use" };
root.Options.Add(version);
root.SetAction(pr =>
{
    if (pr.GetValue(version)) { Console.WriteLine(VersionInfo.Describe()); return 0; }
    Console.Error.WriteLine("samadapt: a verb is required. Try `samadapt --help`.");
    return 2;
});

var commands = typeof(ICliCommand).Assembly.GetTypes()
    .Where(t => typeof(ICliCommand).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
    .Select(t => (ICliCommand)Activator.CreateInstance(t)!)
    .OrderBy(c => c.Order);
foreach (var c in commands) root.Subcommands.Add(c.Build());

try
{
    return root.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (Exception e) when (Errors.IsUserFacing(e))
{
    Console.Error.WriteLine($"samadapt: error: {Errors.Message(e)}");
    return 2;
}
