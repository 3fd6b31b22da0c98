using System.CommandLine;
using SamAdapt.Methods;

namespace SamAdapt.Cli;

/// <summary>
/// The options every compute verb shares, defined once: --device, --threads, --bf16. A verb adds them with <see cref="AddTo"/>
/// and reads them with <see cref="Bind"/> into <see cref="RuntimeSettings"/>.
/// </summary>
internal sealed class RuntimeOptions
{
    public Option<string?> Device { get; }
    public Option<int> Threads { get; }
    public Option<bool> Bf16 { get; }

    /// <param name="defaultThreads">The verb's --threads default (0: libtorch's own, one per core).</param>
    /// <param name="defaultDevice">Shown in the help; null leaves the choice to the verb (e.g. a resumed run's device).</param>
    public RuntimeOptions(int defaultThreads = 0, string? defaultDevice = "cpu")
    {
        Device = new Option<string?>("--device") { Description = $"cpu or cuda[:N]{(defaultDevice is null ? " (default cpu)" : "")}" };
        if (defaultDevice is not null) Device.DefaultValueFactory = _ => defaultDevice;
        Threads = new Option<int>("--threads")
        {
            Description = "libtorch intra-op CPU threads (0: libtorch's default, one per core). Small models on a busy machine run faster with 1",
            DefaultValueFactory = _ => defaultThreads,
        };
        Bf16 = new Option<bool>("--bf16") { Description = "bfloat16 autocast (CUDA)" };
    }

    public void AddTo(Command command)
    {
        command.Options.Add(Device);
        command.Options.Add(Threads);
        command.Options.Add(Bf16);
    }

    /// <summary>The values given (an absent --bf16 is null, so a resumed run keeps its own).</summary>
    public RuntimeSettings Bind(ParseResult pr) => new()
    {
        Device = pr.GetValue(Device),
        Threads = pr.GetValue(Threads),
        Bf16 = pr.GetResult(Bf16) is null ? null : pr.GetValue(Bf16),
    };
}
