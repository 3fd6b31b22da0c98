using System.Globalization;

namespace SamAdapt.Training.Engine.Distributed;

/// <summary>
/// Where this process sits in a multi-process job, read from the launcher's environment: torchrun-style
/// (<c>RANK</c>, <c>WORLD_SIZE</c>, <c>LOCAL_RANK</c>, <c>MASTER_ADDR</c>, <c>MASTER_PORT</c>), or SLURM's
/// (<c>SLURM_PROCID</c>, <c>SLURM_NTASKS</c>, <c>SLURM_LOCALID</c>; the store host from <c>MASTER_ADDR</c>, else
/// <c>SLURM_LAUNCH_NODE_IPADDR</c>). torchrun's variables win where both are set.
/// </summary>
/// <param name="Rank">Global rank (0 hosts the TCP store and writes the run folder).</param>
/// <param name="WorldSize">Number of processes.</param>
/// <param name="LocalRank">Rank on this node (picks the CUDA device: cuda:LOCAL_RANK).</param>
/// <param name="MasterAddr">Address of rank 0's TCP store.</param>
/// <param name="MasterPort">Its port.</param>
public sealed record DistributedSettings(int Rank, int WorldSize, int LocalRank, string MasterAddr, int MasterPort)
{
    public const int DefaultPort = 29500;

    /// <summary>True when the job has more than one process.</summary>
    public bool IsDistributed => WorldSize > 1;

    /// <summary>
    /// The settings the environment describes, or null when it describes none (no WORLD_SIZE / SLURM_NTASKS, or a
    /// world of one). Bad values throw <see cref="FormatException"/> naming the variable, what was expected and found.
    /// </summary>
    public static DistributedSettings? FromEnvironment(Func<string, string?>? env = null)
    {
        env ??= Environment.GetEnvironmentVariable;
        string? Get(params string[] names) => names.Select(env).FirstOrDefault(v => !string.IsNullOrWhiteSpace(v))?.Trim();
        int Int(string what, string? v, int min)
        {
            if (!int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) || n < min)
                throw new FormatException($"environment variable {what}: expected an integer ≥ {min}, found '{v}'");
            return n;
        }
        bool torchrun = Get("WORLD_SIZE") != null;
        var worldText = torchrun ? Get("WORLD_SIZE") : Get("SLURM_NTASKS");
        if (worldText == null) return null;
        int world = Int(torchrun ? "WORLD_SIZE" : "SLURM_NTASKS", worldText, 1);
        if (world == 1) return null;
        string rankVar = torchrun ? "RANK" : "SLURM_PROCID", localVar = torchrun ? "LOCAL_RANK" : "SLURM_LOCALID";
        int rank = Int(rankVar, Get(rankVar) ?? throw new FormatException($"environment variable {rankVar}: expected this process's rank (0..{world - 1}), found nothing (WORLD_SIZE is {world})"), 0);
        if (rank >= world) throw new FormatException($"environment variable {rankVar}: expected 0..{world - 1}, found {rank}");
        int local = Get(localVar) is { } l ? Int(localVar, l, 0) : 0;
        var addr = Get("MASTER_ADDR") ?? (torchrun ? null : Get("SLURM_LAUNCH_NODE_IPADDR"))
                   ?? throw new FormatException($"environment variable MASTER_ADDR: expected the address of rank 0's node, found nothing (a {world}-process job needs it)");
        int port = Get("MASTER_PORT") is { } p ? Int("MASTER_PORT", p, 1) : DefaultPort;
        if (port > 65535) throw new FormatException($"environment variable MASTER_PORT: expected 1..65535, found {port}");
        return new DistributedSettings(rank, world, local, addr, port);
    }

    /// <summary>The variables that describe this rank to a child process (what <see cref="FromEnvironment"/> reads).</summary>
    public IReadOnlyDictionary<string, string> ToEnvironment() => new Dictionary<string, string>
    {
        ["RANK"] = Rank.ToString(CultureInfo.InvariantCulture),
        ["WORLD_SIZE"] = WorldSize.ToString(CultureInfo.InvariantCulture),
        ["LOCAL_RANK"] = LocalRank.ToString(CultureInfo.InvariantCulture),
        ["MASTER_ADDR"] = MasterAddr,
        ["MASTER_PORT"] = MasterPort.ToString(CultureInfo.InvariantCulture),
    };
}
