using System.Buffers.Binary;
using System.Text;

namespace SamAdapt.Reliability.Tests.Fuzz;

/// <summary>One mutated input: what was done to which seed (reproducible from the case number and the seed).</summary>
public sealed record Mutation(string Description, byte[] Bytes);

/// <summary>
/// Seeded mutators: truncation at an offset, byte flips, and header-field corruption at the offsets that matter for each
/// format (NIfTI dims/datatype/pixdim/vox_offset/sform, DICOM element values and lengths, .npy header text, the zip/pickle
/// bytes of .pth, the safetensors header, PNG/JPEG/BMP headers, JSON numbers and structure).
/// </summary>
public static class Mutator
{
    private static readonly long[] Interesting = [0, 1, -1, 2, 3, 7, 12, 32, 255, 256, 32767, 32768, 65535, 65536, 100000, int.MaxValue, uint.MaxValue, 1L << 32, long.MaxValue];

    public static Mutation Mutate(Seed seed, Random rng)
    {
        var b = (byte[])seed.Bytes.Clone();
        int choice = rng.Next(10);
        if (choice < 3) return Truncate(b, rng);
        if (choice < 5) return Flip(b, rng);
        return seed.Kind switch
        {
            SeedKind.Nifti => NiftiField(b, rng),
            SeedKind.NiftiGz => rng.Next(2) == 0 ? Truncate(b, rng) : Flip(b, rng),
            SeedKind.Dicom => DicomField(b, rng),
            SeedKind.Npy => NpyHeader(b, rng),
            SeedKind.ModelJson or SeedKind.DatasetJson => Json(b, rng),
            SeedKind.SafeTensors => SafeTensorsHeader(b, rng),
            SeedKind.Bmp => IntAt(b, rng, [2, 10, 14, 18, 22, 26, 28, 30, 34], "BMP header"),
            SeedKind.Png => IntAt(b, rng, [8, 16, 20, 24, 25, 28], "PNG IHDR"),
            _ => IntAt(b, rng, Enumerable.Range(0, Math.Min(b.Length, 600) / 4).Select(i => i * 4).ToArray(), "header"),
        };
    }

    private static Mutation Truncate(byte[] b, Random rng)
    {
        // favour the header region and the very end (one byte short), where readers are most likely to trust lengths
        int at = rng.Next(4) switch
        {
            0 => b.Length - 1,
            1 => rng.Next(Math.Min(b.Length, 1024)),
            _ => rng.Next(b.Length),
        };
        return new Mutation($"truncated to {at} of {b.Length} bytes", b[..at]);
    }

    private static Mutation Flip(byte[] b, Random rng)
    {
        int n = 1 + rng.Next(8);
        var where = new List<int>();
        for (int i = 0; i < n; i++)
        {
            int p = rng.Next(2) == 0 ? rng.Next(Math.Min(b.Length, 512)) : rng.Next(b.Length);
            b[p] ^= (byte)(1 << rng.Next(8));
            where.Add(p);
        }
        return new Mutation($"bit flips at {string.Join(",", where)}", b);
    }

    private static Mutation IntAt(byte[] b, Random rng, int[] offsets, string what)
    {
        var valid = offsets.Where(o => o + 4 <= b.Length).ToArray();
        if (valid.Length == 0) return Flip(b, rng);
        int o = valid[rng.Next(valid.Length)];
        long v = Interesting[rng.Next(Interesting.Length)];
        int width = rng.Next(3) switch { 0 => 2, _ => 4 };
        if (width == 2) BinaryPrimitives.WriteInt16LittleEndian(b.AsSpan(o), (short)v);
        else BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(o), (int)v);
        if (rng.Next(3) == 0 && o + 4 <= b.Length) // big-endian variants (PNG is big-endian)
        {
            if (width == 2) BinaryPrimitives.WriteInt16BigEndian(b.AsSpan(o), (short)v);
            else BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(o), (int)v);
        }
        return new Mutation($"{what}: {width}-byte value {v} at {o}", b);
    }

    /// <summary>NIfTI-1 header fields: dim[0..7] (40), datatype (70), bitpix (72), pixdim (76..), vox_offset (108),
    /// scl_slope/inter (112/116), qform/sform codes (252/254), quatern (256..), srow (280..).</summary>
    private static Mutation NiftiField(byte[] b, Random rng)
    {
        int k = rng.Next(6);
        if (k == 0)
        {
            int d = rng.Next(8);
            short v = (short)Interesting[rng.Next(Interesting.Length)];
            BinaryPrimitives.WriteInt16LittleEndian(b.AsSpan(40 + 2 * d), v);
            return new Mutation($"NIfTI dim[{d}] = {v}", b);
        }
        if (k == 1)
        {
            short v = (short)new[] { 0, 1, 2, 4, 8, 16, 64, 128, 256, 512, 768, 1024, 1280, 1536, 2304, 999 }[rng.Next(16)];
            BinaryPrimitives.WriteInt16LittleEndian(b.AsSpan(70), v);
            return new Mutation($"NIfTI datatype = {v}", b);
        }
        float[] floats = [0, -1, float.NaN, float.PositiveInfinity, 1e30f, 1e-30f, 3.4e38f, -0f];
        if (k == 2)
        {
            int o = rng.Next(2) == 0 ? 108 : 76 + 4 * rng.Next(8);
            float v = floats[rng.Next(floats.Length)];
            BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(o), v);
            return new Mutation($"NIfTI float at {o} (pixdim/vox_offset) = {v}", b);
        }
        if (k == 3)
        {
            int o = rng.Next(2) == 0 ? 112 : 116;
            float v = floats[rng.Next(floats.Length)];
            BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(o), v);
            return new Mutation($"NIfTI scl_{(o == 112 ? "slope" : "inter")} = {v}", b);
        }
        if (k == 4)
        {
            bool zero = rng.Next(2) == 0;
            for (int i = 0; i < 12; i++)
                BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(280 + 4 * i), zero ? 0 : floats[rng.Next(floats.Length)]);
            BinaryPrimitives.WriteInt16LittleEndian(b.AsSpan(254), (short)(rng.Next(2) + 1));
            return new Mutation($"NIfTI sform {(zero ? "all zero" : "random")} with sform_code > 0", b);
        }
        int code = rng.Next(2) == 0 ? 252 : 254;
        short c = (short)new[] { -1, 0, 1, 2, 6, 1000 }[rng.Next(6)];
        BinaryPrimitives.WriteInt16LittleEndian(b.AsSpan(code), c);
        return new Mutation($"NIfTI {(code == 252 ? "qform" : "sform")}_code = {c}", b);
    }

    /// <summary>DICOM: rewrite the value of a numeric/decimal image field (Rows, BitsAllocated, IPP, RescaleSlope, …) or an
    /// element length, found by scanning for the tag bytes.</summary>
    private static Mutation DicomField(byte[] b, Random rng)
    {
        (ushort G, ushort E, string Name, bool Text)[] tags =
        [
            (0x0028, 0x0010, "Rows", false), (0x0028, 0x0011, "Columns", false), (0x0028, 0x0100, "BitsAllocated", false),
            (0x0028, 0x0101, "BitsStored", false), (0x0028, 0x0102, "HighBit", false), (0x0028, 0x0002, "SamplesPerPixel", false),
            (0x0020, 0x0032, "ImagePositionPatient", true), (0x0020, 0x0037, "ImageOrientationPatient", true),
            (0x0028, 0x0030, "PixelSpacing", true), (0x0028, 0x1053, "RescaleSlope", true), (0x0028, 0x1052, "RescaleIntercept", true),
            (0x7FE0, 0x0010, "PixelData length", false),
        ];
        var t = tags[rng.Next(tags.Length)];
        Span<byte> le = [(byte)t.G, (byte)(t.G >> 8), (byte)t.E, (byte)(t.E >> 8)];
        int at = b.AsSpan().LastIndexOf(le);
        if (at < 0 || at + 12 > b.Length) return Flip(b, rng);
        bool explicitVr = char.IsAsciiLetterUpper((char)b[at + 4]) && char.IsAsciiLetterUpper((char)b[at + 5]);
        int lenAt = explicitVr ? at + 6 : at + 4;
        int valueAt = explicitVr ? at + 8 : at + 8;
        if (explicitVr && (b[at + 4] == 'O' || b[at + 4] == 'U' && b[at + 5] == 'N')) { lenAt = at + 8; valueAt = at + 12; }
        if (t.Name == "PixelData length" || rng.Next(6) == 0)
        {
            uint v = (uint)Interesting[rng.Next(Interesting.Length)];
            if (lenAt == at + 6) BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(lenAt), (ushort)v);
            else BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(lenAt), v);
            return new Mutation($"DICOM {t.Name} element length = {v}", b);
        }
        int len = lenAt == at + 6 ? BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(lenAt)) : (int)Math.Min(BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(lenAt)), 64);
        if (valueAt + len > b.Length) return Flip(b, rng);
        if (t.Text)
        {
            string[] values = ["NaN", "abc", "1e400", "-0", "1\\2", "", "  ", "1\\2\\3\\4\\5\\6\\7", "0", "inf"];
            var s = values[rng.Next(values.Length)];
            var bytes = Encoding.ASCII.GetBytes(s.PadRight(len)[..len]);
            bytes.CopyTo(b, valueAt);
            return new Mutation($"DICOM {t.Name} = '{s}'", b);
        }
        ushort u = new ushort[] { 0, 1, 3, 7, 12, 24, 32, 33, 64, 65535 }[rng.Next(10)];
        if (len >= 2) BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(valueAt), u);
        return new Mutation($"DICOM {t.Name} = {u}", b);
    }

    private static Mutation NpyHeader(byte[] b, Random rng)
    {
        if (b.Length < 10) return Flip(b, rng);
        int hl = BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(8));
        if (10 + hl > b.Length) return Flip(b, rng);
        var header = Encoding.Latin1.GetString(b, 10, hl);
        string[] edits =
        [
            "'shape': (4294967296, 4294967296)", "'shape': (-1,)", "'shape': ()", "'shape': (0, 3)", "'shape': (100000, 100000, 3)",
            "'descr': '<f16'", "'descr': '|O'", "'descr': '>i8'", "'descr': [('a', '<i4')]", "'fortran_order': 1", "'fortran_order': True",
            "'shape': ((((((((((1,),),),),),),),),),)", "'shape': (2, 3, 4, 5, 6, 7, 8, 9)",
        ];
        var e = edits[rng.Next(edits.Length)];
        string key = e[1..e.IndexOf('\'', 1)];
        int start = header.IndexOf($"'{key}'", StringComparison.Ordinal);
        if (start < 0) return Flip(b, rng);
        int end = key == "shape" ? header.IndexOf(')', start) + 1 : header.IndexOf(',', start);
        if (end <= start) return Flip(b, rng);
        var newHeader = header[..start] + e + header[end..];
        newHeader = newHeader.Length <= hl ? newHeader.PadRight(hl - 1) + "\n" : newHeader;
        var hb = Encoding.Latin1.GetBytes(newHeader);
        var r = new byte[10 + hb.Length + (b.Length - 10 - hl)];
        b.AsSpan(0, 8).CopyTo(r);
        BinaryPrimitives.WriteUInt16LittleEndian(r.AsSpan(8), (ushort)hb.Length);
        hb.CopyTo(r, 10);
        b.AsSpan(10 + hl).CopyTo(r.AsSpan(10 + hb.Length));
        return new Mutation($".npy header {e}", r);
    }

    private static Mutation SafeTensorsHeader(byte[] b, Random rng)
    {
        if (b.Length < 8) return Flip(b, rng);
        long n = BinaryPrimitives.ReadInt64LittleEndian(b);
        if (rng.Next(3) == 0 || n <= 0 || 8 + n > b.Length)
        {
            long v = Interesting[rng.Next(Interesting.Length)];
            BinaryPrimitives.WriteInt64LittleEndian(b, v);
            return new Mutation($"safetensors header length = {v}", b);
        }
        var json = Encoding.UTF8.GetString(b, 8, (int)n);
        var m = Json(Encoding.UTF8.GetBytes(json), rng);
        var r = new byte[8 + m.Bytes.Length + (b.Length - 8 - (int)n)];
        BinaryPrimitives.WriteInt64LittleEndian(r, m.Bytes.Length);
        m.Bytes.CopyTo(r, 8);
        b.AsSpan(8 + (int)n).CopyTo(r.AsSpan(8 + m.Bytes.Length));
        return new Mutation("safetensors header: " + m.Description, r);
    }

    /// <summary>JSON: a number replaced by an extreme value, a token deleted, or the text cut.</summary>
    private static Mutation Json(byte[] b, Random rng)
    {
        var s = Encoding.UTF8.GetString(b);
        var numbers = System.Text.RegularExpressions.Regex.Matches(s, @"-?\d+(\.\d+)?([eE][-+]?\d+)?");
        int k = rng.Next(4);
        if (k <= 1 && numbers.Count > 0)
        {
            var m = numbers[rng.Next(numbers.Count)];
            string[] values = ["-1", "0", "100000", "4294967296", "1e300", "NaN", "\"x\"", "null", "[]", "99999999999999999999", "-3"];
            var v = values[rng.Next(values.Length)];
            return new Mutation($"JSON number {m.Value} at {m.Index} → {v}", Encoding.UTF8.GetBytes(s[..m.Index] + v + s[(m.Index + m.Length)..]));
        }
        if (k == 2 && s.Length > 2)
        {
            int at = rng.Next(s.Length - 1);
            return new Mutation($"JSON character {at} deleted", Encoding.UTF8.GetBytes(s.Remove(at, 1)));
        }
        int nest = 1 + rng.Next(3) * 5000;
        return new Mutation($"JSON replaced by {nest} nested arrays", Encoding.UTF8.GetBytes(new string('[', nest) + new string(']', nest)));
    }
}
