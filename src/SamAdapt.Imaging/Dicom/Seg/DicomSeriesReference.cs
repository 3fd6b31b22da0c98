using System.Globalization;

namespace SamAdapt.Imaging.Dicom.Seg;

/// <summary>One source slice as a derived object references it: SOP class and instance, and its position (LPS mm).</summary>
public sealed record DicomSliceReference(string SopClassUid, string SopInstanceUid, double[] Position);

/// <summary>
/// What a derived object (a DICOM SEG) needs from its source series: the patient, study and frame-of-reference
/// attributes it copies, and the slices in the voxel order of <see cref="DicomSeriesReader"/> (slice k of a volume read
/// from the series is <see cref="Slices"/>[k]), with the grid (shape and affine) that order gives.
/// </summary>
public sealed record DicomSeriesReference(
    string Folder,
    string SeriesInstanceUid,
    IReadOnlyDictionary<string, string> Copied,
    IReadOnlyList<DicomSliceReference> Slices,
    int Rows,
    int Columns,
    double[] Orientation,
    double[] PixelSpacing,
    double SliceSpacing,
    double[] Affine)
{
    /// <summary>Patient/study module attributes copied into derived objects: keyword → (group, element, VR).</summary>
    internal static readonly (string Keyword, ushort Group, ushort Element, string Vr)[] CopiedTags =
    [
        ("StudyDate", 0x0008, 0x0020, "DA"),
        ("StudyTime", 0x0008, 0x0030, "TM"),
        ("AccessionNumber", 0x0008, 0x0050, "SH"),
        ("ReferringPhysicianName", 0x0008, 0x0090, "PN"),
        ("PatientName", 0x0010, 0x0010, "PN"),
        ("PatientID", 0x0010, 0x0020, "LO"),
        ("PatientBirthDate", 0x0010, 0x0030, "DA"),
        ("PatientSex", 0x0010, 0x0040, "CS"),
        ("StudyInstanceUID", 0x0020, 0x000d, "UI"),
        ("StudyID", 0x0020, 0x0010, "SH"),
        ("FrameOfReferenceUID", 0x0020, 0x0052, "UI"),
    ];

    /// <summary>Reads the references of one series of <paramref name="folder"/> (<paramref name="seriesId"/> as for
    /// <see cref="DicomSeriesReader.Read"/>; optional when the folder holds one series). Pixel data is not decoded.</summary>
    public static DicomSeriesReference Read(string folder, string? seriesId = null, DicomReadOptions? options = null)
    {
        options ??= DicomReadOptions.Default;
        var all = DicomSeriesReader.ListSeries(folder, options);
        DicomSeriesInfo series;
        if (seriesId is null)
        {
            if (all.Count > 1)
                throw new DicomSeriesException($"{folder} holds {all.Count} image series; choose one by its id:\n" +
                                               string.Join('\n', all.Select(s => "  " + s.Summary)));
            series = all[0];
        }
        else
        {
            var m = all.Where(s => s.Id == seriesId).ToList();
            if (m.Count == 0) m = all.Where(s => s.SeriesInstanceUid == seriesId).ToList();
            if (m.Count != 1)
                throw new DicomSeriesException($"{folder}: series '{seriesId}' " + (m.Count == 0 ? "not found" : "is ambiguous") +
                                               ". Series found:\n" + string.Join('\n', all.Select(s => "  " + s.Summary)));
            series = m[0];
        }
        if (series.Problem is not null) throw new DicomSeriesException($"series {series.Id}: {series.Problem} is not supported as a reference");

        GdcmRuntime.Ensure();
        var headers = new List<Header>();
        foreach (var f in series.Files) headers.Add(ReadHeader(f));
        var first = headers[0];
        var geometry = DicomGeometry.Compute(
            headers.Select(h => new DicomGeometry.Slice(h.Path, h.Position, h.Orientation, h.PixelSpacing)).ToList(),
            first.SpacingBetweenSlices ?? first.SliceThickness, options, series.Id);
        var ordered = geometry.Order.Select(i => headers[i]).ToList();
        foreach (var h in ordered)
        {
            if (h.SopInstanceUid.Length == 0) throw new DicomSeriesException($"{h.Path}: SOPInstanceUID (0008,0018) is missing");
            if (h.SopClassUid.Length == 0) throw new DicomSeriesException($"{h.Path}: SOPClassUID (0008,0016) is missing");
        }
        return new DicomSeriesReference(folder, series.SeriesInstanceUid, first.Copied,
            ordered.Select(h => new DicomSliceReference(h.SopClassUid, h.SopInstanceUid, h.Position!)).ToList(),
            series.Rows, series.Columns, first.Orientation!, first.PixelSpacing!, geometry.SliceSpacing, geometry.Affine);
    }

    private sealed record Header(string Path, string SopClassUid, string SopInstanceUid, double[]? Position, double[]? Orientation,
        double[]? PixelSpacing, double? SliceThickness, double? SpacingBetweenSlices, Dictionary<string, string> Copied);

    private static readonly gdcm.Tag TagPixelData = new(0x7fe0, 0x0010);

    private static Header ReadHeader(string path)
    {
        using var reader = new gdcm.Reader();
        reader.SetFileName(path);
        if (!reader.ReadUpToTag(TagPixelData)) throw new DicomSeriesException($"{path}: GDCM could not read the header");
        using var sf = new gdcm.StringFilter();
        sf.SetFile(reader.GetFile());
        string S(ushort g, ushort e) => sf.ToString(new gdcm.Tag(g, e)).Trim('\0', ' ');
        var copied = new Dictionary<string, string>();
        foreach (var (kw, g, e, _) in CopiedTags) copied[kw] = S(g, e);
        return new Header(path, S(0x0008, 0x0016), S(0x0008, 0x0018), Doubles(S(0x0020, 0x0032), 3), Doubles(S(0x0020, 0x0037), 6),
            Doubles(S(0x0028, 0x0030), 2), Doubles(S(0x0018, 0x0050), 1)?[0], Doubles(S(0x0018, 0x0088), 1)?[0], copied);
    }

    private static double[]? Doubles(string s, int count)
    {
        var parts = s.Split('\\');
        if (s.Length == 0 || parts.Length != count) return null;
        var r = new double[count];
        for (int i = 0; i < count; i++)
            if (!double.TryParse(parts[i].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out r[i]) || !double.IsFinite(r[i])) return null;
        return r;
    }
}
