using System.Net;
using System.Net.Http.Headers;
using System.Text;
using SamAdapt.Imaging;
using SamAdapt.Inference;
using SamAdapt.Sam;
using SamAdapt.Sam.Prediction;
using SamAdapt.Server.Sessions;
using SamAdapt.Torch;

namespace SamAdapt.Server.Tests;

/// <summary>The HTTP API of `samadapt serve` on a real Kestrel (loopback, free port).</summary>
public class ApiTests(ServerFixture fx) : IClassFixture<ServerFixture>
{
    private static int[] Mask(System.Text.Json.JsonElement slice) =>
        Convert.FromBase64String(slice.GetProperty("mask").GetString()!).Select(b => (int)b).ToArray();

    [Fact]
    public async Task Click_GivesTheMaskSamPredictorGivesForTheSameSliceAndPrompt()
    {
        await using var server = await fx.Start();
        using var c = server.Client();
        var info = await (await c.Post("/api/open", new { path = ServerFixture.Nifti })).Json();
        Assert.Equal([24, 20, 9], info.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()));
        var r = await (await c.Post("/api/prompt", new { slice = 4, points = new[] { new[] { 7.5, 8.5, 1 } } })).Json();
        Assert.Equal(1, r.GetProperty("embedded").GetInt32());
        var served = Mask(r.GetProperty("slices")[0]);
        // a second prompt on the slice reuses the cached embedding
        var r2 = await (await c.Post("/api/prompt", new { slice = 4, points = new[] { new[] { 7.5, 8.5, 1 }, new[] { 18.0, 15.0, 0 } } })).Json();
        Assert.Equal(0, r2.GetProperty("embedded").GetInt32());
        var served2 = Mask(r2.GetProperty("slices")[0]);

        // the reference: the project's SamPredictor on the same grey slice
        var volume = new OpenVolume(VolumeIO.Read(Path.Combine(fx.DataRoot, ServerFixture.Nifti)), "x", null, null);
        var (cfg, _) = SamAdapt.Inference.Segmentation.PromptedSegmentation.ResolveConfig("auto", fx.Checkpoint);
        using var predictor = new SamPredictor(SamCheckpoint.Load(fx.Checkpoint, cfg), SamPreset.Sam, ownsModel: true);
        predictor.SetImage(volume.GreySlice(4), 20, 24, 1);
        var single = predictor.Predict(SamPrompt.Point(7.5, 8.5), multimaskOutput: true);
        int best = Array.IndexOf(single.IouPredictions, single.IouPredictions.Max());
        Assert.Equal(Enumerable.Range(0, 20 * 24).Select(p => single.Masks[best * 480 + p] ? 1 : 0), served);
        var two = predictor.Predict(new SamPrompt { PointCoords = [7.5, 8.5, 18, 15], PointLabels = [1, 0] }, multimaskOutput: false);
        Assert.Equal(Enumerable.Range(0, 480).Select(p => two.Masks[p] ? 1 : 0), served2);
    }

    [Fact]
    public async Task AcceptEraseUndo_EditTheLabelsAndSaveKeepsTheInputGrid()
    {
        await using var server = await fx.Start();
        using var c = server.Client();
        await (await c.Post("/api/open", new { path = ServerFixture.Nifti })).Json();
        var r = await (await c.Post("/api/prompt", new { slice = 2, box = new[] { 3.0, 4.0, 12.0, 12.0 } })).Json();
        var mask = Mask(r.GetProperty("slices")[0]);
        int n = mask.Sum();
        Assert.True(n > 0, "the box prompt gave an empty mask");
        var accepted = await (await c.Post("/api/accept", new { label = 2 })).Json();
        Assert.Equal(n, accepted.GetProperty("changed").GetInt32());
        var raw = await c.GetByteArrayAsync("/api/labels.raw");
        for (int p = 0; p < 480; p++) Assert.Equal(mask[p] == 1 ? 2 : 0, raw[2 * 480 + p]);
        Assert.Equal(n, raw.Count(b => b != 0));
        // nothing pending any more
        Assert.Contains("nothing to accept", await (await c.Post("/api/accept", new { label = 1 })).Error(HttpStatusCode.Conflict));

        // erase a region of the same slice, then undo it
        await (await c.Post("/api/prompt", new { slice = 2, box = new[] { 3.0, 4.0, 12.0, 12.0 } })).Json();
        await (await c.Post("/api/accept", new { label = 0 })).Json();
        Assert.All(await c.GetByteArrayAsync("/api/labels.raw"), b => Assert.Equal(0, b));
        Assert.True((await (await c.Post("/api/undo", new { })).Json()).GetProperty("undone").GetBoolean());
        Assert.Equal(raw, await c.GetByteArrayAsync("/api/labels.raw"));

        // save into the data root: the input's exact grid, label intent, the edited values
        var saved = await (await c.Post("/api/save", new { path = "out/edited.nii.gz", format = "nifti" })).Json();
        Assert.Equal("out/edited.nii.gz", saved.GetProperty("saved").GetString());
        var input = VolumeIO.Read(Path.Combine(fx.DataRoot, ServerFixture.Nifti));
        var output = VolumeIO.Read(Path.Combine(fx.DataRoot, "out", "edited.nii.gz"));
        Assert.Equal(input.Shape, output.Shape);
        for (int i = 0; i < 16; i++) Assert.Equal(input.Affine[i], output.Affine[i], 5);
        Assert.Equal(Volume.IntentLabel, output.IntentCode);
        Assert.Equal(raw, (byte[])output.Data);
        // the download is the same map
        var download = await c.GetByteArrayAsync("/api/download?format=nifti");
        var tmp = Path.Combine(fx.Temp.Path, "download.nii.gz");
        await File.WriteAllBytesAsync(tmp, download);
        Assert.Equal(raw, (byte[])VolumeIO.Read(tmp).Data);
        // no DICOM SEG for a NIfTI input; refused names
        Assert.Contains("DICOM", await (await c.GetAsync("/api/download?format=dicom-seg")).Error(HttpStatusCode.BadRequest));
        Assert.Contains("input volume", await (await c.Post("/api/save", new { path = ServerFixture.Nifti })).Error(HttpStatusCode.Conflict));
    }

    [Fact]
    public async Task DicomInput_SavesADicomSegReferencingTheSeries()
    {
        await using var server = await fx.Start();
        using var c = server.Client();
        var info = await (await c.Post("/api/open", new { path = ServerFixture.Dicom })).Json();
        Assert.True(info.GetProperty("dicom").GetBoolean());
        Assert.Contains("empty", await (await c.GetAsync("/api/download?format=dicom-seg")).Error(HttpStatusCode.Conflict));
        await (await c.Post("/api/prompt", new { slice = 1, box = new[] { 6.0, 6.0, 15.0, 19.0 }, boxSlices = new[] { 0, 3 } })).Json();
        await (await c.Post("/api/accept", new { label = 1 })).Json();
        var bytes = await c.GetByteArrayAsync("/api/download?format=dicom-seg");
        Assert.Equal("DICM"u8.ToArray(), bytes[128..132]);
        Assert.Contains(SamAdapt.Imaging.Dicom.Seg.DicomSegWriter.SegmentationStorage, Encoding.ASCII.GetString(bytes));
        Assert.Contains("1.2.826.0.1.3680043.9.7777.90", Encoding.ASCII.GetString(bytes)); // the referenced series
        var saved = await (await c.Post("/api/save", new { path = "out/series.seg.dcm", format = "dicom-seg" })).Json();
        Assert.True(File.Exists(Path.Combine(fx.DataRoot, "out", "series.seg.dcm")), saved.ToString());
        Assert.Contains("input series", await (await c.Post("/api/save", new { path = "series/x.dcm", format = "dicom-seg" })).Error(HttpStatusCode.Conflict));
    }

    [Fact]
    public async Task DicomFolderWithSeveralSeries_ListsThemAndOpensTheChosenOne()
    {
        await using var server = await fx.Start();
        using var c = server.Client();
        var series = (await (await c.GetAsync($"/api/series?path={ServerFixture.Study}")).Json()).EnumerateArray().ToList();
        Assert.Equal(2, series.Count);
        var t2 = Assert.Single(series, s => s.GetProperty("description").GetString() == "T2 axial");
        Assert.Equal(5, t2.GetProperty("slices").GetInt32());
        Assert.Equal(14, t2.GetProperty("columns").GetInt32());
        Assert.Equal(12, t2.GetProperty("rows").GetInt32());
        // without a choice the open is refused with the series named; with one, that series opens
        var refused = await (await c.Post("/api/open", new { path = ServerFixture.Study })).Error((HttpStatusCode)422);
        Assert.Contains("2 image series", refused);
        Assert.Contains("T2 axial", refused);
        var info = await (await c.Post("/api/open", new { path = ServerFixture.Study, series = t2.GetProperty("id").GetString() })).Json();
        Assert.Equal([14, 12, 5], info.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray());
        Assert.True(info.GetProperty("dicom").GetBoolean());
        // a folder without DICOM files has nothing to choose; the listing never leaves the data root
        Assert.Equal(0, (await (await c.GetAsync("/api/series?path=out")).Json()).GetArrayLength());
        Assert.Equal(HttpStatusCode.Forbidden, (await c.GetAsync("/api/series?path=escape-dir")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await c.GetAsync("/api/series?path=missing")).StatusCode);
    }

    [Fact]
    public async Task Box3D_SegmentsEverySliceOfTheRange()
    {
        await using var server = await fx.Start();
        using var c = server.Client();
        await (await c.Post("/api/open", new { path = ServerFixture.Nifti })).Json();
        var r = await (await c.Post("/api/prompt", new { slice = 3, box = new[] { 2.0, 3.0, 14.0, 13.0 }, boxSlices = new[] { 5, 2 } })).Json();
        Assert.Equal([2, 3, 4, 5], r.GetProperty("slices").EnumerateArray().Select(s => s.GetProperty("slice").GetInt32()));
        Assert.Equal(4, r.GetProperty("embedded").GetInt32());
        Assert.Contains("box", await (await c.Post("/api/prompt", new { slice = 3, points = new[] { new[] { 1.0, 1.0, 1 } }, boxSlices = new[] { 1, 2 } })).Error(HttpStatusCode.BadRequest));
    }

    [Fact]
    public async Task Automatic_StreamsProgressAndGivesTheRunsPrediction()
    {
        await using var server = await fx.Start();
        using var c = server.Client();
        await (await c.Post("/api/open", new { path = ServerFixture.Nifti })).Json();
        await (await c.Post("/api/auto", new { })).Json();
        using var stream = await c.GetStreamAsync("/api/auto/events");
        using var reader = new StreamReader(stream);
        var states = new List<System.Text.Json.JsonElement>();
        while (await reader.ReadLineAsync() is { } line)
            if (line.StartsWith("data: ")) states.Add(System.Text.Json.JsonDocument.Parse(line[6..]).RootElement.Clone());
        Assert.Equal("done", states[^1].GetProperty("state").GetString());
        Assert.Equal(9, states[^1].GetProperty("total").GetInt32());
        var done = states.Select(s => s.GetProperty("done").GetInt32()).ToList();
        Assert.Equal(done.Order(), done); // progress never goes back

        var labels = await c.GetByteArrayAsync("/api/labels.raw");
        using var run = RunLoader.Load(fx.Run, RunWeights.Best, Device.CPU);
        var expected = new VolumePredictor(run.Model, Device.CPU).Predict(VolumeIO.Read(Path.Combine(fx.DataRoot, ServerFixture.Nifti)), "x").Labels;
        Assert.Equal(Enumerable.Range(0, labels.Length).Select(i => (byte)expected.Get(i)), labels);
        // one undo step brings back the empty map
        await (await c.Post("/api/undo", new { })).Json();
        Assert.All(await c.GetByteArrayAsync("/api/labels.raw"), b => Assert.Equal(0, b));
    }

    [Fact]
    public async Task Sessions_DoNotSeeEachOthersVolumesOrEdits()
    {
        await using var server = await fx.Start();
        using var a = server.Client();
        using var b = server.Client();
        await (await a.Post("/api/open", new { path = ServerFixture.Nifti })).Json();
        Assert.Contains("no volume is open", await (await b.GetAsync("/api/labels.raw")).Error(HttpStatusCode.Conflict));
        await (await b.Post("/api/open", new { path = ServerFixture.Dicom })).Json();
        await (await a.Post("/api/prompt", new { slice = 1, box = new[] { 2.0, 2.0, 20.0, 18.0 } })).Json();
        Assert.Contains("nothing to accept", await (await b.Post("/api/accept", new { label = 1 })).Error(HttpStatusCode.Conflict));
        await (await a.Post("/api/accept", new { label = 1 })).Json();
        Assert.All(await b.GetByteArrayAsync("/api/labels.raw"), x => Assert.Equal(0, x));
        var sa = await (await a.GetAsync("/api/session")).Json();
        var sb = await (await b.GetAsync("/api/session")).Json();
        Assert.Equal(ServerFixture.Nifti, sa.GetProperty("volume").GetProperty("name").GetString());
        Assert.Equal(ServerFixture.Dicom, sb.GetProperty("volume").GetProperty("name").GetString());
        Assert.Equal(1, sa.GetProperty("undo").GetInt32());
        Assert.Equal(0, sb.GetProperty("undo").GetInt32());
    }

    [Fact]
    public async Task ConcurrentClients_OnOneModel_GetTheirOwnCorrectMasks()
    {
        await using var server = await fx.Start();
        var clients = Enumerable.Range(0, 6).Select(_ => server.Client()).ToList();
        foreach (var c in clients) await (await c.Post("/api/open", new { path = ServerFixture.Nifti })).Json();
        // sequential answers first, then the same prompts all at once
        var prompts = clients.Select((_, i) => new { slice = 1 + i, points = new[] { new[] { 4.0 + 2 * i, 6.0 + i, 1 } } }).ToList();
        var sequential = new List<int[]>();
        for (int i = 0; i < clients.Count; i++) sequential.Add(Mask((await (await clients[i].Post("/api/prompt", prompts[i])).Json()).GetProperty("slices")[0]));
        var parallel = await Task.WhenAll(clients.Select(async (c, i) =>
            Mask((await (await c.Post("/api/prompt", prompts[i])).Json()).GetProperty("slices")[0])));
        for (int i = 0; i < clients.Count; i++) Assert.Equal(sequential[i], parallel[i]);
        foreach (var c in clients) c.Dispose();
    }

    [Fact]
    public async Task Paths_NeverLeaveTheDataRoot()
    {
        await using var server = await fx.Start();
        using var c = server.Client();
        foreach (var bad in new[] { "../outside/secret.nii.gz", "/etc/passwd", "series/../../outside/secret.nii.gz", "./synth.nii.gz", "a\\..\\b" })
            Assert.Equal(HttpStatusCode.Forbidden, (await c.Post("/api/open", new { path = bad })).StatusCode);
        Assert.Contains("outside the data root", await (await c.Post("/api/open", new { path = "escape-file.nii.gz" })).Error(HttpStatusCode.Forbidden));
        Assert.Contains("outside the data root", await (await c.Post("/api/open", new { path = "escape-dir/secret.nii.gz" })).Error(HttpStatusCode.Forbidden));
        Assert.Contains("outside the data root", await (await c.GetAsync("/api/files?dir=escape-dir")).Error(HttpStatusCode.Forbidden));
        Assert.Equal(HttpStatusCode.Forbidden, (await c.GetAsync("/api/files?dir=..")).StatusCode);
        // the listing shows what lies inside (a link staying inside included), never the links leading out
        var names = (await (await c.GetAsync("/api/files")).Json()).EnumerateArray().Select(e => e.GetProperty("name").GetString()).ToList();
        Assert.Contains(ServerFixture.Nifti, names);
        Assert.Contains("inside-link", names);
        Assert.DoesNotContain("escape-file.nii.gz", names);
        Assert.DoesNotContain("escape-dir", names);
        // saving: not outside, not through a link leading outside
        await (await c.Post("/api/open", new { path = ServerFixture.Nifti })).Json();
        Assert.Equal(HttpStatusCode.Forbidden, (await c.Post("/api/save", new { path = "../x.nii.gz" })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await c.Post("/api/save", new { path = "escape-dir/x.nii.gz" })).StatusCode);
        Assert.False(File.Exists(Path.Combine(fx.Outside, "x.nii.gz")));
        await (await c.Post("/api/save", new { path = "inside-link/via-link.nii.gz" })).Json();
        Assert.True(File.Exists(Path.Combine(fx.DataRoot, "out", "via-link.nii.gz")));
    }

    [Fact]
    public async Task Uploads_AreBoundedInSizeAndType_AndTheServerKeepsServing()
    {
        await using var server = await fx.Start(s => s with { MaxUploadMb = 1 });
        using var c = server.Client();
        static MultipartFormDataContent Form(string name, byte[] bytes)
        {
            var f = new MultipartFormDataContent();
            var part = new ByteArrayContent(bytes);
            part.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            f.Add(part, "files", name);
            return f;
        }
        var big = new byte[3 * 1024 * 1024];
        Assert.Contains("--max-upload-mb", await (await c.PostAsync("/api/upload", Form("big.nii", big))).Error(HttpStatusCode.RequestEntityTooLarge));
        Assert.Equal(415, (int)(await c.PostAsync("/api/upload", Form("notes.nii.gz", Encoding.ASCII.GetBytes("not an image at all")))).StatusCode);
        Assert.Equal(415, (int)(await c.PostAsync("/api/upload", Form("x.exe", [0x4d, 0x5a, 0, 0]))).StatusCode);
        Assert.Contains("multipart", await (await c.PostAsync("/api/upload", new StringContent("{}", Encoding.UTF8, "application/json"))).Error(HttpStatusCode.UnsupportedMediaType));
        // a real volume uploads and opens
        var ok = await (await c.PostAsync("/api/upload", Form("mine.nii.gz", File.ReadAllBytes(Path.Combine(fx.DataRoot, ServerFixture.Nifti))))).Json();
        Assert.Equal("mine.nii.gz", ok.GetProperty("name").GetString());
        // a PNG opens as a one-slice volume and can be prompted
        var png = Path.Combine(fx.Temp.Path, "photo.png");
        VolumeIO.Write(new Volume([40, 30], VoxelType.UInt8, Enumerable.Range(0, 1200).Select(i => (byte)(i % 40 > 20 ? 200 : 30)).ToArray(),
            [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]), png);
        var p = await (await c.PostAsync("/api/upload", Form("photo.png", File.ReadAllBytes(png)))).Json();
        Assert.Equal([40, 30, 1], p.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()));
        var m = await (await c.Post("/api/prompt", new { slice = 0, points = new[] { new[] { 30.0, 15.0, 1 } } })).Json();
        Assert.Equal(1200, Convert.FromBase64String(m.GetProperty("slices")[0].GetProperty("mask").GetString()!).Length);
        // DICOM slices upload together as one series
        var dicom = new MultipartFormDataContent();
        foreach (var f in Directory.GetFiles(Path.Combine(fx.DataRoot, ServerFixture.Dicom)))
            dicom.Add(new ByteArrayContent(File.ReadAllBytes(f)), "files", Path.GetFileName(f));
        var d = await (await c.PostAsync("/api/upload", dicom)).Json();
        Assert.True(d.GetProperty("dicom").GetBoolean());
        Assert.Equal([24, 20, 4], d.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()));
        await (await c.GetAsync("/api/info")).Json();
    }

    [Fact]
    public async Task MalformedRequests_Get4xxWithAMessage_AndTheServerKeepsServing()
    {
        await using var server = await fx.Start();
        using var c = server.Client();
        Assert.Contains("no volume", await (await c.Post("/api/prompt", new { slice = 0, points = new[] { new[] { 1.0, 1.0, 1 } } })).Error(HttpStatusCode.Conflict));
        await (await c.Post("/api/open", new { path = ServerFixture.Nifti })).Json();
        var bad = await c.PostAsync("/api/prompt", new StringContent("{\"slice\": 1, \"points\": [[1, 2", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("slice 99", await (await c.Post("/api/prompt", new { slice = 99, points = new[] { new[] { 1.0, 1.0, 1 } } })).Error(HttpStatusCode.BadRequest));
        Assert.Contains("outside", await (await c.Post("/api/prompt", new { slice = 1, points = new[] { new[] { 100.0, 1.0, 1 } } })).Error(HttpStatusCode.BadRequest));
        Assert.Contains("label 3", await (await c.Post("/api/prompt", new { slice = 1, points = new[] { new[] { 1.0, 1.0, 3 } } })).Error(HttpStatusCode.BadRequest));
        Assert.Contains("[x, y, label]", await (await c.Post("/api/prompt", new { slice = 1, points = new[] { new[] { 1.0 } } })).Error(HttpStatusCode.BadRequest));
        Assert.Contains("box", await (await c.Post("/api/prompt", new { slice = 1, box = new[] { 5.0, 5.0, 1.0, 1.0 } })).Error(HttpStatusCode.BadRequest));
        Assert.Contains("at least one point", await (await c.Post("/api/prompt", new { slice = 1 })).Error(HttpStatusCode.BadRequest));
        Assert.Contains("label 300", await (await c.Post("/api/accept", new { label = 300 })).Error(HttpStatusCode.BadRequest));
        Assert.Contains("format", await (await c.GetAsync("/api/download?format=png")).Error(HttpStatusCode.BadRequest));
        Assert.Contains("nope", await (await c.Post("/api/auto", new { model = "nope" })).Error(HttpStatusCode.NotFound));
        Assert.Contains("no API endpoint", await (await c.GetAsync("/api/nothing-here")).Error(HttpStatusCode.NotFound));
        Assert.Contains("does not exist", await (await c.Post("/api/open", new { path = "missing.nii.gz" })).Error(HttpStatusCode.NotFound));
        File.WriteAllText(Path.Combine(fx.DataRoot, "broken.nii.gz"), "garbage");
        Assert.Equal(422, (int)(await c.Post("/api/open", new { path = "broken.nii.gz" })).StatusCode);
        // still serving, the session still has its volume
        var s = await (await c.GetAsync("/api/session")).Json();
        Assert.Equal(ServerFixture.Nifti, s.GetProperty("volume").GetProperty("name").GetString());
    }

    [Fact]
    public async Task Token_IsRequiredWhenSet_AndMandatoryOffLoopback()
    {
        var e = Assert.Throws<SamAdapt.Common.SettingsException>(() => ServerHost.Create(new ServeSettings { Host = "0.0.0.0", Port = 0, Checkpoint = fx.Checkpoint }));
        Assert.Contains("--token", e.Message);
        await using var server = await fx.Start(s => s with { Host = "0.0.0.0", Token = "s3cret-token" });
        var url = server.Url.Replace("0.0.0.0", "127.0.0.1").Replace("[::]", "127.0.0.1");
        using var none = new HttpClient { BaseAddress = new Uri(url) };
        Assert.Contains("token", await (await none.GetAsync("/api/info")).Error(HttpStatusCode.Unauthorized));
        using var wrong = new HttpClient { BaseAddress = new Uri(url) };
        wrong.DefaultRequestHeaders.Add("X-SamAdapt-Token", "s3cret-tokeN");
        Assert.Equal(HttpStatusCode.Unauthorized, (await wrong.GetAsync("/api/info")).StatusCode);
        using var right = new HttpClient { BaseAddress = new Uri(url) };
        right.DefaultRequestHeaders.Add("X-SamAdapt-Token", "s3cret-token");
        await (await right.GetAsync("/api/info")).Json();
        await (await none.GetAsync("/api/info?token=s3cret-token")).Json();
    }

    [Fact]
    public async Task WithoutToken_OnlyLoopbackHostNamesAreServed()
    {
        await using var server = await fx.Start();
        using var c = server.Client();
        var req = new HttpRequestMessage(HttpMethod.Get, "/api/info");
        req.Headers.Host = "evil.example";
        Assert.Contains("loopback", await (await c.SendAsync(req)).Error(HttpStatusCode.Forbidden));
        await (await c.GetAsync("/api/info")).Json();
    }
}
