namespace SamAdapt.Server.Models;

/// <summary>A prompt on one slice, in its pixel frame (x = column i, y = row j, the voxel grid of the slice).</summary>
/// <param name="Points">(x, y, label): 1 foreground, 0 background.</param>
/// <param name="Box">x0, y0, x1, y1, or null.</param>
public sealed record SlicePrompt(IReadOnlyList<(double X, double Y, int Label)> Points, double[]? Box);

/// <summary>An image embedding of one slice (owned by the segmenter's cache; disposed when evicted).</summary>
public interface ISliceEmbedding : IDisposable
{
    int Height { get; }
    int Width { get; }
}

/// <summary>
/// A model that segments a slice from clicks and boxes (SAM, MedSAM; MSA plugs in by implementing it). The server calls
/// one instance from one request at a time (<see cref="ModelGate"/>), so implementations need not be thread-safe.
/// </summary>
public interface IInteractiveSegmenter : IDisposable
{
    /// <summary>Name shown in the page.</summary>
    string Name { get; }

    /// <summary>Embeds an H×W grey 8-bit slice (row-major): the expensive step, done once per slice.</summary>
    ISliceEmbedding Embed(byte[] grey, int height, int width);

    /// <summary>The H×W binary mask (row-major) for <paramref name="prompt"/> on an embedded slice.</summary>
    bool[] Segment(ISliceEmbedding embedding, SlicePrompt prompt);
}
