using SamAdapt.Imaging;
using SamAdapt.Imaging.Preprocessing;

namespace SamAdapt.Training.Data;

/// <summary>
/// One volume ready for slicing: the chosen image channel as float values (intensity-transformed already when the
/// scope is per volume), the label map as class indices (optional), its grid, and the slices whose label holds
/// foreground. Volumes keep their native orientation; slices are taken along <see cref="Axis"/> in
/// <see cref="SliceLayout.Memory"/> layout (<see cref="Rows"/> × <see cref="Cols"/>).
/// </summary>
public sealed class PreparedVolume
{
    private readonly float[]? _image32;
    private readonly Half[]? _image16;

    /// <param name="image">C channels one after the other, each i-fastest on the grid (C·ni·nj·nk values).</param>
    internal PreparedVolume(string id, int[] shape3, double[] affine, int axis, float[] image, byte[]? classes, CachePrecision precision, int channels = 1)
    {
        Id = id;
        Channels = channels;
        if (image.LongLength != (long)channels * shape3[0] * shape3[1] * shape3[2])
            throw new ArgumentException($"{id}: image has {image.LongLength} values, {channels} channel(s) of [{string.Join(",", shape3)}] need {(long)channels * shape3[0] * shape3[1] * shape3[2]}");
        Shape = shape3;
        Affine = affine;
        Axis = axis;
        if (precision == CachePrecision.Float16)
        {
            _image16 = new Half[image.Length];
            for (int i = 0; i < image.Length; i++) _image16[i] = (Half)image[i];
        }
        else _image32 = image;
        Classes = classes;
        (Rows, Cols) = SliceExtractor.SliceSize(shape3, axis);
        SliceCount = shape3[axis];
        if (classes is not null)
        {
            var fg = new List<int>();
            var byClass = new List<int>?[256];
            var plane = new byte[Rows * Cols];
            var present = new bool[256];
            for (int s = 0; s < SliceCount; s++)
            {
                ExtractPlane<byte>(classes, s, plane);
                if (plane.AsSpan().IndexOfAnyExcept((byte)0) < 0) continue;
                fg.Add(s);
                Array.Clear(present);
                foreach (var c in plane) present[c] = true;
                for (int c = 1; c < 256; c++)
                    if (present[c]) (byClass[c] ??= []).Add(s);
            }
            ForegroundSlices = fg;
            ClassSlices = Enumerable.Range(0, 256).Where(c => byClass[c] is not null)
                .ToDictionary(c => c, c => (IReadOnlyList<int>)byClass[c]!);
        }
    }

    public string Id { get; }
    /// <summary>C, the image channels held (1 for grey volumes; 3 for RGB images; the sequences of multi-channel volumes).</summary>
    public int Channels { get; }
    /// <summary>(ni, nj, nk) of the source grid.</summary>
    public int[] Shape { get; }
    /// <summary>Voxel → RAS mm affine of the source (row-major 4×4).</summary>
    public double[] Affine { get; }
    public int Axis { get; }
    public int SliceCount { get; }
    public int Rows { get; }
    public int Cols { get; }
    /// <summary>Class indices (i fastest), or null for an unlabelled volume.</summary>
    public byte[]? Classes { get; }
    /// <summary>Slice indices whose label holds a foreground class (empty when unlabelled).</summary>
    public IReadOnlyList<int> ForegroundSlices { get; } = [];
    /// <summary>For each foreground class index present in the label, the slices that contain it (ascending).</summary>
    public IReadOnlyDictionary<int, IReadOnlyList<int>> ClassSlices { get; } = new Dictionary<int, IReadOnlyList<int>>();

    /// <summary>Approximate bytes held.</summary>
    public long MemoryBytes => (_image32?.LongLength * 4 ?? _image16!.LongLength * 2) + (Classes?.LongLength ?? 0);

    /// <summary>Copies image slice <paramref name="slice"/> of channel 0 (Rows × Cols, row-major) into <paramref name="dst"/>.</summary>
    public void ImagePlane(int slice, Span<float> dst) => ImagePlane(0, slice, dst);

    /// <summary>Copies image slice <paramref name="slice"/> of channel <paramref name="channel"/> into <paramref name="dst"/>.</summary>
    public void ImagePlane(int channel, int slice, Span<float> dst)
    {
        if (channel < 0 || channel >= Channels) throw new ArgumentOutOfRangeException(nameof(channel), channel, $"the volume has {Channels} channel(s)");
        int n = Shape[0] * Shape[1] * Shape[2];
        if (_image32 is not null) { ExtractPlane<float>(_image32.AsSpan(channel * n, n), slice, dst); return; }
        var tmp = dst.Length <= 1 << 16 ? stackalloc Half[dst.Length] : new Half[dst.Length];
        ExtractPlane<Half>(_image16.AsSpan(channel * n, n), slice, tmp);
        for (int i = 0; i < dst.Length; i++) dst[i] = (float)tmp[i];
    }

    /// <summary>Copies label slice <paramref name="slice"/> (class indices) into <paramref name="dst"/>.</summary>
    public void LabelPlane(int slice, Span<byte> dst)
    {
        if (Classes is null) throw new InvalidOperationException($"{Id}: the volume has no label");
        ExtractPlane<byte>(Classes, slice, dst);
    }

    /// <summary>Plane <paramref name="slice"/> along <see cref="Axis"/> of an i-fastest array on this grid (Memory layout).</summary>
    public void ExtractPlane<T>(ReadOnlySpan<T> volume, int slice, Span<T> dst) =>
        VolumePlanes.Extract(volume, Shape, Axis, slice, dst);

    /// <summary>Writes a plane (Memory layout) back at <paramref name="slice"/> of an i-fastest array on this grid.</summary>
    public void InsertPlane<T>(Span<T> volume, int slice, ReadOnlySpan<T> plane) =>
        VolumePlanes.Insert(volume, Shape, Axis, slice, plane);
}

/// <summary>
/// Plane access on flat i-fastest (NIfTI-order) arrays of shape (ni, nj, nk), in <see cref="SliceLayout.Memory"/>
/// layout: rows = the higher remaining axis, columns = the lower one (axis 2 → [j, i]; axis 1 → [k, i];
/// axis 0 → [k, j]) — the same convention as <see cref="SliceExtractor"/>.
/// </summary>
public static class VolumePlanes
{
    public static void Extract<T>(ReadOnlySpan<T> volume, int[] shape3, int axis, int slice, Span<T> dst)
    {
        var (rows, cols, baseOff, rowStride, colStride) = Layout(volume.Length, shape3, axis, slice);
        if (dst.Length != rows * cols) throw new ArgumentException($"plane buffer has {dst.Length} elements, {rows}×{cols} needed");
        if (colStride == 1)
        {
            for (int r = 0; r < rows; r++) volume.Slice((int)(baseOff + r * rowStride), cols).CopyTo(dst.Slice(r * cols, cols));
            return;
        }
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) dst[r * cols + c] = volume[(int)(baseOff + r * rowStride + c * colStride)];
    }

    public static void Insert<T>(Span<T> volume, int[] shape3, int axis, int slice, ReadOnlySpan<T> plane)
    {
        var (rows, cols, baseOff, rowStride, colStride) = Layout(volume.Length, shape3, axis, slice);
        if (plane.Length != rows * cols) throw new ArgumentException($"plane has {plane.Length} elements, {rows}×{cols} needed");
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) volume[(int)(baseOff + r * rowStride + c * colStride)] = plane[r * cols + c];
    }

    private static (int Rows, int Cols, long Base, long RowStride, long ColStride) Layout(int length, int[] s, int axis, int slice)
    {
        if (s.Length != 3) throw new ArgumentException("shape must have three sizes");
        if ((long)s[0] * s[1] * s[2] != length) throw new ArgumentException($"array has {length} elements, shape [{string.Join(",", s)}] needs {(long)s[0] * s[1] * s[2]}");
        if (axis is < 0 or > 2) throw new ArgumentOutOfRangeException(nameof(axis), axis, "axis must be 0, 1 or 2");
        if (slice < 0 || slice >= s[axis]) throw new ArgumentOutOfRangeException(nameof(slice), slice, $"slice must be within [0, {s[axis] - 1}]");
        long[] stride = [1, s[0], (long)s[0] * s[1]];
        var (low, high) = axis switch { 0 => (1, 2), 1 => (0, 2), _ => (0, 1) };
        return (s[high], s[low], slice * stride[axis], stride[high], stride[low]);
    }
}
