namespace SamAdapt.Imaging;

/// <summary>
/// Axis codes and exact reorientation. A code such as "RAS" names, for voxel axes i, j, k in turn, the world
/// direction each axis increases towards (R/L = +x/−x, A/P = +y/−y, S/I = +z/−z in RAS world coordinates),
/// as nibabel's <c>aff2axcodes</c> does. DICOM's usual "LPS" is such a code too.
/// </summary>
public static class Orientation
{
    private static readonly char[] Positive = ['R', 'A', 'S'];
    private static readonly char[] Negative = ['L', 'P', 'I'];

    /// <summary>For each voxel axis (i, j, k): the world axis (0 = x, 1 = y, 2 = z) it is closest to and the sign (±1).</summary>
    public static (int Axis, int Sign)[] AxisMapping(double[] affine)
    {
        if (!Geometry.IsFinite(affine)) throw new ArgumentException("affine contains NaN or infinite values");
        var m = Geometry.Linear(affine);
        var zooms = Geometry.SpacingFromAffine(affine);
        var r = new double[9];
        for (int row = 0; row < 3; row++)
            for (int col = 0; col < 3; col++)
                r[row * 3 + col] = zooms[col] > 0 ? m[row * 3 + col] / zooms[col] : 0;
        // nearest orthogonal matrix, so strongly oblique/sheared axes are assigned consistently
        try { r = Geometry.PolarOrthogonal(r); } catch (ArgumentException) { /* singular: use normalised columns as they are */ }
        var result = new (int, int)[3];
        var rowUsed = new bool[3];
        var colUsed = new bool[3];
        for (int step = 0; step < 3; step++)
        {
            int br = -1, bc = -1; double best = -1;
            for (int col = 0; col < 3; col++)
            {
                if (colUsed[col]) continue;
                for (int row = 0; row < 3; row++)
                {
                    if (rowUsed[row]) continue;
                    double a = Math.Abs(r[row * 3 + col]);
                    if (a > best) { best = a; br = row; bc = col; }
                }
            }
            rowUsed[br] = true; colUsed[bc] = true;
            result[bc] = (br, r[br * 3 + bc] < 0 ? -1 : 1);
        }
        return result;
    }

    /// <summary>The three-letter axis code of an affine, e.g. "RAS", "LPS", "LAS".</summary>
    public static string AxisCodes(double[] affine) =>
        new(AxisMapping(affine).Select(a => a.Sign > 0 ? Positive[a.Axis] : Negative[a.Axis]).ToArray());

    /// <summary>Parses a code like "RAS"/"lps" into per-voxel-axis (world axis, sign); rejects repeated or unknown letters.</summary>
    public static (int Axis, int Sign)[] ParseCode(string code)
    {
        var c = code.Trim().ToUpperInvariant();
        if (c.Length != 3) throw new FormatException($"orientation code '{code}' must have three letters, one of R/L, A/P, S/I each (e.g. RAS, LPS)");
        var r = new (int, int)[3];
        var seen = new bool[3];
        for (int i = 0; i < 3; i++)
        {
            int p = Array.IndexOf(Positive, c[i]), n = Array.IndexOf(Negative, c[i]);
            int axis = p >= 0 ? p : n;
            if (axis < 0) throw new FormatException($"orientation code '{code}': '{c[i]}' is not one of R, L, A, P, S, I");
            if (seen[axis]) throw new FormatException($"orientation code '{code}' names the {"xyz"[axis]} axis twice");
            seen[axis] = true;
            r[i] = (axis, p >= 0 ? 1 : -1);
        }
        return r;
    }

    /// <summary>
    /// Permutes/flips the first three voxel axes so that the volume's axis code becomes <paramref name="code"/>.
    /// Every voxel keeps its world coordinate: the affine is updated with exact ±1 / (n−1) terms. Later dimensions
    /// (time, channels) are carried along. Rank &lt; 3 volumes come back 3-D.
    /// </summary>
    public static Volume Reorient(Volume v, string code)
    {
        var target = ParseCode(code);
        var current = AxisMapping(v.Affine);
        var perm = new int[3];
        var flip = new bool[3];
        for (int n = 0; n < 3; n++)
        {
            int m = Array.FindIndex(current, c => c.Axis == target[n].Axis);
            perm[n] = m;
            flip[n] = current[m].Sign != target[n].Sign;
        }
        return Permute(v, perm, flip);
    }

    /// <summary>
    /// Output voxel axis n is input axis <paramref name="perm"/>[n], reversed when <paramref name="flip"/>[n].
    /// </summary>
    public static Volume Permute(Volume v, int[] perm, bool[] flip)
    {
        if (perm.Length != 3 || flip.Length != 3 || perm.Distinct().Count() != 3 || perm.Any(p => p is < 0 or > 2))
            throw new ArgumentException("perm must be a permutation of 0, 1, 2 and flip must have three entries");
        var inShape = Pad3(v.Shape);
        bool identity = perm[0] == 0 && perm[1] == 1 && perm[2] == 2 && !flip.Any(f => f);
        if (identity && v.Shape.Length >= 3) return v.Clone();

        // affine: in-index[perm[n]] = flip ? (N−1) − out[n] : out[n]
        var t = new double[16];
        t[15] = 1;
        for (int n = 0; n < 3; n++)
        {
            int m = perm[n];
            t[m * 4 + n] = flip[n] ? -1 : 1;
            t[m * 4 + 3] = flip[n] ? inShape[m] - 1 : 0;
        }
        var affine = Geometry.Multiply(v.Affine, t);

        var outShape = (int[])inShape.Clone();
        for (int n = 0; n < 3; n++) outShape[n] = inShape[perm[n]];
        long frame = (long)inShape[0] * inShape[1] * inShape[2];
        long frames = v.VoxelCount / frame;
        var inStride = new long[] { 1, inShape[0], (long)inShape[0] * inShape[1] };
        var step = new long[3];
        long start = 0;
        for (int n = 0; n < 3; n++)
        {
            int m = perm[n];
            step[n] = flip[n] ? -inStride[m] : inStride[m];
            if (flip[n]) start += (inShape[m] - 1) * inStride[m];
        }
        var data = Volume.Allocate(v.Type, v.VoxelCount);
        int channels = Volume.ChannelsOf(v.Type);
        switch (VoxelBuffer.ElementSize(v.Data) * channels)
        {
            case 1: Copy(VoxelBuffer.As<byte>(v.Data), VoxelBuffer.As<byte>(data), outShape, frames, frame, start, step); break;
            case 2: Copy(VoxelBuffer.As<ushort>(v.Data), VoxelBuffer.As<ushort>(data), outShape, frames, frame, start, step); break;
            case 3: Copy(VoxelBuffer.As<Rgb>(v.Data), VoxelBuffer.As<Rgb>(data), outShape, frames, frame, start, step); break;
            case 4: Copy(VoxelBuffer.As<uint>(v.Data), VoxelBuffer.As<uint>(data), outShape, frames, frame, start, step); break;
            case 8: Copy(VoxelBuffer.As<ulong>(v.Data), VoxelBuffer.As<ulong>(data), outShape, frames, frame, start, step); break;
            default: throw new InvalidOperationException("unexpected voxel size");
        }
        var r = v.With(outShape, v.Type, data, affine);
        return r;
    }

    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential, Size = 3)]
    private readonly struct Rgb { private readonly byte _r, _g, _b; }

    private static void Copy<T>(Span<T> src, Span<T> dst, int[] outShape, long frames, long frame, long start, long[] step) where T : unmanaged
    {
        int n0 = outShape[0], n1 = outShape[1], n2 = outShape[2];
        long o = 0;
        for (long f = 0; f < frames; f++)
        {
            long fb = f * frame + start;
            for (int k = 0; k < n2; k++)
                for (int j = 0; j < n1; j++)
                {
                    long b = fb + k * step[2] + j * step[1];
                    for (int i = 0; i < n0; i++) dst[(int)o++] = src[(int)(b + i * step[0])];
                }
        }
    }

    /// <summary>The shape with at least three entries (missing spatial dimensions are 1).</summary>
    internal static int[] Pad3(int[] shape)
    {
        if (shape.Length >= 3) return (int[])shape.Clone();
        var r = new int[3] { 1, 1, 1 };
        Array.Copy(shape, r, shape.Length);
        return r;
    }
}
