using System.CommandLine;

namespace SamAdapt.Cli;

/// <summary>
/// One verb of `samadapt`. Implementations are discovered by reflection (public, parameterless constructor),
/// so adding a verb means adding one file under Commands/.
/// </summary>
public interface ICliCommand
{
    /// <summary>Sort key for --help listing (pipeline order: info, convert, dataset, segment, train, predict, evaluate, serve, demo).</summary>
    int Order { get; }
    Command Build();
}

/// <summary>A user-facing error: printed as one line on stderr, exit code 2 (no stack trace).</summary>
public sealed class CliException(string message) : Exception(message);
