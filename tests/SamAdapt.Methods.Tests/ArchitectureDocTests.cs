using System.Text.RegularExpressions;
using SamAdapt.Tests;

namespace SamAdapt.Methods.Tests;

/// <summary>docs/architecture.md describes the code: its dependency table equals the .csproj references, and no source file
/// cites a document that is not in the repository.</summary>
public partial class ArchitectureDocTests
{
    [GeneratedRegex(@"^\| (SamAdapt\.[A-Za-z.]+) \| (.*) \|$", RegexOptions.Multiline)]
    private static partial Regex TableRow();

    [GeneratedRegex(@"ProjectReference Include=""[^""]*/([A-Za-z.]+)\.csproj""")]
    private static partial Regex ProjectReference();

    [GeneratedRegex(@"\bdocs/[A-Za-z0-9_\-./]+\.md")]
    private static partial Regex DocCitation();

    [Fact]
    public void The_dependency_table_matches_the_project_files()
    {
        var doc = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "docs", "architecture.md"));
        var table = TableRow().Matches(doc).ToDictionary(m => m.Groups[1].Value,
            m => m.Groups[2].Value.Trim() == "—" ? [] : m.Groups[2].Value.Split(',', StringSplitOptions.TrimEntries).Order().ToArray());
        var projects = Directory.GetDirectories(Path.Combine(TestPaths.RepoRoot, "src")).Select(Path.GetFileName).Order().ToArray();
        Assert.Equal(projects, table.Keys.Order().ToArray());
        foreach (var p in projects)
        {
            var csproj = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "src", p!, p + ".csproj"));
            var refs = ProjectReference().Matches(csproj).Select(m => m.Groups[1].Value).Order().ToArray();
            Assert.True(refs.SequenceEqual(table[p!]), $"{p}: .csproj references [{string.Join(", ", refs)}], docs/architecture.md says [{string.Join(", ", table[p!])}]");
        }
    }

    [Fact]
    public void Source_files_cite_only_documents_in_the_repository()
    {
        var missing = new List<string>();
        foreach (var dir in new[] { "src", "tests", "native", "bench" })
            foreach (var f in Directory.EnumerateFiles(Path.Combine(TestPaths.RepoRoot, dir), "*", SearchOption.AllDirectories))
            {
                if (f.Contains("/bin/", StringComparison.Ordinal) || f.Contains("/obj/", StringComparison.Ordinal)) continue;
                if (Path.GetExtension(f) is not (".cs" or ".csproj" or ".h" or ".cpp" or ".py" or ".txt" or ".md")) continue;
                foreach (Match m in DocCitation().Matches(File.ReadAllText(f)))
                    if (!File.Exists(Path.Combine(TestPaths.RepoRoot, m.Value)))
                        missing.Add($"{Path.GetRelativePath(TestPaths.RepoRoot, f)}: {m.Value}");
            }
        Assert.True(missing.Count == 0, "citations of documents that are not in the repository:\n" + string.Join("\n", missing.Distinct()));
    }
}
