using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace SamAdapt.Imaging.Tests.Nifti;

/// <summary>
/// Test-side NIfTI encoder written straight from the nifti1.h / nifti2.h offsets (independent of the library's
/// NiftiHeader), so files with any byte order, version, layout and oddity can be produced.
/// </summary>
internal sealed class RawNifti
{
    public int Version = 1;
    public bool Big;
    public string? Magic; // default n+1 / ni1 / n+2 / ni2
    public long[] Dim = [3, 2, 3, 4, 1, 1, 1, 1];
    public short DataType = 2;
    public short BitPix = 8;
    public double[] PixDim = [1, 1, 1, 1, 1, 1, 1, 1];
    public double? VoxOffset;
    public double Slope, Inter;
    public int QCode, SCode;
    public double QB, QC, QD, QX, QY, QZ;
    public double[] SRow = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0];
    public int XyztUnits = 10;
    public int IntentCode;
    public string Descrip = "";
    public List<(int Code, byte[] Data)> Extensions = [];
    public bool ExtensionFlag = true;
    public byte[]? Eol; // NIfTI-2 bytes 8..11 override
    /// <summary>Voxel data as little-endian bytes.</summary>
    public byte[] Data = new byte[24];
    /// <summary>Bytes per element for byte swapping (1 = none, 3 for RGB24 is 1).</summary>
    public int ElementSize = 1;

    public int HeaderSize => Version == 1 ? 348 : 540;

    private byte[] ExtensionBytes()
    {
        var ms = new MemoryStream();
        ms.Write([(byte)(Extensions.Count > 0 && ExtensionFlag ? 1 : 0), 0, 0, 0]);
        if (Extensions.Count > 0 && ExtensionFlag)
            foreach (var (code, data) in Extensions)
            {
                int esize = (8 + data.Length + 15) / 16 * 16;
                var blk = new byte[esize];
                Int32(blk, 0, esize); Int32(blk, 4, code);
                data.CopyTo(blk, 8);
                ms.Write(blk);
            }
        return ms.ToArray();
    }

    public byte[] Header(bool pair)
    {
        var b = new byte[HeaderSize];
        if (Version == 1)
        {
            Int32(b, 0, 348);
            for (int i = 0; i < 8; i++) Int16(b, 40 + 2 * i, (short)Dim[i]);
            Int16(b, 68, (short)IntentCode); Int16(b, 70, DataType); Int16(b, 72, BitPix);
            for (int i = 0; i < 8; i++) F32(b, 76 + 4 * i, PixDim[i]);
            F32(b, 108, VoxOffset ?? (pair ? 0 : 348 + ExtensionBytes().Length));
            F32(b, 112, Slope); F32(b, 116, Inter);
            b[123] = (byte)XyztUnits;
            Encoding.ASCII.GetBytes(Descrip).CopyTo(b, 148);
            Int16(b, 252, (short)QCode); Int16(b, 254, (short)SCode);
            F32(b, 256, QB); F32(b, 260, QC); F32(b, 264, QD); F32(b, 268, QX); F32(b, 272, QY); F32(b, 276, QZ);
            for (int i = 0; i < 12; i++) F32(b, 280 + 4 * i, SRow[i]);
            Encoding.ASCII.GetBytes((Magic ?? (pair ? "ni1" : "n+1")) + "\0").CopyTo(b, 344);
        }
        else
        {
            Int32(b, 0, 540);
            Encoding.ASCII.GetBytes((Magic ?? (pair ? "ni2" : "n+2")) + "\0").CopyTo(b, 4);
            (Eol ?? [0x0D, 0x0A, 0x1A, 0x0A]).CopyTo(b, 8);
            Int16(b, 12, DataType); Int16(b, 14, BitPix);
            for (int i = 0; i < 8; i++) Int64(b, 16 + 8 * i, Dim[i]);
            for (int i = 0; i < 8; i++) F64(b, 104 + 8 * i, PixDim[i]);
            Int64(b, 168, (long)(VoxOffset ?? (pair ? 0 : 540 + ExtensionBytes().Length)));
            F64(b, 176, Slope); F64(b, 184, Inter);
            Encoding.ASCII.GetBytes(Descrip).CopyTo(b, 240);
            Int32(b, 344, QCode); Int32(b, 348, SCode);
            F64(b, 352, QB); F64(b, 360, QC); F64(b, 368, QD); F64(b, 376, QX); F64(b, 384, QY); F64(b, 392, QZ);
            for (int i = 0; i < 12; i++) F64(b, 400 + 8 * i, SRow[i]);
            Int32(b, 500, XyztUnits); Int32(b, 504, IntentCode);
        }
        return b;
    }

    private byte[] DataBytes()
    {
        var d = (byte[])Data.Clone();
        if (Big && ElementSize > 1)
            for (int i = 0; i + ElementSize <= d.Length; i += ElementSize) Array.Reverse(d, i, ElementSize);
        return d;
    }

    public byte[] SingleFile()
    {
        var ms = new MemoryStream();
        ms.Write(Header(false));
        var ext = ExtensionBytes();
        ms.Write(ext);
        long vo = (long)(VoxOffset ?? HeaderSize + ext.Length);
        ms.SetLength(vo); // pads with zeros, or cuts extensions that claim to run past vox_offset
        ms.Position = vo;
        ms.Write(DataBytes());
        return ms.ToArray();
    }

    public string SaveNii(string path, bool gzip = false)
    {
        var bytes = SingleFile();
        File.WriteAllBytes(path, gzip ? Gzip(bytes) : bytes);
        return path;
    }

    /// <summary>Writes stem.hdr[.gz] and stem.img[.gz]; returns the header path.</summary>
    public string SavePair(string stem, bool gzHeader = false, bool gzImage = false)
    {
        var hdr = new MemoryStream();
        hdr.Write(Header(true)); hdr.Write(ExtensionBytes());
        var img = new MemoryStream();
        for (long i = 0; i < (long)(VoxOffset ?? 0); i++) img.WriteByte(0xEE);
        img.Write(DataBytes());
        string hp = stem + ".hdr" + (gzHeader ? ".gz" : ""), ip = stem + ".img" + (gzImage ? ".gz" : "");
        File.WriteAllBytes(hp, gzHeader ? Gzip(hdr.ToArray()) : hdr.ToArray());
        File.WriteAllBytes(ip, gzImage ? Gzip(img.ToArray()) : img.ToArray());
        return hp;
    }

    public static byte[] Gzip(byte[] b)
    {
        var ms = new MemoryStream();
        using (var z = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true)) z.Write(b);
        return ms.ToArray();
    }

    public static byte[] Gunzip(byte[] b)
    {
        using var z = new GZipStream(new MemoryStream(b), CompressionMode.Decompress);
        var ms = new MemoryStream();
        z.CopyTo(ms);
        return ms.ToArray();
    }

    public static byte[] ReadMaybeGz(string path)
    {
        var b = File.ReadAllBytes(path);
        return b.Length > 2 && b[0] == 0x1F && b[1] == 0x8B ? Gunzip(b) : b;
    }

    private void Int16(byte[] b, int o, short v) { if (Big) BinaryPrimitives.WriteInt16BigEndian(b.AsSpan(o), v); else BinaryPrimitives.WriteInt16LittleEndian(b.AsSpan(o), v); }
    private void Int32(byte[] b, int o, int v) { if (Big) BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(o), v); else BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(o), v); }
    private void Int64(byte[] b, int o, long v) { if (Big) BinaryPrimitives.WriteInt64BigEndian(b.AsSpan(o), v); else BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(o), v); }
    private void F32(byte[] b, int o, double v) { if (Big) BinaryPrimitives.WriteSingleBigEndian(b.AsSpan(o), (float)v); else BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(o), (float)v); }
    private void F64(byte[] b, int o, double v) { if (Big) BinaryPrimitives.WriteDoubleBigEndian(b.AsSpan(o), v); else BinaryPrimitives.WriteDoubleLittleEndian(b.AsSpan(o), v); }

    /// <summary>Little-endian bytes of a typed array.</summary>
    public static byte[] Bytes<T>(T[] values) where T : unmanaged =>
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray();

    public static void AssertAffine(double[] expected, double[] actual, double tol = 1e-9)
    {
        for (int i = 0; i < 16; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol,
                $"affine[{i}]: expected {expected[i]:R}, got {actual[i]:R}\nexpected {SamAdapt.Imaging.Geometry.Format(expected)}\nactual   {SamAdapt.Imaging.Geometry.Format(actual)}");
    }
}
