namespace SamAdapt.Imaging.Preprocessing;

/// <summary>How the two in-plane axes of a slice map onto the rows and columns of the returned 2D array.</summary>
public enum SliceLayout
{
    /// <summary>
    /// Default. Rows = the higher remaining volume axis, columns = the lower one, so the slice is the C-order view of
    /// the volume's memory (a NIfTI volume is a C array of shape (k, j, i)): axis 2 (k fixed) → [j, i];
    /// axis 1 (j fixed) → [k, i]; axis 0 (i fixed) → [k, j].
    /// </summary>
    Memory,
    /// <summary>
    /// Rows = the lower remaining axis, columns = the higher one: what <c>nibabel</c>'s <c>get_fdata()[:, :, k]</c>
    /// gives (axis 2 → [i, j]); the transpose of <see cref="Memory"/>.
    /// </summary>
    Nibabel,
}

/// <summary>
/// 2D slices and k-slice stacks from a 3D volume stored NIfTI-style (i fastest, shape [ni, nj, nk]); a rank-2 shape
/// is treated as nk = 1 and trailing dimensions of size 1 beyond the third are ignored. Stacks replicate edge slices:
/// the stack centred on s holds slices s − (k−1)/2 … s + (k−1)/2, each clamped to [0, n − 1] — MA-SAM's 5-slice
/// input, whose preprocessing pads the volume by repeating the first and last slice twice.
/// </summary>
public static class SliceExtractor
{
    /// <summary>The slice indices of a k-slice stack centred on <paramref name="center"/> with edge replication.</summary>
    public static int[] StackIndices(int center, int k, int sliceCount)
    {
        if (k < 1 || k % 2 == 0) throw new ArgumentOutOfRangeException(nameof(k), k, "stack size must be odd and >= 1");
        if (sliceCount < 1) throw new ArgumentOutOfRangeException(nameof(sliceCount));
        if (center < 0 || center >= sliceCount) throw new ArgumentOutOfRangeException(nameof(center), center, $"slice index must be within [0, {sliceCount - 1}]");
        var r = new int[k];
        int h = k / 2;
        for (int t = 0; t < k; t++) r[t] = Math.Clamp(center - h + t, 0, sliceCount - 1);
        return r;
    }

    /// <summary>The [rows, cols] size of a slice along <paramref name="axis"/>.</summary>
    public static (int Rows, int Cols) SliceSize(int[] shape, int axis, SliceLayout layout = SliceLayout.Memory)
    {
        var s = Shape3(shape);
        var (lowAxis, highAxis) = InPlane(axis);
        return layout == SliceLayout.Memory ? (s[highAxis], s[lowAxis]) : (s[lowAxis], s[highAxis]);
    }

    /// <summary>Slice <paramref name="index"/> along <paramref name="axis"/> (0 = i, 1 = j, 2 = k) of a flat i-fastest array.</summary>
    public static T[,] Extract<T>(ReadOnlySpan<T> data, int[] shape, int axis, int index, SliceLayout layout = SliceLayout.Memory)
    {
        var s = Shape3(shape);
        if ((long)s[0] * s[1] * s[2] != data.Length) throw new ArgumentException($"data has {data.Length} elements, shape [{string.Join(",", shape)}] needs {(long)s[0] * s[1] * s[2]}");
        CheckAxis(axis);
        if (index < 0 || index >= s[axis]) throw new ArgumentOutOfRangeException(nameof(index), index, $"slice index must be within [0, {s[axis] - 1}] along axis {axis}");
        var (lowAxis, highAxis) = InPlane(axis);
        int nLow = s[lowAxis], nHigh = s[highAxis];
        long[] stride = [1, s[0], (long)s[0] * s[1]];
        var result = layout == SliceLayout.Memory ? new T[nHigh, nLow] : new T[nLow, nHigh];
        long baseOff = index * stride[axis];
        for (int h = 0; h < nHigh; h++)
            for (int l = 0; l < nLow; l++)
            {
                var v = data[(int)(baseOff + h * stride[highAxis] + l * stride[lowAxis])];
                if (layout == SliceLayout.Memory) result[h, l] = v; else result[l, h] = v;
            }
        return result;
    }

    /// <summary>A slice of a volume's physical values (slope/intercept applied) as float.</summary>
    public static float[,] Extract(Volume volume, int axis, int index, SliceLayout layout = SliceLayout.Memory)
    {
        var s = Shape3(volume.Shape);
        if (volume.Type is VoxelType.Rgb24 or VoxelType.Rgba32) throw new NotSupportedException("slices of RGB volumes are not supported; convert to grey first");
        CheckAxis(axis);
        if (index < 0 || index >= s[axis]) throw new ArgumentOutOfRangeException(nameof(index), index, $"slice index must be within [0, {s[axis] - 1}] along axis {axis}");
        var (lowAxis, highAxis) = InPlane(axis);
        int nLow = s[lowAxis], nHigh = s[highAxis];
        long[] stride = [1, s[0], (long)s[0] * s[1]];
        var result = layout == SliceLayout.Memory ? new float[nHigh, nLow] : new float[nLow, nHigh];
        long baseOff = index * stride[axis];
        for (int h = 0; h < nHigh; h++)
            for (int l = 0; l < nLow; l++)
            {
                var v = (float)volume.Get(baseOff + h * stride[highAxis] + l * stride[lowAxis]);
                if (layout == SliceLayout.Memory) result[h, l] = v; else result[l, h] = v;
            }
        return result;
    }

    /// <summary>
    /// The k-slice stack centred on <paramref name="center"/> along <paramref name="axis"/>, as [k, rows, cols], with
    /// edge slices replicated (<see cref="StackIndices"/>).
    /// </summary>
    public static T[,,] ExtractStack<T>(ReadOnlySpan<T> data, int[] shape, int axis, int center, int k, SliceLayout layout = SliceLayout.Memory)
    {
        var s = Shape3(shape);
        CheckAxis(axis);
        var idx = StackIndices(center, k, s[axis]);
        var (rows, cols) = SliceSize(shape, axis, layout);
        var result = new T[k, rows, cols];
        for (int t = 0; t < k; t++)
        {
            var slice = Extract(data, shape, axis, idx[t], layout);
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < cols; c++) result[t, r, c] = slice[r, c];
        }
        return result;
    }

    /// <summary>The k-slice stack of a volume's physical values.</summary>
    public static float[,,] ExtractStack(Volume volume, int axis, int center, int k, SliceLayout layout = SliceLayout.Memory)
    {
        var s = Shape3(volume.Shape);
        CheckAxis(axis);
        var idx = StackIndices(center, k, s[axis]);
        var (rows, cols) = SliceSize(volume.Shape, axis, layout);
        var result = new float[k, rows, cols];
        for (int t = 0; t < k; t++)
        {
            var slice = Extract(volume, axis, idx[t], layout);
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < cols; c++) result[t, r, c] = slice[r, c];
        }
        return result;
    }

    /// <summary>Writes a slice (in the given layout) back into a flat i-fastest array: the inverse of <see cref="Extract{T}"/>.</summary>
    public static void Insert<T>(Span<T> data, int[] shape, int axis, int index, T[,] slice, SliceLayout layout = SliceLayout.Memory)
    {
        var s = Shape3(shape);
        if ((long)s[0] * s[1] * s[2] != data.Length) throw new ArgumentException($"data has {data.Length} elements, shape [{string.Join(",", shape)}] needs {(long)s[0] * s[1] * s[2]}");
        CheckAxis(axis);
        if (index < 0 || index >= s[axis]) throw new ArgumentOutOfRangeException(nameof(index), index, $"slice index must be within [0, {s[axis] - 1}] along axis {axis}");
        var (rows, cols) = SliceSize(shape, axis, layout);
        if (slice.GetLength(0) != rows || slice.GetLength(1) != cols)
            throw new ArgumentException($"slice is {slice.GetLength(0)}×{slice.GetLength(1)}, axis {axis} of [{string.Join(",", shape)}] needs {rows}×{cols}");
        var (lowAxis, highAxis) = InPlane(axis);
        long[] stride = [1, s[0], (long)s[0] * s[1]];
        long baseOff = index * stride[axis];
        for (int h = 0; h < s[highAxis]; h++)
            for (int l = 0; l < s[lowAxis]; l++)
                data[(int)(baseOff + h * stride[highAxis] + l * stride[lowAxis])] = layout == SliceLayout.Memory ? slice[h, l] : slice[l, h];
    }

    /// <summary>
    /// Slice <paramref name="index"/> along <paramref name="axis"/> (0 = i, 1 = j, 2 = k) as a volume of any voxel type
    /// (raw values, scaling and metadata kept) whose size along that axis is 1, with the affine shifted so that every
    /// voxel keeps its world position: translation += index · column <paramref name="axis"/>. Dimensions beyond the
    /// third (time, channels) are kept.
    /// </summary>
    public static Volume ExtractVolume(Volume volume, int axis, int index)
    {
        CheckAxis(axis);
        var shape = volume.Shape;
        int n = axis < shape.Length ? shape[axis] : 1;
        if (index < 0 || index >= n)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"slice index must be within [0, {n - 1}] along axis {axis} of [{string.Join(",", shape)}]");
        var full = shape.Length > axis ? (int[])shape.Clone() : [.. shape, .. Enumerable.Repeat(1, axis + 1 - shape.Length)];
        long inner = 1, outer = 1;
        for (int d = 0; d < axis; d++) inner *= full[d];
        for (int d = axis + 1; d < full.Length; d++) outer *= full[d];
        int c = Volume.ChannelsOf(volume.Type);
        long run = inner * c;
        var data = Volume.Allocate(volume.Type, inner * outer);
        for (long o = 0; o < outer; o++)
            Array.Copy(volume.Data, (o * n + index) * run, data, o * run, run);
        var newShape = (int[])full.Clone();
        newShape[axis] = 1;
        var a = (double[])volume.Affine.Clone();
        for (int r = 0; r < 3; r++) a[4 * r + 3] += index * a[4 * r + axis];
        var v = volume.With(newShape, volume.Type, data, a);
        v.Extensions = volume.Extensions;
        return v;
    }

    private static (int Low, int High) InPlane(int axis)
    {
        CheckAxis(axis);
        return axis switch { 0 => (1, 2), 1 => (0, 2), _ => (0, 1) };
    }

    private static void CheckAxis(int axis)
    {
        if (axis is < 0 or > 2) throw new ArgumentOutOfRangeException(nameof(axis), axis, "axis must be 0, 1 or 2");
    }

    internal static int[] Shape3(int[] shape)
    {
        if (shape.Length < 2) throw new ArgumentException($"slicing needs a 2D or 3D shape, got [{string.Join(",", shape)}]");
        for (int d = 3; d < shape.Length; d++)
            if (shape[d] != 1) throw new ArgumentException($"slicing needs a 3D volume; shape [{string.Join(",", shape)}] has extra dimensions (take one time point/channel first)");
        return [shape[0], shape[1], shape.Length > 2 ? shape[2] : 1];
    }
}
