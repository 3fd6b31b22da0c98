namespace SamAdapt.Common;

/// <summary>
/// Which failures describe a problem with the input, the options or the environment (a bad or missing file, an invalid value,
/// a resource limit) as opposed to a bug: the CLI exits 2 for them (docs/reliability.md), and a prediction over a folder skips
/// a case whose input fails this way. One classification for every layer; layers with their own exception types add them
/// (the CLI's usage errors and YAML parse errors).
/// </summary>
public static class UserFacingErrors
{
    /// <summary>True for an exception that describes bad input, options or environment (after <see cref="Unwrap"/>).</summary>
    public static bool IsUserFacing(Exception e) => e switch
    {
        InvalidDataException or IOException or UnauthorizedAccessException or FormatException or ArgumentException
            or NotSupportedException or System.Text.Json.JsonException or OutOfMemoryException or ResourceLimitException
            or DllNotFoundException => true,
        // types of layers above this one (libtorch's messages, training divergence, .npy parsing)
        _ => e.GetType().Name is "TorchException" or "TrainingException" or "NonFiniteLossException" or "NpyFormatException",
    };

    /// <summary>
    /// The exception that says what went wrong: wrappers from parallel loops, reflection and type initialisers removed. Of
    /// several exceptions of a parallel loop, the first user-facing one by <paramref name="isUserFacing"/> (default
    /// <see cref="IsUserFacing"/>): a bad file explains the failure best.
    /// </summary>
    public static Exception Unwrap(Exception e, Func<Exception, bool>? isUserFacing = null)
    {
        isUserFacing ??= IsUserFacing;
        while (true)
        {
            switch (e)
            {
                case AggregateException { InnerExceptions.Count: > 0 } a:
                    var all = a.Flatten().InnerExceptions;
                    e = all.FirstOrDefault(x => isUserFacing(Unwrap(x, isUserFacing))) ?? all[0];
                    continue;
                case System.Reflection.TargetInvocationException { InnerException: { } i }: e = i; continue;
                case TypeInitializationException { InnerException: { } t }: e = t; continue;
                default: return e;
            }
        }
    }
}
