using System.Globalization;
using SamAdapt.Common;

namespace SamAdapt.Imaging.Dicom.Seg;

/// <summary>One segment of a SEG: the label value it is cut from, its name and its display colour (sRGB).</summary>
public sealed record SegmentDefinition(int Value, string Name, byte[] Rgb);

/// <summary>How the segments were made (SegmentAlgorithmType; AUTOMATIC and SEMIAUTOMATIC name the algorithm).</summary>
public enum SegmentAlgorithm { Automatic, SemiAutomatic, Manual }

/// <summary>Options of <see cref="DicomSegWriter"/>.</summary>
public sealed record DicomSegOptions
{
    public SegmentAlgorithm Algorithm { get; init; } = SegmentAlgorithm.Automatic;
    /// <summary>SegmentAlgorithmName (e.g. the method of the run).</summary>
    public string AlgorithmName { get; init; } = "SamAdapt";
    public string SeriesDescription { get; init; } = "SamAdapt segmentation";
    public int SeriesNumber { get; init; } = 300;
}

/// <summary>
/// Writes a label map that lies on a DICOM series' grid as a DICOM Segmentation object (PS3.3 A.51; docs/serve.md,
/// "DICOM SEG"): binary, one segment per label value with its name and colour, the source series referenced (Referenced
/// Series Sequence and, per frame, the Source Image Sequence of the slice it lies on), patient/study/frame of reference
/// copied from the source. One frame per (segment, slice) where the segment is present, ordered by segment then slice;
/// frame pixels are the label map's slice in DICOM pixel order (i = column, fastest), packed 1 bit per pixel.
/// </summary>
public static class DicomSegWriter
{
    public const string SegmentationStorage = "1.2.840.10008.5.1.4.1.1.66.4";

    /// <summary>Segments for every non-zero value of <paramref name="labels"/>, named from <paramref name="names"/>
    /// (value → name; unnamed values become "label V") and coloured from <see cref="SegmentPalette"/> by rank.</summary>
    public static IReadOnlyList<SegmentDefinition> SegmentsFor(Volume labels, IReadOnlyDictionary<int, string>? names)
    {
        var values = new SortedSet<int>();
        for (long i = 0; i < labels.VoxelCount; i++)
        {
            var v = labels.Get(i);
            if (v != 0) values.Add(checked((int)v));
        }
        // named classes keep their colour whether or not they occur; unnamed ones follow
        var ordered = (names?.Keys.Where(k => k != 0) ?? []).Union(values).Order().ToList();
        return values.Select(v => new SegmentDefinition(v, names is not null && names.TryGetValue(v, out var n) ? n : $"label {v}",
            SegmentPalette.Rgb(ordered.IndexOf(v) + 1))).ToList();
    }

    /// <summary>Encodes the SEG (a DICOM Part 10 file). Throws <see cref="ArgumentException"/> when the label map is not on
    /// the series' grid or holds values other than 0 and the segments' values.</summary>
    public static byte[] Encode(Volume labels, DicomSeriesReference source, IReadOnlyList<SegmentDefinition> segments, DicomSegOptions? options = null)
    {
        options ??= new DicomSegOptions();
        CheckGrid(labels, source);
        int cols = source.Columns, rows = source.Rows, slices = source.Slices.Count;
        int plane = cols * rows;
        var known = segments.Select(s => s.Value).ToHashSet();
        if (known.Count != segments.Count) throw new ArgumentException("segments: two segments share one label value");
        for (long i = 0; i < labels.VoxelCount; i++)
        {
            var v = labels.Get(i);
            if (v != 0 && !known.Contains((int)v))
                throw new ArgumentException($"labels: voxel {i} has the value {v}, which no segment describes (segments: {string.Join(", ", known.Order())})");
        }

        // frames: for each segment, each slice where it is present (an all-empty map still gets one frame: a SEG needs one)
        var frames = new List<(int Segment, int Slice)>();
        for (int s = 0; s < segments.Count; s++)
            for (int k = 0; k < slices; k++)
            {
                long off = (long)k * plane;
                for (int p = 0; p < plane; p++)
                    if (labels.Get(off + p) == segments[s].Value) { frames.Add((s, k)); break; }
            }
        if (frames.Count == 0) frames.Add((0, 0));
        if (segments.Count == 0) throw new ArgumentException("labels: no segment to write (the label map is empty and no class was named)");

        long bits = (long)frames.Count * plane;
        var pixels = new byte[(bits + 7) / 8 + ((bits + 7) / 8 % 2)];
        long bit = 0;
        foreach (var (s, k) in frames)
        {
            int value = segments[s].Value;
            long off = (long)k * plane;
            for (int p = 0; p < plane; p++, bit++)
                if (labels.Get(off + p) == value) pixels[bit >> 3] |= (byte)(1 << (int)(bit & 7));
        }

        string sopInstance = DicomUids.New(), seriesUid = DicomUids.New(), dimOrg = DicomUids.New();
        var now = DateTime.Now;
        string date = now.ToString("yyyyMMdd", CultureInfo.InvariantCulture), time = now.ToString("HHmmss", CultureInfo.InvariantCulture);
        string C(string kw) => source.Copied.TryGetValue(kw, out var v) ? v : "";
        var algorithmType = options.Algorithm switch
        {
            SegmentAlgorithm.Automatic => "AUTOMATIC",
            SegmentAlgorithm.SemiAutomatic => "SEMIAUTOMATIC",
            _ => "MANUAL",
        };

        var ds = new DicomElementWriter()
            .String(0x0008, 0x0005, "CS", "ISO_IR 192")
            .Strings(0x0008, 0x0008, "CS", ["DERIVED", "PRIMARY"])
            .String(0x0008, 0x0012, "DA", date)
            .String(0x0008, 0x0013, "TM", time)
            .String(0x0008, 0x0016, "UI", SegmentationStorage)
            .String(0x0008, 0x0018, "UI", sopInstance)
            .String(0x0008, 0x0020, "DA", C("StudyDate"))
            .String(0x0008, 0x0021, "DA", date)
            .String(0x0008, 0x0023, "DA", date)
            .String(0x0008, 0x0030, "TM", C("StudyTime"))
            .String(0x0008, 0x0031, "TM", time)
            .String(0x0008, 0x0033, "TM", time)
            .String(0x0008, 0x0050, "SH", C("AccessionNumber"))
            .String(0x0008, 0x0060, "CS", "SEG")
            .String(0x0008, 0x0070, "LO", "SamAdapt")
            .String(0x0008, 0x0090, "PN", C("ReferringPhysicianName"))
            .String(0x0008, 0x103e, "LO", options.SeriesDescription)
            .String(0x0008, 0x1090, "LO", "SamAdapt")
            .Sequence(0x0008, 0x1115, new DicomElementWriter()
                .Sequence(0x0008, 0x114a, source.Slices.Select(sl => new DicomElementWriter()
                    .String(0x0008, 0x1150, "UI", sl.SopClassUid)
                    .String(0x0008, 0x1155, "UI", sl.SopInstanceUid)))
                .String(0x0020, 0x000e, "UI", source.SeriesInstanceUid))
            .String(0x0010, 0x0010, "PN", C("PatientName"))
            .String(0x0010, 0x0020, "LO", C("PatientID"))
            .String(0x0010, 0x0030, "DA", C("PatientBirthDate"))
            .String(0x0010, 0x0040, "CS", C("PatientSex"))
            .String(0x0018, 0x1000, "LO", "0")
            .String(0x0018, 0x1020, "LO", typeof(DicomSegWriter).Assembly.GetName().Version?.ToString() ?? "0")
            .String(0x0020, 0x000d, "UI", C("StudyInstanceUID"))
            .String(0x0020, 0x000e, "UI", seriesUid)
            .String(0x0020, 0x0010, "SH", C("StudyID"))
            .Integer(0x0020, 0x0011, options.SeriesNumber)
            .Integer(0x0020, 0x0013, 1)
            .String(0x0020, 0x0052, "UI", C("FrameOfReferenceUID"))
            .String(0x0020, 0x1040, "LO", "")
            .Sequence(0x0020, 0x9221, new DicomElementWriter().String(0x0020, 0x9164, "UI", dimOrg))
            .Sequence(0x0020, 0x9222,
                new DicomElementWriter()
                    .String(0x0020, 0x9164, "UI", dimOrg)
                    .Tag(0x0020, 0x9165, 0x0062, 0x000b)
                    .Tag(0x0020, 0x9167, 0x0062, 0x000a)
                    .String(0x0020, 0x9421, "LO", "ReferencedSegmentNumber"),
                new DicomElementWriter()
                    .String(0x0020, 0x9164, "UI", dimOrg)
                    .Tag(0x0020, 0x9165, 0x0020, 0x0032)
                    .Tag(0x0020, 0x9167, 0x0020, 0x9113)
                    .String(0x0020, 0x9421, "LO", "ImagePositionPatient"))
            .UShort(0x0028, 0x0002, 1)
            .String(0x0028, 0x0004, "CS", "MONOCHROME2")
            .Integer(0x0028, 0x0008, frames.Count)
            .UShort(0x0028, 0x0010, (ushort)rows)
            .UShort(0x0028, 0x0011, (ushort)cols)
            .UShort(0x0028, 0x0100, 1)
            .UShort(0x0028, 0x0101, 1)
            .UShort(0x0028, 0x0102, 0)
            .UShort(0x0028, 0x0103, 0)
            .String(0x0028, 0x2110, "CS", "00")
            .String(0x0062, 0x0001, "CS", "BINARY")
            .Sequence(0x0062, 0x0002, segments.Select((seg, i) => SegmentItem(seg, i + 1, algorithmType, options.AlgorithmName)))
            .String(0x0062, 0x0013, "CS", "NO")
            .String(0x0070, 0x0080, "CS", "SEGMENTATION")
            .String(0x0070, 0x0081, "LO", options.SeriesDescription)
            .String(0x0070, 0x0084, "PN", "")
            .Sequence(0x5200, 0x9229, new DicomElementWriter()
                .Sequence(0x0020, 0x9116, new DicomElementWriter().Decimals(0x0020, 0x0037, source.Orientation))
                .Sequence(0x0028, 0x9110, new DicomElementWriter()
                    .Decimals(0x0018, 0x0050, source.SliceSpacing)
                    .Decimals(0x0018, 0x0088, source.SliceSpacing)
                    .Decimals(0x0028, 0x0030, source.PixelSpacing)))
            .Sequence(0x5200, 0x9230, frames.Select(f => FrameItem(source.Slices[f.Slice], f.Segment + 1, f.Slice + 1)))
            .Raw(0x7fe0, 0x0010, "OB", pixels);
        return DicomElementWriter.Part10(SegmentationStorage, sopInstance, ds.ToArray());
    }

    /// <summary>Encodes and writes atomically.</summary>
    public static void Write(string path, Volume labels, DicomSeriesReference source, IReadOnlyList<SegmentDefinition> segments, DicomSegOptions? options = null)
    {
        var bytes = Encode(labels, source, segments, options);
        AtomicFile.Write(path, s => s.Write(bytes));
    }

    private static DicomElementWriter SegmentItem(SegmentDefinition seg, int number, string algorithmType, string algorithmName)
    {
        var item = new DicomElementWriter()
            .Code(0x0062, 0x0003, "91723000", "SCT", "Anatomical Structure")
            .UShort(0x0062, 0x0004, (ushort)number)
            .String(0x0062, 0x0005, "LO", Truncate(seg.Name, 64))
            .String(0x0062, 0x0008, "CS", algorithmType);
        if (algorithmType != "MANUAL") item.String(0x0062, 0x0009, "LO", Truncate(algorithmName, 64));
        item.UShort(0x0062, 0x000d, SegmentPalette.ToDicomLab(seg.Rgb))
            .Code(0x0062, 0x000f, "85756007", "SCT", "Tissue");
        if (algorithmType != "MANUAL") item.Code(0x0066, 0x002f, "123110", "DCM", "Artificial Intelligence");
        return item;
    }

    private static DicomElementWriter FrameItem(DicomSliceReference slice, int segment, int sliceIndex) => new DicomElementWriter()
        .Sequence(0x0008, 0x9124, new DicomElementWriter()
            .Sequence(0x0008, 0x2112, new DicomElementWriter()
                .String(0x0008, 0x1150, "UI", slice.SopClassUid)
                .String(0x0008, 0x1155, "UI", slice.SopInstanceUid)
                .Code(0x0040, 0xa170, "121322", "DCM", "Source image for image processing operation"))
            .Code(0x0008, 0x9215, "113076", "DCM", "Segmentation"))
        .Sequence(0x0020, 0x9111, new DicomElementWriter().UInt(0x0020, 0x9157, (uint)segment, (uint)sliceIndex))
        .Sequence(0x0020, 0x9113, new DicomElementWriter().Decimals(0x0020, 0x0032, slice.Position))
        .Sequence(0x0062, 0x000a, new DicomElementWriter().UShort(0x0062, 0x000b, (ushort)segment));

    private static string Truncate(string s, int n) => s.Length <= n ? s : s[..n];

    /// <summary>The label map must have the series' shape (columns, rows, slices) and the affine its slices give (within
    /// 1e-3 mm per voxel step and 1e-2 mm at the origin): then slice k of the map is slice k of <see cref="DicomSeriesReference.Slices"/>.</summary>
    private static void CheckGrid(Volume labels, DicomSeriesReference source)
    {
        var s = labels.Shape;
        int depth = s.Length > 2 ? s[2] : 1;
        bool extra = s.Skip(3).Any(d => d != 1);
        if (s.Length < 2 || s[0] != source.Columns || s[1] != source.Rows || depth != source.Slices.Count || extra)
            throw new ArgumentException(
                $"labels: shape [{string.Join(", ", s)}] does not match the reference series {source.SeriesInstanceUid} in {source.Folder} " +
                $"([{source.Columns}, {source.Rows}, {source.Slices.Count}]: columns, rows, slices)");
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 4; c++)
            {
                double a = labels.Affine[4 * r + c], b = source.Affine[4 * r + c];
                double tol = c == 3 ? 1e-2 : 1e-3;
                if (Math.Abs(a - b) > tol)
                    throw new ArgumentException(
                        $"labels: the affine does not match the reference series {source.SeriesInstanceUid} in {source.Folder} " +
                        $"(row {r}, column {c}: expected {b:0.####}, found {a:0.####}); the label map must lie on the series' own grid");
            }
    }
}
