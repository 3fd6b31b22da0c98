using System.CommandLine;
using SamAdapt.Sam.Prediction;
using SamAdapt.Server;

namespace SamAdapt.Cli.Commands;

/// <summary>
/// `samadapt serve [--run RUN_DIR ...] [--checkpoint SAM.pth [--preset medsam]] [--data-root DIR] [--host 127.0.0.1] [--port 8765]
/// [--token TOKEN] [--device cpu|cuda] [--max-upload-mb 1024]`: binds the options to <see cref="ServeSettings"/> and runs
/// <see cref="ServerHost"/> until Ctrl+C (docs/serve.md).
/// </summary>
public sealed class ServeCommand : ICliCommand
{
    public int Order => 75;

    public Command Build()
    {
        var run = new Option<string[]>("--run") { Description = "Run folder(s) of `samadapt train` for automatic prediction (repeat for several)", AllowMultipleArgumentsPerToken = true };
        var checkpoint = new Option<string>("--checkpoint") { Description = "SAM checkpoint (.pth or .safetensors) for clicks and boxes" };
        var model = new Option<string>("--model") { Description = "The checkpoint's configuration: auto (config.json beside it, or inferred), vit_b, vit_l, vit_h or a config .json", DefaultValueFactory = _ => "auto" };
        var preset = new Option<string>("--preset") { Description = "sam or medsam (MedSAM's pre/post-processing)", DefaultValueFactory = _ => "sam" };
        preset.AcceptOnlyFromAmong("sam", "medsam");
        var dataRoot = new Option<string>("--data-root") { Description = "Folder the page may open volumes from and save label maps into (nothing outside it is reachable)" };
        var host = new Option<string>("--host") { Description = "Address to listen on; anything but loopback requires --token", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "TCP port", DefaultValueFactory = _ => 8765 };
        var token = new Option<string>("--token") { Description = "Secret every API call must carry (X-SamAdapt-Token header or ?token=); open the page as http://HOST:PORT/?token=TOKEN" };
        var maxUpload = new Option<int>("--max-upload-mb") { Description = "Largest upload accepted, in MB", DefaultValueFactory = _ => 1024 };
        var runtime = new RuntimeOptions();
        var cmd = new Command("serve", "Web viewer: open volumes, click or box to segment (SAM/MedSAM), run a trained model automatically, edit and save (NIfTI, DICOM SEG).");
        foreach (var o in new Option[] { run, checkpoint, model, preset, dataRoot, host, port, token, maxUpload }) cmd.Options.Add(o);
        runtime.AddTo(cmd);
        cmd.SetAction(async (pr, cancel) =>
        {
            var rt = runtime.Bind(pr);
            if (rt.Bf16 == true) throw new CliException("--bf16: serve runs its models in float32; drop --bf16");
            var s = new ServeSettings
            {
                Runs = pr.GetValue(run) ?? [], Checkpoint = pr.GetValue(checkpoint), CheckpointModel = pr.GetValue(model)!,
                Preset = pr.GetValue(preset) == "medsam" ? SamPreset.MedSam : SamPreset.Sam, DataRoot = pr.GetValue(dataRoot),
                Host = pr.GetValue(host)!, Port = pr.GetValue(port), Token = pr.GetValue(token), Device = rt.Device ?? "cpu",
                MaxUploadMb = pr.GetValue(maxUpload),
            };
            if (s.Runs.Count == 0 && s.Checkpoint is null)
                throw new CliException("serve: expected --run RUN_DIR (automatic) and/or --checkpoint SAM.pth (interactive), found neither");
            SettingsErrors.Run(() => { rt.ApplyThreads(); return 0; });
            var output = pr.InvocationConfiguration.Output;
            await using var server = SettingsErrors.Run(() => ServerHost.Create(s, output));
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            // Ctrl+C and SIGTERM stop the server cleanly (sessions' upload folders removed, models released)
            void Stop(System.Runtime.InteropServices.PosixSignalContext c) { c.Cancel = true; stop.Cancel(); }
            using var sigint = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, Stop);
            using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, Stop);
            await server.StartAsync();
            var url = server.Url.Replace("0.0.0.0", "HOST").Replace("[::]", "HOST");
            output.WriteLine($"serving on {url}/{(s.Token is null ? "" : "?token=…")}  (Ctrl+C to stop)");
            try { await Task.Delay(Timeout.Infinite, stop.Token); }
            catch (OperationCanceledException) { }
            output.WriteLine("stopping");
            return 0;
        });
        return cmd;
    }
}
