using SamAdapt.Torch;

namespace SamAdapt.Cli;

internal static class VersionInfo
{
    public static string Describe()
    {
        var v = typeof(VersionInfo).Assembly.GetName().Version;
        return $"samadapt {v?.ToString(3)}\n{RuntimeInfo.Describe()}";
    }
}
