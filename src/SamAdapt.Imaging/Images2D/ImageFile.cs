using SamAdapt.Common;
namespace SamAdapt.Imaging.Images2D;

/// <summary>
/// Reads PNG (1/2/4/8/16-bit; grey, grey+alpha, RGB, RGBA, palette), JPEG (baseline/progressive) and BMP through
/// stb_image, and writes PNG (8- and 16-bit) and JPEG through stb_image_write, via libsamadapt_image.so.
/// 16-bit PNGs keep their 16 bits. Decoding failures raise <see cref="InvalidDataException"/> naming the file and the
/// codec's reason. Conventions: see <see cref="Image2D"/>.
/// </summary>
public static unsafe class ImageFile
{
    /// <summary>File extensions this reader handles (lower case, with dot).</summary>
    public static IReadOnlyList<string> Extensions { get; } = [".png", ".jpg", ".jpeg", ".bmp"];

    public static bool IsImageFile(string path) =>
        Extensions.Contains(Path.GetExtension(path).ToLowerInvariant());

    /// <summary>Decodes an image file.</summary>
    public static Image2D Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        return Decode(bytes, path);
    }

    /// <summary>Decodes an image file into a <see cref="Volume"/> (<see cref="Image2D.ToVolume"/>).</summary>
    public static Volume ReadVolume(string path) => Read(path).ToVolume();

    /// <summary>Width, height, channels and bit depth without decoding the pixels.</summary>
    public static (int Width, int Height, int Channels, int BitDepth) ReadInfo(string path)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length == 0) throw new InvalidDataException($"{path}: cannot read image: the file is empty");
        ImageCodecNative.EnsureLoaded();
        int w, h, c, bits;
        fixed (byte* p = bytes)
        {
            if (ImageCodecNative.Info(p, bytes.Length, &w, &h, &c, &bits) != 0)
                throw new InvalidDataException($"{path}: cannot read image: {ImageCodecNative.LastError}");
        }
        return (w, h, c, bits);
    }

    /// <summary>Decodes encoded image bytes; <paramref name="source"/> names them in errors.</summary>
    public static Image2D Decode(byte[] bytes, string source = "image")
    {
        if (bytes.Length == 0) throw new InvalidDataException($"{source}: cannot decode image: the file is empty");
        ImageCodecNative.EnsureLoaded();
        int w, h, c, bits;
        void* pixels = null;
        fixed (byte* p = bytes)
        {
            // size and completeness first: a huge image is refused before decoding, a truncated one is never zero-filled
            if (ImageCodecNative.Info(p, bytes.Length, &w, &h, &c, &bits) != 0)
                throw new InvalidDataException($"{source}: cannot decode image: {ImageCodecNative.LastError}");
            try { SamAdapt.Common.ResourceLimits.Check($"{w}×{h} image with {c} channel(s)", (double)w * h * Math.Max(c, 3), bits / 8 + 16); }
            catch (SamAdapt.Common.ResourceLimitException e) { throw new SamAdapt.Common.ResourceLimitException($"{source}: {e.Message}"); }
            CheckComplete(bytes, source);
            if (ImageCodecNative.Decode(p, bytes.Length, &w, &h, &c, &bits, &pixels) != 0)
                throw new InvalidDataException($"{source}: cannot decode image: {ImageCodecNative.LastError}");
        }
        try
        {
            long n = (long)w * h * c;
            if (bits == 16)
            {
                var data = new ushort[n];
                new ReadOnlySpan<ushort>(pixels, checked((int)n)).CopyTo(data);
                return new Image2D(w, h, c, data, source);
            }
            else
            {
                var data = new byte[n];
                new ReadOnlySpan<byte>(pixels, checked((int)n)).CopyTo(data);
                return new Image2D(w, h, c, data, source);
            }
        }
        finally
        {
            ImageCodecNative.Free(pixels);
        }
    }

    /// <summary>Refuses truncated files that the decoder would pad silently: an uncompressed BMP shorter than its pixel
    /// array, a JPEG without its end-of-image marker after the scan.</summary>
    private static void CheckComplete(byte[] b, string source)
    {
        if (b.Length >= 2 && b[0] == 'B' && b[1] == 'M')
        {
            if (b.Length < 34) throw new InvalidDataException($"{source}: truncated BMP: expected a header of at least 34 bytes, found {b.Length}");
            long offset = BitConverter.ToUInt32(b, 10);
            long width = Math.Abs((long)BitConverter.ToInt32(b, 18)), height = Math.Abs((long)BitConverter.ToInt32(b, 22));
            int bpp = BitConverter.ToUInt16(b, 28);
            uint compression = BitConverter.ToUInt32(b, 30);
            if (compression is 0 or 3 or 6)
            {
                long stride = (bpp * width + 31) / 32 * 4;
                long need = offset + stride * height;
                if (b.Length < need)
                    throw new InvalidDataException($"{source}: truncated BMP: field pixel array: expected {need} bytes for {width}×{height} at {bpp} bits, found {b.Length}");
            }
        }
        else if (b.Length >= 8 && b[0] == 0x89 && b[1] == 'P' && b[2] == 'N' && b[3] == 'G')
        {
            // every chunk within the file with a matching CRC-32, up to IEND (the decoder ignores CRCs)
            long pos = 8;
            while (true)
            {
                if (pos + 12 > b.Length) throw new InvalidDataException($"{source}: truncated PNG: expected a chunk at byte {pos} (no IEND), found the end of the file");
                long len = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan((int)pos));
                if (pos + 12 + len > b.Length)
                    throw new InvalidDataException($"{source}: truncated PNG: chunk at byte {pos} declares {len} bytes, {b.Length - pos - 12} present");
                var type = System.Text.Encoding.ASCII.GetString(b, (int)pos + 4, 4);
                uint crc = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan((int)(pos + 8 + len)));
                uint actual = Crc32.Compute(b.AsSpan((int)pos + 4, (int)len + 4));
                if (crc != actual)
                    throw new InvalidDataException($"{source}: corrupt PNG: chunk '{type}' at byte {pos}: expected CRC-32 {actual:x8}, found {crc:x8}");
                pos += 12 + len;
                if (type == "IEND") break;
            }
        }
        else if (b.Length >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF)
        {
            int sos = b.AsSpan().IndexOf([(byte)0xFF, (byte)0xDA]);
            int eoi = b.AsSpan().LastIndexOf([(byte)0xFF, (byte)0xD9]);
            if (sos < 0 || eoi < sos)
                throw new InvalidDataException($"{source}: truncated JPEG: expected an end-of-image marker (FF D9) after the scan data, found none");
        }
    }

    /// <summary>PNG-encodes an image (8- or 16-bit, 1–4 channels).</summary>
    public static byte[] EncodePng(Image2D image)
    {
        ImageCodecNative.EnsureLoaded();
        byte* output = null;
        int length = 0, rc;
        if (image.BitDepth == 16)
            fixed (ushort* p = image.Pixels16)
                rc = ImageCodecNative.EncodePng(p, image.Width, image.Height, image.Channels, 16, &output, &length);
        else
            fixed (byte* p = image.Pixels8)
                rc = ImageCodecNative.EncodePng(p, image.Width, image.Height, image.Channels, 8, &output, &length);
        return TakeOutput(rc, output, length, "PNG");
    }

    /// <summary>JPEG-encodes an 8-bit image (alpha is dropped), quality 1–100.</summary>
    public static byte[] EncodeJpeg(Image2D image, int quality = 90)
    {
        if (image.BitDepth != 8) throw new ArgumentException("JPEG needs 8-bit samples", nameof(image));
        ImageCodecNative.EnsureLoaded();
        byte* output = null;
        int length = 0, rc;
        fixed (byte* p = image.Pixels8)
            rc = ImageCodecNative.EncodeJpeg(p, image.Width, image.Height, image.Channels, quality, &output, &length);
        return TakeOutput(rc, output, length, "JPEG");
    }

    private static byte[] TakeOutput(int rc, byte* output, int length, string what)
    {
        if (rc != 0) throw new InvalidOperationException($"{what} encoding failed: {ImageCodecNative.LastError}");
        try
        {
            return new ReadOnlySpan<byte>(output, length).ToArray();
        }
        finally
        {
            ImageCodecNative.Free(output);
        }
    }

    public static void WritePng(string path, Image2D image) => File.WriteAllBytes(path, EncodePng(image));

    public static void WriteJpeg(string path, Image2D image, int quality = 90) => File.WriteAllBytes(path, EncodeJpeg(image, quality));

    /// <summary>Writes an RGB overlay (interleaved, top row first) as an 8-bit RGB PNG.</summary>
    public static void WriteRgbPng(string path, int width, int height, byte[] rgb) =>
        WritePng(path, new Image2D(width, height, 3, rgb));

    /// <summary>
    /// Writes a 2-D volume (shape [W, H] or [W, H, 1], row j = 0 first; the affine is ignored) as PNG:
    /// UInt8 → 8-bit grey, UInt16 → 16-bit grey, Rgb24 → RGB, Rgba32 → RGBA, UInt16 [W, H, 1, 1, 3|4] (how 16-bit colour
    /// PNGs are read) → 16-bit RGB/RGBA; any other type must hold integers (after slope/intercept) and is written as
    /// 8-bit grey when they fit 0..255, else 16-bit grey when they fit 0..65535, else it is an error — label maps are
    /// never rescaled or clipped. The file is written atomically: on error nothing is left at <paramref name="path"/>.
    /// </summary>
    public static void WritePng(string path, Volume v)
    {
        var bytes = EncodePng(v, path);
        AtomicFile.Write(path, s => s.Write(bytes));
    }

    /// <summary>PNG bytes of a 2-D volume (rules of <see cref="WritePng(string, Volume)"/>); <paramref name="name"/> names it in errors.</summary>
    public static byte[] EncodePng(Volume v, string name)
    {
        var s = v.Shape;
        int w = s[0], h = s.Length > 1 ? s[1] : 1;
        if (s.Length == 5 && s[2] == 1 && s[3] == 1 && s[4] is 3 or 4 && v.Type == VoxelType.UInt16 && !v.IsScaled)
        {
            int c = s[4];
            long n = (long)w * h;
            var planes = (ushort[])v.Data;
            var interleaved = new ushort[n * c];
            for (int ch = 0; ch < c; ch++)
                for (long i = 0; i < n; i++) interleaved[i * c + ch] = planes[ch * n + i];
            return EncodePng(new Image2D(w, h, c, interleaved));
        }
        if (s.Length > 3 || (s.Length == 3 && s[2] != 1) || s.Length < 1)
            throw new ArgumentException($"{name}: only 2-D volumes ([W, H] or [W, H, 1]) can be written as PNG, got [{string.Join(",", s)}]");
        switch (v.Type)
        {
            case VoxelType.Rgb24:
                return EncodePng(new Image2D(w, h, 3, (byte[])v.Data));
            case VoxelType.Rgba32:
                return EncodePng(new Image2D(w, h, 4, (byte[])v.Data));
            case VoxelType.UInt8 when !v.IsScaled:
                return EncodePng(new Image2D(w, h, 1, (byte[])v.Data));
            case VoxelType.UInt16 when !v.IsScaled:
                return EncodePng(new Image2D(w, h, 1, (ushort[])v.Data));
        }
        var values = VoxelValues.Physical(v);
        double max = 0;
        for (long i = 0; i < values.LongLength; i++)
        {
            var x = values[i];
            if (x < 0 || x != Math.Floor(x) || !double.IsFinite(x))
                throw new ArgumentException(
                    $"{name}: cannot write {x} at voxel {i} to a grey PNG: values must be non-negative integers " +
                    "(PNG output is for masks and overlays; window/rescale images to 0..255 first)");
            if (x > max) max = x;
        }
        if (max <= 255)
        {
            var b = new byte[values.LongLength];
            for (long i = 0; i < b.LongLength; i++) b[i] = (byte)values[i];
            return EncodePng(new Image2D(w, h, 1, b));
        }
        if (max <= 65535)
        {
            var u = new ushort[values.LongLength];
            for (long i = 0; i < u.LongLength; i++) u[i] = (ushort)values[i];
            return EncodePng(new Image2D(w, h, 1, u));
        }
        throw new ArgumentException($"{name}: value {max} does not fit a 16-bit PNG");
    }

    /// <summary>Writes a label mask (values 0..255, row j = 0 first) as an 8-bit grey PNG.</summary>
    public static void WriteMaskPng(string path, int width, int height, byte[] mask) =>
        WritePng(path, new Image2D(width, height, 1, mask));
}
