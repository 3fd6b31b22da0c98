namespace SamAdapt.Common;

/// <summary>An output path that names an input: refused before anything is read or written (docs/reliability.md).</summary>
public sealed class OutputOverwritesInputException(string message) : ArgumentException(message);

/// <summary>
/// Refuses an output that would overwrite an input of the same command (the same path, or the same file reached through a
/// link), and two outputs of one command that name the same file.
/// </summary>
public static class OutputGuard
{
    /// <summary>Throws <see cref="OutputOverwritesInputException"/> when an output equals an input or another output.
    /// Null paths (options not given) are ignored; inputs that are folders also match outputs inside them only when equal.</summary>
    public static void Check(IEnumerable<(string Option, string? Path)> outputs, IEnumerable<(string Option, string? Path)> inputs)
    {
        var ins = inputs.Where(i => i.Path is not null).Select(i => (i.Option, Path: i.Path!, Key: Identity(i.Path!))).ToList();
        var seen = new List<(string Option, string Path, string Key)>();
        foreach (var (opt, path) in outputs)
        {
            if (path is null) continue;
            var key = Identity(path);
            foreach (var i in ins)
                if (i.Key == key)
                    throw new OutputOverwritesInputException(
                        $"{opt} {path}: expected a new output path, found the input of {i.Option} ({i.Path}); writing it would destroy the input");
            foreach (var o in seen)
                if (o.Key == key)
                    throw new OutputOverwritesInputException($"{opt} {path}: expected a path different from {o.Option}, found the same file ({o.Path})");
            seen.Add((opt, path, key));
        }
    }

    /// <summary>Same as <see cref="Check"/> for one output.</summary>
    public static void Check(string outputOption, string? output, params (string Option, string? Path)[] inputs) =>
        Check([(outputOption, output)], inputs);

    /// <summary>The full path with symbolic links resolved (the file itself and its folder), for comparison.</summary>
    public static string Identity(string path)
    {
        var full = Path.GetFullPath(path);
        try
        {
            if (File.Exists(full) && File.ResolveLinkTarget(full, returnFinalTarget: true) is { } t) full = t.FullName;
            var dir = Path.GetDirectoryName(full);
            if (dir is not null && Directory.Exists(dir) && new DirectoryInfo(dir).ResolveLinkTarget(true) is { } d)
                full = Path.Combine(d.FullName, Path.GetFileName(full));
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return Path.TrimEndingDirectorySeparator(full);
    }
}
