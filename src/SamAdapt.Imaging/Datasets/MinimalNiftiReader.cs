using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace SamAdapt.Imaging.Datasets;

/// <summary>
/// STOPGAP — a deliberately minimal NIfTI-1 reader (single-file .nii / .nii.gz, either byte order, the common integer
/// and float datatypes, sform → qform → pixdim affine precedence as in nibabel) so dataset validation works before
/// the full NIfTI reader exists. It is used only through <see cref="IDatasetVolumeReader"/>; replace it with the
/// full reader (which handles NIfTI-2, .hdr/.img pairs, extensions, RGB, scaling edge cases) when that lands.
/// </summary>
public static class MinimalNiftiReader
{
    public static bool IsNifti(string path) =>
        path.EndsWith(".nii", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".nii.gz", StringComparison.OrdinalIgnoreCase);

    /// <summary>Shape, datatype, scaling and affine from the 348-byte header (reads only the header).</summary>
    public static VolumeHeader ReadHeader(string path)
    {
        using var s = Open(path);
        var h = new byte[348];
        ReadExactly(s, h, path);
        return Parse(h, path).Header;
    }

    /// <summary>Header and voxel data.</summary>
    public static Volume Read(string path)
    {
        using var s = Open(path);
        var h = new byte[348];
        ReadExactly(s, h, path);
        var (header, bigEndian, voxOffset) = Parse(h, path);
        long skip = voxOffset - 348;
        if (skip < 0) throw new InvalidDataException($"{path}: vox_offset {voxOffset} lies inside the header");
        var pad = new byte[Math.Min(skip, 1 << 16)];
        while (skip > 0)
        {
            int n = (int)Math.Min(skip, pad.Length);
            ReadExactly(s, pad.AsSpan(0, n), path);
            skip -= n;
        }
        long count = 1;
        foreach (var d in header.Shape) count *= d;
        int size = ElementSize(header.Type);
        var bytes = new byte[checked(count * size)];
        ReadExactly(s, bytes, path, "voxel data is truncated");
        if (bigEndian && size > 1)
            for (long i = 0; i < bytes.LongLength; i += size) Array.Reverse(bytes, (int)i, size);
        var data = Array.CreateInstance(Volume.ClrType(header.Type), count);
        Buffer.BlockCopy(bytes, 0, data, 0, bytes.Length);
        return new Volume(header.Shape, header.Type, data, header.Affine)
        {
            Slope = header.Slope,
            Intercept = header.Intercept,
            Source = path,
        };
    }

    private static Stream Open(string path)
    {
        Stream f = File.OpenRead(path);
        return path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(f, CompressionMode.Decompress) : f;
    }

    private static void ReadExactly(Stream s, Span<byte> buffer, string path, string what = "file is too short for a NIfTI-1 header")
    {
        int total = 0;
        try
        {
            while (total < buffer.Length)
            {
                int n = s.Read(buffer[total..]);
                if (n == 0) throw new InvalidDataException($"{path}: {what} (got {total} of {buffer.Length} bytes)");
                total += n;
            }
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith(path, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    private static int ElementSize(VoxelType t) => t switch
    {
        VoxelType.UInt8 or VoxelType.Int8 => 1,
        VoxelType.UInt16 or VoxelType.Int16 => 2,
        VoxelType.UInt32 or VoxelType.Int32 or VoxelType.Float32 => 4,
        _ => 8,
    };

    private static (VolumeHeader Header, bool BigEndian, long VoxOffset) Parse(byte[] h, string path)
    {
        bool be;
        if (BinaryPrimitives.ReadInt32LittleEndian(h) == 348) be = false;
        else if (BinaryPrimitives.ReadInt32BigEndian(h) == 348) be = true;
        else throw new InvalidDataException($"{path}: not a NIfTI-1 file (sizeof_hdr is not 348; NIfTI-2 is not supported by the minimal reader)");
        var magic = Encoding.ASCII.GetString(h, 344, 3);
        if (magic != "n+1")
            throw new InvalidDataException($"{path}: NIfTI magic is '{magic}', expected 'n+1' (single-file .nii)");
        short I16(int o) => be ? BinaryPrimitives.ReadInt16BigEndian(h.AsSpan(o)) : BinaryPrimitives.ReadInt16LittleEndian(h.AsSpan(o));
        float F32(int o) => be ? BinaryPrimitives.ReadSingleBigEndian(h.AsSpan(o)) : BinaryPrimitives.ReadSingleLittleEndian(h.AsSpan(o));

        int ndim = I16(40);
        if (ndim is < 1 or > 7) throw new InvalidDataException($"{path}: dim[0] = {ndim} is not 1..7");
        var shape = new int[ndim];
        for (int i = 0; i < ndim; i++)
        {
            shape[i] = I16(42 + 2 * i);
            if (shape[i] < 1) throw new InvalidDataException($"{path}: dim[{i + 1}] = {shape[i]} is not positive");
        }
        var type = I16(70) switch
        {
            2 => VoxelType.UInt8,
            4 => VoxelType.Int16,
            8 => VoxelType.Int32,
            16 => VoxelType.Float32,
            64 => VoxelType.Float64,
            256 => VoxelType.Int8,
            512 => VoxelType.UInt16,
            768 => VoxelType.UInt32,
            1024 => VoxelType.Int64,
            1280 => VoxelType.UInt64,
            var other => throw new InvalidDataException($"{path}: NIfTI datatype {other} is not supported by the minimal reader"),
        };
        var pixdim = new double[8];
        for (int i = 0; i < 8; i++) pixdim[i] = F32(76 + 4 * i);
        long voxOffset = (long)F32(108);
        double slope = F32(112), inter = F32(116);
        if (slope == 0 || !double.IsFinite(slope)) { slope = 1; inter = 0; }
        if (!double.IsFinite(inter)) inter = 0;
        int qcode = I16(252), scode = I16(254);
        double[] affine;
        if (scode > 0)
        {
            affine = new double[16];
            for (int r = 0; r < 3; r++)
                for (int c = 0; c < 4; c++)
                    affine[4 * r + c] = F32(280 + 16 * r + 4 * c);
            affine[15] = 1;
        }
        else if (qcode > 0)
        {
            double b = F32(256), c = F32(260), d = F32(264);
            double a = 1 - (b * b + c * c + d * d);
            a = a < 1e-7 ? 0 : Math.Sqrt(a);
            double qfac = pixdim[0] < 0 ? -1 : 1;
            double[,] R =
            {
                { a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c) },
                { 2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b) },
                { 2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b },
            };
            double[] sc = [pixdim[1], pixdim[2], qfac * pixdim[3]];
            double[] off = [F32(268), F32(272), F32(276)];
            affine = new double[16];
            for (int r = 0; r < 3; r++)
            {
                for (int col = 0; col < 3; col++) affine[4 * r + col] = R[r, col] * sc[col];
                affine[4 * r + 3] = off[r];
            }
            affine[15] = 1;
        }
        else
        {
            double P(int i) => pixdim[i] > 0 && double.IsFinite(pixdim[i]) ? pixdim[i] : 1;
            affine = [P(1), 0, 0, 0, 0, P(2), 0, 0, 0, 0, P(3), 0, 0, 0, 0, 1];
        }
        return (new VolumeHeader(shape, type, affine, slope, inter), be, voxOffset);
    }
}
