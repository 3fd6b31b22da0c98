using SamAdapt.Torch;

namespace SamAdapt.Training.Data;

/// <summary>Where one stack of a batch came from.</summary>
public readonly record struct SampleRef(string CaseId, int CenterSlice, long Position);

/// <summary>
/// B stacks of D slices on the host, in the model's layout: <see cref="Image"/> is (B·D, M, S, S) float32 (M = 3, or C with a
/// learned input projection, which <see cref="ImageTensor"/> applies) and
/// <see cref="Label"/> (B·D, S, S) int64 class indices, both sample-major and slice-minor (row b·D + d is slice d of
/// stack b) — the order MA-SAM's 3D adapters reshape to (B, D, …).
/// </summary>
public sealed class TrainingBatch
{
    public TrainingBatch(int batchSize, int depth, int size, float[] image, long[]? label, IReadOnlyList<SampleRef> samples, InputMapping? mapping = null)
    {
        long slices = (long)batchSize * depth;
        Mapping = mapping ?? InputMapping.Grey;
        int m = Mapping.ModelChannels;
        if (image.LongLength != slices * m * size * size) throw new ArgumentException($"image has {image.Length} values, ({slices}, {m}, {size}, {size}) needs {slices * m * size * size}");
        if (label is not null && label.LongLength != slices * size * size) throw new ArgumentException($"label has {label.Length} values, ({slices}, {size}, {size}) needs {slices * size * size}");
        BatchSize = batchSize;
        Depth = depth;
        Size = size;
        Image = image;
        Label = label;
        Samples = samples;
    }

    public int BatchSize { get; }
    public int Depth { get; }
    public int Size { get; }
    public float[] Image { get; }
    public long[]? Label { get; }
    public IReadOnlyList<SampleRef> Samples { get; }
    /// <summary>How the samples' channels were mapped (<see cref="Image"/> holds M = <see cref="InputMapping.ModelChannels"/> per slice).</summary>
    public InputMapping Mapping { get; }
    /// <summary>The run's learned projection (C → 3) when <see cref="Mapping"/> is learned; <see cref="ImageTensor"/> applies it.</summary>
    public LearnedInputProjection? Projection { get; init; }

    /// <summary>(B·D, M, S, S): the shape of <see cref="Image"/>.</summary>
    public long[] ImageShape => [(long)BatchSize * Depth, Mapping.ModelChannels, Size, Size];
    public long[] LabelShape => [(long)BatchSize * Depth, Size, Size];

    /// <summary>SAM's input (B·D, 3, S, S) float32 on <paramref name="device"/> (registered with the current DisposeScope): the
    /// image, through the learned projection when the run has one (which must be on <paramref name="device"/>).</summary>
    public Tensor ImageTensor(Device? device = null) =>
        SamplePipeline.ModelTensor(Image, (long)BatchSize * Depth, Size, Mapping, Projection, device);

    /// <summary>The image as stored (B·D, M, S, S), without the learned projection.</summary>
    public Tensor RawImageTensor(Device? device = null) => Tensor.FromArray<float>(Image, ImageShape, device);

    /// <summary>The label as a tensor (B·D, S, S) int64 on <paramref name="device"/>.</summary>
    public Tensor LabelTensor(Device? device = null) =>
        Tensor.FromArray<long>(Label ?? throw new InvalidOperationException("the batch has no labels"), LabelShape, device);

    /// <summary>Assembles a batch from model-size stacks (C, D, S, S), channels mapped by <paramref name="mapping"/> (default: grey, C = 1).</summary>
    public static TrainingBatch FromSamples(IReadOnlyList<StackSample> stacks, IReadOnlyList<SampleRef> refs, InputMapping? mapping = null,
        LearnedInputProjection? projection = null)
    {
        if (stacks.Count == 0) throw new ArgumentException("a batch needs at least one stack");
        mapping ??= InputMapping.Grey;
        int d = stacks[0].Depth, s = stacks[0].Height, m = mapping.ModelChannels;
        bool labelled = stacks.All(x => x.Label is not null);
        var img = new float[(long)stacks.Count * d * m * s * s];
        var lbl = labelled ? new long[(long)stacks.Count * d * s * s] : null;
        for (int b = 0; b < stacks.Count; b++)
        {
            var st = stacks[b];
            if (st.Depth != d || st.Height != s || st.Width != s)
                throw new ArgumentException($"stack {b} is ({st.Depth}, {st.Height}, {st.Width}), expected ({d}, {s}, {s})");
            mapping.Write(st, img.AsSpan(b * d * m * s * s, d * m * s * s));
            if (lbl is not null)
            {
                int off = b * d * s * s;
                var l = st.Label!;
                for (int i = 0; i < l.Length; i++) lbl[off + i] = l[i];
            }
        }
        return new TrainingBatch(stacks.Count, d, s, img, lbl, refs, mapping) { Projection = projection };
    }
}
