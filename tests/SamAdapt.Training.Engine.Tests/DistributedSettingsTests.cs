using SamAdapt.Torch;
using SamAdapt.Training.Engine.Distributed;
using SamAdapt.Training.Engine.TestHost;

namespace SamAdapt.Training.Engine.Tests;

public class DistributedSettingsTests
{
    private static Func<string, string?> Env(params (string Key, string Value)[] vars)
    {
        var d = vars.ToDictionary(v => v.Key, v => v.Value);
        return k => d.GetValueOrDefault(k);
    }

    [Fact]
    public void Torchrun_variables_describe_the_rank()
    {
        var s = DistributedSettings.FromEnvironment(Env(("RANK", "3"), ("WORLD_SIZE", "4"), ("LOCAL_RANK", "1"), ("MASTER_ADDR", "10.0.0.5"), ("MASTER_PORT", "29600")));
        Assert.Equal(new DistributedSettings(3, 4, 1, "10.0.0.5", 29600), s);
        // and round-trip through the environment a launcher gives its workers
        var back = DistributedSettings.FromEnvironment(k => s!.ToEnvironment().GetValueOrDefault(k));
        Assert.Equal(s, back);
    }

    [Fact]
    public void Slurm_variables_are_read_when_torchrun_s_are_absent()
    {
        var s = DistributedSettings.FromEnvironment(Env(("SLURM_PROCID", "5"), ("SLURM_NTASKS", "8"), ("SLURM_LOCALID", "1"), ("SLURM_LAUNCH_NODE_IPADDR", "10.1.2.3")));
        Assert.Equal(new DistributedSettings(5, 8, 1, "10.1.2.3", DistributedSettings.DefaultPort), s);
        // MASTER_ADDR/PORT win over SLURM's launch node
        var t = DistributedSettings.FromEnvironment(Env(("SLURM_PROCID", "0"), ("SLURM_NTASKS", "2"), ("SLURM_LAUNCH_NODE_IPADDR", "10.1.2.3"), ("MASTER_ADDR", "node1"), ("MASTER_PORT", "4000")));
        Assert.Equal(("node1", 4000), (t!.MasterAddr, t.MasterPort));
    }

    [Fact]
    public void No_job_or_a_world_of_one_is_a_single_process()
    {
        Assert.Null(DistributedSettings.FromEnvironment(Env()));
        Assert.Null(DistributedSettings.FromEnvironment(Env(("RANK", "0"), ("WORLD_SIZE", "1"))));
        Assert.Null(DistributedSettings.FromEnvironment(Env(("SLURM_NTASKS", "1"), ("SLURM_PROCID", "0"))));
    }

    [Theory]
    [InlineData("RANK", "2", "WORLD_SIZE", "2", "expected 0..1, found 2")]
    [InlineData("RANK", "x", "WORLD_SIZE", "2", "RANK: expected an integer")]
    [InlineData("RANK", "0", "WORLD_SIZE", "two", "WORLD_SIZE: expected an integer")]
    public void Bad_values_name_the_variable_what_was_expected_and_found(string k1, string v1, string k2, string v2, string message)
    {
        var e = Assert.Throws<FormatException>(() => DistributedSettings.FromEnvironment(Env((k1, v1), (k2, v2), ("MASTER_ADDR", "h"))));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void A_multi_process_job_without_a_store_address_is_refused()
    {
        var e = Assert.Throws<FormatException>(() => DistributedSettings.FromEnvironment(Env(("RANK", "0"), ("WORLD_SIZE", "2"))));
        Assert.Contains("MASTER_ADDR", e.Message);
        var p = Assert.Throws<FormatException>(() => DistributedSettings.FromEnvironment(Env(("RANK", "0"), ("WORLD_SIZE", "2"), ("MASTER_ADDR", "h"), ("MASTER_PORT", "70000"))));
        Assert.Contains("70000", p.Message);
    }

    [Fact]
    public void Launcher_arguments_drop_the_nproc_option_in_both_spellings()
    {
        Assert.Equal(["train", "--out", "r", "--batch", "4"], LocalLauncher.ArgumentsWithout(["train", "--nproc", "2", "--out", "r", "--batch", "4"], "--nproc"));
        Assert.Equal(["train", "--out", "r"], LocalLauncher.ArgumentsWithout(["train", "--out", "r", "--nproc=3"], "--nproc"));
    }
}

public class ShardedBatchSourceTests
{
    [Fact]
    public void Shards_are_disjoint_ordered_parts_of_the_global_batch()
    {
        using var scope = DisposeScope.Begin();
        var global = new SyntheticSource(seed: 3, batchSize: 6, size: 16, batches: 2);
        using var whole = global.GetBatch(1, 1);
        var parts = Enumerable.Range(0, 3).Select(r => new ShardedBatchSource(global, r, 3).GetBatch(1, 1)).ToList();
        Assert.All(parts, p => Assert.Equal(new long[] { 2, 1, 16, 16 }, p.Input.shape));
        Assert.All(parts, p => Assert.Equal(2, p.Slices));
        Assert.True(torch.equal(whole.Input, torch.cat(parts.Select(p => p.Input).ToArray(), 0)));
        Assert.True(torch.equal(whole.Target, torch.cat(parts.Select(p => p.Target).ToArray(), 0)));
        Assert.False(torch.equal(parts[0].Input, parts[1].Input));
        Assert.Equal(global.BatchesPerEpoch, new ShardedBatchSource(global, 0, 3).BatchesPerEpoch);
        foreach (var p in parts) p.Dispose();
    }

    [Fact]
    public void A_batch_that_does_not_split_evenly_is_refused_with_advice()
    {
        var global = new SyntheticSource(seed: 3, batchSize: 5, size: 16, batches: 1);
        var e = Assert.Throws<TrainingException>(() => new ShardedBatchSource(global, 0, 2).GetBatch(0, 0));
        Assert.Contains("multiple of the process count", e.Message);
    }
}
