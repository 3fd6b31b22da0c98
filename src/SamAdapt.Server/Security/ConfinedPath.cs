namespace SamAdapt.Server.Security;

/// <summary>A path from the page that would leave --data-root (or is malformed): HTTP 403 with the reason.</summary>
public sealed class PathOutsideRootException(string message) : Exception(message);

/// <summary>
/// Resolves paths the page sends (relative, '/'-separated) inside --data-root (docs/serve.md, "Security"): absolute paths,
/// drive or UNC forms, '..' and '.' segments, empty segments, NUL and backslashes are refused before touching the disk; then
/// every existing component is resolved through symbolic links and the result must still lie inside the root's real path
/// (a link pointing outside is refused, also when it is the last component or a parent of a file to be created).
/// </summary>
public sealed class ConfinedPath
{
    private readonly string _root;

    public ConfinedPath(string root)
    {
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"--data-root: no such folder: {root}");
        _root = RealPath(Path.GetFullPath(root));
    }

    public string Root => _root;

    /// <summary>The real path of <paramref name="relative"/> ("" or "/" is the root itself).</summary>
    public string Resolve(string? relative)
    {
        relative ??= "";
        if (relative.Contains('\0') || relative.Contains('\\'))
            throw new PathOutsideRootException("path: NUL characters and backslashes are not allowed");
        if (relative.StartsWith('/') && relative.Trim('/').Length > 0 || Path.IsPathRooted(relative) && relative.Trim('/').Length > 0)
            throw new PathOutsideRootException($"path '{relative}': expected a path relative to the data root, found an absolute path");
        var parts = relative.Split('/', StringSplitOptions.RemoveEmptyEntries);
        foreach (var p in parts)
            if (p is "." or "..")
                throw new PathOutsideRootException($"path '{relative}': '.' and '..' segments are not allowed");
        var current = _root;
        foreach (var p in parts)
        {
            current = Path.Combine(current, p);
            if (File.Exists(current) || Directory.Exists(current) || IsLink(current)) current = RealPath(current);
            if (!Inside(current))
                throw new PathOutsideRootException($"path '{relative}': leads outside the data root (through a symbolic link)");
        }
        return current;
    }

    /// <summary>True when <paramref name="fullPath"/> (already real) is the root or below it.</summary>
    public bool Inside(string fullPath) =>
        fullPath == _root || fullPath.StartsWith(_root.EndsWith('/') ? _root : _root + "/", StringComparison.Ordinal);

    /// <summary>The page's name for a real path inside the root ('/'-separated, relative).</summary>
    public string Relative(string fullPath) => Path.GetRelativePath(_root, fullPath).Replace('\\', '/');

    private static bool IsLink(string path)
    {
        try { return new FileInfo(path).LinkTarget is not null; }
        catch (IOException) { return false; }
    }

    /// <summary>Every existing component resolved through links (what realpath(3) gives for existing paths).</summary>
    private static string RealPath(string full)
    {
        var root = Path.GetPathRoot(full) ?? "/";
        var result = root;
        foreach (var part in full[root.Length..].Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            var next = Path.Combine(result, part);
            for (int hops = 0; hops < 40; hops++)
            {
                FileSystemInfo info = Directory.Exists(next) ? new DirectoryInfo(next) : new FileInfo(next);
                if (info.LinkTarget is not { } target) break;
                next = Path.GetFullPath(Path.IsPathRooted(target) ? target : Path.Combine(Path.GetDirectoryName(next)!, target));
                if (hops == 39) throw new PathOutsideRootException($"{full}: too many levels of symbolic links");
                next = RealPath(next);
            }
            result = next;
        }
        return result;
    }
}
