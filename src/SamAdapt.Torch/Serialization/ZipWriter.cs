using SamAdapt.Common;
using System.Buffers.Binary;
using System.Text;

namespace SamAdapt.Torch.Serialization;

/// <summary>
/// A minimal streaming zip writer for uncompressed (STORED) records, laid out as PyTorch writes them: each record's
/// data starts at an <c>alignment</c>-byte file offset, padded with a local-header extra field <c>"FB" len 'Z'…</c>.
/// Zip64 structures are written when a size or offset needs them (or always, with <c>forceZip64</c>).
/// </summary>
internal sealed class ZipWriter
{
    private const uint Max32 = 0xFFFFFFFF;
    private readonly Stream _out;
    private readonly int _alignment;
    private readonly bool _forceZip64;
    private readonly List<Entry> _entries = new();
    private long _offset;
    private bool _finished;

    // 1980-01-01 00:00:00 in MS-DOS format: fixed, so output is deterministic.
    private const ushort DosTime = 0;
    private const ushort DosDate = (0 << 9) | (1 << 5) | 1;

    public ZipWriter(Stream output, int alignment = 64, bool forceZip64 = false)
    {
        _out = output;
        _alignment = alignment;
        _forceZip64 = forceZip64;
    }

    /// <summary>Appends a STORED record.</summary>
    public void Add(string name, ReadOnlySpan<byte> data)
    {
        if (_finished) throw new InvalidOperationException("zip already finished");
        var nameBytes = Encoding.UTF8.GetBytes(name);
        if (nameBytes.Length > ushort.MaxValue) throw new ArgumentException($"record name too long: {name}");
        ushort flags = (ushort)(name.Any(c => c > 0x7F) ? 0x0800 : 0); // bit 11: UTF-8 name
        long size = data.Length;
        bool zip64Local = _forceZip64 || size >= Max32;

        int zip64ExtraLen = zip64Local ? 20 : 0;
        long dataStart = _offset + 30 + nameBytes.Length + zip64ExtraLen + 4;
        int pad = _alignment > 1 ? (int)((_alignment - dataStart % _alignment) % _alignment) : 0;
        int extraLen = zip64ExtraLen + 4 + pad;
        if (extraLen > ushort.MaxValue) throw new ArgumentException("alignment too large");

        uint crc = Crc32.Compute(data);
        var h = new byte[30 + nameBytes.Length + extraLen];
        var s = h.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(s, 0x04034b50);
        BinaryPrimitives.WriteUInt16LittleEndian(s[4..], (ushort)(zip64Local ? 45 : 20));
        BinaryPrimitives.WriteUInt16LittleEndian(s[6..], flags);
        BinaryPrimitives.WriteUInt16LittleEndian(s[8..], 0); // STORED
        BinaryPrimitives.WriteUInt16LittleEndian(s[10..], DosTime);
        BinaryPrimitives.WriteUInt16LittleEndian(s[12..], DosDate);
        BinaryPrimitives.WriteUInt32LittleEndian(s[14..], crc);
        BinaryPrimitives.WriteUInt32LittleEndian(s[18..], zip64Local ? Max32 : (uint)size);
        BinaryPrimitives.WriteUInt32LittleEndian(s[22..], zip64Local ? Max32 : (uint)size);
        BinaryPrimitives.WriteUInt16LittleEndian(s[26..], (ushort)nameBytes.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(s[28..], (ushort)extraLen);
        nameBytes.CopyTo(s[30..]);
        var e = s[(30 + nameBytes.Length)..];
        if (zip64Local)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(e, 0x0001);
            BinaryPrimitives.WriteUInt16LittleEndian(e[2..], 16);
            BinaryPrimitives.WriteUInt64LittleEndian(e[4..], (ulong)size);
            BinaryPrimitives.WriteUInt64LittleEndian(e[12..], (ulong)size);
            e = e[20..];
        }
        e[0] = (byte)'F';
        e[1] = (byte)'B';
        BinaryPrimitives.WriteUInt16LittleEndian(e[2..], (ushort)pad);
        e[4..].Fill((byte)'Z');

        _entries.Add(new Entry(nameBytes, flags, crc, size, _offset));
        _out.Write(h);
        _out.Write(data);
        _offset += h.Length + size;
    }

    /// <summary>Writes the central directory and end records. The stream is left open.</summary>
    public void Finish()
    {
        if (_finished) return;
        _finished = true;
        long cdStart = _offset;
        var cd = new MemoryStream();
        foreach (var en in _entries)
        {
            bool bigSize = _forceZip64 || en.Size >= Max32;
            bool bigOffset = _forceZip64 || en.Offset >= Max32;
            int extraLen = (bigSize || bigOffset) ? 4 + (bigSize ? 16 : 0) + (bigOffset ? 8 : 0) : 0;
            var h = new byte[46 + en.Name.Length + extraLen];
            var s = h.AsSpan();
            ushort version = (ushort)(extraLen > 0 ? 45 : 20);
            BinaryPrimitives.WriteUInt32LittleEndian(s, 0x02014b50);
            BinaryPrimitives.WriteUInt16LittleEndian(s[4..], version); // made by (MS-DOS attributes)
            BinaryPrimitives.WriteUInt16LittleEndian(s[6..], version); // needed
            BinaryPrimitives.WriteUInt16LittleEndian(s[8..], en.Flags);
            BinaryPrimitives.WriteUInt16LittleEndian(s[10..], 0);
            BinaryPrimitives.WriteUInt16LittleEndian(s[12..], DosTime);
            BinaryPrimitives.WriteUInt16LittleEndian(s[14..], DosDate);
            BinaryPrimitives.WriteUInt32LittleEndian(s[16..], en.Crc);
            BinaryPrimitives.WriteUInt32LittleEndian(s[20..], bigSize ? Max32 : (uint)en.Size);
            BinaryPrimitives.WriteUInt32LittleEndian(s[24..], bigSize ? Max32 : (uint)en.Size);
            BinaryPrimitives.WriteUInt16LittleEndian(s[28..], (ushort)en.Name.Length);
            BinaryPrimitives.WriteUInt16LittleEndian(s[30..], (ushort)extraLen);
            // comment length, disk number, internal and external attributes stay 0
            BinaryPrimitives.WriteUInt32LittleEndian(s[42..], bigOffset ? Max32 : (uint)en.Offset);
            en.Name.CopyTo(s[46..]);
            if (extraLen > 0)
            {
                var e = s[(46 + en.Name.Length)..];
                BinaryPrimitives.WriteUInt16LittleEndian(e, 0x0001);
                BinaryPrimitives.WriteUInt16LittleEndian(e[2..], (ushort)(extraLen - 4));
                int p = 4;
                if (bigSize)
                {
                    BinaryPrimitives.WriteUInt64LittleEndian(e[p..], (ulong)en.Size);
                    BinaryPrimitives.WriteUInt64LittleEndian(e[(p + 8)..], (ulong)en.Size);
                    p += 16;
                }
                if (bigOffset) BinaryPrimitives.WriteUInt64LittleEndian(e[p..], (ulong)en.Offset);
            }
            cd.Write(h);
        }
        long cdSize = cd.Length;
        cd.Position = 0;
        cd.CopyTo(_out);
        _offset += cdSize;

        bool zip64End = _forceZip64 || _entries.Count >= 0xFFFF || cdSize >= Max32 || cdStart >= Max32;
        if (zip64End)
        {
            long eocd64 = _offset;
            var z = new byte[56 + 20];
            var s = z.AsSpan();
            BinaryPrimitives.WriteUInt32LittleEndian(s, 0x06064b50);
            BinaryPrimitives.WriteUInt64LittleEndian(s[4..], 44);
            BinaryPrimitives.WriteUInt16LittleEndian(s[12..], 45);
            BinaryPrimitives.WriteUInt16LittleEndian(s[14..], 45);
            // disk numbers (4 + 4 bytes) stay 0
            BinaryPrimitives.WriteUInt64LittleEndian(s[24..], (ulong)_entries.Count);
            BinaryPrimitives.WriteUInt64LittleEndian(s[32..], (ulong)_entries.Count);
            BinaryPrimitives.WriteUInt64LittleEndian(s[40..], (ulong)cdSize);
            BinaryPrimitives.WriteUInt64LittleEndian(s[48..], (ulong)cdStart);
            var loc = s[56..];
            BinaryPrimitives.WriteUInt32LittleEndian(loc, 0x07064b50);
            BinaryPrimitives.WriteUInt32LittleEndian(loc[4..], 0);
            BinaryPrimitives.WriteUInt64LittleEndian(loc[8..], (ulong)eocd64);
            BinaryPrimitives.WriteUInt32LittleEndian(loc[16..], 1);
            _out.Write(z);
            _offset += z.Length;
        }

        var end = new byte[22];
        var es = end.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(es, 0x06054b50);
        ushort count = (ushort)(zip64End ? 0xFFFF : _entries.Count);
        BinaryPrimitives.WriteUInt16LittleEndian(es[8..], count);
        BinaryPrimitives.WriteUInt16LittleEndian(es[10..], count);
        BinaryPrimitives.WriteUInt32LittleEndian(es[12..], zip64End ? Max32 : (uint)cdSize);
        BinaryPrimitives.WriteUInt32LittleEndian(es[16..], zip64End ? Max32 : (uint)cdStart);
        _out.Write(end);
        _offset += end.Length;
    }

    private sealed record Entry(byte[] Name, ushort Flags, uint Crc, long Size, long Offset);
}
