using System.Buffers.Binary;
using System.IO.Compression;

namespace SamAdapt.Imaging.Tests.Datasets;

/// <summary>Test-only NIfTI-1 writer (348-byte header + 4-byte extension flag, vox_offset 352, little-endian, sform
/// code 1 — or, when <paramref name="qform"/> is given, only a qform).</summary>
internal static class TestNifti
{
    public static void Write(string path, int[] shape, VoxelType type, Array data, double[] affine,
        (double B, double C, double D, double Qfac, double[] Offset)? qform = null)
    {
        var h = new byte[352];
        BinaryPrimitives.WriteInt32LittleEndian(h, 348);
        BinaryPrimitives.WriteInt16LittleEndian(h.AsSpan(40), (short)shape.Length);
        for (int i = 0; i < shape.Length; i++) BinaryPrimitives.WriteInt16LittleEndian(h.AsSpan(42 + 2 * i), (short)shape[i]);
        var (code, bitpix) = type switch
        {
            VoxelType.UInt8 => (2, 8),
            VoxelType.Int16 => (4, 16),
            VoxelType.Int32 => (8, 32),
            VoxelType.Float32 => (16, 32),
            VoxelType.Float64 => (64, 64),
            VoxelType.UInt16 => (512, 16),
            _ => throw new ArgumentException(type.ToString()),
        };
        BinaryPrimitives.WriteInt16LittleEndian(h.AsSpan(70), (short)code);
        BinaryPrimitives.WriteInt16LittleEndian(h.AsSpan(72), (short)bitpix);
        var spacing = Geometry.SpacingFromAffine(affine);
        BinaryPrimitives.WriteSingleLittleEndian(h.AsSpan(76), (float)(qform?.Qfac ?? 1));
        for (int i = 0; i < 3; i++) BinaryPrimitives.WriteSingleLittleEndian(h.AsSpan(80 + 4 * i), (float)spacing[i]);
        BinaryPrimitives.WriteSingleLittleEndian(h.AsSpan(108), 352f);
        BinaryPrimitives.WriteSingleLittleEndian(h.AsSpan(112), 1f);
        if (qform is { } q)
        {
            BinaryPrimitives.WriteInt16LittleEndian(h.AsSpan(252), 1);
            BinaryPrimitives.WriteSingleLittleEndian(h.AsSpan(256), (float)q.B);
            BinaryPrimitives.WriteSingleLittleEndian(h.AsSpan(260), (float)q.C);
            BinaryPrimitives.WriteSingleLittleEndian(h.AsSpan(264), (float)q.D);
            for (int i = 0; i < 3; i++) BinaryPrimitives.WriteSingleLittleEndian(h.AsSpan(268 + 4 * i), (float)q.Offset[i]);
        }
        else
        {
            BinaryPrimitives.WriteInt16LittleEndian(h.AsSpan(254), 1);
            for (int r = 0; r < 3; r++)
                for (int c = 0; c < 4; c++)
                    BinaryPrimitives.WriteSingleLittleEndian(h.AsSpan(280 + 16 * r + 4 * c), (float)affine[4 * r + c]);
        }
        "n+1\0"u8.CopyTo(h.AsSpan(344));
        var bytes = new byte[Buffer.ByteLength(data)];
        Buffer.BlockCopy(data, 0, bytes, 0, bytes.Length);
        using var f = File.Create(path);
        using Stream s = path.EndsWith(".gz") ? new GZipStream(f, CompressionLevel.Fastest) : f;
        s.Write(h);
        s.Write(bytes);
    }

    public static double[] Affine(double sx = 1, double sy = 1, double sz = 1, double ox = 0, double oy = 0, double oz = 0) =>
        [sx, 0, 0, ox, 0, sy, 0, oy, 0, 0, sz, oz, 0, 0, 0, 1];

    /// <summary>A 3-D image of int16 noise.</summary>
    public static void Image(string path, int[] shape, double[] affine)
    {
        var n = shape.Aggregate(1, (a, b) => a * b);
        var d = new short[n];
        for (int i = 0; i < n; i++) d[i] = (short)(i % 97 - 40);
        Write(path, shape, VoxelType.Int16, d, affine);
    }

    /// <summary>A uint8 label map whose voxels cycle through <paramref name="values"/>.</summary>
    public static void Labels(string path, int[] shape, double[] affine, params byte[] values)
    {
        var n = shape.Aggregate(1, (a, b) => a * b);
        var d = new byte[n];
        for (int i = 0; i < n; i++) d[i] = values[i % values.Length];
        Write(path, shape, VoxelType.UInt8, d, affine);
    }
}
