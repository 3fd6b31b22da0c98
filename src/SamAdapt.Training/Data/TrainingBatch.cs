using SamAdapt.Torch;

namespace SamAdapt.Training.Data;

/// <summary>Where one stack of a batch came from.</summary>
public readonly record struct SampleRef(string CaseId, int CenterSlice, long Position);

/// <summary>
/// B stacks of D slices on the host, in the model's layout: <see cref="Image"/> is (B·D, 3, S, S) float32 and
/// <see cref="Label"/> (B·D, S, S) int64 class indices, both sample-major and slice-minor (row b·D + d is slice d of
/// stack b) — the order MA-SAM's 3D adapters reshape to (B, D, …).
/// </summary>
public sealed class TrainingBatch
{
    public TrainingBatch(int batchSize, int depth, int size, float[] image, long[]? label, IReadOnlyList<SampleRef> samples)
    {
        long slices = (long)batchSize * depth;
        if (image.LongLength != slices * 3 * size * size) throw new ArgumentException($"image has {image.Length} values, ({slices}, 3, {size}, {size}) needs {slices * 3 * size * size}");
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

    public long[] ImageShape => [(long)BatchSize * Depth, 3, Size, Size];
    public long[] LabelShape => [(long)BatchSize * Depth, Size, Size];

    /// <summary>The image as a tensor (B·D, 3, S, S) float32 on <paramref name="device"/> (registered with the current DisposeScope).</summary>
    public Tensor ImageTensor(Device? device = null) => Tensor.FromArray<float>(Image, ImageShape, device);

    /// <summary>The label as a tensor (B·D, S, S) int64 on <paramref name="device"/>.</summary>
    public Tensor LabelTensor(Device? device = null) =>
        Tensor.FromArray<long>(Label ?? throw new InvalidOperationException("the batch has no labels"), LabelShape, device);

    /// <summary>Assembles a batch from model-size stacks (C = 1, D, S, S).</summary>
    public static TrainingBatch FromSamples(IReadOnlyList<StackSample> stacks, IReadOnlyList<SampleRef> refs)
    {
        if (stacks.Count == 0) throw new ArgumentException("a batch needs at least one stack");
        int d = stacks[0].Depth, s = stacks[0].Height;
        bool labelled = stacks.All(x => x.Label is not null);
        var img = new float[(long)stacks.Count * d * 3 * s * s];
        var lbl = labelled ? new long[(long)stacks.Count * d * s * s] : null;
        for (int b = 0; b < stacks.Count; b++)
        {
            var st = stacks[b];
            if (st.Depth != d || st.Height != s || st.Width != s)
                throw new ArgumentException($"stack {b} is ({st.Depth}, {st.Height}, {st.Width}), expected ({d}, {s}, {s})");
            SamplePipeline.ToModelInput(st, img.AsSpan(b * d * 3 * s * s, d * 3 * s * s));
            if (lbl is not null)
            {
                int off = b * d * s * s;
                var l = st.Label!;
                for (int i = 0; i < l.Length; i++) lbl[off + i] = l[i];
            }
        }
        return new TrainingBatch(stacks.Count, d, s, img, lbl, refs);
    }
}
