namespace SamAdapt.Imaging.Description;

/// <summary>What `samadapt info` reports about a volume (<see cref="VolumeDescriber.Summarize"/>).</summary>
/// <param name="Affine">4×4, row-major.</param>
/// <param name="Min">Smallest scaled value, NaN skipped; null when every value is NaN.</param>
/// <param name="Labels">Sorted distinct values of an integer volume with at most <see cref="VolumeDescriber.MaxLabels"/> of them, else null.</param>
public sealed record VolumeSummary(
    string File, int[] Shape, string DType, double[] Spacing, double[][] Affine, string Orientation,
    double? Min, double? Max, double[]? Labels, Volume Volume);
