using SamAdapt.Imaging;

namespace SamAdapt.Evaluation;

/// <summary>
/// An integer label map on a grid: flat data with axis 0 fastest (NIfTI order), a shape of rank 1–3 and the voxel
/// spacing per axis (mm). Volumes with trailing singleton dimensions beyond the third are accepted.
/// </summary>
public sealed class LabelMap
{
    public LabelMap(int[] data, int[] shape, double[] spacing)
    {
        Shape = NormalizeShape(shape);
        long n = 1;
        foreach (var d in Shape) n *= d;
        if (data.LongLength != n) throw new ArgumentException($"label data has {data.Length} elements, shape [{string.Join(",", shape)}] needs {n}");
        SurfaceDistances.CheckSpacing(spacing, Shape.Length);
        Data = data;
        Spacing = spacing[..Shape.Length];
    }

    public int[] Data { get; }
    public int[] Shape { get; }
    public double[] Spacing { get; }
    public int Rank => Shape.Length;

    /// <summary>Millimetres per spatial unit of a NIfTI volume ("mm" → 1, "m"/"meter" → 1000, "um"/"micron" → 0.001; unknown → 1).</summary>
    public static double MillimetresPerUnit(string unit) => unit.Trim().ToLowerInvariant() switch
    {
        "m" or "meter" or "meters" or "metre" or "metres" => 1000.0,
        "um" or "µm" or "micron" or "microns" or "micrometer" or "micrometre" => 0.001,
        _ => 1.0,
    };

    /// <summary>
    /// The label map of a volume: physical values (slope/intercept applied) that must be whole numbers (float volumes
    /// are accepted when every value is within 1e-3 of an integer). Spacing comes from the affine, in mm.
    /// </summary>
    public static LabelMap FromVolume(Volume volume)
    {
        if (volume.Type is VoxelType.Rgb24 or VoxelType.Rgba32)
            throw new InvalidDataException($"{Describe(volume)} is an RGB image, not a label map");
        var shape = NormalizeShape(volume.Shape);
        int[] data;
        if (volume.Data is int[] ints && !volume.IsScaled) data = ints;
        else
        {
            long n = volume.VoxelCount;
            if (n > Array.MaxLength) throw new InvalidDataException($"{Describe(volume)} has too many voxels ({n})");
            data = new int[n];
            for (long i = 0; i < n; i++)
            {
                double v = volume.Get(i);
                double r = Math.Round(v);
                if (!(Math.Abs(v - r) <= 1e-3) || r > int.MaxValue || r < int.MinValue)
                    throw new InvalidDataException($"{Describe(volume)} is not a label map: voxel {i} has value {v}, not an integer label");
                data[i] = (int)r;
            }
        }
        double mm = MillimetresPerUnit(volume.SpatialUnit);
        var sp = volume.Spacing;
        var spacing = new double[shape.Length];
        for (int a = 0; a < shape.Length; a++) spacing[a] = sp[a] * mm;
        return new LabelMap(data, shape, spacing);
    }

    internal static string Describe(Volume v) => v.Source.Length > 0 ? v.Source : "volume";

    /// <summary>Drops trailing singleton dimensions beyond the third; rank must then be 1–3.</summary>
    internal static int[] NormalizeShape(int[] shape)
    {
        int rank = shape.Length;
        while (rank > 3 && shape[rank - 1] == 1) rank--;
        if (rank is < 1 or > 3)
            throw new InvalidDataException($"label maps must be 1D to 3D, got shape [{string.Join(",", shape)}] (take one time point or channel first)");
        var r = shape[..rank];
        foreach (var d in r) if (d < 1) throw new ArgumentException($"dimensions must be >= 1, got [{string.Join(",", shape)}]");
        return r;
    }
}
