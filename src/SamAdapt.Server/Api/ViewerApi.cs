using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using SamAdapt.Server.Models;
using SamAdapt.Server.Security;
using SamAdapt.Server.Sessions;

namespace SamAdapt.Server.Api;

/// <summary>The HTTP API under /api (docs/serve.md, "API"): each endpoint reads its request, calls <see cref="ViewerService"/>
/// and returns JSON (or a file). Errors are turned into { "error": message } by <see cref="ServerHost"/>.</summary>
public static class ViewerApi
{
    public const string SessionCookie = "samadapt_session";

    public static void Map(IEndpointRouteBuilder app, ViewerService svc)
    {
        var api = app.MapGroup("/api");
        api.MapGet("/info", () => Results.Json(new
        {
            interactive = svc.Interactive?.Name,
            automatic = svc.Automatic.Select(m => new { name = m.Name, method = m.Method, classes = m.Classes }),
            classes = Legend(svc),
            dataRoot = svc.Root is not null,
            maxUploadMb = svc.Settings.MaxUploadMb,
        }));
        api.MapGet("/files", (string? dir) => Results.Json(svc.ListFiles(dir)));
        api.MapGet("/series", (string? path) => Results.Json(svc.ListSeries(path)));
        api.MapPost("/open", (HttpContext c, OpenRequest r) =>
            Results.Json(svc.OpenFromRoot(Session(c), r.Path ?? throw new ApiError(400, "open: 'path' is required"), r.Series)));
        api.MapPost("/upload", async (HttpContext c) =>
        {
            if (!c.Request.HasFormContentType) throw new ApiError(415, "upload: expected multipart/form-data with the file(s)");
            var form = await c.Request.ReadFormAsync(c.RequestAborted);
            var files = form.Files.Select(f => (f.FileName, f.OpenReadStream())).ToList();
            try { return Results.Json(await svc.UploadAsync(Session(c), files)); }
            finally { foreach (var (_, s) in files) await s.DisposeAsync(); }
        });
        api.MapGet("/session", (HttpContext c) =>
        {
            var s = Session(c);
            lock (s.Sync)
                return Results.Json(new
                {
                    volume = s.Volume is null ? null : ViewerService.Info(s.Volume),
                    undo = s.Edits?.UndoDepth ?? 0,
                    auto = s.Auto,
                });
        });
        api.MapGet("/volume.nii.gz", (HttpContext c) => Results.File(svc.ImageNifti(Session(c)), "application/gzip", "volume.nii.gz"));
        api.MapGet("/labels.nii.gz", (HttpContext c, bool? pending) =>
            Results.File(svc.LabelsNifti(Session(c), pending == true), "application/gzip", "labels.nii.gz"));
        api.MapGet("/labels.raw", (HttpContext c) => Results.File(svc.LabelsRaw(Session(c)), "application/octet-stream"));
        api.MapPost("/embed", async (HttpContext c, EmbedRequest r) =>
        {
            var (computed, ms) = await svc.EmbedAsync(Session(c), r.Slice, c.RequestAborted);
            return Results.Json(new { slice = r.Slice, computed, serverMs = ms });
        });
        api.MapPost("/prompt", async (HttpContext c, PromptRequest r) =>
        {
            var points = new List<(double, double, int)>();
            foreach (var p in r.Points ?? [])
            {
                if (p is null || p.Length != 3) throw new ApiError(400, "points: each point is [x, y, label]");
                if (p[2] != Math.Floor(p[2])) throw new ApiError(400, $"point label {p[2]}: expected 1 or 0");
                points.Add((p[0], p[1], (int)p[2]));
            }
            (int, int)? range = r.BoxSlices switch
            {
                null => null,
                [var a, var b] => (a, b),
                _ => throw new ApiError(400, "boxSlices: expected [from, to]"),
            };
            return Results.Json(await svc.PromptAsync(Session(c), r.Slice, new SlicePrompt(points, r.Box), range, c.RequestAborted));
        });
        api.MapPost("/accept", (HttpContext c, AcceptRequest r) => Results.Json(new { changed = svc.ApplyPending(Session(c), r.Label) }));
        api.MapPost("/clear", (HttpContext c) => { svc.ClearPending(Session(c)); return Results.Json(new { cleared = true }); });
        api.MapPost("/undo", (HttpContext c) => Results.Json(new { undone = svc.Undo(Session(c)) }));
        api.MapPost("/auto", (HttpContext c, AutoRequest? r) =>
        {
            svc.StartAuto(Session(c), r?.Model);
            return Results.Json(Session(c).Auto);
        });
        api.MapGet("/auto/events", async (HttpContext c) =>
        {
            // server-sent events: the job's state whenever it changes, until it ends (or the page goes away)
            var s = Session(c);
            c.Response.ContentType = "text/event-stream";
            c.Response.Headers.CacheControl = "no-cache";
            AutoJobState? last = null;
            while (!c.RequestAborted.IsCancellationRequested)
            {
                AutoJobState now;
                lock (s.Sync) now = s.Auto;
                if (now != last)
                {
                    await c.Response.WriteAsync($"data: {JsonSerializer.Serialize(now, JsonOptions)}\n\n", c.RequestAborted);
                    await c.Response.Body.FlushAsync(c.RequestAborted);
                    last = now;
                }
                if (now.State is "done" or "error" or "idle") break;
                try { await Task.Delay(200, c.RequestAborted); }
                catch (OperationCanceledException) { break; }
            }
        });
        api.MapGet("/download", (HttpContext c, string? format) =>
        {
            var (bytes, name) = svc.Export(Session(c), format ?? "nifti");
            return Results.File(bytes, name.EndsWith(".dcm") ? "application/dicom" : "application/gzip", name);
        });
        api.MapPost("/save", (HttpContext c, SaveRequest r) =>
            Results.Json(new { saved = svc.SaveToRoot(Session(c), r.Path ?? throw new ApiError(400, "save: 'path' is required"), r.Format ?? "nifti") }));
        api.MapFallback((HttpContext c) => Results.Json(new { error = $"no API endpoint {c.Request.Method} {c.Request.Path}" }, statusCode: 404));
    }

    public static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);

    /// <summary>The legend: every class of the loaded models (value, name, colour); label 1 when no model names any.</summary>
    private static IReadOnlyList<LabelClass> Legend(ViewerService svc)
    {
        var names = svc.ClassNames();
        if (names.Count == 0) return [new LabelClass(1, "label 1", SamAdapt.Imaging.Dicom.Seg.SegmentPalette.Hex(1))];
        return svc.Automatic.SelectMany(m => m.Classes).DistinctBy(c => c.Value).OrderBy(c => c.Value).ToList();
    }

    public static Session Session(HttpContext c) =>
        c.Items[typeof(Session)] as Session ?? throw new InvalidOperationException("session middleware did not run");
}
