using SamAdapt.Imaging;
using SamAdapt.Imaging.Preprocessing;
using SamAdapt.Torch;

namespace SamAdapt.Training.Data;

/// <summary>
/// Volume → D-slice stacks at model size, the same way for training, validation and prediction:
/// <list type="number">
/// <item><see cref="Prepare"/>: take image channel <see cref="SampleOptions.Channel"/>, apply the intensity transform
/// once per volume (scope Volume), map label values to class indices (<see cref="ClassMapping"/>).</item>
/// <item><see cref="NativeStack"/>: the D slices centred on s along the slice axis, edge slices replicated
/// (<see cref="SliceExtractor.StackIndices"/>); per-stack intensity (scope Stack) here.</item>
/// <item><see cref="ModelStack"/>: in-plane resize to S×S — bilinear (PyTorch <c>interpolate</c>,
/// align_corners=False, as <see cref="Resize2D"/>) for images, nearest for labels.</item>
/// <item><see cref="ToModelInput"/>: (D, 3, S, S) with the grey value replicated to SAM's three channels.</item>
/// </list>
/// </summary>
public sealed class SamplePipeline
{
    public SamplePipeline(SampleOptions options, ClassMapping? classes)
    {
        options.Validate();
        Options = options;
        Classes = classes;
    }

    public SampleOptions Options { get; }
    /// <summary>Label mapping (null: images only, e.g. for prediction).</summary>
    public ClassMapping? Classes { get; }

    /// <summary>Prepares a volume (and its label map, which must share the grid's shape).</summary>
    public PreparedVolume Prepare(string id, Volume image, Volume? label = null) => Prepare(id, [image], label);

    /// <summary>
    /// Prepares a case whose channels are in <paramref name="images"/>: one volume per channel (nnU-Net's <c>_XXXX</c> files)
    /// or one volume holding them (a 4-D image, an RGB image). With the grey mapping, channel <see cref="SampleOptions.Channel"/>
    /// of the single volume is used; otherwise every channel, in order, and their count must be the mapping's C.
    /// </summary>
    public PreparedVolume Prepare(string id, IReadOnlyList<Volume> images, Volume? label = null)
    {
        if (images.Count == 0) throw new ArgumentException($"{id}: no image");
        var image = images[0];
        var shape3 = Shape3(image.Shape, image.Source);
        long n = (long)shape3[0] * shape3[1] * shape3[2];
        foreach (var other in images.Skip(1))
            if (!Shape3(other.Shape, other.Source).SequenceEqual(shape3))
                throw new InvalidDataException($"{Describe(other, id)}: shape [{string.Join(",", other.Shape)}] differs from channel 0 [{string.Join(",", image.Shape)}]");
        int want = Options.Input.Channels;
        float[] values;
        if (Options.Input.IsGrey)
        {
            int frames = (int)(image.VoxelCount / n);
            if (image.IsRgb)
                throw new InvalidDataException($"{Describe(image, id)}: an RGB image has 3 channels, but the run expects 1 (grey) channel");
            if (images.Count > 1)
                throw new InvalidDataException($"{id}: {images.Count} channel files given, but the run expects 1 (grey) channel");
            if (Options.Channel >= frames)
                throw new InvalidDataException($"{Describe(image, id)}: channel {Options.Channel} requested, the image has {frames}");
            if (frames == 1) values = image.ToFloat32();
            else
            {
                values = new float[n];
                long off = Options.Channel * n;
                for (long i = 0; i < n; i++) values[i] = (float)image.Get(off + i);
            }
            if (Options.EffectiveScope == IntensityScope.Volume) Options.Intensity.ApplyInPlace(values);
        }
        else
        {
            int found = images.Sum(ChannelCount(n));
            if (found != want)
                throw new InvalidDataException($"{(images.Count == 1 ? Describe(image, id) : id)}: the run expects {want} image channel(s) ({Options.Input.Describe()}), the input has {found}");
            values = new float[want * n];
            int c = 0;
            foreach (var v in images)
                for (int k = 0, m = ChannelCount(n)(v); k < m; k++, c++)
                {
                    var dst = values.AsSpan((int)(c * n), (int)n);
                    CopyChannel(v, k, n, dst);
                    // per-channel intensity normalisation: each sequence (or colour) gets its own statistics
                    if (Options.EffectiveScope == IntensityScope.Volume) Options.Intensity.ApplyInPlace(dst);
                }
        }
        byte[]? classes = null;
        if (label is not null)
        {
            if (Classes is null) throw new InvalidOperationException("a label was given but the pipeline has no class mapping");
            var ls = Shape3(label.Shape, label.Source);
            if (!ls.SequenceEqual(shape3) || label.VoxelCount != n)
                throw new InvalidDataException($"{id}: label shape [{string.Join(",", label.Shape)}] differs from image shape [{string.Join(",", image.Shape)}]");
            classes = MapLabels(label, Classes, id);
        }
        return new PreparedVolume(id, shape3, (double[])image.Affine.Clone(), Options.SliceAxis, values, classes, Options.Cache,
            Options.Input.IsGrey ? 1 : want);
    }

    /// <summary>Channels a volume holds: 3 for RGB(A) (alpha dropped), else the product of the dimensions beyond the third.</summary>
    private static Func<Volume, int> ChannelCount(long n) => v => v.IsRgb ? 3 : (int)(v.VoxelCount / n);

    private static void CopyChannel(Volume v, int channel, long n, Span<float> dst)
    {
        if (v.IsRgb)
        {
            var b = (byte[])v.Data;
            int stride = Volume.ChannelsOf(v.Type);
            for (long i = 0; i < n; i++) dst[(int)i] = b[i * stride + channel];
            return;
        }
        long off = channel * n;
        for (long i = 0; i < n; i++) dst[(int)i] = (float)v.Get(off + i);
    }

    /// <summary>Loads and prepares a volume from files (NIfTI through <see cref="VolumeIO"/>, 2-D images otherwise).</summary>
    public PreparedVolume Load(string id, string imagePath, string? labelPath) => Load(id, [imagePath], labelPath);

    /// <summary>Loads and prepares a case from its channel files (in channel order).</summary>
    public PreparedVolume Load(string id, IReadOnlyList<string> imagePaths, string? labelPath)
    {
        var images = imagePaths.Select(ReadVolume).ToList();
        var label = labelPath is null ? null : ReadVolume(labelPath);
        return Prepare(id, images, label);
    }

    public static Volume ReadVolume(string path)
    {
        var fmt = VolumeIO.RegisteredFormats.FirstOrDefault(f => f.CanRead(path));
        return fmt is not null ? VolumeIO.Read(path) : Imaging.Datasets.DatasetVolumeReader.Default.Read(path);
    }

    /// <summary>The stack centred on <paramref name="center"/> at native in-plane size (C = the volume's channels), with labels when the volume has them.</summary>
    public StackSample NativeStack(PreparedVolume v, int center)
    {
        int d = Options.Slices, plane = v.Rows * v.Cols, channels = v.Channels;
        var idx = SliceExtractor.StackIndices(center, d, v.SliceCount);
        var img = new float[channels * d * plane];
        int[]? lbl = v.Classes is null ? null : new int[d * plane];
        var lplane = v.Classes is null ? null : new byte[plane];
        for (int t = 0; t < d; t++)
        {
            for (int c = 0; c < channels; c++) v.ImagePlane(c, idx[t], img.AsSpan((c * d + t) * plane, plane));
            if (lbl is not null)
            {
                v.LabelPlane(idx[t], lplane);
                for (int i = 0; i < plane; i++) lbl[t * plane + i] = lplane![i];
            }
        }
        if (Options.EffectiveScope == IntensityScope.Stack)
            for (int c = 0; c < channels; c++) Options.Intensity.ApplyInPlace(img.AsSpan(c * d * plane, d * plane));
        return new StackSample(channels, d, v.Rows, v.Cols, img, lbl) { CaseId = v.Id, CenterSlice = center };
    }

    /// <summary>The stack centred on <paramref name="center"/> resized to S×S (unaugmented).</summary>
    public StackSample ModelStack(PreparedVolume v, int center) => ResizeToModel(NativeStack(v, center));

    /// <summary>Resizes every plane to S×S: bilinear for the image, nearest for the label.</summary>
    public StackSample ResizeToModel(StackSample s) => Resize(s, Options.ImageSize, Options.ImageSize);

    /// <summary>Resizes every plane of a stack: bilinear (align_corners=False) for the image, nearest for the label.</summary>
    public static StackSample Resize(StackSample s, int outH, int outW)
    {
        if (s.Height == outH && s.Width == outW) return s;
        int planes = s.Channels * s.Depth;
        var img = Resize2D.BilinearPlanes(s.Image, planes, s.Height, s.Width, outH, outW);
        int[]? lbl = null;
        if (s.Label is { } l)
        {
            var ys = Resize2D.NearestIndices(s.Height, outH);
            var xs = Resize2D.NearestIndices(s.Width, outW);
            lbl = new int[s.Depth * outH * outW];
            for (int p = 0; p < s.Depth; p++)
                for (int y = 0; y < outH; y++)
                {
                    int srow = (p * s.Height + ys[y]) * s.Width, drow = (p * outH + y) * outW;
                    for (int x = 0; x < outW; x++) lbl[drow + x] = l[srow + xs[x]];
                }
        }
        return s.With(outH, outW, img, lbl);
    }

    /// <summary>
    /// Writes the image of a (C = 1, D, S, S) stack into <paramref name="dst"/> as (D, 3, S, S), the grey value
    /// replicated to three channels (SAM input; pixel mean 0 / std 1 per MA-SAM, so no further normalisation).
    /// </summary>
    public static void ToModelInput(StackSample s, Span<float> dst)
    {
        if (s.Channels != 1) throw new ArgumentException($"expected a single-channel stack, got {s.Channels} channels");
        int plane = s.PlaneSize;
        if (dst.Length != s.Depth * 3 * plane) throw new ArgumentException($"destination has {dst.Length} values, (D, 3, H, W) needs {s.Depth * 3 * plane}");
        for (int d = 0; d < s.Depth; d++)
        {
            var src = s.Image.AsSpan(d * plane, plane);
            for (int c = 0; c < 3; c++) src.CopyTo(dst.Slice((d * 3 + c) * plane, plane));
        }
    }

    /// <summary>The (D, M, S, S) model input of an unaugmented stack (M = <see cref="InputMapping.ModelChannels"/>: 3, or C
    /// for a learned projection): what the predictor feeds for slice <paramref name="center"/>.</summary>
    public float[] ModelInput(PreparedVolume v, int center)
    {
        var s = ModelStack(v, center);
        var r = new float[s.Depth * Options.Input.ModelChannels * s.PlaneSize];
        Options.Input.Write(s, r);
        return r;
    }

    /// <summary>Model input values (N, M, S, S) as the (N, 3, S, S) tensor SAM takes on <paramref name="device"/>: through
    /// <paramref name="projection"/> when the run learned one (M = C), as they are otherwise (M = 3).</summary>
    public static Tensor ModelTensor(float[] input, long slices, int size, InputMapping mapping, LearnedInputProjection? projection, Device? device = null)
    {
        var x = Tensor.FromArray<float>(input, [slices, mapping.ModelChannels, size, size], device);
        if (mapping.Kind != InputMappingKind.Learned) return x;
        return (projection ?? throw new InvalidOperationException($"the input mapping {mapping} needs its learned projection")).forward(x);
    }

    private static byte[] MapLabels(Volume label, ClassMapping classes, string id)
    {
        long n = label.VoxelCount;
        var r = new byte[n];
        var lut = new Dictionary<int, byte>();
        for (long i = 0; i < n; i++)
        {
            double x = label.Get(i);
            int v = (int)Math.Round(x);
            if (Math.Abs(x - v) > 1e-3 || double.IsNaN(x))
                throw new InvalidDataException($"{id}: label voxel {i} has the non-integer value {x}; not a label map");
            if (!lut.TryGetValue(v, out var c)) lut[v] = c = (byte)classes.Map(v);
            r[i] = c;
        }
        return r;
    }

    private static int[] Shape3(int[] shape, string source)
    {
        if (shape.Length < 2) throw new InvalidDataException($"{source}: expected a 2-D or 3-D volume, got shape [{string.Join(",", shape)}]");
        int k = shape.Length > 2 ? shape[2] : 1;
        for (int d = 4; d < shape.Length; d++)
            if (shape[d] != 1) throw new InvalidDataException($"{source}: shape [{string.Join(",", shape)}] has more than 4 dimensions");
        return [shape[0], shape[1], k];
    }

    private static string Describe(Volume v, string id) => string.IsNullOrEmpty(v.Source) ? id : v.Source;
}
