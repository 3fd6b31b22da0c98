namespace SamAdapt.Cli.Tests;

/// <summary>
/// Tests that compare two trainings bit for bit run in this collection: training draws from torch's global CPU generator
/// (dropout, the trainer's manual_seed), which a training in a parallel test class would advance between the two. xunit runs
/// this collection alone, after the parallel ones.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialCollection
{
    public const string Name = "serial: global RNG";
}
