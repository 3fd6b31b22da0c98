using System.Globalization;
using System.Runtime.InteropServices;

namespace SamAdapt.Imaging.Dicom;

/// <summary>
/// Reads a folder of DICOM files (one file per slice, any transfer syntax GDCM decodes) into <see cref="Volume"/>s.
/// <para>Rules (docs/imaging.md, "Conventions"):</para>
/// <list type="bullet">
/// <item>Files are grouped by SeriesInstanceUID, then by ImageOrientationPatient, matrix size, PixelSpacing and
/// EchoNumbers; files that are not DICOM or hold no image are skipped.</item>
/// <item>Slices are sorted by the projection of ImagePositionPatient on the slice normal n = row × column cosine
/// (never by InstanceNumber or SliceLocation); k grows along +n.</item>
/// <item>Voxel (i, j, k) = (column, row, slice): i runs along the row direction (DICOM pixel order, fastest), so
/// each decoded frame is copied as is.</item>
/// <item>The affine maps (i, j, k) to RAS millimetres: LPS position = IPP₀ + i·Δcol·r + j·Δrow·c + k·step, then
/// x and y are negated. PixelSpacing = [Δrow, Δcol] (row spacing first). The step is the measured slice-to-slice
/// displacement; with one slice it is n·(SpacingBetweenSlices, else SliceThickness, else 1).</item>
/// <item>Slice gaps must be uniform within <see cref="DicomReadOptions.SliceSpacingTolerance"/>, else error (a missing
/// slice is never papered over). Slice positions that drift in-plane are gantry tilt: an error unless
/// <see cref="DicomReadOptions.AllowGantryTilt"/> (then the affine is sheared, see there).</item>
/// <item>Values: Rescale Slope/Intercept are applied per slice; the result is stored with Slope 1, Intercept 0 as
/// (a) the stored type (uint8/int16/uint16/…) when every slice has slope 1 and intercept 0; else (b) int16 when every
/// slope is 1, every intercept an integer and all rescaled values fit in int16 (typical CT → HU); else (c) float32.
/// MONOCHROME1 values are not inverted (they are the stored values). 8-bit RGB series become Rgb24.</item>
/// </list>
/// </summary>
public static class DicomSeriesReader
{
    // ---------------------------------------------------------------- public API

    /// <summary>All image series in <paramref name="folder"/> (or the series of a single file), sorted by description
    /// then id. Errors when the folder does not exist or holds no DICOM image at all.</summary>
    public static IReadOnlyList<DicomSeriesInfo> ListSeries(string folder, DicomReadOptions? options = null)
        => Scan(folder, options ?? DicomReadOptions.Default).Series.Select(s => s.Info).ToList();

    /// <summary>
    /// Reads one series of <paramref name="folder"/> as a 3-D volume. <paramref name="seriesId"/> is a
    /// SeriesInstanceUID or a <see cref="DicomSeriesInfo.Id"/>; it may be omitted when the folder holds one series
    /// only — otherwise the error lists the series found.
    /// </summary>
    public static Volume Read(string folder, string? seriesId = null, DicomReadOptions? options = null)
    {
        options ??= DicomReadOptions.Default;
        var scan = Scan(folder, options);
        ScannedSeries chosen;
        if (seriesId is null)
        {
            if (scan.Series.Count > 1)
                throw new DicomSeriesException(
                    $"{folder} holds {scan.Series.Count} image series; choose one by its id:\n" +
                    string.Join('\n', scan.Series.Select(s => "  " + s.Info.Summary)));
            chosen = scan.Series[0];
        }
        else
        {
            var matches = scan.Series.Where(s => s.Info.Id == seriesId).ToList();
            if (matches.Count == 0) matches = scan.Series.Where(s => s.Info.SeriesInstanceUid == seriesId).ToList();
            if (matches.Count == 0)
                throw new DicomSeriesException(
                    $"{folder} has no series '{seriesId}'. Series found:\n" +
                    string.Join('\n', scan.Series.Select(s => "  " + s.Info.Summary)));
            if (matches.Count > 1)
                throw new DicomSeriesException(
                    $"series {seriesId} in {folder} splits into {matches.Count} parts (different orientation, matrix, " +
                    "pixel spacing or echo); choose one by its id:\n" +
                    string.Join('\n', matches.Select(s => "  " + s.Info.Summary)));
            chosen = matches[0];
        }
        var v = Build(chosen, options);
        v.Source = folder;
        return v;
    }

    /// <summary>Reads a series returned by <see cref="ListSeries"/>.</summary>
    public static Volume ReadSeries(DicomSeriesInfo series, DicomReadOptions? options = null)
    {
        options ??= DicomReadOptions.Default;
        GdcmRuntime.Ensure();
        var headers = new List<SliceHeader>();
        foreach (var f in series.Files)
            headers.Add(ReadHeader(f) ?? throw new DicomSeriesException($"{f}: not a readable DICOM image any more"));
        var v = Build(new ScannedSeries(series, headers), options);
        v.Source = series.Files.Count > 0 ? Path.GetDirectoryName(series.Files[0]) ?? "" : "";
        return v;
    }

    // ---------------------------------------------------------------- scanning

    internal sealed record SliceHeader(
        string Path, string SeriesUid, string Modality, string Description, int Rows, int Columns, int Frames,
        int SamplesPerPixel, string Photometric, double[]? Position, double[]? Orientation, double[]? PixelSpacing,
        double Slope, double Intercept, string Echo, double? SliceThickness, double? SpacingBetweenSlices);

    private sealed record ScannedSeries(DicomSeriesInfo Info, List<SliceHeader> Slices);

    private sealed record ScanResult(List<ScannedSeries> Series);

    private static ScanResult Scan(string folder, DicomReadOptions options)
    {
        GdcmRuntime.Ensure();
        string[] files;
        if (File.Exists(folder)) files = [Path.GetFullPath(folder)];
        else if (Directory.Exists(folder))
            files = Directory.GetFiles(folder, "*", options.Recursive ? SearchOption.AllDirectories : SearchOption.TopDirectoryOnly);
        else throw new DirectoryNotFoundException($"DICOM folder not found: {folder}");
        Array.Sort(files, StringComparer.Ordinal);
        var key = Path.GetFullPath(folder) + (options.Recursive ? "|recursive" : "");
        var (signature, newest) = FilesSignature(files);
        lock (CacheLock)
        {
            var hit = Cache.Find(e => e.Key == key && e.Signature == signature);
            if (hit is not null)
            {
                Cache.Remove(hit);
                Cache.Insert(0, hit);
                return hit.Result;
            }
        }

        var headers = new List<SliceHeader>();
        int notDicom = 0, noImage = 0;
        foreach (var f in files)
        {
            var h = ReadHeader(f, out var isDicom);
            if (h is not null) headers.Add(h);
            else if (isDicom) noImage++;
            else notDicom++;
        }
        if (headers.Count == 0)
            throw new DicomSeriesException(
                $"no DICOM images in {folder}: {files.Length} file(s) scanned, {notDicom} not DICOM, " +
                $"{noImage} DICOM without pixel data (e.g. DICOMDIR, reports, RT structures)" +
                (options.Recursive ? "" : "; sub-folders are not scanned unless asked to"));

        var series = new List<ScannedSeries>();
        foreach (var byUid in headers.GroupBy(h => h.SeriesUid).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var parts = byUid.GroupBy(GroupKey).ToList();
            for (int p = 0; p < parts.Count; p++)
            {
                var slices = parts[p].ToList();
                var first = slices[0];
                var id = parts.Count == 1 ? byUid.Key : $"{byUid.Key}#{p + 1}";
                string? problem = first.Frames > 1 ? $"multi-frame ({first.Frames} frames)" : null;
                var info = new DicomSeriesInfo(id, byUid.Key, first.Modality, first.Description, first.Rows,
                    first.Columns, slices.Select(s => s.Path).ToList(), problem);
                series.Add(new ScannedSeries(info, slices));
            }
        }
        series.Sort((a, b) =>
        {
            int c = string.CompareOrdinal(a.Info.Description, b.Info.Description);
            return c != 0 ? c : string.CompareOrdinal(a.Info.Id, b.Info.Id);
        });
        var result = new ScanResult(series);
        lock (CacheLock)
        {
            Cache.RemoveAll(e => e.Key == key);
            // files modified in the last seconds may still be being written (or rewritten within the clock's granularity): not kept
            if (DateTime.UtcNow - newest > SettledAge)
            {
                Cache.Insert(0, new CachedScan(key, signature, result));
                if (Cache.Count > CacheEntries) Cache.RemoveRange(CacheEntries, Cache.Count - CacheEntries);
            }
        }
        HeadersScanned?.Invoke(key);
        return result;
    }

    // ---------------------------------------------------------------- scan cache
    // The headers of the last few folders scanned, reused while the folder's files are unchanged (same names, sizes and modification
    // times; folders with a file modified in the last two seconds are not kept): the viewer lists a folder's series, opens one and
    // exports a SEG that references it, and predict --dicom-seg reads a series and then its references — each a full header scan of
    // the same files otherwise. Scan results are never mutated.

    private sealed record CachedScan(string Key, string Signature, ScanResult Result);

    private const int CacheEntries = 4;
    private static readonly TimeSpan SettledAge = TimeSpan.FromSeconds(2);
    private static readonly List<CachedScan> Cache = [];
    private static readonly object CacheLock = new();

    /// <summary>Raised after a folder's headers were read from its files (not served from the cache), with the folder's full path.</summary>
    internal static event Action<string>? HeadersScanned;

    /// <summary>SHA-256 over every file's path, size and modification time (UTC ticks), and the newest modification time.</summary>
    private static (string Signature, DateTime Newest) FilesSignature(string[] files)
    {
        var newest = DateTime.MinValue;
        using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        foreach (var f in files)
        {
            var info = new FileInfo(f);
            long length = info.Exists ? info.Length : -1, ticks = info.Exists ? info.LastWriteTimeUtc.Ticks : 0;
            if (info.Exists && info.LastWriteTimeUtc > newest) newest = info.LastWriteTimeUtc;
            sha.AppendData(System.Text.Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{f}\0{length}\0{ticks}\n")));
        }
        return (Convert.ToHexString(sha.GetHashAndReset()), newest);
    }

    private static string GroupKey(SliceHeader h)
    {
        static string F(double[]? v) => v is null ? "-" : string.Join(",", v.Select(x => Math.Round(x, 4).ToString("R", CultureInfo.InvariantCulture)));
        return $"{h.Rows}x{h.Columns}|{F(h.Orientation)}|{F(h.PixelSpacing)}|{h.Echo}|{h.SamplesPerPixel}|{h.Frames}";
    }

    private static readonly gdcm.Tag TagPixelData = new(0x7fe0, 0x0010);

    private static SliceHeader? ReadHeader(string path) => ReadHeader(path, out _);

    /// <summary>Header of one file, or null when it is not DICOM (<paramref name="isDicom"/> false) or has no image.</summary>
    private static SliceHeader? ReadHeader(string path, out bool isDicom)
    {
        isDicom = false;
        // GDCM aborts the process on some malformed files: only files that pass the C# preflight reach it
        var pre = DicomPreflight.Check(path);
        if (pre.Verdict == DicomPreflight.Verdict.NotDicom) return null;
        if (pre.Verdict == DicomPreflight.Verdict.Invalid) throw new DicomSeriesException(pre.Problem!);
        using var reader = new gdcm.Reader();
        reader.SetFileName(path);
        if (!reader.ReadUpToTag(TagPixelData)) return null;
        isDicom = true;
        using var sf = new gdcm.StringFilter();
        sf.SetFile(reader.GetFile());
        string S(ushort g, ushort e) => sf.ToString(new gdcm.Tag(g, e)).Trim('\0', ' ');
        var rows = ParseInt(S(0x0028, 0x0010));
        var cols = ParseInt(S(0x0028, 0x0011));
        if (rows is null or <= 0 || cols is null or <= 0) return null;
        var slope = ParseDoubles(S(0x0028, 0x1053))?.FirstOrDefault() ?? 1.0;
        if (slope == 0 || !double.IsFinite(slope)) slope = 1.0;
        var intercept = ParseDoubles(S(0x0028, 0x1052))?.FirstOrDefault() ?? 0.0;
        if (!double.IsFinite(intercept)) intercept = 0.0;
        return new SliceHeader(
            path,
            SeriesUid: S(0x0020, 0x000e) is { Length: > 0 } uid ? uid : "(no SeriesInstanceUID)",
            Modality: S(0x0008, 0x0060),
            Description: S(0x0008, 0x103e),
            Rows: rows.Value,
            Columns: cols.Value,
            Frames: ParseInt(S(0x0028, 0x0008)) ?? 1,
            SamplesPerPixel: ParseInt(S(0x0028, 0x0002)) ?? 1,
            Photometric: S(0x0028, 0x0004).ToUpperInvariant(),
            Position: ParseDoubles(S(0x0020, 0x0032), 3),
            Orientation: ParseDoubles(S(0x0020, 0x0037), 6),
            PixelSpacing: ParseDoubles(S(0x0028, 0x0030), 2),
            Slope: slope,
            Intercept: intercept,
            Echo: S(0x0018, 0x0086),
            SliceThickness: ParseDoubles(S(0x0018, 0x0050))?.FirstOrDefault(),
            SpacingBetweenSlices: ParseDoubles(S(0x0018, 0x0088))?.FirstOrDefault());
    }

    private static int? ParseInt(string s) =>
        int.TryParse(s.Split('\\')[0].Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : null;

    /// <summary>Backslash-separated decimal strings; null when missing, malformed or not exactly <paramref name="count"/> values.</summary>
    private static double[]? ParseDoubles(string s, int count = -1)
    {
        if (string.IsNullOrWhiteSpace(s)) return null;
        var parts = s.Split('\\');
        if (count > 0 && parts.Length != count) return null;
        var r = new double[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!double.TryParse(parts[i].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out r[i]) || !double.IsFinite(r[i]))
                return null;
        return r;
    }

    // ---------------------------------------------------------------- building the volume

    private static Volume Build(ScannedSeries series, DicomReadOptions options)
    {
        var slices = series.Slices;
        var first = slices[0];
        var name = series.Info.Id;
        if (first.Frames > 1)
            throw new DicomSeriesException(
                $"series {name}: multi-frame DICOM ({first.Frames} frames in {first.Path}) is not supported; " +
                "convert it to single-frame files (e.g. with dcm2niix) first");
        bool rgb = first.SamplesPerPixel == 3;
        if (first.SamplesPerPixel is not (1 or 3))
            throw new DicomSeriesException($"series {name}: {first.SamplesPerPixel} samples per pixel are not supported ({first.Path})");

        var geometry = DicomGeometry.Compute(
            slices.Select(s => new DicomGeometry.Slice(s.Path, s.Position, s.Orientation, s.PixelSpacing)).ToList(),
            first.SpacingBetweenSlices ?? first.SliceThickness, options, name);
        var ordered = geometry.Order.Select(i => slices[i]).ToList();

        int w = first.Columns, h = first.Rows, n = ordered.Count;
        long plane = (long)w * h;
        var frames = new SliceData[n];
        for (int k = 0; k < n; k++) frames[k] = Decode(ordered[k], rgb);
        var kind = frames[0].Kind;
        foreach (var f in frames)
            if (f.Kind != kind)
                throw new DicomSeriesException($"series {name}: slices have different pixel types ({kind} in {ordered[0].Path}, {f.Kind} in {f.Path})");

        int[] shape = [w, h, n];
        Volume volume;
        if (rgb)
        {
            if (kind != VoxelType.UInt8)
                throw new DicomSeriesException($"series {name}: colour images with {kind} samples are not supported");
            var data = new byte[3 * plane * n];
            for (int k = 0; k < n; k++) Array.Copy(frames[k].Samples, 0, data, 3 * plane * k, 3 * plane);
            volume = new Volume(shape, VoxelType.Rgb24, data, geometry.Affine);
        }
        else
        {
            volume = Assemble(ordered, frames, kind, shape, plane, geometry.Affine);
        }
        volume.Description = first.Description;
        // patient coordinates are scanner-anatomical: saved as NIfTI, qform_code = sform_code = 1 (NIFTI_XFORM_SCANNER_ANAT), as dcm2niix does
        volume.QFormCode = 1;
        volume.SFormCode = 1;
        return volume;
    }

    private static Volume Assemble(List<SliceHeader> ordered, SliceData[] frames, VoxelType kind, int[] shape, long plane, double[] affine)
    {
        int n = frames.Length;
        bool identity = ordered.All(s => s.Slope == 1.0 && s.Intercept == 0.0);
        if (identity)
        {
            var data = Array.CreateInstance(Volume.ClrType(kind), plane * n);
            for (int k = 0; k < n; k++) Array.Copy(frames[k].Samples, 0, data, plane * k, plane);
            return new Volume(shape, kind, data, affine);
        }
        bool integerShift = ordered.All(s => s.Slope == 1.0 && s.Intercept == Math.Round(s.Intercept)) && kind is not (VoxelType.Float32 or VoxelType.Float64);
        if (integerShift)
        {
            double min = double.MaxValue, max = double.MinValue;
            for (int k = 0; k < n; k++)
            {
                var (lo, hi) = ValueRange.Of(frames[k].Samples);
                min = Math.Min(min, lo + ordered[k].Intercept);
                max = Math.Max(max, hi + ordered[k].Intercept);
            }
            if (min >= short.MinValue && max <= short.MaxValue)
            {
                var data = new short[plane * n];
                for (int k = 0; k < n; k++)
                {
                    var src = frames[k].Samples;
                    int shift = (int)ordered[k].Intercept;
                    for (long i = 0; i < plane; i++) data[plane * k + i] = (short)(Raw(src, i) + shift);
                }
                return new Volume(shape, VoxelType.Int16, data, affine);
            }
        }
        var f = new float[plane * n];
        for (int k = 0; k < n; k++)
        {
            var src = frames[k].Samples;
            double slope = ordered[k].Slope, inter = ordered[k].Intercept;
            for (long i = 0; i < plane; i++) f[plane * k + i] = (float)(Raw(src, i) * slope + inter);
        }
        return new Volume(shape, VoxelType.Float32, f, affine);
    }

    private static double Raw(Array a, long i) => VoxelValues.Get(a, i);


    private sealed record SliceData(string Path, VoxelType Kind, Array Samples);

    /// <summary>Decodes one frame (decompressing whatever GDCM supports) into a typed array in DICOM pixel order.</summary>
    private static SliceData Decode(SliceHeader s, bool rgb)
    {
        using var reader = new gdcm.ImageReader();
        reader.SetFileName(s.Path);
        if (!reader.Read())
            throw new DicomSeriesException($"{s.Path}: GDCM could not read the image (corrupt file or unsupported encoding)");
        var image = reader.GetImage();
        string ts;
        bool encapsulated;
        using (var header = reader.GetFile().GetHeader())
        using (var tso = header.GetDataSetTransferSyntax())
        {
            ts = tso.toString()?.Trim() ?? "?";
            encapsulated = tso.IsEncapsulated();
        }
        if (!encapsulated)
        {
            // GDCM pads truncated native pixel data with a warning only; a truncated file must be an error.
            using var de = image.GetDataElement();
            if (!de.IsUndefinedLength())
                using (var vl = de.GetVL())
                    CheckNativePixelDataComplete(s.Path, vl.GetValueLength());
        }
        using var pf = image.GetPixelFormat();
        var scalar = pf.GetScalarType().ToString();
        VoxelType kind = scalar switch
        {
            "UINT8" => VoxelType.UInt8,
            "INT8" => VoxelType.Int8,
            "UINT12" or "UINT16" => VoxelType.UInt16,
            "INT12" or "INT16" => VoxelType.Int16,
            "UINT32" => VoxelType.UInt32,
            "INT32" => VoxelType.Int32,
            "FLOAT32" => VoxelType.Float32,
            "FLOAT64" => VoxelType.Float64,
            _ => throw new DicomSeriesException($"{s.Path}: pixel type {scalar} is not supported"),
        };
        int samples = pf.GetSamplesPerPixel();
        if (image.GetDimension(0) != s.Columns || image.GetDimension(1) != s.Rows || samples != s.SamplesPerPixel)
            throw new DicomSeriesException(
                $"{s.Path}: decoded image is {image.GetDimension(0)}x{image.GetDimension(1)}x{samples}, header says {s.Columns}x{s.Rows}x{s.SamplesPerPixel}");
        var buffer = new byte[image.GetBufferLength()];
        if (!image.GetBuffer(buffer))
            throw new DicomSeriesException($"{s.Path}: GDCM could not decode the pixel data (transfer syntax {ts})");
        int bytesPer = kind switch
        {
            VoxelType.UInt8 or VoxelType.Int8 => 1,
            VoxelType.UInt16 or VoxelType.Int16 => 2,
            VoxelType.Float64 => 8,
            _ => 4,
        };
        long count = (long)s.Columns * s.Rows * samples;
        if (buffer.LongLength < count * bytesPer)
            throw new DicomSeriesException($"{s.Path}: pixel data holds {buffer.LongLength} bytes, {count * bytesPer} expected (transfer syntax {ts})");
        if (rgb && image.GetPlanarConfiguration() == 1 && kind == VoxelType.UInt8)
            buffer = Interleave(buffer, s.Columns * s.Rows);
        else if (rgb && s.Photometric is not ("RGB" or "YBR_RCT" or "YBR_ICT" or "YBR_FULL_422" or "YBR_FULL"))
            throw new DicomSeriesException($"{s.Path}: photometric interpretation {s.Photometric} with 3 samples is not supported");
        if (!rgb && s.Photometric == "PALETTE COLOR")
            throw new DicomSeriesException($"{s.Path}: PALETTE COLOR images are not supported");

        Array samplesArray = kind switch
        {
            VoxelType.UInt8 => buffer.AsSpan(0, (int)count).ToArray(),
            VoxelType.Int8 => MemoryMarshal.Cast<byte, sbyte>(buffer.AsSpan(0, (int)count)).ToArray(),
            VoxelType.UInt16 => MemoryMarshal.Cast<byte, ushort>(buffer.AsSpan(0, (int)count * 2)).ToArray(),
            VoxelType.Int16 => MemoryMarshal.Cast<byte, short>(buffer.AsSpan(0, (int)count * 2)).ToArray(),
            VoxelType.UInt32 => MemoryMarshal.Cast<byte, uint>(buffer.AsSpan(0, (int)count * 4)).ToArray(),
            VoxelType.Int32 => MemoryMarshal.Cast<byte, int>(buffer.AsSpan(0, (int)count * 4)).ToArray(),
            VoxelType.Float32 => MemoryMarshal.Cast<byte, float>(buffer.AsSpan(0, (int)count * 4)).ToArray(),
            _ => MemoryMarshal.Cast<byte, double>(buffer.AsSpan(0, (int)count * 8)).ToArray(),
        };
        MaskUnusedBits(samplesArray, pf.GetBitsStored());
        return new SliceData(s.Path, kind, samplesArray);
    }

    /// <summary>Finds the last Pixel Data element header in the file (little- or big-endian, explicit or implicit VR)
    /// and checks that its declared value length is actually present.</summary>
    private static void CheckNativePixelDataComplete(string path, uint declared)
    {
        var bytes = File.ReadAllBytes(path);
        ReadOnlySpan<byte> le = [0xE0, 0x7F, 0x10, 0x00], be = [0x7F, 0xE0, 0x00, 0x10];
        int idx = Math.Max(bytes.AsSpan().LastIndexOf(le), bytes.AsSpan().LastIndexOf(be));
        if (idx < 0) return;
        int header = idx + 5 < bytes.Length && bytes[idx + 4] == (byte)'O' && bytes[idx + 5] is (byte)'B' or (byte)'W' ? 12 : 8;
        long available = bytes.LongLength - idx - header;
        if (available < declared)
            throw new DicomSeriesException(
                $"{path}: pixel data is truncated ({Math.Max(0, available)} of {declared} bytes present); the file is incomplete");
    }

    /// <summary>Planar (RRR…GGG…BBB…) to interleaved RGB.</summary>
    private static byte[] Interleave(byte[] planar, int pixels)
    {
        var r = new byte[3 * pixels];
        for (int i = 0; i < pixels; i++)
        {
            r[3 * i] = planar[i];
            r[3 * i + 1] = planar[pixels + i];
            r[3 * i + 2] = planar[2 * pixels + i];
        }
        return r;
    }

    /// <summary>BitsStored &lt; BitsAllocated: keep the stored bits only (sign-extending signed data), as the
    /// standard prescribes; idempotent when the decoder already did it.</summary>
    private static void MaskUnusedBits(Array a, int bitsStored)
    {
        if (bitsStored <= 0) return;
        var t = a.GetType().GetElementType(); // exact type: a short[] also matches `is ushort[]`
        switch (a)
        {
            case ushort[] u when t == typeof(ushort) && bitsStored < 16:
            {
                var mask = (ushort)((1 << bitsStored) - 1);
                for (int i = 0; i < u.Length; i++) u[i] &= mask;
                break;
            }
            case short[] s when t == typeof(short) && bitsStored < 16:
            {
                int shift = 16 - bitsStored;
                for (int i = 0; i < s.Length; i++) s[i] = (short)((short)(s[i] << shift) >> shift);
                break;
            }
            case byte[] b when t == typeof(byte) && bitsStored < 8:
            {
                var mask = (byte)((1 << bitsStored) - 1);
                for (int i = 0; i < b.Length; i++) b[i] &= mask;
                break;
            }
        }
    }
}
