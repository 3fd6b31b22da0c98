namespace SamAdapt.Imaging.Images2D;

/// <summary>
/// A decoded 2-D image exactly as stored: <see cref="Width"/> × <see cref="Height"/> pixels of 1–4 interleaved
/// channels (grey, grey+alpha, RGB, RGBA; palette images arrive expanded to RGB/RGBA), 8 or 16 bits per sample.
/// Samples are row-major with the top row first: sample c of pixel (x, y) is at (y·Width + x)·Channels + c.
/// <para><b>Volume convention</b> (<see cref="ToVolume"/>): shape [W, H, 1]; i = column x (left → right),
/// j = row y (top → bottom, j = 0 is the file's first row), so the data array is copied as is. The affine is
/// 1 mm pixels with j pointing to −y (anterior → posterior) and the top row at y = H − 1:
/// <c>[[1,0,0,0],[0,−1,0,H−1],[0,0,1,0],[0,0,0,1]]</c> — a PNG saved as NIfTI then shows upright (not mirrored
/// top-to-bottom) in NIfTI viewers' axial view. Writers (<see cref="ImageFile"/>) ignore the affine and always
/// write row j = 0 first, so read → write round trips are exact.</para>
/// <para>Channel mapping: 1 channel → UInt8 or UInt16; grey+alpha → the grey channel only (alpha dropped); 8-bit
/// RGB → Rgb24; 8-bit RGBA → Rgba32; 16-bit RGB/RGBA → UInt16 of shape [W, H, 1, 1, C] (channels on the 5th
/// dimension, the NIfTI vector convention).</para>
/// </summary>
public sealed class Image2D
{
    public Image2D(int width, int height, int channels, byte[] pixels, string source = "")
        : this(width, height, channels, 8, pixels, null, source) { }

    public Image2D(int width, int height, int channels, ushort[] pixels, string source = "")
        : this(width, height, channels, 16, null, pixels, source) { }

    private Image2D(int width, int height, int channels, int bitDepth, byte[]? p8, ushort[]? p16, string source)
    {
        if (width < 1 || height < 1) throw new ArgumentException($"image size must be positive, got {width}x{height}");
        if (channels is < 1 or > 4) throw new ArgumentException($"channels must be 1..4, got {channels}");
        long n = (long)width * height * channels;
        long have = p8?.LongLength ?? p16!.LongLength;
        if (have != n) throw new ArgumentException($"{width}x{height}x{channels} image needs {n} samples, got {have}");
        Width = width;
        Height = height;
        Channels = channels;
        BitDepth = bitDepth;
        Pixels8 = p8;
        Pixels16 = p16;
        Source = source;
    }

    public int Width { get; }
    public int Height { get; }
    public int Channels { get; }
    /// <summary>8 or 16.</summary>
    public int BitDepth { get; }
    /// <summary>Samples when <see cref="BitDepth"/> is 8, else null.</summary>
    public byte[]? Pixels8 { get; }
    /// <summary>Samples when <see cref="BitDepth"/> is 16, else null.</summary>
    public ushort[]? Pixels16 { get; }
    /// <summary>File it was read from (for messages).</summary>
    public string Source { get; }

    /// <summary>Sample c of pixel (x, y) (y = 0 is the top row).</summary>
    public int this[int x, int y, int c = 0] =>
        BitDepth == 8 ? Pixels8![((long)y * Width + x) * Channels + c] : Pixels16![((long)y * Width + x) * Channels + c];

    /// <summary>The affine of the class-level convention for an image of height <paramref name="height"/>.</summary>
    public static double[] AffineFor(int height) => [1, 0, 0, 0, 0, -1, 0, height - 1, 0, 0, 1, 0, 0, 0, 0, 1];

    /// <summary>As a <see cref="Volume"/> (see the class summary for shape, type and affine).</summary>
    public Volume ToVolume()
    {
        long n = (long)Width * Height;
        Volume v;
        var affine = AffineFor(Height);
        if (BitDepth == 8)
        {
            var p = Pixels8!;
            v = Channels switch
            {
                1 => new Volume([Width, Height, 1], VoxelType.UInt8, (byte[])p.Clone(), affine),
                2 => new Volume([Width, Height, 1], VoxelType.UInt8, Pick(p, 2, 0, n), affine),
                3 => new Volume([Width, Height, 1], VoxelType.Rgb24, (byte[])p.Clone(), affine),
                _ => new Volume([Width, Height, 1], VoxelType.Rgba32, (byte[])p.Clone(), affine),
            };
        }
        else
        {
            var p = Pixels16!;
            if (Channels <= 2)
            {
                var grey = Channels == 1 ? (ushort[])p.Clone() : Pick(p, 2, 0, n);
                v = new Volume([Width, Height, 1], VoxelType.UInt16, grey, affine);
            }
            else
            {
                var planes = new ushort[n * Channels];
                for (int c = 0; c < Channels; c++)
                    for (long i = 0; i < n; i++)
                        planes[c * n + i] = p[i * Channels + c];
                v = new Volume([Width, Height, 1, 1, Channels], VoxelType.UInt16, planes, affine);
            }
        }
        v.Source = Source;
        return v;
    }

    private static T[] Pick<T>(T[] src, int stride, int offset, long n)
    {
        var r = new T[n];
        for (long i = 0; i < n; i++) r[i] = src[i * stride + offset];
        return r;
    }
}
