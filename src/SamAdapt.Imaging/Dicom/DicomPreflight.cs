using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;
using System.Text;

namespace SamAdapt.Imaging.Dicom;

/// <summary>
/// Checks a file in C# before GDCM sees it (GDCM aborts the whole process on some truncated or inconsistent files, which
/// managed code cannot catch; docs/reliability.md). Walks every data element of the file (explicit/implicit VR, little or
/// big endian, deflated data sets, sequences and encapsulated pixel data) and requires:
/// <list type="bullet">
/// <item>every element and item to lie within the file (no truncation anywhere);</item>
/// <item>for an image: Rows, Columns ≥ 1; BitsAllocated 8, 16, 32 (or 64 uncompressed); 1 ≤ BitsStored ≤ BitsAllocated; HighBit &lt;
/// BitsAllocated; SamplesPerPixel 1 or 3; NumberOfFrames ≥ 1; native pixel data at least Rows × Columns × Samples ×
/// Frames × BitsAllocated / 8 bytes;</item>
/// <item>ImagePositionPatient, ImageOrientationPatient, PixelSpacing, RescaleSlope/Intercept, when present, to be finite decimals
/// in the right number.</item>
/// </list>
/// Files that do not parse as DICOM at all are reported as such and never handed to GDCM.
/// </summary>
public static class DicomPreflight
{
    public enum Verdict { NotDicom, Ok, Invalid }

    public sealed record Result(Verdict Verdict, string? Problem = null);

    private const int MaxDepth = 16;
    private const string ExplicitLE = "1.2.840.10008.1.2.1", ImplicitLE = "1.2.840.10008.1.2", ExplicitBE = "1.2.840.10008.1.2.2",
        DeflatedLE = "1.2.840.10008.1.2.1.99";

    private static readonly HashSet<string> KnownVrs =
    [
        "AE", "AS", "AT", "CS", "DA", "DS", "DT", "FL", "FD", "IS", "LO", "LT", "OB", "OD", "OF", "OL", "OV", "OW", "PN", "SH", "SL", "SQ",
        "SS", "ST", "SV", "TM", "UC", "UI", "UL", "UN", "UR", "US", "UT", "UV",
    ];

    private static readonly HashSet<string> LongVrs = ["OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"];

    /// <summary>Checks <paramref name="path"/>; the problem names the file, the field, what was expected and what was found.</summary>
    public static Result Check(string path)
    {
        byte[] bytes;
        try
        {
            var len = new FileInfo(path).Length;
            if (len > SamAdapt.Common.ResourceLimits.MaxBytes)
                return new Result(Verdict.Invalid, $"{path}: file of {len} bytes exceeds the memory limit (raise it with --max-memory GB)");
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return new Result(Verdict.Invalid, $"{path}: {e.Message}"); }
        try { return CheckBytes(bytes, path); }
        catch (Bad e) { return new Result(Verdict.Invalid, $"{path}: {e.Message}"); }
        catch (Exception e) when (e is ArgumentException or IndexOutOfRangeException or OverflowException)
        { return new Result(Verdict.Invalid, $"{path}: not a well-formed DICOM file ({e.Message})"); }
    }

    private sealed class Bad(string message) : Exception(message);

    private sealed class Fields
    {
        public readonly Dictionary<uint, byte[]> Values = new();
        public long PixelLength = -1;
        public bool PixelEncapsulated;
        public bool BigEndian;
    }

    private static Result CheckBytes(byte[] b, string path)
    {
        int pos;
        bool hasMagic = b.Length >= 132 && b[128] == 'D' && b[129] == 'I' && b[130] == 'C' && b[131] == 'M';
        if (hasMagic) pos = 132;
        else
        {
            // no preamble: accept only a data set that starts with a plausible group (0002 or 0008) tag
            if (b.Length < 8) return new Result(Verdict.NotDicom);
            ushort g = BinaryPrimitives.ReadUInt16LittleEndian(b);
            if (g is not (0x0002 or 0x0008)) return new Result(Verdict.NotDicom);
            pos = 0;
        }

        string ts = ExplicitLE;
        bool explicitVr = true;
        var fields = new Fields();
        // file meta information: explicit VR little endian, group 0002
        if (pos + 4 <= b.Length && BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(pos)) == 0x0002)
        {
            int end = b.Length;
            var meta = new Fields();
            pos = Walk(b, pos, end, true, false, meta, 0, stopAtGroupChange: 0x0002);
            if (meta.Values.TryGetValue(Tag(0x0002, 0x0010), out var tsv))
            {
                ts = Text(tsv);
                if (ts is not (ExplicitLE or ImplicitLE or ExplicitBE or DeflatedLE)
                    && !ts.StartsWith("1.2.840.10008.1.2.4.", StringComparison.Ordinal) && ts != "1.2.840.10008.1.2.5")
                    throw new Bad($"field TransferSyntaxUID (0002,0010): expected a DICOM transfer syntax (1.2.840.10008.1.2…), found '{Clip(ts)}'");
            }
        }
        else if (hasMagic) throw new Bad("field group 0002 (file meta information): expected after 'DICM', found none");
        else
        {
            // raw data set without meta: implicit VR little endian unless the VR bytes look explicit
            explicitVr = pos + 6 <= b.Length && char.IsAsciiLetterUpper((char)b[pos + 4]) && char.IsAsciiLetterUpper((char)b[pos + 5]);
            ts = explicitVr ? ExplicitLE : ImplicitLE;
        }
        try
        {
            if (ts == ImplicitLE) { explicitVr = false; Walk(b, pos, b.Length, false, false, fields, 0); }
            else if (ts == ExplicitBE) { fields.BigEndian = true; Walk(b, pos, b.Length, true, true, fields, 0); }
            else if (ts == DeflatedLE)
            {
                using var inflated = new MemoryStream();
                using (var z = new DeflateStream(new MemoryStream(b, pos, b.Length - pos), CompressionMode.Decompress))
                {
                    var buf = new byte[81920];
                    int n;
                    while ((n = z.Read(buf)) > 0)
                    {
                        inflated.Write(buf, 0, n);
                        SamAdapt.Common.ResourceLimits.Check("deflated data set", inflated.Length);
                    }
                }
                var d = inflated.ToArray();
                Walk(d, 0, d.Length, true, false, fields, 0);
            }
            else
            {
                try { Walk(b, pos, b.Length, true, false, fields, 0); }
                catch (Bad) when (!LooksExplicit(b, pos))
                {
                    // a data set written implicit although the meta says explicit (GDCM and pydicom read these too)
                    fields = new Fields();
                    Walk(b, pos, b.Length, false, false, fields, 0);
                }
            }
        }
        catch (InvalidDataException e)
        {
            throw new Bad($"deflated data set is corrupt: {e.Message}");
        }
        catch (Bad) when (!hasMagic)
        {
            return new Result(Verdict.NotDicom);
        }
        if (pos >= b.Length)
            throw new Bad("expected data elements after the file meta information, found none");
        return CheckImage(fields, path);
    }

    private static bool LooksExplicit(byte[] b, int pos) =>
        pos + 6 <= b.Length && char.IsAsciiLetterUpper((char)b[pos + 4]) && char.IsAsciiLetterUpper((char)b[pos + 5]);

    private static Result CheckImage(Fields f, string path)
    {
        if (f.PixelLength < 0) return new Result(Verdict.Ok); // no image: GDCM only reads the header
        long? U(ushort g, ushort e)
        {
            if (!f.Values.TryGetValue(Tag(g, e), out var v)) return null;
            if (v.Length != 2) throw new Bad($"field ({g:X4},{e:X4}): expected one 2-byte unsigned value, found {v.Length} byte(s)");
            return f.BigEndian ? BinaryPrimitives.ReadUInt16BigEndian(v) : BinaryPrimitives.ReadUInt16LittleEndian(v);
        }
        if (!f.Values.ContainsKey(Tag(0x0028, 0x0010)) || !f.Values.ContainsKey(Tag(0x0028, 0x0011)))
            return new Result(Verdict.Ok); // no image geometry: the reader treats the file as holding no image
        long rows = U(0x0028, 0x0010) ?? 0, cols = U(0x0028, 0x0011) ?? 0;
        foreach (var e in new ushort[] { 0x0002, 0x0006, 0x0100, 0x0101, 0x0102, 0x0103 }) U(0x0028, e); // one 2-byte value each
        if (rows < 1 || cols < 1) throw new Bad($"field Rows/Columns: expected ≥ 1 for an image with pixel data, found {rows}×{cols}");
        // GDCM's codecs assert on other widths; 64 bits only as native (uncompressed) data
        string allowed = f.PixelEncapsulated ? "8, 16 or 32" : "8, 16, 32 or 64";
        long bits = U(0x0028, 0x0100) ?? throw new Bad($"field BitsAllocated (0028,0100): expected {allowed}, found none");
        if (bits is not (8 or 16 or 32) && !(bits == 64 && !f.PixelEncapsulated))
            throw new Bad($"field BitsAllocated (0028,0100): expected {allowed}, found {bits}");
        long stored = U(0x0028, 0x0101) ?? bits;
        if (stored < 1 || stored > bits) throw new Bad($"field BitsStored (0028,0101): expected 1..{bits} (BitsAllocated), found {stored}");
        long high = U(0x0028, 0x0102) ?? stored - 1;
        if (high >= bits || high < stored - 1) throw new Bad($"field HighBit (0028,0102): expected {stored - 1}..{bits - 1}, found {high}");
        long spp = U(0x0028, 0x0002) ?? 1;
        if (spp is not (1 or 3)) throw new Bad($"field SamplesPerPixel (0028,0002): expected 1 or 3, found {spp}");
        long frames = 1;
        if (f.Values.TryGetValue(Tag(0x0028, 0x0008), out var fr) && Text(fr) is { Length: > 0 } ft)
        {
            if (!long.TryParse(ft, NumberStyles.Integer, CultureInfo.InvariantCulture, out frames) || frames < 1)
                throw new Bad($"field NumberOfFrames (0028,0008): expected an integer ≥ 1, found '{Clip(ft)}'");
        }
        if (f.Values.TryGetValue(Tag(0x3004, 0x000C), out var gfov) && Text(gfov) is { Length: > 0 } gf && gf.Split('\\').Length != frames)
            throw new Bad($"field GridFrameOffsetVector (3004,000C): expected {frames} value(s) (NumberOfFrames), found {gf.Split('\\').Length}");
        string photometric = f.Values.TryGetValue(Tag(0x0028, 0x0004), out var ph) ? Text(ph).ToUpperInvariant() : "";
        // YBR_FULL_422 / YBR_PARTIAL_422 native data store two samples per pixel (chroma subsampled horizontally)
        double perPixel = spp == 3 && photometric.EndsWith("_422", StringComparison.Ordinal) ? 2 : spp;
        double need = (double)rows * cols * perPixel * frames * bits / 8;
        SamAdapt.Common.ResourceLimits.Check($"pixel data ({cols}×{rows}×{spp}×{frames} of {bits} bits)", need);
        if (!f.PixelEncapsulated && f.PixelLength < Math.Ceiling(need))
            throw new Bad($"field PixelData (7FE0,0010): expected {Math.Ceiling(need)} bytes for {cols}×{rows}×{spp}×{frames} samples of {bits} bits, found {f.PixelLength}");
        // the retired RecognitionCode: GDCM asserts on any value but the ACR-NEMA ones
        if (f.Values.TryGetValue(Tag(0x0008, 0x0010), out var rc) && Text(rc) is { Length: > 0 } rcs
            && !(rcs.StartsWith("ACR-NEMA", StringComparison.Ordinal) || rcs.StartsWith("ACRNEMA", StringComparison.Ordinal) || rcs.StartsWith("MIPS 2.0", StringComparison.Ordinal)))
            throw new Bad($"field RecognitionCode (0008,0010): expected ACR-NEMA, ACRNEMA or MIPS 2.0, found '{Clip(rcs)}'");
        Decimals(f, 0x0020, 0x0032, 3, "ImagePositionPatient");
        Decimals(f, 0x0020, 0x0037, 6, "ImageOrientationPatient");
        Decimals(f, 0x0028, 0x0030, 2, "PixelSpacing");
        Decimals(f, 0x0028, 0x1053, 1, "RescaleSlope");
        Decimals(f, 0x0028, 0x1052, 1, "RescaleIntercept");
        Decimals(f, 0x0018, 0x0050, 1, "SliceThickness");
        Decimals(f, 0x0018, 0x0088, 1, "SpacingBetweenSlices");
        return new Result(Verdict.Ok);
    }

    private static void Decimals(Fields f, ushort g, ushort e, int count, string name)
    {
        if (!f.Values.TryGetValue(Tag(g, e), out var v)) return;
        var s = Text(v);
        if (s.Length == 0) return;
        var parts = s.Split('\\');
        if (parts.Length != count)
            throw new Bad($"field {name} ({g:X4},{e:X4}): expected {count} decimal value(s), found {parts.Length} ('{Clip(s)}')");
        foreach (var p in parts)
            if (!double.TryParse(p.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var x) || !double.IsFinite(x))
                throw new Bad($"field {name} ({g:X4},{e:X4}): expected finite decimal numbers, found '{Clip(s)}'");
    }

    private static string Clip(string s) => s.Length > 40 ? s[..40] + "…" : s;

    private static string Text(byte[] v) => Encoding.Latin1.GetString(v).Trim('\0', ' ');

    private static uint Tag(ushort g, ushort e) => ((uint)g << 16) | e;

    private static ushort U16(byte[] b, int p, bool be) => be ? BinaryPrimitives.ReadUInt16BigEndian(b.AsSpan(p)) : BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(p));

    private static uint U32(byte[] b, int p, bool be) => be ? BinaryPrimitives.ReadUInt32BigEndian(b.AsSpan(p)) : BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(p));

    /// <summary>Walks elements in [pos, end); returns the position after the last one read. Records top-level values of
    /// group 0002/0008/0018/0020/0028 (short) and the pixel data. <paramref name="stopAtGroupChange"/>: stop before the
    /// first element of another group (file meta).</summary>
    private static int Walk(byte[] b, int pos, int end, bool explicitVr, bool be, Fields f, int depth, int stopAtGroupChange = -1,
        bool untilItemDelimiter = false)
    {
        if (depth > MaxDepth) throw new Bad($"sequences nested deeper than {MaxDepth} levels");
        while (pos < end)
        {
            if (pos + 8 > end) throw new Bad($"truncated: element header at byte {pos} needs 8 bytes, found {end - pos}");
            ushort g = U16(b, pos, be), e = U16(b, pos + 2, be);
            if (stopAtGroupChange >= 0 && g != stopAtGroupChange) return pos;
            if (g == 0xFFFE)
            {
                if (e == 0xE00D && untilItemDelimiter) return pos + 8; // item delimiter
                throw new Bad($"unexpected item tag (FFFE,{e:X4}) at byte {pos}");
            }
            string vr;
            long len;
            int hdr;
            if (explicitVr && !(g == 0xFFFE))
            {
                vr = Encoding.ASCII.GetString(b, pos + 4, 2);
                if (!KnownVrs.Contains(vr))
                    throw new Bad($"element ({g:X4},{e:X4}) at byte {pos}: expected a value representation (VR), found bytes {b[pos + 4]:X2} {b[pos + 5]:X2}");
                if (LongVrs.Contains(vr))
                {
                    if (pos + 12 > end) throw new Bad($"truncated: element ({g:X4},{e:X4}) header at byte {pos}");
                    len = U32(b, pos + 8, be);
                    hdr = 12;
                }
                else { len = U16(b, pos + 6, be); hdr = 8; }
            }
            else { vr = "??"; len = U32(b, pos + 4, be); hdr = 8; }
            int valueStart = pos + hdr;
            bool undefined = len == 0xFFFFFFFF;
            bool isPixel = g == 0x7FE0 && e == 0x0010 && depth == 0;
            if (undefined)
            {
                if (isPixel) { pos = Fragments(b, valueStart, end, be); f.PixelEncapsulated = true; f.PixelLength = 0; continue; }
                // a sequence (SQ, or UN / implicit with undefined length): items until the sequence delimiter
                pos = Sequence(b, valueStart, end, vr == "UN" ? false : explicitVr, vr == "UN" ? false : be, f, depth + 1);
                continue;
            }
            if (valueStart + len > end)
                throw new Bad($"truncated: element ({g:X4},{e:X4}) at byte {pos} declares {len} bytes, {Math.Max(0, end - valueStart)} present");
            if (isPixel) f.PixelLength = len;
            else if (vr == "SQ")
                Sequence(b, valueStart, valueStart + (int)len, explicitVr, be, f, depth + 1, definedLength: true);
            else if (depth == 0 && g is 0x0002 or 0x0008 or 0x0018 or 0x0020 or 0x0028 or 0x3004 && len <= 65536)
                f.Values[Tag(g, e)] = b.AsSpan(valueStart, (int)len).ToArray();
            pos = valueStart + (int)len;
        }
        if (untilItemDelimiter) throw new Bad("truncated: an item of undefined length has no item delimiter");
        return pos;
    }

    private static int Sequence(byte[] b, int pos, int end, bool explicitVr, bool be, Fields f, int depth, bool definedLength = false)
    {
        if (depth > MaxDepth) throw new Bad($"sequences nested deeper than {MaxDepth} levels");
        while (true)
        {
            if (definedLength && pos >= end) return pos;
            if (pos + 8 > end) throw new Bad($"truncated: sequence item header at byte {pos}");
            ushort g = U16(b, pos, be), e = U16(b, pos + 2, be);
            uint len = U32(b, pos + 4, be);
            if (g != 0xFFFE) throw new Bad($"sequence at byte {pos}: expected an item tag (FFFE,E000), found ({g:X4},{e:X4})");
            if (e == 0xE0DD) return pos + 8; // sequence delimiter
            if (e != 0xE000) throw new Bad($"sequence at byte {pos}: expected an item tag (FFFE,E000), found (FFFE,{e:X4})");
            pos += 8;
            var inner = new Fields();
            if (len == 0xFFFFFFFF) pos = Walk(b, pos, end, explicitVr, be, inner, depth + 1, untilItemDelimiter: true);
            else
            {
                if (pos + (long)len > end) throw new Bad($"truncated: sequence item at byte {pos - 8} declares {len} bytes, {end - pos} present");
                Walk(b, pos, pos + (int)len, explicitVr, be, inner, depth + 1);
                pos += (int)len;
            }
        }
    }

    /// <summary>Encapsulated pixel data: items (offset table, fragments) within the file, ended by a sequence delimiter.</summary>
    private static int Fragments(byte[] b, int pos, int end, bool be)
    {
        int items = 0;
        while (true)
        {
            if (pos + 8 > end) throw new Bad($"truncated: encapsulated pixel data has no sequence delimiter (ends at byte {end}, {items} item(s) read)");
            ushort g = U16(b, pos, be), e = U16(b, pos + 2, be);
            uint len = U32(b, pos + 4, be);
            if (g == 0xFFFE && e == 0xE0DD) return pos + 8;
            if (g != 0xFFFE || e != 0xE000)
                throw new Bad($"field PixelData (7FE0,0010): expected a fragment item (FFFE,E000) at byte {pos}, found ({g:X4},{e:X4})");
            if (len == 0xFFFFFFFF || pos + 8 + (long)len > end)
                throw new Bad($"truncated: pixel data fragment at byte {pos} declares {len} bytes, {Math.Max(0, end - pos - 8)} present");
            pos += 8 + (int)len;
            items++;
        }
    }
}
