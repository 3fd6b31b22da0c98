using System.Numerics;

namespace SamAdapt.Imaging;

public enum Interpolation
{
    /// <summary>Trilinear on physical values; output float32 (unscaled).</summary>
    Linear,
    /// <summary>Nearest neighbour on raw values; output keeps the input type and scaling (labels stay exact).</summary>
    Nearest,
}

/// <summary>
/// Resampling of the first three axes (later axes — time, channels — are carried along frame by frame).
/// Output voxel o samples the input at voxel coordinate inv(A_in)·A_out·o, so every output voxel centre gets the
/// value at its own world position. Samples outside the input (beyond half a voxel past the edge voxel centres)
/// get the fill value (0; raw 0 for nearest); within that half voxel the edge value is used.
/// </summary>
public static class Resampler
{
    /// <summary>
    /// The grid with the given spacing over the same field of view: new size round(n·s/s′) (at least 1), axis
    /// directions unchanged, and the grid centred on the old grid's centre (identical extent when n·s/s′ is whole).
    /// </summary>
    public static (int[] Shape, double[] Affine) SpacingGrid(int[] shape, double[] affine, double[] spacing)
    {
        var (shape3, _, t) = SpacingTransform(shape, affine, spacing);
        return (shape3, Geometry.Multiply(affine, t));
    }

    private static (int[] Shape3, double[] Ratio, double[] T) SpacingTransform(int[] shape, double[] affine, double[] spacing)
    {
        if (spacing.Length != 3 || spacing.Any(s => !(s > 0) || !double.IsFinite(s)))
            throw new ArgumentException($"target spacing must be three positive numbers, got [{string.Join(", ", spacing)}]");
        var n = Orientation.Pad3(shape);
        var old = Geometry.SpacingFromAffine(affine);
        var shape3 = new int[3];
        var ratio = new double[3];
        var t = new double[16];
        t[15] = 1;
        for (int c = 0; c < 3; c++)
        {
            if (!(old[c] > 0)) throw new ArgumentException($"voxel axis {c} has zero length in the affine; cannot resample");
            double extent = n[c] * old[c] / spacing[c];
            shape3[c] = Math.Max(1, (int)Math.Round(extent, MidpointRounding.AwayFromZero));
            ratio[c] = spacing[c] / old[c];
            t[c * 5] = ratio[c];
            t[c * 4 + 3] = (n[c] - 1) / 2.0 - (shape3[c] - 1) / 2.0 * ratio[c];
        }
        return (shape3, ratio, t);
    }

    /// <summary>Resamples to a target voxel spacing (mm), keeping the field of view (see <see cref="SpacingGrid"/>).</summary>
    public static Volume ToSpacing(Volume v, double[] spacing, Interpolation interp)
    {
        var (shape3, _, t) = SpacingTransform(v.Shape, v.Affine, spacing);
        return Resample(v, shape3, Geometry.Multiply(v.Affine, t), t, interp);
    }

    /// <summary>Resamples onto the grid (first three dimensions and affine) of <paramref name="reference"/>.</summary>
    public static Volume Like(Volume v, Volume reference, Interpolation interp)
    {
        var r = ToGrid(v, Orientation.Pad3(reference.Shape)[..3], reference.Affine, interp);
        r.QFormCode = reference.QFormCode; r.SFormCode = reference.SFormCode;
        return r;
    }

    /// <summary>Resamples onto an arbitrary grid: output shape (3 spatial sizes) and voxel → world affine.</summary>
    public static Volume ToGrid(Volume v, int[] shape3, double[] affine, Interpolation interp)
    {
        if (shape3.Length != 3 || shape3.Any(d => d < 1)) throw new ArgumentException("target grid needs three positive sizes");
        if (!Geometry.IsFinite(affine)) throw new ArgumentException("target affine contains NaN or infinite values");
        double[] inv;
        try { inv = Geometry.Inverse(v.Affine); }
        catch (ArgumentException) { throw new InvalidDataException($"{v.Source}: the volume's affine is singular; cannot resample"); }
        return Resample(v, shape3, affine, Geometry.Multiply(inv, affine), interp);
    }

    /// <summary>Core: <paramref name="map"/> takes output voxel indices to input voxel coordinates.</summary>
    public static Volume Resample(Volume v, int[] shape3, double[] outAffine, double[] map, Interpolation interp)
    {
        var inShape = Orientation.Pad3(v.Shape);
        var outShape = shape3.Concat(v.Shape.Skip(3)).ToArray();
        if (v.Shape.Length < 3 && outShape.Skip(v.Shape.Length).All(d => d == 1)) outShape = outShape[..v.Shape.Length];
        long outFrame = (long)shape3[0] * shape3[1] * shape3[2];
        long inFrame = (long)inShape[0] * inShape[1] * inShape[2];
        long frames = v.VoxelCount / inFrame;
        if (outFrame * frames * Volume.ChannelsOf(v.Type) > Array.MaxLength)
            throw new NotSupportedException($"{v.Source}: resampled volume [{string.Join("×", outShape)}] is too large");
        var grid = new Grid(inShape, shape3, map);

        if (interp == Interpolation.Nearest || v.IsRgb)
        {
            var data = Volume.Allocate(v.Type, outFrame * frames);
            int channels = Volume.ChannelsOf(v.Type);
            switch (VoxelBuffer.ElementSize(v.Data))
            {
                case 1: NearestAll<byte>(v.Data, data, grid, frames, channels); break;
                case 2: NearestAll<ushort>(v.Data, data, grid, frames, channels); break;
                case 4: NearestAll<uint>(v.Data, data, grid, frames, channels); break;
                case 8: NearestAll<ulong>(v.Data, data, grid, frames, channels); break;
            }
            return v.With(outShape, v.Type, data, outAffine);
        }

        var result = new float[outFrame * frames];
        bool wide = v.Type is VoxelType.Float64 or VoxelType.Int64 or VoxelType.UInt64 or VoxelType.Int32 or VoxelType.UInt32 || v.IsScaled;
        for (long f = 0; f < frames; f++)
        {
            if (wide)
            {
                var src = new double[inFrame];
                for (long i = 0; i < inFrame; i++) src[i] = v.Get(f * inFrame + i);
                LinearFrame(src, result, f * outFrame, grid);
            }
            else
            {
                var src = new float[inFrame];
                for (long i = 0; i < inFrame; i++) src[i] = (float)v.GetRaw(f * inFrame + i);
                LinearFrame(src, result, f * outFrame, grid);
            }
        }
        var r = v.With(outShape, VoxelType.Float32, result, outAffine, keepScaling: false);
        return r;
    }

    private sealed record Grid(int[] In, int[] Out, double[] Map);

    private static void NearestAll<T>(Array srcArr, Array dstArr, Grid g, long frames, int channels) where T : unmanaged
    {
        // RGB24 has 1-byte elements with 3 channels; others have 1 channel (RGBA32 stored as bytes, 4 channels)
        int nx = g.In[0], ny = g.In[1], nz = g.In[2];
        long inFrame = (long)nx * ny * nz, outFrame = (long)g.Out[0] * g.Out[1] * g.Out[2];
        var m = g.Map;
        Parallel.For(0, g.Out[2], k =>
        {
            var src = VoxelBuffer.As<T>(srcArr);
            var dst = VoxelBuffer.As<T>(dstArr);
            for (int j = 0; j < g.Out[1]; j++)
            {
                long o = ((long)k * g.Out[1] + j) * g.Out[0];
                for (int i = 0; i < g.Out[0]; i++, o++)
                {
                    double x = m[0] * i + m[1] * j + m[2] * k + m[3];
                    double y = m[4] * i + m[5] * j + m[6] * k + m[7];
                    double z = m[8] * i + m[9] * j + m[10] * k + m[11];
                    // round half up, with a tolerance so exact ties do not flip with rounding noise
                    long xi = (long)Math.Floor(x + 0.5 + 1e-9), yi = (long)Math.Floor(y + 0.5 + 1e-9), zi = (long)Math.Floor(z + 0.5 + 1e-9);
                    if (xi < 0 || yi < 0 || zi < 0 || xi >= nx || yi >= ny || zi >= nz) continue; // fill: raw 0
                    long s = xi + nx * (yi + (long)ny * zi);
                    for (long f = 0; f < frames; f++)
                        for (int c = 0; c < channels; c++)
                            dst[(int)((f * outFrame + o) * channels + c)] = src[(int)((f * inFrame + s) * channels + c)];
                }
            }
        });
    }

    private static void LinearFrame<T>(T[] src, float[] dst, long outOffset, Grid g) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int nx = g.In[0], ny = g.In[1], nz = g.In[2];
        var m = g.Map;
        Parallel.For(0, g.Out[2], k =>
        {
            for (int j = 0; j < g.Out[1]; j++)
            {
                long o = outOffset + ((long)k * g.Out[1] + j) * g.Out[0];
                for (int i = 0; i < g.Out[0]; i++, o++)
                {
                    double x = m[0] * i + m[1] * j + m[2] * k + m[3];
                    double y = m[4] * i + m[5] * j + m[6] * k + m[7];
                    double z = m[8] * i + m[9] * j + m[10] * k + m[11];
                    if (!Axis(x, nx, out int x0, out int x1, out double fx) || !Axis(y, ny, out int y0, out int y1, out double fy)
                        || !Axis(z, nz, out int z0, out int z1, out double fz))
                    {
                        dst[o] = 0;
                        continue;
                    }
                    long sy0 = (long)nx * y0, sy1 = (long)nx * y1, sz0 = (long)nx * ny * z0, sz1 = (long)nx * ny * z1;
                    double c000 = double.CreateTruncating(src[x0 + sy0 + sz0]), c100 = double.CreateTruncating(src[x1 + sy0 + sz0]);
                    double c010 = double.CreateTruncating(src[x0 + sy1 + sz0]), c110 = double.CreateTruncating(src[x1 + sy1 + sz0]);
                    double c001 = double.CreateTruncating(src[x0 + sy0 + sz1]), c101 = double.CreateTruncating(src[x1 + sy0 + sz1]);
                    double c011 = double.CreateTruncating(src[x0 + sy1 + sz1]), c111 = double.CreateTruncating(src[x1 + sy1 + sz1]);
                    double c00 = c000 + (c100 - c000) * fx, c10 = c010 + (c110 - c010) * fx;
                    double c01 = c001 + (c101 - c001) * fx, c11 = c011 + (c111 - c011) * fx;
                    double c0 = c00 + (c10 - c00) * fy, c1 = c01 + (c11 - c01) * fy;
                    dst[o] = (float)(c0 + (c1 - c0) * fz);
                }
            }
        });
    }

    /// <summary>Interpolation cell along one axis; false when the coordinate is more than half a voxel outside.</summary>
    private static bool Axis(double x, int n, out int x0, out int x1, out double fx)
    {
        const double eps = 1e-9;
        if (!(x >= -0.5 - eps && x <= n - 0.5 + eps)) { x0 = x1 = 0; fx = 0; return false; }
        if (x <= 0) { x0 = x1 = 0; fx = 0; return true; }
        if (x >= n - 1) { x0 = x1 = n - 1; fx = 0; return true; }
        x0 = (int)Math.Floor(x);
        x1 = x0 + 1;
        fx = x - x0;
        return true;
    }

    // ------------------------------------------------------------------------------------------------ labels

    /// <summary>
    /// Whether a volume looks like a label map: intent_code 1002 (NIFTI_INTENT_LABEL), or integer-valued with at most
    /// 1000 distinct values whose non-zero voxels mostly (≥ 50 %) equal their +i neighbour — piecewise-constant
    /// regions rather than image texture. Such volumes are resampled with nearest neighbour by default.
    /// </summary>
    public static bool LooksLikeLabelMap(Volume v)
    {
        if (v.IntentCode == Volume.IntentLabel) return true;
        if (!v.IsInteger || v.IsRgb) return false;
        var distinct = new HashSet<double>();
        int nx = v.Shape[0];
        long n = v.VoxelCount, nonzero = 0, equal = 0;
        for (long idx = 0; idx < n; idx++)
        {
            double a = v.GetRaw(idx);
            if (distinct.Count <= 1000) distinct.Add(a);
            if (distinct.Count > 1000) return false;
            if (a != 0 && (idx % nx) != nx - 1)
            {
                nonzero++;
                if (v.GetRaw(idx + 1) == a) equal++;
            }
        }
        return nonzero == 0 || equal >= 0.5 * nonzero;
    }

    /// <summary>Nearest for label-like volumes (<see cref="LooksLikeLabelMap"/>), linear otherwise.</summary>
    public static Interpolation DefaultInterpolation(Volume v) => LooksLikeLabelMap(v) ? Interpolation.Nearest : Interpolation.Linear;
}
