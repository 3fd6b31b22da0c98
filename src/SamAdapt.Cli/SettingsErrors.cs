using SamAdapt.Common;

namespace SamAdapt.Cli;

/// <summary>Runs a library call from a verb, turning its <see cref="SettingsException"/> into a <see cref="CliException"/> (one line, exit 2).</summary>
internal static class SettingsErrors
{
    public static T Run<T>(Func<T> f)
    {
        try { return f(); }
        catch (SettingsException e) { throw new CliException(e.Message); }
    }
}
