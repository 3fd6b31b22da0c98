using SamAdapt.Sam.Prediction;

namespace SamAdapt.Server;

/// <summary>Settings of `samadapt serve` (the verb binds its options here; docs/serve.md).</summary>
public sealed record ServeSettings
{
    /// <summary>--run: run folders whose models predict automatically (each a model named after its folder).</summary>
    public IReadOnlyList<string> Runs { get; init; } = [];
    /// <summary>--checkpoint: a SAM checkpoint for clicks and boxes.</summary>
    public string? Checkpoint { get; init; }
    /// <summary>--model for the checkpoint: auto (config.json beside it or inferred), vit_b/l/h or a config .json.</summary>
    public string CheckpointModel { get; init; } = "auto";
    public SamPreset Preset { get; init; } = SamPreset.Sam;
    /// <summary>--data-root: the folder the page may open volumes from and save into; null: uploads only.</summary>
    public string? DataRoot { get; init; }
    public string Host { get; init; } = "127.0.0.1";
    /// <summary>--port; 0 picks a free port (tests).</summary>
    public int Port { get; init; } = 8765;
    /// <summary>--token: required on every API call when set; mandatory when <see cref="Host"/> is not loopback.</summary>
    public string? Token { get; init; }
    public string Device { get; init; } = "cpu";
    public int MaxUploadMb { get; init; } = 1024;
    /// <summary>Browser sessions kept at once (the least recently used is dropped beyond it).</summary>
    public int MaxSessions { get; init; } = 16;
    /// <summary>The page's static files; null: wwwroot beside the assembly, else the checkout's src/SamAdapt.Server/wwwroot.</summary>
    public string? StaticRoot { get; init; }
}
