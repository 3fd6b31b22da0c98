using SamAdapt.Imaging.Npy;
using SamAdapt.Torch;

namespace SamAdapt.Tests;

/// <summary>
/// What every golden-fixture test does with the reference's arrays: turn a .npy array into a tensor and check a result against it
/// by the relative error ‖a − b‖ / ‖b‖ (float64 accumulation) within the fixtures' bound. Shared by the sam-tiny, ma-sam-tiny,
/// msa-tiny and masksam-tiny fixtures (each keeps its own paths and JSON).
/// </summary>
internal static class FixtureArrays
{
    /// <summary>The fixtures' tolerance (relative).</summary>
    public const double Bound = 1e-4;

    /// <summary>An array as a tensor: float32 and float64 as stored, integers as int64.</summary>
    public static Tensor ToTensor(NpyArray a) => a.DType switch
    {
        NpyDType.Float32 => Tensor.FromArray<float>(a.AsFloat32(), a.Shape),
        NpyDType.Float64 => Tensor.FromArray<double>(a.AsFloat64(), a.Shape),
        _ => Tensor.FromArray<long>(a.AsInt64(), a.Shape),
    };

    /// <summary>‖a − b‖ / ‖b‖ over float32 arrays (computed in float64).</summary>
    public static double RelativeError(float[] actual, float[] expected)
    {
        Assert.Equal(expected.Length, actual.Length);
        double num = 0, den = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = (double)actual[i] - expected[i];
            num += d * d;
            den += (double)expected[i] * expected[i];
        }
        return Math.Sqrt(num) / Math.Max(Math.Sqrt(den), 1e-30);
    }

    /// <summary>‖a − b‖ / ‖b‖ over float64 arrays.</summary>
    public static double RelativeError(double[] actual, double[] expected)
    {
        Assert.Equal(expected.Length, actual.Length);
        double num = 0, den = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            double d = actual[i] - expected[i];
            num += d * d;
            den += expected[i] * expected[i];
        }
        return Math.Sqrt(num) / Math.Max(Math.Sqrt(den), 1e-30);
    }

    /// <summary>Asserts <paramref name="rel"/> ≤ <see cref="Bound"/> (logging it) and returns it.</summary>
    public static double AssertWithinBound(string what, double rel, Action<string>? log = null)
    {
        log?.Invoke($"{what}: rel {rel:E2}");
        Assert.True(rel <= Bound, $"{what}: relative error {rel:E3} exceeds {Bound:E0}");
        return rel;
    }

    /// <summary>Asserts equal shapes and a relative error within <see cref="Bound"/>; returns the relative error.</summary>
    public static double AssertClose(string what, float[] actual, long[] actualShape, float[] expected, long[] expectedShape, Action<string>? log = null)
    {
        Assert.Equal(expectedShape, actualShape);
        return AssertWithinBound(what, RelativeError(actual, expected), log);
    }

    /// <summary><see cref="AssertClose(string, float[], long[], float[], long[], Action{string}?)"/> for a tensor (detached, any layout).</summary>
    public static double AssertClose(string what, Tensor actual, NpyArray expected, Action<string>? log = null) =>
        AssertClose(what, actual.detach().contiguous().ToArray<float>(), actual.shape, expected.AsFloat32(), expected.Shape, log);
}
