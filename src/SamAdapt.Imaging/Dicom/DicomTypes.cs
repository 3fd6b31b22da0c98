namespace SamAdapt.Imaging.Dicom;

/// <summary>One image series found in a folder: the files of one SeriesInstanceUID that share orientation, matrix
/// size, pixel spacing and echo number. A SeriesInstanceUID whose files differ in those is split into several
/// entries whose <see cref="Id"/> is the UID followed by <c>#1</c>, <c>#2</c>, ….</summary>
public sealed record DicomSeriesInfo(
    string Id,
    string SeriesInstanceUid,
    string Modality,
    string Description,
    int Rows,
    int Columns,
    IReadOnlyList<string> Files,
    string? Problem)
{
    public int SliceCount => Files.Count;

    /// <summary>One line for listings and error messages.</summary>
    public string Summary =>
        $"{Id}  {(Modality.Length > 0 ? Modality : "?")}  \"{Description}\"  {Columns}x{Rows}  {SliceCount} file(s)" +
        (Problem is null ? "" : $"  [{Problem}]");
}

/// <summary>Options of <see cref="DicomSeriesReader"/>.</summary>
public sealed class DicomReadOptions
{
    /// <summary>Also scan sub-folders.</summary>
    public bool Recursive { get; init; }

    /// <summary>
    /// Accept gantry-tilted acquisitions (slice positions that move in-plane from slice to slice). The result is then
    /// exact but sheared: the affine's third column is the measured slice-to-slice step, not the slice normal, so
    /// every voxel still maps to its true position. Tools that demand orthonormal directions (ITK, Slicer) reject such
    /// affines; resample before handing the volume to them. Off by default: a tilted series is an error.
    /// </summary>
    public bool AllowGantryTilt { get; init; }

    /// <summary>Allowed deviation of each slice gap from the mean gap, as a fraction of the mean gap (default 1 %).</summary>
    public double SliceSpacingTolerance { get; init; } = 0.01;

    /// <summary>Allowed in-plane deviation of a slice position from the line the slices should lie on, as a fraction
    /// of the smaller pixel spacing (default 5 %). Larger deviations are reported as gantry tilt.</summary>
    public double InPlaneTolerance { get; init; } = 0.05;

    public static DicomReadOptions Default { get; } = new();
}

/// <summary>A DICOM folder or series that cannot be turned into a volume: no images, ambiguous series, non-uniform
/// slice spacing, gantry tilt, undecodable pixel data, … The message names the folder or file. (An IOException, as
/// InvalidDataException is sealed; the CLI reports both as one-line user errors.)</summary>
public sealed class DicomSeriesException : IOException
{
    public DicomSeriesException(string message) : base(message) { }
    public DicomSeriesException(string message, Exception inner) : base(message, inner) { }
}
