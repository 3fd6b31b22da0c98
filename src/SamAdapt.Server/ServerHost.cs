using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Logging;
using SamAdapt.Common;
using SamAdapt.Server.Api;
using SamAdapt.Server.Models;
using SamAdapt.Server.Security;
using SamAdapt.Torch;

namespace SamAdapt.Server;

/// <summary>
/// `samadapt serve` as a library call (docs/serve.md): checks the settings, loads the models, and runs Kestrel with the API,
/// the page's static files, sessions (a cookie), the token check and the error policy (every failure is JSON
/// <c>{ "error": message }</c> with a 4xx/5xx status, never a stack trace).
/// </summary>
public sealed class ServerHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private ServerHost(WebApplication app, ViewerService service)
    {
        _app = app;
        Service = service;
    }

    public ViewerService Service { get; }

    /// <summary>The address it listens on (after <see cref="StartAsync"/>), e.g. http://127.0.0.1:8765.</summary>
    public string Url { get; private set; } = "";

    /// <summary>Checks the settings and loads the models (slow: checkpoints); throws <see cref="SettingsException"/> for bad options.</summary>
    public static ServerHost Create(ServeSettings s, TextWriter? log = null) => Create(s, null, log);

    /// <summary>As <see cref="Create(ServeSettings, TextWriter?)"/> with an interactive model built by the caller (another
    /// <see cref="IInteractiveSegmenter"/>, e.g. MSA, or a model without a checkpoint file); the server owns and disposes it.</summary>
    public static ServerHost Create(ServeSettings s, IInteractiveSegmenter? interactiveModel, TextWriter? log = null)
    {
        var address = ParseHost(s.Host);
        if (!IPAddress.IsLoopback(address) && string.IsNullOrEmpty(s.Token))
            throw new SettingsException($"--host {s.Host}: serving beyond this machine (a non-loopback address) requires --token TOKEN, so only people given the token can use it");
        if (s.Token is { Length: > 0 and < 8 }) throw new SettingsException("--token: expected at least 8 characters");
        if (s.Port is < 0 or > 65535) throw new SettingsException($"--port {s.Port}: expected 0..65535");
        if (s.MaxUploadMb is < 1 or > 1 << 20) throw new SettingsException($"--max-upload-mb {s.MaxUploadMb}: expected 1..1048576");
        if (s.DataRoot is not null && !Directory.Exists(s.DataRoot)) throw new SettingsException($"--data-root: no such folder: {s.DataRoot}");
        if (s.Checkpoint is not null && !File.Exists(s.Checkpoint)) throw new SettingsException($"--checkpoint: no such file: {s.Checkpoint}");
        foreach (var r in s.Runs)
            if (!Directory.Exists(r)) throw new SettingsException($"--run: no such folder: {r}");
        var device = DeviceCheck.Resolve(s.Device);

        IInteractiveSegmenter? interactive = interactiveModel;
        var automatic = new List<AutomaticModel>();
        try
        {
            if (interactive is null && s.Checkpoint is not null)
            {
                interactive = SamInteractiveSegmenter.Load(s.Checkpoint, s.CheckpointModel, s.Preset, device);
                log?.WriteLine($"interactive model: {interactive.Name}");
            }
            foreach (var r in s.Runs)
            {
                var m = new AutomaticModel(r, device);
                if (automatic.Any(x => x.Name == m.Name)) { m.Dispose(); throw new SettingsException($"--run: two run folders are named '{m.Name}'"); }
                automatic.Add(m);
                log?.WriteLine($"automatic model: {m.Name} ({m.Method}; {string.Join(", ", m.Classes.Select(c => c.Name))})");
            }
        }
        catch
        {
            interactive?.Dispose();
            foreach (var m in automatic) m.Dispose();
            throw;
        }
        var service = new ViewerService(s, interactive, automatic);
        return new ServerHost(BuildApp(s, address, service), service);
    }

    public static IPAddress ParseHost(string host)
    {
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase)) return IPAddress.Loopback;
        if (!IPAddress.TryParse(host.Trim('[', ']'), out var a)) throw new SettingsException($"--host {host}: expected an IP address (127.0.0.1, ::1, 0.0.0.0, …) or localhost");
        return a;
    }

    private static WebApplication BuildApp(ServeSettings s, IPAddress address, ViewerService svc)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "SamAdapt.Server", ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(address, s.Port);
            k.Limits.MaxRequestBodySize = (long)s.MaxUploadMb * 1024 * 1024;
            k.AddServerHeader = false;
        });
        builder.Services.Configure<FormOptions>(o =>
        {
            o.MultipartBodyLengthLimit = (long)s.MaxUploadMb * 1024 * 1024;
            o.ValueCountLimit = 4096;
        });
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.CamelCase);
        var app = builder.Build();

        app.Use(async (c, next) =>
        {
            c.Response.Headers.XContentTypeOptions = "nosniff";
            c.Response.Headers["Referrer-Policy"] = "no-referrer";
            c.Response.Headers.XFrameOptions = "DENY";
            c.Response.Headers.ContentSecurityPolicy =
                "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; worker-src 'self' blob:; connect-src 'self' blob: data:; script-src 'self' 'wasm-unsafe-eval'";
            try
            {
                await next(c);
            }
            catch (Exception e) when (!c.Response.HasStarted)
            {
                var (status, message) = Describe(e);
                c.Response.Clear();
                c.Response.StatusCode = status;
                await c.Response.WriteAsJsonAsync(new { error = message });
            }
        });
        // DNS rebinding: without a token, only requests addressed to this machine by a loopback name are served
        app.Use(async (c, next) =>
        {
            if (string.IsNullOrEmpty(s.Token))
            {
                var host = c.Request.Host.Host.Trim('[', ']');
                if (!(host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || (IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip))))
                    throw new ApiError(403, $"host '{c.Request.Host}': without --token the server answers loopback addresses only");
            }
            await next(c);
        });
        app.Use(async (c, next) =>
        {
            if (c.Request.Path.StartsWithSegments("/api"))
            {
                if (!string.IsNullOrEmpty(s.Token))
                {
                    var given = c.Request.Headers["X-SamAdapt-Token"].FirstOrDefault() ?? c.Request.Query["token"].FirstOrDefault() ?? "";
                    if (!CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given), Encoding.UTF8.GetBytes(s.Token)))
                        throw new ApiError(401, "this server requires its token (X-SamAdapt-Token header or ?token=)");
                }
                var id = c.Request.Cookies[ViewerApi.SessionCookie];
                var session = svc.Sessions.GetOrCreate(id);
                if (session.Id != id)
                    c.Response.Cookies.Append(ViewerApi.SessionCookie, session.Id, new CookieOptions { HttpOnly = true, SameSite = SameSiteMode.Strict, Path = "/" });
                c.Items[typeof(Sessions.Session)] = session;
            }
            await next(c);
        });

        var staticRoot = FindStaticRoot(s);
        if (staticRoot is not null)
        {
            var files = new PhysicalFileProvider(staticRoot);
            app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files });
            app.UseStaticFiles(new StaticFileOptions { FileProvider = files });
        }
        else
        {
            app.MapGet("/", () => Results.Text("The viewer page is not built: run ./build.sh web (it bundles NiiVue from web/ into src/SamAdapt.Server/wwwroot). The API under /api works.", "text/plain", statusCode: 503));
        }
        ViewerApi.Map(app, svc);
        return app;
    }

    /// <summary>The page's files: <see cref="ServeSettings.StaticRoot"/>, wwwroot beside the assembly, or the checkout's src/SamAdapt.Server/wwwroot.</summary>
    public static string? FindStaticRoot(ServeSettings s)
    {
        if (s.StaticRoot is not null) return Directory.Exists(s.StaticRoot) ? Path.GetFullPath(s.StaticRoot) : null;
        var beside = Path.Combine(AppContext.BaseDirectory, "wwwroot");
        if (File.Exists(Path.Combine(beside, "index.html"))) return beside;
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            var w = Path.Combine(d.FullName, "src", "SamAdapt.Server", "wwwroot");
            if (File.Exists(Path.Combine(w, "index.html"))) return w;
        }
        return null;
    }

    /// <summary>HTTP status and message of a failure; never a stack trace.</summary>
    internal static (int Status, string Message) Describe(Exception e) => e switch
    {
        ApiError a => (a.Status, a.Message),
        PathOutsideRootException p => (403, p.Message),
        ServerBusyException b => (503, b.Message),
        BadHttpRequestException { StatusCode: 413 } => (413, "the upload is larger than --max-upload-mb allows"),
        InvalidDataException { Message: var m } when m.Contains("Multipart body length limit", StringComparison.Ordinal) => (413, "the upload is larger than --max-upload-mb allows"),
        BadHttpRequestException b => (b.StatusCode, $"malformed request: {b.Message}"),
        JsonException j => (400, $"malformed JSON: {j.Message}"),
        SettingsException or ArgumentException or FormatException => (400, e.Message),
        IOException or UnauthorizedAccessException => (422, e.Message),
        _ => (500, $"internal error ({e.GetType().Name}); the server keeps running — see the server's console"),
    };


    public async Task StartAsync()
    {
        await _app.StartAsync().ConfigureAwait(false);
        var addresses = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses;
        Url = addresses?.FirstOrDefault() ?? "";
    }

    /// <summary>Runs until <paramref name="cancel"/> (Ctrl+C in the CLI).</summary>
    public async Task RunAsync(CancellationToken cancel)
    {
        await StartAsync().ConfigureAwait(false);
        try { await Task.Delay(Timeout.Infinite, cancel).ConfigureAwait(false); }
        catch (OperationCanceledException) { }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        Service.Dispose();
    }
}
