namespace SamAdapt.Training.Data;

/// <summary>
/// One training sample on the host: a stack of <see cref="Depth"/> consecutive slices of <see cref="Channels"/> image
/// channels and (optionally) the matching label slices. Layout is C-order (C, D, H, W) for the image and (D, H, W) for
/// the label, i.e. index = ((c·D + d)·H + y)·W + x. <see cref="Label"/> holds contiguous class indices (0 = background).
/// Samples are plain arrays so they can be built on worker threads without touching libtorch.
/// </summary>
public sealed class StackSample
{
    public StackSample(int channels, int depth, int height, int width, float[] image, int[]? label)
    {
        if (channels < 1 || depth < 1 || height < 1 || width < 1)
            throw new ArgumentException($"sample dimensions must be positive, got C={channels} D={depth} H={height} W={width}");
        long n = (long)channels * depth * height * width;
        if (image.LongLength != n) throw new ArgumentException($"image has {image.Length} values, (C, D, H, W) = ({channels}, {depth}, {height}, {width}) needs {n}");
        if (label is not null && label.LongLength != (long)depth * height * width)
            throw new ArgumentException($"label has {label.Length} values, (D, H, W) = ({depth}, {height}, {width}) needs {(long)depth * height * width}");
        Channels = channels;
        Depth = depth;
        Height = height;
        Width = width;
        Image = image;
        Label = label;
    }

    public int Channels { get; }
    public int Depth { get; }
    public int Height { get; }
    public int Width { get; }
    /// <summary>(C, D, H, W) float values.</summary>
    public float[] Image { get; }
    /// <summary>(D, H, W) class indices, or null for an unlabelled sample.</summary>
    public int[]? Label { get; }
    /// <summary>Where the sample came from (for logs): case id, centre slice index.</summary>
    public string CaseId { get; init; } = "";
    public int CenterSlice { get; init; }

    public int PlaneSize => Height * Width;

    /// <summary>Deep copy.</summary>
    public StackSample Clone() => new(Channels, Depth, Height, Width, (float[])Image.Clone(), (int[]?)Label?.Clone())
    {
        CaseId = CaseId,
        CenterSlice = CenterSlice,
    };

    /// <summary>A sample with the same metadata and new arrays/size (used by geometric transforms).</summary>
    public StackSample With(int height, int width, float[] image, int[]? label) =>
        new(Channels, Depth, height, width, image, label) { CaseId = CaseId, CenterSlice = CenterSlice };
}
