using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using SamAdapt.Imaging;
using SamAdapt.Imaging.Tests.Dicom;
using SamAdapt.Methods;
using SamAdapt.Tests;

namespace SamAdapt.Server.Tests;

/// <summary>
/// What the server tests share: a data root (a NIfTI volume, a DICOM series, symbolic links that lead outside it), a tiny
/// MA-SAM run trained once (2 iterations: the numbers do not matter, the plumbing does) and the sam-tiny checkpoint of the
/// fixtures; <see cref="Start"/> runs a server on a free loopback port.
/// </summary>
public sealed class ServerFixture : IDisposable
{
    public TempDir Temp { get; } = TestPaths.NewTempDir();
    public string DataRoot { get; }
    public string Outside { get; }
    public string Run { get; }
    public string Checkpoint { get; } = TestPaths.Fixture("sam-tiny", "checkpoint.pth");
    /// <summary>Data-root relative names.</summary>
    public const string Nifti = "synth.nii.gz", Dicom = "series", Study = "study";

    public ServerFixture()
    {
        SamAdapt.Torch.torch.set_num_threads(1);
        var ds = SyntheticDataset.Write(Temp.Path, 4);
        DataRoot = Path.Combine(Temp.Path, "root");
        Directory.CreateDirectory(DataRoot);
        File.Copy(Path.Combine(ds, "imagesTr", "synth_003_0000.nii.gz"), Path.Combine(DataRoot, Nifti));
        var series = Path.Combine(DataRoot, Dicom);
        Directory.CreateDirectory(series);
        SyntheticDicom.WriteSeries(series, "1.2.826.0.1.3680043.9.7777.90", 20, 24, [1, 0, 0, 0, 1, 0], 0.8, 0.8,
            Enumerable.Range(0, 4).Select(k => new SyntheticDicom.SliceSpec($"s{k}.dcm", [10, -20, 3.0 * k],
                Enumerable.Range(0, 20 * 24).Select(p => (short)(p % 24 > 6 && p % 24 < 15 && p / 24 > 5 ? 100 : -500)).ToArray())));
        // a study exported into one folder: two series that differ in size and slice count
        var study = Path.Combine(DataRoot, Study);
        Directory.CreateDirectory(study);
        SyntheticDicom.WriteSeries(study, "1.2.826.0.1.3680043.9.7777.91", 16, 18, [1, 0, 0, 0, 1, 0], 1.0, 1.0,
            Enumerable.Range(0, 3).Select(k => new SyntheticDicom.SliceSpec($"a{k}.dcm", [0, 0, 2.0 * k],
                Enumerable.Range(0, 16 * 18).Select(p => (short)(p % 18 > 4 && p / 18 > 4 ? 200 : -100)).ToArray())), "T1 sagittal");
        SyntheticDicom.WriteSeries(study, "1.2.826.0.1.3680043.9.7777.92", 12, 14, [1, 0, 0, 0, 1, 0], 1.5, 1.5,
            Enumerable.Range(0, 5).Select(k => new SyntheticDicom.SliceSpec($"b{k}.dcm", [0, 0, 3.0 * k],
                Enumerable.Range(0, 12 * 14).Select(p => (short)(p % 14 < 7 ? 300 : 0)).ToArray())), "T2 axial");
        Directory.CreateDirectory(Path.Combine(DataRoot, "out"));
        Outside = Path.Combine(Temp.Path, "outside");
        Directory.CreateDirectory(Outside);
        File.Copy(Path.Combine(DataRoot, Nifti), Path.Combine(Outside, "secret.nii.gz"));
        File.CreateSymbolicLink(Path.Combine(DataRoot, "escape-file.nii.gz"), Path.Combine(Outside, "secret.nii.gz"));
        Directory.CreateSymbolicLink(Path.Combine(DataRoot, "escape-dir"), Outside);
        Directory.CreateSymbolicLink(Path.Combine(DataRoot, "inside-link"), Path.Combine(DataRoot, "out"));

        Run = Path.Combine(Temp.Path, "run");
        TrainRunner.Run(new TrainSettings
        {
            Out = Run, Dataset = ds, Method = "ma-sam", Model = "tiny", ImageSize = 32, Slices = 3, Intensity = "ct-window:-500,300",
            Iterations = 2, Batch = 2, Warmup = 1, Seed = 7,
        }, new SamAdapt.Methods.TrainOutput(TextWriter.Null, TextWriter.Null, false));
    }

    /// <summary>A running server with the fixture's models and data root, changed by <paramref name="change"/>.</summary>
    public async Task<RunningServer> Start(Func<ServeSettings, ServeSettings>? change = null)
    {
        var s = new ServeSettings
        {
            Runs = [Run], Checkpoint = Checkpoint, DataRoot = DataRoot, Port = 0, StaticRoot = ServerHost.FindStaticRoot(new ServeSettings()),
        };
        if (change is not null) s = change(s);
        var host = ServerHost.Create(s);
        await host.StartAsync();
        return new RunningServer(host);
    }

    public void Dispose() => Temp.Dispose();
}

/// <summary>A started server and clients for it (each client its own cookie jar: its own browser session).</summary>
public sealed class RunningServer(ServerHost host) : IAsyncDisposable
{
    public ServerHost Host { get; } = host;
    public string Url => Host.Url;

    public HttpClient Client(string? token = null)
    {
        var c = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer(), UseCookies = true }) { BaseAddress = new Uri(Url) };
        if (token is not null) c.DefaultRequestHeaders.Add("X-SamAdapt-Token", token);
        return c;
    }

    public ValueTask DisposeAsync() => Host.DisposeAsync();
}

/// <summary>JSON helpers for the API's answers.</summary>
public static class Api
{
    public static async Task<JsonElement> Json(this HttpResponseMessage r, HttpStatusCode expected = HttpStatusCode.OK)
    {
        var text = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == expected, $"{r.RequestMessage?.Method} {r.RequestMessage?.RequestUri}: expected {(int)expected}, got {(int)r.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    public static Task<HttpResponseMessage> Post(this HttpClient c, string path, object body) => c.PostAsJsonAsync(path, body);

    /// <summary>The error message of a refused request, checking its status.</summary>
    public static async Task<string> Error(this HttpResponseMessage r, HttpStatusCode expected)
    {
        var j = await r.Json(expected);
        var e = j.GetProperty("error").GetString()!;
        Assert.DoesNotContain("   at ", e); // never a stack trace
        return e;
    }
}
