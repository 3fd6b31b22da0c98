using SamAdapt.Common;
using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace SamAdapt.Imaging.Npy;

/// <summary>
/// Reads and writes NumPy <c>.npy</c> files.
/// <para><b>Read</b>: format versions 1.0, 2.0 and 3.0; dtypes bool, int8..int64, uint8..uint64, float16/32/64 in either
/// byte order; C or Fortran order; any rank including 0 and zero-size dimensions. The result is always normalised to
/// C order and little-endian (Fortran-order data is transposed, big-endian data byte-swapped), so
/// <see cref="NpyArray.Data"/> can be handed to a tensor as is. Bytes after the array data are ignored, as NumPy does.</para>
/// <para><b>Write</b>: version 1.0, little-endian, C order; the header is padded with spaces and ends in '\n' so that
/// the data starts at a multiple of 64 bytes (NumPy's current alignment). Writing to a path is atomic: the file is
/// written next to the target under a temporary name, flushed, then renamed over it.</para>
/// </summary>
public static class NpyFile
{
    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Data alignment used by the writer (NumPy's <c>ARRAY_ALIGN</c>).</summary>
    public const int Alignment = 64;

    /// <summary>Reads a .npy file. Throws <see cref="NpyFormatException"/> (message names the file) for bad or unsupported content.</summary>
    public static NpyArray Read(string path)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        try
        {
            return Read(fs);
        }
        catch (NpyFormatException e)
        {
            throw new NpyFormatException($"{path}: {e.Message}", e);
        }
        catch (SamAdapt.Common.ResourceLimitException e)
        {
            throw new SamAdapt.Common.ResourceLimitException($"{path}: {e.Message}");
        }
    }

    /// <summary>Reads one array from the current position of <paramref name="stream"/>.</summary>
    public static NpyArray Read(Stream stream)
    {
        EnsureLittleEndianHost();
        Span<byte> pre = stackalloc byte[8];
        ReadExact(stream, pre, "magic string and version");
        if (!pre[..6].SequenceEqual(Magic))
            throw new NpyFormatException($"not a .npy file: bad magic (expected \\x93NUMPY, found {Describe(pre[..6])})");
        int major = pre[6], minor = pre[7];
        int headerLen;
        Encoding enc;
        switch (major)
        {
            case 1:
                {
                    Span<byte> l = stackalloc byte[2];
                    ReadExact(stream, l, "header length");
                    headerLen = BinaryPrimitives.ReadUInt16LittleEndian(l);
                    enc = Encoding.Latin1;
                    break;
                }
            case 2:
            case 3:
                {
                    Span<byte> l = stackalloc byte[4];
                    ReadExact(stream, l, "header length");
                    uint len = BinaryPrimitives.ReadUInt32LittleEndian(l);
                    if (len > 1 << 24) throw new NpyFormatException($"implausible header length {len}");
                    headerLen = (int)len;
                    enc = major == 2 ? Encoding.Latin1 : Encoding.UTF8;
                    break;
                }
            default:
                throw new NpyFormatException($"unsupported .npy format version {major}.{minor} (supported: 1.0, 2.0, 3.0)");
        }
        if (minor != 0) throw new NpyFormatException($"unsupported .npy format version {major}.{minor} (supported: 1.0, 2.0, 3.0)");

        var headerBytes = new byte[headerLen];
        ReadExact(stream, headerBytes, $"header ({headerLen} bytes)");
        var header = enc.GetString(headerBytes);
        var (descr, fortran, shape) = ParseHeader(header);
        var (dtype, bigEndian) = NpyDTypeExtensions.ParseDescr(descr);

        long count, nbytes;
        try
        {
            count = NpyArray.CountOf(shape);
            nbytes = checked(count * dtype.ItemSize());
        }
        catch (OverflowException)
        {
            throw new NpyFormatException($"shape {NpyArray.FormatShape(shape)} is too large");
        }
        if (nbytes > Array.MaxLength)
            throw new NpyFormatException($"array of {nbytes} bytes ({dtype.NumpyName()} {NpyArray.FormatShape(shape)}) is too large for one .NET array");
        if (stream.CanSeek && nbytes > stream.Length - stream.Position)
            throw new NpyFormatException(
                $"truncated file: array data ({nbytes} bytes for {dtype.NumpyName()} {NpyArray.FormatShape(shape)}) needs {nbytes} bytes, only {Math.Max(0, stream.Length - stream.Position)} present");
        SamAdapt.Common.ResourceLimits.Check($"array data ({dtype.NumpyName()} {NpyArray.FormatShape(shape)})", nbytes);
        var data = new byte[nbytes];
        ReadExact(stream, data, $"array data ({nbytes} bytes for {dtype.NumpyName()} {NpyArray.FormatShape(shape)})");

        if (bigEndian) SwapBytes(data, dtype.ItemSize());
        if (fortran && shape.Length > 1 && count > 1) data = FortranToC(data, shape, dtype.ItemSize());
        return new NpyArray(dtype, shape, data);
    }

    /// <summary>Writes <paramref name="array"/> to <paramref name="path"/> atomically (temporary file + rename).</summary>
    public static void Write(string path, NpyArray array)
    {
        ArgumentNullException.ThrowIfNull(array);
        AtomicFile.Write(path, fs => Write(fs, array));
    }

    /// <summary>Writes typed elements with the given shape (dtype inferred from <typeparamref name="T"/>).</summary>
    public static void Write<T>(string path, ReadOnlySpan<T> values, params long[] shape) where T : unmanaged =>
        Write(path, NpyArray.FromSpan(values, shape));

    /// <summary>Writes a version 1.0 .npy stream (header + C-order little-endian data).</summary>
    public static void Write(Stream stream, NpyArray array)
    {
        ArgumentNullException.ThrowIfNull(array);
        EnsureLittleEndianHost();
        stream.Write(BuildHeader(array.DType, array.Shape));
        stream.Write(array.Data);
    }

    /// <summary>The full version 1.0 preamble (magic, version, length, padded header) for a C-order little-endian array.</summary>
    public static byte[] BuildHeader(NpyDType dtype, long[] shape)
    {
        var dict = $"{{'descr': '{dtype.Descr()}', 'fortran_order': False, 'shape': {NpyArray.FormatShape(shape)}, }}";
        int unpadded = Magic.Length + 2 + 2 + dict.Length + 1; // + '\n'
        int pad = (Alignment - unpadded % Alignment) % Alignment;
        int headerLen = dict.Length + pad + 1;
        if (headerLen > ushort.MaxValue)
            throw new ArgumentException($"header of {headerLen} bytes does not fit a version 1.0 file", nameof(shape));
        var result = new byte[Magic.Length + 4 + headerLen];
        Magic.CopyTo(result);
        result[6] = 1;
        result[7] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(result.AsSpan(8), (ushort)headerLen);
        int o = 10;
        foreach (char c in dict) result[o++] = (byte)c;
        for (int i = 0; i < pad; i++) result[o++] = (byte)' ';
        result[o] = (byte)'\n';
        return result;
    }

    // ---------------------------------------------------------------------------------------------------------------

    private static void EnsureLittleEndianHost()
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("NpyFile assumes a little-endian host");
    }

    private static void ReadExact(Stream s, Span<byte> buf, string what)
    {
        int got = 0;
        while (got < buf.Length)
        {
            int n = s.Read(buf[got..]);
            if (n == 0) throw new NpyFormatException($"truncated file: {what} needs {buf.Length} bytes, only {got} present");
            got += n;
        }
    }

    private static string Describe(ReadOnlySpan<byte> b)
    {
        var sb = new StringBuilder();
        foreach (var x in b) sb.Append(x is >= 0x20 and < 0x7f ? ((char)x).ToString() : $"\\x{x:x2}");
        return sb.ToString();
    }

    internal static void SwapBytes(byte[] data, int itemSize)
    {
        if (itemSize == 1) return;
        for (int i = 0; i + itemSize <= data.Length; i += itemSize) data.AsSpan(i, itemSize).Reverse();
    }

    /// <summary>Reorders Fortran-order (first axis fastest) elements into C order (last axis fastest).</summary>
    internal static byte[] FortranToC(byte[] src, long[] shape, int itemSize)
    {
        int rank = shape.Length;
        var fstride = new long[rank]; // element strides of the Fortran layout
        long s = 1;
        for (int k = 0; k < rank; k++) { fstride[k] = s; s *= shape[k]; }
        var dst = new byte[src.Length];
        var idx = new long[rank];
        long count = s;
        long srcOff = 0; // element offset in the Fortran layout of idx
        for (long e = 0; e < count; e++)
        {
            Buffer.BlockCopy(src, (int)(srcOff * itemSize), dst, (int)(e * itemSize), itemSize);
            // advance idx in C order (last axis fastest)
            for (int k = rank - 1; k >= 0; k--)
            {
                idx[k]++;
                srcOff += fstride[k];
                if (idx[k] < shape[k]) break;
                srcOff -= idx[k] * fstride[k];
                idx[k] = 0;
            }
        }
        return dst;
    }

    // ---- header dictionary (a Python literal) ---------------------------------------------------------------------

    internal static (string Descr, bool Fortran, long[] Shape) ParseHeader(string header)
    {
        var p = new LiteralParser(header);
        object? v;
        try
        {
            v = p.ParseValue();
            p.SkipWs();
            if (!p.AtEnd) throw p.Error("unexpected text after the header dictionary");
        }
        catch (NpyFormatException e)
        {
            throw new NpyFormatException($"malformed header {Quote(header)}: {e.Message}", e);
        }
        if (v is not Dictionary<string, object?> d) throw new NpyFormatException($"header is not a dictionary: {Quote(header)}");
        foreach (var k in new[] { "descr", "fortran_order", "shape" })
            if (!d.ContainsKey(k)) throw new NpyFormatException($"header lacks '{k}': {Quote(header)}");
        var descrObj = d["descr"];
        if (descrObj is List<object?>)
            throw new NpyFormatException($"structured dtypes are not supported (descr {DescribeValue(descrObj)})");
        if (descrObj is not string descr) throw new NpyFormatException($"'descr' is not a string: {Quote(header)}");
        if (d["fortran_order"] is not bool fortran) throw new NpyFormatException($"'fortran_order' is not True/False: {Quote(header)}");
        if (d["shape"] is not List<object?> shapeList) throw new NpyFormatException($"'shape' is not a tuple: {Quote(header)}");
        var shape = new long[shapeList.Count];
        for (int i = 0; i < shape.Length; i++)
        {
            if (shapeList[i] is not long n || n < 0) throw new NpyFormatException($"'shape' holds a non-integer or negative entry: {Quote(header)}");
            shape[i] = n;
        }
        return (descr, fortran, shape);
    }

    private static string Quote(string h) => "\"" + h.TrimEnd() + "\"";

    private static string DescribeValue(object? o) => o switch
    {
        null => "None",
        string s => "'" + s + "'",
        List<object?> l => "[" + string.Join(", ", l.Select(DescribeValue)) + "]",
        _ => o.ToString() ?? "",
    };

    /// <summary>Minimal parser for the Python literals NumPy writes: dict, str, int, True/False/None, tuple, list.</summary>
    private sealed class LiteralParser(string text)
    {
        private int _pos;

        public bool AtEnd => _pos >= text.Length;

        public NpyFormatException Error(string msg) => new($"{msg} at offset {_pos}");

        public void SkipWs()
        {
            while (_pos < text.Length && char.IsWhiteSpace(text[_pos])) _pos++;
        }

        private int _depth;

        public object? ParseValue()
        {
            SkipWs();
            if (AtEnd) throw Error("unexpected end of header");
            char c = text[_pos];
            if (c is '{' or '(' or '[')
            {
                // a header nests at most a tuple in a dict; deeper nesting is corrupt (and must not exhaust the stack)
                if (++_depth > 8) throw Error("nesting deeper than 8 levels");
                try { return c == '{' ? ParseDict() : c == '(' ? ParseSeq('(', ')') : ParseSeq('[', ']'); }
                finally { _depth--; }
            }
            switch (c)
            {
                case '\'':
                case '"': return ParseString();
            }
            if (c == '-' || char.IsAsciiDigit(c)) return ParseInt();
            if (char.IsAsciiLetter(c))
            {
                int s = _pos;
                while (_pos < text.Length && char.IsAsciiLetterOrDigit(text[_pos])) _pos++;
                var word = text[s.._pos];
                return word switch
                {
                    "True" => true,
                    "False" => false,
                    "None" => null,
                    _ => throw Error($"unexpected name '{word}'"),
                };
            }
            throw Error($"unexpected character '{c}'");
        }

        private Dictionary<string, object?> ParseDict()
        {
            _pos++; // {
            var d = new Dictionary<string, object?>();
            while (true)
            {
                SkipWs();
                if (AtEnd) throw Error("unterminated dictionary");
                if (text[_pos] == '}') { _pos++; return d; }
                if (ParseValue() is not string key) throw Error("dictionary key is not a string");
                SkipWs();
                if (AtEnd || text[_pos] != ':') throw Error("expected ':'");
                _pos++;
                d[key] = ParseValue();
                SkipWs();
                if (AtEnd) throw Error("unterminated dictionary");
                if (text[_pos] == ',') { _pos++; continue; }
                if (text[_pos] == '}') { _pos++; return d; }
                throw Error("expected ',' or '}'");
            }
        }

        private List<object?> ParseSeq(char open, char close)
        {
            _pos++;
            var l = new List<object?>();
            while (true)
            {
                SkipWs();
                if (AtEnd) throw Error($"unterminated '{open}'");
                if (text[_pos] == close) { _pos++; return l; }
                l.Add(ParseValue());
                SkipWs();
                if (AtEnd) throw Error($"unterminated '{open}'");
                if (text[_pos] == ',') { _pos++; continue; }
                if (text[_pos] == close) { _pos++; return l; }
                throw Error($"expected ',' or '{close}'");
            }
        }

        private string ParseString()
        {
            char q = text[_pos++];
            var sb = new StringBuilder();
            while (true)
            {
                if (AtEnd) throw Error("unterminated string");
                char c = text[_pos++];
                if (c == q) return sb.ToString();
                if (c == '\\')
                {
                    if (AtEnd) throw Error("unterminated string");
                    sb.Append(text[_pos++]);
                }
                else sb.Append(c);
            }
        }

        private long ParseInt()
        {
            int s = _pos;
            if (text[_pos] == '-') _pos++;
            while (_pos < text.Length && char.IsAsciiDigit(text[_pos])) _pos++;
            var digits = text[s.._pos];
            if (_pos < text.Length && text[_pos] is 'L' or 'l') _pos++; // Python 2 long suffix
            if (!long.TryParse(digits, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v))
                throw Error($"bad integer '{digits}'");
            return v;
        }
    }
}
