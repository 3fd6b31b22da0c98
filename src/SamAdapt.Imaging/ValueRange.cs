using System.Numerics;
using System.Runtime.InteropServices;
using SamAdapt.Imaging.Datasets;

namespace SamAdapt.Imaging;

/// <summary>The one min/max scan of the project (NaN values are skipped).</summary>
public static class ValueRange
{
    /// <summary>Smallest and largest value of <paramref name="values"/>; an empty input is an <see cref="ArgumentException"/>.</summary>
    public static (T Min, T Max) Of<T>(ReadOnlySpan<T> values) where T : INumber<T>
    {
        if (values.IsEmpty) throw new ArgumentException("the min/max of no values is undefined");
        T lo = values[0], hi = values[0];
        foreach (var v in values)
        {
            if (T.IsNaN(lo)) { lo = v; hi = v; continue; }
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
        return (lo, hi);
    }

    /// <summary>Smallest and largest value of a 2-D array (e.g. a slice).</summary>
    public static (T Min, T Max) Of<T>(T[,] values) where T : INumber<T> =>
        Of<T>(MemoryMarshal.CreateReadOnlySpan(ref values[0, 0], values.Length));

    /// <summary>Smallest and largest value of a voxel array of any supported element type, as doubles.</summary>
    public static (double Min, double Max) Of(Array values)
    {
        if (values.Length == 0) throw new ArgumentException("the min/max of no values is undefined");
        double lo = double.MaxValue, hi = double.MinValue;
        for (long i = 0; i < values.LongLength; i++)
        {
            var v = VoxelValues.Get(values, i);
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
        return (lo, hi);
    }
}
