namespace SamAdapt.Sam.Automatic;

/// <summary>
/// COCO-style uncompressed run-length encoding of an H×W binary mask: the mask is read in <b>column-major</b> order
/// (x outer, y inner — Fortran order of the H×W array) and <see cref="Counts"/> alternates run lengths of false and
/// true pixels, starting with false (so the first count is 0 when the first pixel is set). The counts sum to H·W.
/// This is the reference's <c>{"size": [h, w], "counts": [...]}</c>.
/// </summary>
public sealed record UncompressedRle(int Height, int Width, int[] Counts)
{
    /// <summary>Number of true pixels: the sum of the odd-position counts.</summary>
    public long Area
    {
        get
        {
            long a = 0;
            for (int i = 1; i < Counts.Length; i += 2) a += Counts[i];
            return a;
        }
    }
}

public static partial class AmgUtils
{
    /// <summary>Encodes a row-major H×W mask as column-major uncompressed RLE (see <see cref="UncompressedRle"/>).</summary>
    public static UncompressedRle MaskToRle(ReadOnlySpan<bool> mask, int height, int width)
    {
        CheckMask(mask.Length, height, width);
        var counts = new List<int>();
        if (mask.Length == 0) return new UncompressedRle(height, width, [0]);
        bool current = false;
        int run = 0;
        for (int x = 0; x < width; x++)
            for (int y = 0; y < height; y++)
            {
                bool v = mask[y * width + x];
                if (v != current)
                {
                    counts.Add(run);
                    run = 0;
                    current = v;
                }
                run++;
            }
        counts.Add(run);
        return new UncompressedRle(height, width, counts.ToArray());
    }

    /// <summary>Decodes uncompressed RLE back to a row-major H×W mask. Counts must sum to H·W.</summary>
    public static bool[] RleToMask(UncompressedRle rle)
    {
        ArgumentNullException.ThrowIfNull(rle);
        int h = rle.Height, w = rle.Width;
        long total = 0;
        foreach (var c in rle.Counts)
        {
            if (c < 0) throw new ArgumentException("RLE counts must be non-negative", nameof(rle));
            total += c;
        }
        if (total != (long)h * w) throw new ArgumentException($"RLE counts sum to {total}, a {h}x{w} mask has {(long)h * w} pixels", nameof(rle));
        var mask = new bool[h * w];
        int idx = 0; // column-major position
        bool parity = false;
        foreach (var c in rle.Counts)
        {
            if (parity)
                for (int k = idx; k < idx + c; k++) mask[(k % h) * w + k / h] = true;
            idx += c;
            parity = !parity;
        }
        return mask;
    }

    /// <summary>Area (true pixels) of an RLE mask.</summary>
    public static long AreaFromRle(UncompressedRle rle) => rle.Area;
}
