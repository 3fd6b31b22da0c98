using SamAdapt.Common;

namespace SamAdapt.Imaging.Dicom.Seg;

/// <summary>`samadapt convert LABELS OUT.dcm --to dicom-seg --reference DICOM_DIR [--series ID] [--names …]`: a label
/// map that lies on a DICOM series' grid, written as a DICOM SEG referencing that series.</summary>
public static class DicomSegExport
{
    /// <summary>Converts; returns the line the CLI prints. Input errors are <see cref="SettingsException"/>s naming the option.</summary>
    public static string Convert(string labelsPath, string output, string reference, string? series, string? names)
    {
        if (!output.EndsWith(".dcm", StringComparison.OrdinalIgnoreCase))
            throw new SettingsException($"OUT: a DICOM SEG is written to a .dcm file, got {output}");
        if (!Directory.Exists(reference) && !File.Exists(reference))
            throw new SettingsException($"--reference: no such DICOM folder: {reference}");
        OutputGuard.Check([("OUT", output)], [("IN", labelsPath), ("--reference", reference)]);
        var nameMap = names is null ? null : SegmentNames.Parse(names);
        var labels = VolumeIO.Read(labelsPath);
        if (!labels.IsInteger) throw new SettingsException($"IN: {labelsPath} is not a label map ({Volume.TypeName(labels.Type)} values)");
        var source = DicomSeriesReference.Read(reference, series);
        var segments = DicomSegWriter.SegmentsFor(labels, nameMap);
        try
        {
            DicomSegWriter.Write(output, labels, source, segments, new DicomSegOptions { Algorithm = SegmentAlgorithm.Manual });
        }
        catch (ArgumentException e)
        {
            throw new SettingsException($"IN: {e.Message}");
        }
        return $"{output}: DICOM SEG, {segments.Count} segment(s) ({string.Join(", ", segments.Select(s => $"{s.Value}={s.Name}"))}) on series {source.SeriesInstanceUid} ({source.Slices.Count} slices)";
    }
}
