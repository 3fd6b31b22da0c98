using System.Text.RegularExpressions;
using SamAdapt.Common;

namespace SamAdapt.Cli;

/// <summary>
/// The error policy (docs/reliability.md): every failure is one line <c>samadapt: error: …</c> on stderr; exit 2 for bad
/// input or usage (<see cref="IsUserFacing"/>), exit 1 for an internal error (with a hint to report it); a stack trace
/// only with <c>--verbose</c>.
/// </summary>
public static partial class Errors
{
    public const int BadInput = 2;
    public const int Internal = 1;

    /// <summary>The exception that says what went wrong: wrappers from parallel loops, reflection and type initialisers removed.</summary>
    public static Exception Unwrap(Exception e) => UserFacingErrors.Unwrap(e, IsUserFacing);

    /// <summary>Exceptions that describe a problem with the input, the options or the environment (exit 2), not a bug: the
    /// shared classification (<see cref="UserFacingErrors"/>) plus the CLI's usage errors and YAML parse errors.</summary>
    public static bool IsUserFacing(Exception e) =>
        e is CliException or YamlDotNet.Core.YamlException || UserFacingErrors.IsUserFacing(e);

    public static int ExitCode(Exception e) => IsUserFacing(Unwrap(e)) ? BadInput : Internal;

    /// <summary>The one-line message: .NET's parameter/actual-value suffixes removed, line breaks kept only for lists.</summary>
    public static string Message(Exception e)
    {
        e = Unwrap(e);
        var m = e.Message;
        m = ParameterSuffix().Replace(m, "");
        m = ActualValue().Replace(m, "");
        if (e is OutOfMemoryException)
            m = $"out of memory ({m.TrimEnd('.')}); lower the sizes (batch, image size) or the input, or raise the limit with --max-memory GB";
        else if (!IsUserFacing(e))
            m = $"internal error: {e.GetType().Name}: {m} — please report it with the command line and `samadapt --version` (rerun with --verbose for the stack trace)";
        return m.Trim();
    }

    [GeneratedRegex(@"\s*\(Parameter '[^']*'\)")]
    private static partial Regex ParameterSuffix();

    [GeneratedRegex(@"\s*Actual value was [^\r\n]*")]
    private static partial Regex ActualValue();
}
