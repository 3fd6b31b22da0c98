namespace SamAdapt.Imaging.Datasets;

/// <summary>One binary mask of a per-class image-folder case: the class, the label value it stands for, the file.</summary>
public sealed record ClassMask(string ClassName, int Value, string Path);

/// <summary>
/// Reads a case's label map whatever the layout: the label file, or — for per-class masks (<see cref="DatasetCase.ClassMasks"/>) —
/// the binary masks composed into one label map (a pixel inside class c's mask gets c's value). Masks must be grey (RGB only when
/// its three channels are equal, i.e. grey stored as colour); per-class masks must be binary (0 and one other value) and must not
/// overlap. Violations are <see cref="InvalidDataException"/>s naming the file.
/// </summary>
public static class DatasetLabelReader
{
    public static Volume Read(DatasetCase c, IDatasetVolumeReader? reader = null)
    {
        reader ??= DatasetVolumeReader.Default;
        if (c.ClassMasks is not { Count: > 0 } masks)
        {
            var v = reader.Read(c.LabelPath ?? throw new InvalidOperationException($"{c.Id} has no label"));
            return v.IsRgb ? GreyOf(v, c.LabelPath) : v;
        }
        Volume? first = null;
        short[]? values = null;
        string?[]? owner = null;
        foreach (var m in masks)
        {
            var v = reader.Read(m.Path);
            var raw = MaskValues(v, m.Path);
            var distinct = raw.Distinct().Order().ToList();
            if (distinct.Count > 2 || distinct.Count == 2 && distinct[0] != 0)
                throw new InvalidDataException($"{m.Path}: a per-class mask must be binary (0 outside, one value inside), found values {string.Join(", ", distinct.Take(8))}{(distinct.Count > 8 ? ", …" : "")}" +
                    (m.Path.EndsWith(".jpg", StringComparison.OrdinalIgnoreCase) || m.Path.EndsWith(".jpeg", StringComparison.OrdinalIgnoreCase) ? " (JPEG compression changes mask values: save masks as PNG)" : ""));
            if (first is null)
            {
                first = v;
                values = new short[raw.Length];
                owner = new string?[raw.Length];
            }
            else if (!Spatial(v.Shape).SequenceEqual(Spatial(first.Shape)))
                throw new InvalidDataException($"{m.Path}: size {Size(v.Shape)} differs from {masks[0].Path} ({Size(first.Shape)})");
            int overlap = 0;
            string? with = null;
            for (int i = 0; i < raw.Length; i++)
            {
                if (raw[i] == 0) continue;
                if (owner![i] is { } o) { overlap++; with = o; continue; }
                values![i] = (short)m.Value;
                owner[i] = m.ClassName;
            }
            if (overlap > 0)
                throw new InvalidDataException($"{m.Path}: {overlap} pixel(s) are also in the mask of class '{with}'; per-class masks must not overlap");
        }
        bool wide = masks.Any(m => m.Value > 255);
        Array data = wide ? values! : values!.Select(x => (byte)x).ToArray();
        var label = first!.With(Spatial(first.Shape), wide ? VoxelType.Int16 : VoxelType.UInt8, data, (double[])first.Affine.Clone(), keepScaling: false);
        label.IntentCode = Volume.IntentLabel;
        return label;
    }

    /// <summary>The integer pixel values of a mask image (grey; RGB only when R = G = B everywhere).</summary>
    public static int[] MaskValues(Volume v, string path)
    {
        if (v.IsRgb) v = GreyOf(v, path);
        var n = v.VoxelCount;
        var r = new int[n];
        for (long i = 0; i < n; i++)
        {
            double x = v.Get(i);
            r[i] = (int)x;
            if (r[i] != x) throw new InvalidDataException($"{path}: pixel {i} holds the non-integer value {x}; masks must hold integer label values");
        }
        return r;
    }

    /// <summary>An RGB mask whose channels are equal as a grey uint8 volume; a colour mask is an error.</summary>
    private static Volume GreyOf(Volume v, string path)
    {
        var b = (byte[])v.Data;
        int stride = Volume.ChannelsOf(v.Type);
        long n = b.LongLength / stride;
        var g = new byte[n];
        for (long i = 0; i < n; i++)
        {
            byte r = b[i * stride], gr = b[i * stride + 1], bl = b[i * stride + 2];
            if (r != gr || r != bl)
                throw new InvalidDataException(
                    $"{path}: an RGB (colour) mask — pixel {i % v.Shape[0]},{i / v.Shape[0]} is ({r}, {gr}, {bl}); masks must be single-channel images whose " +
                    "pixel values are the class values (a palette PNG is decoded to its colours: save the indices as a greyscale PNG)");
            g[i] = r;
        }
        return v.With(Spatial(v.Shape), VoxelType.UInt8, g, (double[])v.Affine.Clone(), keepScaling: false);
    }

    private static int[] Spatial(int[] shape) => [shape[0], shape.Length > 1 ? shape[1] : 1, shape.Length > 2 ? shape[2] : 1];

    private static string Size(int[] shape) => $"{shape[0]}×{(shape.Length > 1 ? shape[1] : 1)}";
}
