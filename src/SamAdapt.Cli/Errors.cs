namespace SamAdapt.Cli;

/// <summary>Which exceptions are the user's input problem (one line, exit 2) rather than a bug (stack trace).</summary>
internal static class Errors
{
    public static bool IsUserFacing(Exception e) => e switch
    {
        CliException or FileNotFoundException or DirectoryNotFoundException or InvalidDataException
            or UnauthorizedAccessException or FormatException or ArgumentException or NotSupportedException => true,
        IOException => true,
        DllNotFoundException => true,
        _ => e.GetType().Name is "TorchException",
    };

    public static string Message(Exception e) => e.InnerException is { } inner && e is System.Reflection.TargetInvocationException
        ? inner.Message : e.Message;
}
