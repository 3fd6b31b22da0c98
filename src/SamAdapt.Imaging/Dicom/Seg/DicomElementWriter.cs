using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace SamAdapt.Imaging.Dicom.Seg;

/// <summary>
/// A minimal DICOM data-set encoder: explicit VR little endian, defined lengths everywhere (sequences and items carry
/// their byte length). Elements must be added in ascending tag order, as the standard requires; the writer checks it.
/// Enough for the objects the project writes itself (<see cref="DicomSegWriter"/>); not a general DICOM library.
/// </summary>
internal sealed class DicomElementWriter
{
    private readonly MemoryStream _buffer = new();
    private uint _lastTag;
    private bool _any;

    public byte[] ToArray() => _buffer.ToArray();

    /// <summary>A string element (UI, CS, LO, SH, PN, DA, TM, DS, IS, ST, LT, UT, AS, DT); padded to even length
    /// (UI with NUL, the others with a space).</summary>
    public DicomElementWriter String(ushort group, ushort element, string vr, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        if (bytes.Length % 2 == 1)
        {
            Array.Resize(ref bytes, bytes.Length + 1);
            bytes[^1] = vr == "UI" ? (byte)0 : (byte)' ';
        }
        return Raw(group, element, vr, bytes);
    }

    /// <summary>Several values of a string VR, joined with backslashes.</summary>
    public DicomElementWriter Strings(ushort group, ushort element, string vr, IEnumerable<string> values) =>
        String(group, element, vr, string.Join('\\', values));

    /// <summary>Decimal strings (DS): each value in at most 16 characters.</summary>
    public DicomElementWriter Decimals(ushort group, ushort element, params double[] values) =>
        Strings(group, element, "DS", values.Select(FormatDs));

    public DicomElementWriter Integer(ushort group, ushort element, int value) =>
        String(group, element, "IS", value.ToString(CultureInfo.InvariantCulture));

    public DicomElementWriter UShort(ushort group, ushort element, params ushort[] values)
    {
        var b = new byte[2 * values.Length];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(2 * i), values[i]);
        return Raw(group, element, "US", b);
    }

    public DicomElementWriter UInt(ushort group, ushort element, params uint[] values)
    {
        var b = new byte[4 * values.Length];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4 * i), values[i]);
        return Raw(group, element, "UL", b);
    }

    /// <summary>An attribute tag value (AT): group then element, each little endian.</summary>
    public DicomElementWriter Tag(ushort group, ushort element, ushort valueGroup, ushort valueElement)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt16LittleEndian(b, valueGroup);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(2), valueElement);
        return Raw(group, element, "AT", b);
    }

    /// <summary>A sequence (SQ) of items, each built by the caller on its own writer.</summary>
    public DicomElementWriter Sequence(ushort group, ushort element, IEnumerable<DicomElementWriter> items)
    {
        using var body = new MemoryStream();
        Span<byte> head = stackalloc byte[8];
        foreach (var item in items)
        {
            var bytes = item.ToArray();
            BinaryPrimitives.WriteUInt16LittleEndian(head, 0xFFFE);
            BinaryPrimitives.WriteUInt16LittleEndian(head[2..], 0xE000);
            BinaryPrimitives.WriteUInt32LittleEndian(head[4..], (uint)bytes.Length);
            body.Write(head);
            body.Write(bytes);
        }
        return Raw(group, element, "SQ", body.ToArray());
    }

    public DicomElementWriter Sequence(ushort group, ushort element, params DicomElementWriter[] items) =>
        Sequence(group, element, (IEnumerable<DicomElementWriter>)items);

    /// <summary>A code sequence with one item (code value, coding scheme designator, code meaning).</summary>
    public DicomElementWriter Code(ushort group, ushort element, string value, string scheme, string meaning) =>
        Sequence(group, element, new DicomElementWriter()
            .String(0x0008, 0x0100, "SH", value)
            .String(0x0008, 0x0102, "SH", scheme)
            .String(0x0008, 0x0104, "LO", meaning));

    /// <summary>Any element from its encoded value; odd lengths are padded with a zero byte.</summary>
    public DicomElementWriter Raw(ushort group, ushort element, string vr, byte[] value)
    {
        uint tag = (uint)group << 16 | element;
        if (_any && tag <= _lastTag)
            throw new InvalidOperationException($"DICOM elements out of order: ({group:X4},{element:X4}) after ({_lastTag >> 16:X4},{_lastTag & 0xFFFF:X4})");
        _any = true;
        _lastTag = tag;
        if (value.Length % 2 == 1) Array.Resize(ref value, value.Length + 1);
        Span<byte> head = stackalloc byte[12];
        BinaryPrimitives.WriteUInt16LittleEndian(head, group);
        BinaryPrimitives.WriteUInt16LittleEndian(head[2..], element);
        head[4] = (byte)vr[0];
        head[5] = (byte)vr[1];
        if (vr is "OB" or "OW" or "OF" or "SQ" or "UT" or "UN" or "UC" or "UR" or "OD" or "OL" or "OV")
        {
            head[6] = head[7] = 0;
            BinaryPrimitives.WriteUInt32LittleEndian(head[8..], checked((uint)value.Length));
            _buffer.Write(head);
        }
        else
        {
            if (value.Length > ushort.MaxValue) throw new ArgumentException($"({group:X4},{element:X4}) {vr}: value of {value.Length} bytes is too long for a 16-bit length");
            BinaryPrimitives.WriteUInt16LittleEndian(head[6..], (ushort)value.Length);
            _buffer.Write(head[..8]);
        }
        _buffer.Write(value);
        return this;
    }

    /// <summary>A DS value in at most 16 characters (the VR's limit), as precise as fits.</summary>
    public static string FormatDs(double v)
    {
        if (v == 0) return "0";
        for (int digits = 15; digits >= 1; digits--)
        {
            var s = v.ToString("G" + digits, CultureInfo.InvariantCulture);
            if (s.Length <= 16) return s;
        }
        return v.ToString("E6", CultureInfo.InvariantCulture);
    }

    /// <summary>A DICOM Part 10 file: 128-byte preamble, "DICM", the file meta group (explicit VR little endian) and
    /// <paramref name="dataSet"/> (already encoded in explicit VR little endian).</summary>
    public static byte[] Part10(string sopClassUid, string sopInstanceUid, byte[] dataSet)
    {
        var meta = new DicomElementWriter()
            .Raw(0x0002, 0x0001, "OB", [0, 1])
            .String(0x0002, 0x0002, "UI", sopClassUid)
            .String(0x0002, 0x0003, "UI", sopInstanceUid)
            .String(0x0002, 0x0010, "UI", ExplicitVrLittleEndian)
            .String(0x0002, 0x0012, "UI", DicomUids.ImplementationClassUid)
            .String(0x0002, 0x0013, "SH", "SAMADAPT")
            .ToArray();
        var groupLength = new DicomElementWriter().UInt(0x0002, 0x0000, (uint)meta.Length).ToArray();
        using var file = new MemoryStream();
        file.Write(new byte[128]);
        file.Write("DICM"u8);
        file.Write(groupLength);
        file.Write(meta);
        file.Write(dataSet);
        return file.ToArray();
    }

    public const string ExplicitVrLittleEndian = "1.2.840.10008.1.2.1";
}
