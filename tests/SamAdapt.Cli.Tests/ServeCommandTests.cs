using SamAdapt.Tests;

namespace SamAdapt.Cli.Tests;

/// <summary>`samadapt serve`'s option errors: one line, exit 2, before anything listens.</summary>
public class ServeCommandTests
{
    private static (int Code, string Err) Run(params string[] args)
    {
        var err = new StringWriter();
        int code = CliApp.Run(args, new StringWriter(), err);
        return (code, err.ToString());
    }

    [Fact]
    public void Serve_RefusesBadOptionsWithOneLine()
    {
        var ckpt = TestPaths.Fixture("sam-tiny", "checkpoint.pth");
        var (code, err) = Run("serve");
        Assert.Equal(2, code);
        Assert.Contains("--run", err);
        (code, err) = Run("serve", "--checkpoint", ckpt, "--host", "0.0.0.0");
        Assert.Equal(2, code);
        Assert.Contains("--token", err);
        (code, err) = Run("serve", "--checkpoint", ckpt, "--host", "not-an-address");
        Assert.Equal(2, code);
        Assert.Contains("--host", err);
        (code, err) = Run("serve", "--checkpoint", ckpt, "--data-root", "/no/such/folder");
        Assert.Equal(2, code);
        Assert.Contains("--data-root", err);
        (code, err) = Run("serve", "--run", "/no/such/run");
        Assert.Equal(2, code);
        Assert.Contains("--run", err);
        foreach (var e in new[] { err }) Assert.DoesNotContain("   at ", e);
    }
}
