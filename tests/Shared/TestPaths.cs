namespace SamAdapt.Tests;

/// <summary>Locations tests need: the repository root, the shared fixtures beside it, and scratch folders.</summary>
public static class TestPaths
{
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>../shared next to the checkout (CI clones main with shared/ beside it).</summary>
    public static string Shared => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));

    public static string Fixture(params string[] parts) =>
        Path.Combine([Shared, "fixtures", .. parts]);

    /// <summary>A fresh empty temporary directory, removed by the returned handle.</summary>
    public static TempDir NewTempDir() => new();

    private static string FindRepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "SamAdapt.sln"))) return d.FullName;
        throw new InvalidOperationException("tests must run inside the SamAdapt checkout (SamAdapt.sln not found above " + AppContext.BaseDirectory + ")");
    }
}

public sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "samadapt-test-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }
    public string File(string name) => System.IO.Path.Combine(Path, name);
    public void Dispose() { try { Directory.Delete(Path, true); } catch (IOException) { } }
}
