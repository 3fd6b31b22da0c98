namespace SamAdapt.Imaging.Datasets;

/// <summary>
/// `dataset check` as a library call: loads a dataset folder (nnU-Net v2 raw or MSD) and validates every case
/// (<see cref="DatasetValidator"/>). Front ends render <see cref="Report"/> and list <see cref="Problems"/>;
/// <see cref="Failure"/> is the one-line verdict (the CLI: exit 2).
/// </summary>
public sealed record DatasetCheck(SegmentationDataset Dataset, DatasetReport Report)
{
    public static DatasetCheck Run(string root, DatasetValidator? validator = null)
    {
        var ds = SegmentationDataset.Load(root);
        return new DatasetCheck(ds, (validator ?? new DatasetValidator()).Validate(ds));
    }

    public IReadOnlyList<DatasetProblem> Problems => [.. Report.AllProblems];

    /// <summary>The one-line verdict when there are problems ("{root}: N problem(s) in the dataset …"); null when there are none.</summary>
    public string? Failure(string root)
    {
        int n = Report.AllProblems.Count();
        return n == 0 ? null : $"{root}: {n} problem(s) in the dataset (listed above); fix them before training";
    }
}
