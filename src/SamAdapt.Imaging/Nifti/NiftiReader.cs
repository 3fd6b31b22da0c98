using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;

namespace SamAdapt.Imaging.Nifti;

/// <summary>What to use when a file has neither an sform nor a qform (both codes 0).</summary>
public enum NiftiFallbackAffine
{
    /// <summary>nibabel's base affine: diag(−pixdim1, pixdim2, pixdim3), image centre at the origin (default).</summary>
    Centered,
    /// <summary>nifti1.h method 1: diag(pixdim1, pixdim2, pixdim3), voxel 0 at the origin, no flip.</summary>
    Method1,
}

public sealed class NiftiReadOptions
{
    public static NiftiReadOptions Default { get; } = new();

    /// <summary>Scale the affine to millimetres when xyzt_units says metres or micrometres (default true).</summary>
    public bool ConvertToMillimetres { get; init; } = true;

    public NiftiFallbackAffine Fallback { get; init; } = NiftiFallbackAffine.Centered;
}

/// <summary>
/// Reads NIfTI-1 and NIfTI-2 images: single files (.nii, .nii.gz) and header/image pairs (.hdr + .img, either
/// gzipped), both byte orders, all integer/float datatypes plus RGB24/RGBA32. Gzip is detected from the content,
/// not the name. Errors are <see cref="InvalidDataException"/> (damaged or inconsistent file),
/// <see cref="NotSupportedException"/> (valid NIfTI this reader cannot represent, e.g. complex or float128), or
/// <see cref="FileNotFoundException"/>; every message starts with the file path.
/// </summary>
/// <remarks>
/// Geometry follows nibabel's <c>get_best_affine</c>: the sform when sform_code &gt; 0, else the qform when
/// qform_code &gt; 0, else the fallback (<see cref="NiftiReadOptions.Fallback"/>). Transform codes outside 0..5 are
/// treated as 0 (with a warning). A spatial pixdim of 0 is read as 1 so the affine stays invertible.
/// Scaling: scl_slope 0 or non-finite means unscaled; a valid slope with a non-finite intercept is an error;
/// scaling is ignored for RGB. vox_offset below the single-file minimum (352 / 544) is raised to it (warning).
/// </remarks>
public static class NiftiReader
{
    /// <summary>True for .nii, .nii.gz, .hdr, .hdr.gz, .img, .img.gz (case-insensitive).</summary>
    public static bool IsNiftiPath(string path)
    {
        var p = path.ToLowerInvariant();
        return p.EndsWith(".nii") || p.EndsWith(".nii.gz") || p.EndsWith(".hdr") || p.EndsWith(".hdr.gz")
               || p.EndsWith(".img") || p.EndsWith(".img.gz");
    }

    /// <summary>Reads only the header (and extensions) — cheap even for .nii.gz.</summary>
    public static NiftiHeader ReadHeader(string path)
    {
        var r = ReadHeaderCore(path, out var data, out _);
        data.Dispose();
        return r.Header;
    }

    /// <summary>
    /// Shape, voxel type, affine (the same one <see cref="Read"/> chooses) and scaling without reading the voxels —
    /// cheap even for .nii.gz. The header is validated exactly as by <see cref="Read"/>; for uncompressed data the file
    /// length is checked against the data size too (a gzip stream's length is only known after decompressing it).
    /// </summary>
    /// <param name="verifyData">Also decompress a gzip stream to the end (without keeping the voxels), so truncated or
    /// corrupt data are found as <see cref="Read"/> would find them (dataset checks).</param>
    public static NiftiImageInfo ReadInfo(string path, NiftiReadOptions? options = null, bool verifyData = false)
    {
        options ??= NiftiReadOptions.Default;
        var (h, headerPath, imagePath, warnings) = ReadHeaderCore(path, out var data, out _);
        using (data)
        {
            var info = Interpret(h, headerPath, warnings, options);
            long need = info.VoxelCount * Volume.BytesPerVoxel(info.Type);
            if (data is FileStream fs && fs.Length - fs.Position < need)
                throw new InvalidDataException(
                    $"{imagePath ?? headerPath}: file too short: dims [{string.Join("×", info.Shape)}] of {Volume.TypeName(info.Type)} need {need} bytes " +
                    $"from offset {fs.Position}, but the file has only {fs.Length - fs.Position} bytes there");
            if (verifyData && data is not FileStream)
            {
                long got = 0;
                var buf = new byte[1 << 16];
                try
                {
                    int r;
                    while ((r = data.Read(buf)) > 0) got += r;
                }
                catch (InvalidDataException e) { throw new InvalidDataException($"{imagePath ?? headerPath}: corrupt gzip stream (checksum, length or data): {GzipReason(e)}", e); }
                if (got < need)
                    throw new InvalidDataException(
                        $"{imagePath ?? headerPath}: truncated: dims [{string.Join("×", info.Shape)}] of {Volume.TypeName(info.Type)} need {need} bytes of data, only {got} present");
            }
            return info;
        }
    }

    public static Volume Read(string path, NiftiReadOptions? options = null)
    {
        options ??= NiftiReadOptions.Default;
        var (h, headerPath, imagePath, warnings) = ReadHeaderCore(path, out var dataStream, out var dataStreamName);
        using var stream = dataStream;
        return BuildVolume(h, headerPath, imagePath, dataStreamName, stream, warnings, options);
    }

    // ------------------------------------------------------------------------------------------------ paths

    /// <summary>For a pair member, the header and image paths; for a single file, (path, null).</summary>
    public static (string Header, string? Image) ResolvePaths(string path)
    {
        string lower = path.ToLowerInvariant();
        string Strip(int n) => path[..^n];
        if (lower.EndsWith(".nii") || lower.EndsWith(".nii.gz"))
        {
            if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file", path);
            return (path, null);
        }
        string? stem = lower.EndsWith(".hdr.gz") || lower.EndsWith(".img.gz") ? Strip(7)
            : lower.EndsWith(".hdr") || lower.EndsWith(".img") ? Strip(4) : null;
        if (stem == null) throw new NotSupportedException($"{path}: not a NIfTI file name (expected .nii, .nii.gz, .hdr or .img)");
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file", path);
        bool isHeader = lower.Contains(".hdr");
        string[] partnerExt = isHeader ? [".img", ".img.gz", ".IMG", ".IMG.gz"] : [".hdr", ".hdr.gz", ".HDR", ".HDR.gz"];
        var partner = partnerExt.Select(e => stem + e).FirstOrDefault(File.Exists);
        if (partner == null)
            throw new FileNotFoundException($"{path}: the matching {(isHeader ? "image" : "header")} file {stem}{partnerExt[0]} (or {partnerExt[1]}) was not found", stem + partnerExt[0]);
        return isHeader ? (path, partner) : (partner, path);
    }

    private static Stream Open(string path, out bool gzipped)
    {
        var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        Span<byte> magic = stackalloc byte[2];
        int n = fs.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
        fs.Position = 0;
        gzipped = n == 2 && magic[0] == 0x1F && magic[1] == 0x8B;
        return gzipped ? new GZipStream(fs, CompressionMode.Decompress) : fs;
    }

    // ------------------------------------------------------------------------------------------------ header

    private sealed record HeaderResult(NiftiHeader Header, string HeaderPath, string? ImagePath, List<string> Warnings);

    private static HeaderResult ReadHeaderCore(string path, out Stream dataStream, out string dataStreamName)
    {
        var (headerPath, imagePath) = ResolvePaths(path);
        var warnings = new List<string>();
        var hs = Open(headerPath, out bool hgz);
        try
        {
            NiftiHeader h;
            byte[] hb = new byte[NiftiHeader.Nifti2Size];
            int got = Fill(hs, hb.AsSpan(0, 4), headerPath, hgz);
            if (got < 4) throw new InvalidDataException($"{headerPath}: file too short for a NIfTI header ({got} bytes)");
            var (version, _) = NiftiHeader.Identify(hb);
            int size = version == 2 ? NiftiHeader.Nifti2Size : NiftiHeader.Nifti1Size;
            if (version != 0)
            {
                got += Fill(hs, hb.AsSpan(4, size - 4), headerPath, hgz);
                if (got < size) throw new InvalidDataException($"{headerPath}: truncated NIfTI-{version} header ({got} of {size} bytes)");
            }
            h = NiftiHeader.Parse(hb.AsSpan(0, version == 0 ? 4 : size), headerPath);

            bool pair = imagePath != null;
            if (pair && h.IsSingleFile)
                warnings.Add($"magic \"{h.Magic}\" announces a single file but the header is in a .hdr/.img pair; reading the pair");
            if (!pair && !h.IsSingleFile)
                throw new InvalidDataException($"{headerPath}: magic \"{h.Magic}\" means the image data is in a separate .img file, but this is a single-file name");

            double vo = h.VoxOffset;
            if (!double.IsFinite(vo) || vo < 0)
                throw new InvalidDataException($"{headerPath}: vox_offset {vo.ToString(CultureInfo.InvariantCulture)} is invalid");
            long voxOffset = (long)vo;
            int min = size + 4;
            if (!pair && voxOffset < min)
            {
                warnings.Add($"vox_offset {voxOffset} is below the single-file minimum {min}; using {min}");
                voxOffset = min;
            }
            h.VoxOffset = voxOffset;

            // The bytes between header and data (single file), or the rest of the .hdr (pair), may hold extensions.
            byte[] extra;
            const long maxExtra = 1L << 30;
            if (!pair)
            {
                long want = voxOffset - size;
                if (want > maxExtra) throw new InvalidDataException($"{headerPath}: vox_offset {voxOffset} is implausibly large");
                if (!hgz && hs.Length < voxOffset)
                    throw new InvalidDataException($"{headerPath}: file is {hs.Length} bytes, shorter than vox_offset {voxOffset}");
                extra = new byte[want];
                int e = Fill(hs, extra, headerPath, hgz);
                if (e < want) throw new InvalidDataException($"{headerPath}: file ends at byte {size + e}, before vox_offset {voxOffset} (truncated{(hgz ? " gzip stream" : "")})");
            }
            else
            {
                var ms = new MemoryStream();
                CopyLimited(hs, ms, maxExtra, headerPath, hgz);
                extra = ms.ToArray();
            }
            ParseExtensions(h, extra, h.BigEndian, warnings);

            if (pair)
            {
                hs.Dispose();
                dataStream = Open(imagePath!, out bool igz);
                dataStreamName = imagePath! + (igz ? " (gzip)" : "");
                try
                {
                    if (voxOffset > 0)
                    {
                        if (!igz)
                        {
                            if (dataStream.Length < voxOffset)
                                throw new InvalidDataException($"{imagePath}: file is {dataStream.Length} bytes, shorter than vox_offset {voxOffset}");
                            dataStream.Position = voxOffset;
                        }
                        else Skip(dataStream, voxOffset, imagePath!);
                    }
                }
                catch { dataStream.Dispose(); throw; }
            }
            else
            {
                dataStream = hs;
                dataStreamName = headerPath + (hgz ? " (gzip)" : "");
            }
            return new HeaderResult(h, headerPath, imagePath, warnings);
        }
        catch
        {
            hs.Dispose();
            throw;
        }
    }

    private static void ParseExtensions(NiftiHeader h, byte[] extra, bool big, List<string> warnings)
    {
        if (extra.Length < 4 || extra[0] == 0) return;
        int pos = 4;
        while (pos + 8 <= extra.Length)
        {
            int esize = big ? BinaryPrimitives.ReadInt32BigEndian(extra.AsSpan(pos)) : BinaryPrimitives.ReadInt32LittleEndian(extra.AsSpan(pos));
            int ecode = big ? BinaryPrimitives.ReadInt32BigEndian(extra.AsSpan(pos + 4)) : BinaryPrimitives.ReadInt32LittleEndian(extra.AsSpan(pos + 4));
            if (esize == 0 && ecode == 0) break; // zero padding after the last extension
            if (esize < 8 || esize > extra.Length - pos)
            {
                warnings.Add($"header extension at byte {(h.Version == 1 ? 348 : 540) + pos} has size {esize}, which runs past the data offset; remaining extensions ignored");
                break;
            }
            if (esize % 16 != 0) warnings.Add($"header extension (code {ecode}) size {esize} is not a multiple of 16");
            h.Extensions.Add(new VolumeExtension(ecode, extra.AsSpan(pos + 8, esize - 8).ToArray()));
            pos += esize;
        }
    }

    // ------------------------------------------------------------------------------------------------ data

    /// <summary>Shape, voxel type, affine and scaling as the full reader would report them, from the header alone.</summary>
    private static NiftiImageInfo Interpret(NiftiHeader h, string src, List<string> warnings, NiftiReadOptions options)
    {
        int rank = h.Rank;
        var shape = new int[rank];
        long voxels = 1;
        for (int i = 0; i < rank; i++)
        {
            long d = h.Dim[i + 1];
            if (d < 1)
                throw new InvalidDataException($"{src}: dim[{i + 1}] = {d} is not positive (dims [{string.Join(", ", h.Dim.Skip(1).Take(rank))}])");
            if (d > int.MaxValue) throw new NotSupportedException($"{src}: dim[{i + 1}] = {d} is too large");
            shape[i] = (int)d;
        }
        double product = SamAdapt.Common.ResourceLimits.Product(shape.Select(x => (long)x));
        if (product > Array.MaxLength)
            throw new InvalidDataException($"{src}: field dim: expected at most {Array.MaxLength} voxels in all, found [{string.Join("×", shape)}] = {product:G4}");
        voxels = (long)product;

        var vt = NiftiDataType.ToVoxelType(h.DataType)
            ?? throw new NotSupportedException($"{src}: unsupported datatype {h.DataType} ({NiftiDataType.Name(h.DataType)}); " +
                                               "supported: uint8, int8, int16, uint16, int32, uint32, int64, uint64, float32, float64, rgb24, rgba32");
        if (h.BitPix != NiftiDataType.BitPix(vt))
            warnings.Add($"bitpix {h.BitPix} does not match datatype {NiftiDataType.Name(h.DataType)} ({NiftiDataType.BitPix(vt)}); using the datatype");

        // geometry first: a bad header must fail before the (possibly large) data are read
        var affine = ChooseAffine(h, src, warnings, options, out int qcode, out int scode);

        double slope = 1, inter = 0;
        if (vt is not (VoxelType.Rgb24 or VoxelType.Rgba32) && h.SclSlope != 0 && double.IsFinite(h.SclSlope))
        {
            if (!double.IsFinite(h.SclInter))
                throw new InvalidDataException($"{src}: scl_slope {h.SclSlope.ToString("R", CultureInfo.InvariantCulture)} is valid but scl_inter is {h.SclInter.ToString(CultureInfo.InvariantCulture)}");
            slope = h.SclSlope; inter = h.SclInter;
        }
        return new NiftiImageInfo(shape, vt, affine, slope, inter, qcode, scode, h, warnings);
    }

    private static Volume BuildVolume(NiftiHeader h, string headerPath, string? imagePath, string dataName, Stream data,
        List<string> warnings, NiftiReadOptions options)
    {
        string src = headerPath;
        var info = Interpret(h, src, warnings, options);
        var (shape, vt, affine, slope, inter, qcode, scode) = (info.Shape, info.Type, info.Affine, info.Slope, info.Intercept, info.QFormCode, info.SFormCode);
        int rank = shape.Length;
        long voxels = info.VoxelCount;

        if (voxels * Volume.ChannelsOf(vt) > Array.MaxLength)
            throw new NotSupportedException($"{src}: {voxels} voxels of {Volume.TypeName(vt)} exceed the .NET array limit");
        long need = voxels * Volume.BytesPerVoxel(vt);
        if (data is FileStream fs && fs.Length - fs.Position < need)
            throw new InvalidDataException(
                $"{imagePath ?? src}: file too short: dims [{string.Join("×", shape)}] of {Volume.TypeName(vt)} need {need} bytes " +
                $"from offset {fs.Position}, but the file has only {fs.Length - fs.Position} bytes there");
        try { SamAdapt.Common.ResourceLimits.Check($"dims [{string.Join("×", shape)}] of {Volume.TypeName(vt)}", need); }
        catch (SamAdapt.Common.ResourceLimitException e) { throw new SamAdapt.Common.ResourceLimitException($"{src}: {e.Message}"); }
        var array = Volume.Allocate(vt, voxels);
        long got;
        try { got = VoxelBuffer.ReadInto(data, array); }
        catch (InvalidDataException e) { throw new InvalidDataException($"{dataName}: corrupt gzip stream: {GzipReason(e)}", e); }
        if (got < need)
            throw new InvalidDataException(
                $"{dataName}: truncated: dims [{string.Join("×", shape)}] of {Volume.TypeName(vt)} need {need} bytes of data " +
                $"from offset {(long)h.VoxOffset}, but only {got} were present{(dataName.EndsWith("(gzip)") ? " (gzip stream ended early)" : "")}");
        if (data is GZipStream)
        {
            // read to the end so the gzip trailer (CRC-32, length) is verified: damage inside stored blocks decodes silently
            long tail = 0;
            try
            {
                var buf = new byte[1 << 16];
                int r;
                while ((r = data.Read(buf)) > 0) tail += r;
            }
            catch (InvalidDataException e) { throw new InvalidDataException($"{dataName}: corrupt gzip stream (checksum or trailer): {GzipReason(e)}", e); }
            // a stream cut inside its 8-byte trailer ends without an error: the trailer's length field must match
            CheckGzipLength(imagePath ?? headerPath, (long)h.VoxOffset + got + tail, dataName);
        }
        if (h.BigEndian) VoxelBuffer.SwapBytes(array);

        var v = new Volume(shape, vt, array, affine)
        {
            Slope = slope, Intercept = inter,
            SpatialUnit = options.ConvertToMillimetres || h.SpatialUnitName == "" ? "mm" : h.SpatialUnitName,
            TimeUnit = h.TimeUnitName,
            TimeStep = rank >= 4 && double.IsFinite(h.PixDim[4]) ? h.PixDim[4] : 0,
            IntentCode = h.IntentCode, IntentName = h.IntentName, Description = h.Descrip,
            Source = headerPath,
            QFormCode = qcode, SFormCode = scode,
            Extensions = h.Extensions.ToArray(), Warnings = warnings.ToArray(),
        };
        return v;
    }

    /// <summary>The affine nibabel would report (sform, then qform, then fallback), scaled to mm if requested.</summary>
    public static double[] ChooseAffine(NiftiHeader h, string src, List<string> warnings, NiftiReadOptions options, out int qcode, out int scode)
    {
        qcode = h.QFormCode; scode = h.SFormCode;
        if (!NiftiHeader.IsValidXformCode(qcode)) { warnings.Add($"qform_code {qcode} is invalid (0..5); treated as 0"); qcode = 0; }
        if (!NiftiHeader.IsValidXformCode(scode)) { warnings.Add($"sform_code {scode} is invalid (0..5); treated as 0"); scode = 0; }
        double[] affine;
        string which;
        if (scode > 0 && IsSingular(h.SFormAffine()))
        {
            // an sform whose 3×3 part is singular (e.g. all zero) maps every voxel to one point: never a usable geometry
            if (qcode > 0) { warnings.Add("the sform is singular (no spacing); using the qform"); scode = 0; }
            else throw new InvalidDataException($"{src}: field srow_x/y/z (sform): expected an invertible 3×3 matrix, found {Geometry.Format(h.SFormAffine())}");
        }
        if (scode > 0) { affine = h.SFormAffine(); which = "sform"; }
        else if (qcode > 0) { affine = h.QFormAffine(src); which = "qform"; }
        else
        {
            affine = options.Fallback == NiftiFallbackAffine.Method1 ? h.ScannerAffine(src) : h.BaseAffine(src);
            which = "pixdim-based affine";
        }
        if (!Geometry.IsFinite(affine))
            throw new InvalidDataException($"{src}: the {which} contains NaN or infinite values: {Geometry.Format(affine)}");
        double f = options.ConvertToMillimetres ? h.SpatialUnitToMm : 1.0;
        if (f != 1.0)
            for (int i = 0; i < 12; i++) affine[i] *= f;
        return affine;
    }

    /// <summary>
    /// The gzip length check: the ISIZE field (last 4 bytes) of a single-member gzip file equals the decompressed length
    /// mod 2³². A BGZF file (bgzip, htslib: a series of gzip members whose headers carry their own size in a "BC" extra
    /// subfield) is checked member by member instead: the members must tile the file exactly and their ISIZE fields
    /// must add up to the decompressed length (mod 2³²).
    /// </summary>
    private static void CheckGzipLength(string gzPath, long decompressed, string dataName)
    {
        if (!gzPath.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) || !File.Exists(gzPath)) return;
        using var f = new FileStream(gzPath, FileMode.Open, FileAccess.Read, FileShare.Read);
        if (f.Length < 18) return;
        var (bgzf, intact, total) = WalkBgzf(f);
        if (bgzf)
        {
            if (!intact)
                throw new InvalidDataException($"{dataName}: truncated or corrupt BGZF file: its blocks do not tile the file (the last block is cut)");
            if (total != (uint)decompressed)
                throw new InvalidDataException(
                    $"{dataName}: truncated or corrupt BGZF file: field ISIZE (summed over its blocks): expected {(uint)decompressed} (the decompressed length), found {total}");
            return;
        }
        f.Seek(-4, SeekOrigin.End);
        Span<byte> isize = stackalloc byte[4];
        f.ReadExactly(isize);
        uint stored = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(isize);
        if (stored != (uint)decompressed)
            throw new InvalidDataException(
                $"{dataName}: truncated or corrupt gzip trailer: field ISIZE: expected {(uint)decompressed} (the decompressed length), found {stored}");
    }

    /// <summary>
    /// Walks a BGZF file block by block (each member's header: FEXTRA with subfield "BC", length 2 = block size − 1).
    /// Bgzf: the first member has that header (otherwise the file is plain gzip and nothing else is returned).
    /// Intact: every block starts with such a header and the blocks end exactly at the end of the file.
    /// Total: the sum mod 2³² of the blocks' ISIZE fields.
    /// </summary>
    private static (bool Bgzf, bool Intact, uint Total) WalkBgzf(FileStream f)
    {
        Span<byte> h = stackalloc byte[18];
        Span<byte> isize = stackalloc byte[4];
        long pos = 0;
        uint total = 0;
        while (pos < f.Length)
        {
            bool first = pos == 0;
            if (f.Length - pos < 18 + 8) return (!first, false, total);
            f.Seek(pos, SeekOrigin.Begin);
            f.ReadExactly(h);
            bool header = h[0] == 0x1f && h[1] == 0x8b && h[2] == 8 && (h[3] & 4) != 0
                          && System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(h[10..]) == 6
                          && h[12] == (byte)'B' && h[13] == (byte)'C'
                          && System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(h[14..]) == 2;
            if (!header) return (!first, false, total);
            long blockSize = System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(h[16..]) + 1L;
            if (blockSize < 26 || pos + blockSize > f.Length) return (true, false, total);
            f.Seek(pos + blockSize - 4, SeekOrigin.Begin);
            f.ReadExactly(isize);
            total += System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(isize);
            pos += blockSize;
        }
        return (true, true, total);
    }

    /// <summary>.NET reports damaged deflate data as "unsupported compression method"; say what it is.</summary>
    private static string GzipReason(InvalidDataException e) =>
        e.Message.Contains("unsupported compression method", StringComparison.OrdinalIgnoreCase)
            ? "the compressed data are damaged (invalid deflate block)"
            : e.Message;

    private static bool IsSingular(double[] a)
    {
        double det = a[0] * (a[5] * a[10] - a[6] * a[9]) - a[1] * (a[4] * a[10] - a[6] * a[8]) + a[2] * (a[4] * a[9] - a[5] * a[8]);
        return !(Math.Abs(det) > 0) || !double.IsFinite(det);
    }

    // ------------------------------------------------------------------------------------------------ stream helpers

    private static int Fill(Stream s, Span<byte> dst, string path, bool gz)
    {
        try { return s.ReadAtLeast(dst, dst.Length, throwOnEndOfStream: false); }
        catch (InvalidDataException e) when (gz) { throw new InvalidDataException($"{path}: corrupt gzip stream: {GzipReason(e)}", e); }
    }

    private static void Skip(Stream s, long n, string path)
    {
        var buf = new byte[81920];
        while (n > 0)
        {
            int r = Fill(s, buf.AsSpan(0, (int)Math.Min(buf.Length, n)), path, true);
            if (r == 0) throw new InvalidDataException($"{path}: stream ends before vox_offset (truncated gzip stream)");
            n -= r;
        }
    }

    private static void CopyLimited(Stream s, Stream dst, long limit, string path, bool gz)
    {
        var buf = new byte[81920];
        while (true)
        {
            int r;
            try { r = s.Read(buf); }
            catch (InvalidDataException e) when (gz) { throw new InvalidDataException($"{path}: corrupt gzip stream: {GzipReason(e)}", e); }
            if (r == 0) return;
            dst.Write(buf, 0, r);
            if (dst.Length > limit) throw new InvalidDataException($"{path}: header file is implausibly large");
        }
    }
}

/// <summary>What <see cref="NiftiReader.ReadInfo"/> reports: the geometry and voxel type of an image without its data.</summary>
public sealed record NiftiImageInfo(
    int[] Shape, VoxelType Type, double[] Affine, double Slope, double Intercept, int QFormCode, int SFormCode,
    NiftiHeader Header, IReadOnlyList<string> Warnings)
{
    public long VoxelCount => Shape.Aggregate(1L, (a, b) => a * b);
}
