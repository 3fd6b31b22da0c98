using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using SamAdapt.Imaging;
using SamAdapt.Sam;
using SamAdapt.Sam.Prediction;
using SamAdapt.Server;
using SamAdapt.Server.Models;
using SamAdapt.Torch;

// bench/serve.sh click [threads] [size] [repeats]          vit_b (random weights) decoder call on a cached slice
// bench/serve.sh load CHECKPOINT [clients] [clicks] [threads]   concurrent clients × clicks through the HTTP API (loopback)
var mode = args.Length > 0 ? args[0] : "click";
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
string P(List<double> ms)
{
    ms.Sort();
    double Q(double q) => ms[Math.Min(ms.Count - 1, (int)Math.Ceiling(q * ms.Count) - 1)];
    return string.Create(CultureInfo.InvariantCulture, $"n={ms.Count} p50={Q(0.5):F1} p90={Q(0.9):F1} p99={Q(0.99):F1} max={ms[^1]:F1} ms");
}
string Load() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "?";

if (mode == "click")
{
    int threads = args.Length > 1 ? int.Parse(args[1]) : 2, size = args.Length > 2 ? int.Parse(args[2]) : 512, repeats = args.Length > 3 ? int.Parse(args[3]) : 30;
    torch.set_num_threads(threads);
    var model = SamCheckpoint.Build("vit_b");
    using var seg = new SamInteractiveSegmenter(model, SamPreset.Sam, "vit_b (random)");
    var rng = new Random(1);
    var grey = new byte[size * size];
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++) grey[y * size + x] = (byte)(((x - size / 2) * (x - size / 2) + (y - size / 3) * (y - size / 3) < size * size / 16 ? 180 : 60) + rng.Next(20));
    var sw = Stopwatch.StartNew();
    using var emb = seg.Embed(grey, size, size);
    Console.WriteLine($"[click] vit_b 1024 encoder on a {size}x{size} slice (once per slice, cached): {sw.Elapsed.TotalMilliseconds:F0} ms, {threads} thread(s); load {Load()}");
    foreach (var (name, prompt) in new[]
             {
                 ("1 point (3 candidates, best IoU)", new SlicePrompt([(size / 2.0, size / 3.0, 1)], null)),
                 ("2 points", new SlicePrompt([(size / 2.0, size / 3.0, 1), (10.0, 10.0, 0)], null)),
                 ("box", new SlicePrompt([], [size * 0.3, size * 0.1, size * 0.7, size * 0.6])),
             })
    {
        for (int w = 0; w < 3; w++) seg.Segment(emb, prompt);
        var ms = new List<double>();
        var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        for (int r = 0; r < repeats; r++)
        {
            sw.Restart();
            seg.Segment(emb, prompt);
            ms.Add(sw.Elapsed.TotalMilliseconds);
        }
        // CPU time of the process per click: what the click costs whatever else the machine runs (with 1 thread, about
        // the wall time the click takes on an idle core)
        var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalMilliseconds / repeats;
        Console.WriteLine($"[click] decoder + mask at {size}x{size}, {name}: {P(ms)}; CPU time {cpu:F1} ms per click");
    }
    Console.WriteLine($"[click] load after: {Load()}");
    return 0;
}

if (mode == "load")
{
    var checkpoint = args[1];
    int clients = args.Length > 2 ? int.Parse(args[2]) : 8, clicks = args.Length > 3 ? int.Parse(args[3]) : 50, threads = args.Length > 4 ? int.Parse(args[4]) : 2;
    torch.set_num_threads(threads);
    var root = Path.Combine(Path.GetTempPath(), "samadapt-serve-bench-" + Environment.ProcessId);
    Directory.CreateDirectory(root);
    try
    {
        int nx = 128, ny = 128, nz = 8;
        var data = new short[nx * ny * nz];
        for (int i = 0; i < data.Length; i++) data[i] = (short)((i % nx - 64) * (i % nx - 64) + (i / nx % ny - 50) * (i / nx % ny - 50) < 900 ? 200 : -300);
        SamAdapt.Imaging.Nifti.NiftiWriter.Write(new Volume([nx, ny, nz], VoxelType.Int16, data, [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1]), Path.Combine(root, "v.nii.gz"));
        await using var host = ServerHost.Create(new ServeSettings { Checkpoint = checkpoint, DataRoot = root, Port = 0 });
        await host.StartAsync();
        Console.WriteLine($"[load] {clients} clients x {clicks} clicks on {host.Url}, model {host.Service.Interactive!.Name}, {threads} libtorch thread(s); load {Load()}");
        var all = new List<double>();
        var serverMs = new List<double>();
        int errors = 0, embeddings = 0;
        var wall = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(async c =>
        {
            using var http = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer() }) { BaseAddress = new Uri(host.Url) };
            (await http.PostAsJsonAsync("/api/open", new { path = "v.nii.gz" })).EnsureSuccessStatusCode();
            var rng = new Random(c);
            for (int k = 0; k < clicks; k++)
            {
                var body = new { slice = rng.Next(nz), points = new[] { new[] { rng.Next(nx) + 0.5, rng.Next(ny) + 0.5, 1.0 } } };
                var sw = Stopwatch.StartNew();
                var r = await http.PostAsJsonAsync("/api/prompt", body);
                var t = sw.Elapsed.TotalMilliseconds;
                if (!r.IsSuccessStatusCode) { Interlocked.Increment(ref errors); continue; }
                var j = await r.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
                lock (all)
                {
                    int e = j.GetProperty("embedded").GetInt32();
                    embeddings += e;
                    if (e == 0) { all.Add(t); serverMs.Add(j.GetProperty("serverMs").GetDouble()); }
                }
            }
        }));
        Console.WriteLine($"[load] {clients * clicks} requests in {wall.Elapsed.TotalSeconds:F1} s, {errors} error(s), {embeddings} embedding(s) computed (first click per session and slice, excluded below)");
        Console.WriteLine($"[load] click round trip (client, cached slice): {P(all)}");
        Console.WriteLine($"[load] server time (queue + model) per click: {P(serverMs)}");
        Console.WriteLine($"[load] load after: {Load()}");
        return errors == 0 ? 0 : 1;
    }
    finally { Directory.Delete(root, true); }
}
Console.Error.WriteLine("usage: bench/serve.sh click [threads] [size] [repeats] | load CHECKPOINT [clients] [clicks] [threads]");
return 2;
