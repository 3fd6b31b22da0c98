using SamAdapt.Imaging.Resize;

namespace SamAdapt.Sam;

/// <summary>
/// SAM's <c>ResizeLongestSide</c> transform (docs/sam.md §4.1–4.2): images are resized so that their longest side is
/// <see cref="TargetLength"/> with Pillow's 8-bit bilinear filter, and prompt coordinates are scaled to match.
/// <para>Coordinates follow the reference exactly: the scale factors <c>newW / w</c> and <c>newH / h</c> are float64
/// quotients and each coordinate is multiplied by its factor in float64 (<see cref="ApplyCoords(ReadOnlySpan{double}, int, int)"/>).
/// The predictor then casts to float32 (<see cref="ApplyCoordsFloat32(ReadOnlySpan{double}, int, int)"/>); the automatic mask
/// generator keeps float64 until inside the prompt encoder.</para>
/// </summary>
public sealed class ResizeLongestSide
{
    public const int DefaultTargetLength = 1024;

    public ResizeLongestSide(int targetLength = DefaultTargetLength)
    {
        if (targetLength <= 0) throw new ArgumentOutOfRangeException(nameof(targetLength), "target length must be positive");
        TargetLength = targetLength;
    }

    /// <summary>The length of the longest side after resizing (1024 for released SAM models).</summary>
    public int TargetLength { get; }

    /// <summary>
    /// Output size for an input of <paramref name="oldH"/>×<paramref name="oldW"/>:
    /// <c>scale = L / max(h, w)</c>, <c>newH = int(h·scale + 0.5)</c>, <c>newW = int(w·scale + 0.5)</c> in float64 (truncation).
    /// </summary>
    public static (int Height, int Width) GetPreprocessShape(int oldH, int oldW, int longSideLength)
    {
        if (oldH <= 0 || oldW <= 0) throw new ArgumentOutOfRangeException(nameof(oldH), $"image size must be positive, got {oldH}x{oldW}");
        double scale = longSideLength * 1.0 / Math.Max(oldH, oldW);
        double newH = oldH * scale, newW = oldW * scale;
        return ((int)(newH + 0.5), (int)(newW + 0.5));
    }

    /// <inheritdoc cref="GetPreprocessShape(int, int, int)"/>
    public (int Height, int Width) GetPreprocessShape(int oldH, int oldW) => GetPreprocessShape(oldH, oldW, TargetLength);

    /// <summary>
    /// Resizes an H×W×C uint8 image (row-major, channels last — SAM takes RGB) to <see cref="GetPreprocessShape(int, int)"/>
    /// with Pillow's bilinear filter. Returns the new pixels and size; an image already at that size is copied unchanged.
    /// </summary>
    public ResizedImage ApplyImage(byte[] hwc, int height, int width, int channels = 3)
    {
        var (nh, nw) = GetPreprocessShape(height, width);
        return new ResizedImage(PilResize.Bilinear(hwc, height, width, channels, nh, nw), nh, nw, channels);
    }

    /// <summary>
    /// Scales interleaved (x, y) pairs given in pixels of an <paramref name="originalH"/>×<paramref name="originalW"/> image
    /// into the resized frame, in float64 as the reference does: <c>x·(newW/w)</c>, <c>y·(newH/h)</c>.
    /// </summary>
    public double[] ApplyCoords(ReadOnlySpan<double> xy, int originalH, int originalW)
    {
        if (xy.Length % 2 != 0) throw new ArgumentException($"coordinates come in (x, y) pairs; got {xy.Length} values", nameof(xy));
        var (nh, nw) = GetPreprocessShape(originalH, originalW);
        double sx = (double)nw / originalW, sy = (double)nh / originalH;
        var r = new double[xy.Length];
        for (int i = 0; i < xy.Length; i += 2)
        {
            r[i] = xy[i] * sx;
            r[i + 1] = xy[i + 1] * sy;
        }
        return r;
    }

    /// <summary>float32 input (e.g. read from a .npy): widened exactly to float64 first, as <c>astype(float)</c> does.</summary>
    public double[] ApplyCoords(ReadOnlySpan<float> xy, int originalH, int originalW) => ApplyCoords(Widen(xy), originalH, originalW);

    /// <summary><see cref="ApplyCoords(ReadOnlySpan{double}, int, int)"/> followed by the predictor's cast to float32.</summary>
    public float[] ApplyCoordsFloat32(ReadOnlySpan<double> xy, int originalH, int originalW) => Narrow(ApplyCoords(xy, originalH, originalW));

    /// <inheritdoc cref="ApplyCoordsFloat32(ReadOnlySpan{double}, int, int)"/>
    public float[] ApplyCoordsFloat32(ReadOnlySpan<float> xy, int originalH, int originalW) => Narrow(ApplyCoords(xy, originalH, originalW));

    /// <summary>
    /// Scales XYXY boxes (4 values each): a box is two corner points, transformed like <see cref="ApplyCoords(ReadOnlySpan{double}, int, int)"/>.
    /// </summary>
    public double[] ApplyBoxes(ReadOnlySpan<double> xyxy, int originalH, int originalW)
    {
        if (xyxy.Length % 4 != 0) throw new ArgumentException($"boxes have 4 values (x0, y0, x1, y1); got {xyxy.Length} values", nameof(xyxy));
        return ApplyCoords(xyxy, originalH, originalW);
    }

    /// <inheritdoc cref="ApplyBoxes(ReadOnlySpan{double}, int, int)"/>
    public double[] ApplyBoxes(ReadOnlySpan<float> xyxy, int originalH, int originalW) => ApplyBoxes(Widen(xyxy), originalH, originalW);

    /// <summary><see cref="ApplyBoxes(ReadOnlySpan{double}, int, int)"/> followed by the predictor's cast to float32.</summary>
    public float[] ApplyBoxesFloat32(ReadOnlySpan<double> xyxy, int originalH, int originalW) => Narrow(ApplyBoxes(xyxy, originalH, originalW));

    /// <inheritdoc cref="ApplyBoxesFloat32(ReadOnlySpan{double}, int, int)"/>
    public float[] ApplyBoxesFloat32(ReadOnlySpan<float> xyxy, int originalH, int originalW) => Narrow(ApplyBoxes(xyxy, originalH, originalW));

    private static double[] Widen(ReadOnlySpan<float> v)
    {
        var r = new double[v.Length];
        for (int i = 0; i < v.Length; i++) r[i] = v[i];
        return r;
    }

    private static float[] Narrow(double[] v)
    {
        var r = new float[v.Length];
        for (int i = 0; i < v.Length; i++) r[i] = (float)v[i];
        return r;
    }
}

/// <summary>An H×W×C uint8 image produced by <see cref="ResizeLongestSide.ApplyImage"/>.</summary>
public sealed record ResizedImage(byte[] Pixels, int Height, int Width, int Channels);
