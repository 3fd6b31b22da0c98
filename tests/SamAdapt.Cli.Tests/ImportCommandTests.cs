using SamAdapt.Methods;
using SamAdapt.Tests;

namespace SamAdapt.Cli.Tests;

/// <summary>`samadapt import METHOD` resolves METHOD through <see cref="MethodRegistry"/> like train and predict.</summary>
public sealed class ImportCommandTests : IDisposable
{
    private readonly TempDir _tmp = TestPaths.NewTempDir();

    public void Dispose() => _tmp.Dispose();

    [Fact]
    public void Unknown_method_exits_2_listing_the_known_methods()
    {
        var (code, _, err) = CliRunner.Run("import", "nope", "--trained", _tmp.File("t.pth"), "--base", _tmp.File("b.pth"), "--out", _tmp.File("run"));
        Assert.Equal(2, code);
        Assert.StartsWith("samadapt: error: ", err);
        Assert.Contains("unknown method 'nope'", err);
        foreach (var name in MethodRegistry.Names) Assert.Contains(name, err);
        Assert.DoesNotContain("   at ", err);
        Assert.False(Directory.Exists(_tmp.File("run")));
    }

    [Fact]
    public void A_method_without_importer_exits_2_naming_the_importable_ones()
    {
        var (code, _, err) = CliRunner.Run("import", "lora", "--trained", _tmp.File("t.pth"), "--base", _tmp.File("b.pth"), "--out", _tmp.File("run"));
        Assert.Equal(2, code);
        Assert.Contains("method 'lora' has no importer", err);
        Assert.Contains("ma-sam", err);
        Assert.False(Directory.Exists(_tmp.File("run")));
    }

    [Fact]
    public void Registry_resolves_importable_methods_by_name_and_alias()
    {
        Assert.Contains("ma-sam", MethodRegistry.ImportableNames);
        Assert.DoesNotContain("lora", MethodRegistry.ImportableNames);
        Assert.Equal("ma-sam", MethodRegistry.GetImportable("MaSam").Name);
        Assert.Throws<UnknownMethodException>(() => MethodRegistry.GetImportable("nope"));
    }
}
