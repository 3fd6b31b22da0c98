using SamAdapt.Common;
using System.Buffers;
using System.Buffers.Binary;
using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;

namespace SamAdapt.Torch.Serialization;

/// <summary>
/// Reads and writes safetensors files: <c>[u64 LE header length N][N bytes JSON header][data]</c>, where the header maps
/// each tensor name to <c>{"dtype", "shape", "data_offsets": [begin, end)}</c> relative to the data section and
/// <c>__metadata__</c> holds string-to-string metadata.
/// </summary>
public static class SafeTensors
{
    /// <summary>The largest JSON header accepted (as the reference parser: 100 MB).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private const string MetadataKey = "__metadata__";

    private static readonly (string Name, DType DType)[] DTypes =
    [
        ("F64", DType.Float64), ("F32", DType.Float32), ("F16", DType.Float16), ("BF16", DType.BFloat16),
        ("I64", DType.Int64), ("I32", DType.Int32), ("I16", DType.Int16), ("I8", DType.Int8), ("U8", DType.UInt8), ("BOOL", DType.Bool),
    ];

    /// <summary>The safetensors dtype string of <paramref name="dtype"/> (F32, BF16, I64, BOOL, ...).</summary>
    public static string DTypeName(DType dtype) =>
        DTypes.FirstOrDefault(d => d.DType == dtype).Name ?? throw new NotSupportedException($"no safetensors dtype for {dtype}");

    /// <summary>
    /// Loads every tensor (in header order) and the <c>__metadata__</c> map (empty if absent). The header is validated:
    /// length, JSON shape, dtypes, offsets inside the data section, sizes matching shape × element size, no overlaps,
    /// no duplicate names.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is malformed; the message names the file and the offending entry.</exception>
    /// <exception cref="NotSupportedException">A tensor has a dtype this library does not handle (e.g. F8_E4M3, U16).</exception>
    public static (Dictionary<string, HostTensor> Tensors, Dictionary<string, string> Metadata) Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"safetensors file not found: '{path}'", path);
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        long fileLength = RandomAccess.GetLength(handle);
        if (fileLength < 8) throw new InvalidDataException($"'{path}' is {fileLength} bytes long, too short for a safetensors file (8-byte header length + header)");

        Span<byte> lenBytes = stackalloc byte[8];
        ReadExactly(handle, lenBytes, 0, path);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lenBytes);
        if (headerLength > MaxHeaderBytes)
            throw new InvalidDataException($"safetensors header length {headerLength} in '{path}' exceeds the {MaxHeaderBytes}-byte limit; the file is corrupt or not safetensors");
        if ((long)headerLength > fileLength - 8)
            throw new InvalidDataException($"safetensors header length {headerLength} in '{path}' goes beyond the end of the file ({fileLength} bytes)");
        var header = new byte[headerLength];
        ReadExactly(handle, header, 8, path);
        long dataStart = 8 + (long)headerLength;
        long dataLength = fileLength - dataStart;

        var entries = ParseHeader(header, path, dataLength, out var metadata);
        var tensors = new Dictionary<string, HostTensor>(entries.Count, StringComparer.Ordinal);
        foreach (var e in entries)
        {
            var data = new byte[e.End - e.Begin];
            ReadExactly(handle, data, dataStart + e.Begin, path);
            tensors.Add(e.Name, new HostTensor(e.DType, e.Shape, data));
        }
        return (tensors, metadata);
    }

    /// <summary>
    /// Writes tensors (in the given order, packed contiguously) and optional metadata; the JSON header is padded with
    /// spaces to a multiple of 8 bytes. The file is replaced atomically.
    /// </summary>
    /// <param name="path">Target file.</param>
    /// <param name="tensors">Name → tensor; names must be unique and not <c>__metadata__</c>.</param>
    /// <param name="metadata">Optional string metadata stored under <c>__metadata__</c>.</param>
    public static void Save(string path, IEnumerable<KeyValuePair<string, HostTensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(tensors);
        var list = tensors.ToList();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, t) in list)
        {
            ArgumentNullException.ThrowIfNull(t, $"tensor '{name}'");
            if (name == MetadataKey) throw new ArgumentException($"'{MetadataKey}' cannot be a tensor name", nameof(tensors));
            if (!seen.Add(name)) throw new ArgumentException($"duplicate tensor name '{name}'", nameof(tensors));
            DTypeName(t.DType);
        }

        var json = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(json))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject(MetadataKey);
                foreach (var (k, v) in metadata) w.WriteString(k, v);
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, t) in list)
            {
                w.WriteStartObject(name);
                w.WriteString("dtype", DTypeName(t.DType));
                w.WriteStartArray("shape");
                foreach (var s in t.Shape) w.WriteNumberValue(s);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + t.ByteLength);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += t.ByteLength;
            }
            w.WriteEndObject();
        }
        int padded = (json.WrittenCount + 7) / 8 * 8;
        var header = new byte[8 + padded];
        BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)padded);
        json.WrittenSpan.CopyTo(header.AsSpan(8));
        header.AsSpan(8 + json.WrittenCount).Fill((byte)' ');

        AtomicFile.Write(path, stream =>
        {
            stream.Write(header);
            foreach (var (_, t) in list) stream.Write(t.Data);
        });
    }

    private sealed record Entry(string Name, DType DType, long[] Shape, long Begin, long End);

    private static List<Entry> ParseHeader(byte[] header, string path, long dataLength, out Dictionary<string, string> metadata)
    {
        // invalid UTF-8 inside a JSON string surfaces as InvalidOperationException when the string is read
        try { return ParseHeaderCore(header, path, dataLength, out metadata); }
        catch (InvalidOperationException e) { throw new InvalidDataException($"safetensors header of '{path}' is not valid UTF-8 JSON: {e.Message}", e); }
        catch (Exception e) when (e is OverflowException or FormatException)
        { throw new InvalidDataException($"safetensors header of '{path}': a number is out of range: {e.Message}", e); }
    }

    private static List<Entry> ParseHeaderCore(byte[] header, string path, long dataLength, out Dictionary<string, string> metadata)
    {
        metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        JsonDocument doc;
        try { doc = JsonDocument.Parse(header); }
        catch (JsonException e) { throw new InvalidDataException($"safetensors header of '{path}' is not valid JSON: {e.Message}", e); }
        using var _ = doc;
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"safetensors header of '{path}' is a JSON {doc.RootElement.ValueKind}, expected an object");

        var entries = new List<Entry>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            if (!names.Add(p.Name)) throw new InvalidDataException($"safetensors header of '{path}' has the key '{p.Name}' twice");
            if (p.Name == MetadataKey)
            {
                if (p.Value.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"'{MetadataKey}' in '{path}' is not an object");
                foreach (var m in p.Value.EnumerateObject())
                {
                    if (m.Value.ValueKind != JsonValueKind.String)
                        throw new InvalidDataException($"metadata '{m.Name}' in '{path}' is a {m.Value.ValueKind}, expected a string");
                    metadata[m.Name] = m.Value.GetString()!;
                }
                continue;
            }
            entries.Add(ParseEntry(p, path, dataLength));
        }

        var sorted = entries.Where(e => e.End > e.Begin).OrderBy(e => e.Begin).ToList();
        for (int i = 1; i < sorted.Count; i++)
            if (sorted[i].Begin < sorted[i - 1].End)
                throw new InvalidDataException(
                    $"tensors '{sorted[i - 1].Name}' [{sorted[i - 1].Begin}, {sorted[i - 1].End}) and '{sorted[i].Name}' [{sorted[i].Begin}, {sorted[i].End}) overlap in '{path}'");
        return entries;
    }

    private static Entry ParseEntry(JsonProperty p, string path, long dataLength)
    {
        string Where() => $"tensor '{p.Name}' in '{path}'";
        var v = p.Value;
        if (v.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{Where()} is a JSON {v.ValueKind}, expected an object");
        if (!v.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String)
            throw new InvalidDataException($"{Where()} has no string 'dtype'");
        var dtName = dt.GetString()!;
        var match = DTypes.FirstOrDefault(d => d.Name == dtName);
        if (match.Name is null)
            throw new NotSupportedException(
                $"{Where()} has dtype '{dtName}', which is not supported (supported: {string.Join(", ", DTypes.Select(d => d.Name))})");
        var shape = Longs(v, "shape", -1, Where);
        var offsets = Longs(v, "data_offsets", 2, Where);
        long begin = offsets[0], end = offsets[1];
        if (begin > end || end > dataLength)
            throw new InvalidDataException($"{Where()} has data_offsets [{begin}, {end}), outside the data section of {dataLength} bytes");
        long expected;
        try { expected = checked(HostTensor.NumelOf(shape) * match.DType.ElementSize()); }
        catch (OverflowException) { throw new InvalidDataException($"{Where()} has an impossibly large shape {HostTensor.FormatShape(shape)}"); }
        if (end - begin != expected)
            throw new InvalidDataException(
                $"{Where()} has {end - begin} bytes at [{begin}, {end}), but shape {HostTensor.FormatShape(shape)} of {dtName} needs {expected}");
        return new Entry(p.Name, match.DType, shape, begin, end);
    }

    private static long[] Longs(JsonElement obj, string field, int count, Func<string> where)
    {
        if (!obj.TryGetProperty(field, out var a) || a.ValueKind != JsonValueKind.Array || (count >= 0 && a.GetArrayLength() != count))
            throw new InvalidDataException($"{where()} has no valid '{field}' array");
        var r = new long[a.GetArrayLength()];
        int i = 0;
        foreach (var x in a.EnumerateArray())
            r[i++] = x.ValueKind == JsonValueKind.Number && x.TryGetInt64(out var n) && n >= 0
                ? n : throw new InvalidDataException($"{where()} has '{field}' value {x} that is not a non-negative integer");
        return r;
    }

    private static void ReadExactly(SafeFileHandle handle, Span<byte> buffer, long offset, string path)
    {
        while (buffer.Length > 0)
        {
            int n = RandomAccess.Read(handle, buffer, offset);
            if (n <= 0) throw new InvalidDataException($"'{path}' ended at byte {offset} while reading tensor data");
            buffer = buffer[n..];
            offset += n;
        }
    }
}
