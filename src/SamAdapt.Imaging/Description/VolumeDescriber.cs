using System.Text.Json;
using SamAdapt.Imaging.Dicom;

namespace SamAdapt.Imaging.Description;

/// <summary>
/// Describes a volume for `samadapt info`: shape, voxel type, spacing, affine, orientation code, value range and labels,
/// and the JSON forms (<c>{shape, dtype, spacing, affine, orientation, min, max, labels}</c>; for a folder of several
/// DICOM series <c>{"series": [{id, series_instance_uid, modality, description, columns, rows, files, problem}]}</c>).
/// </summary>
public static class VolumeDescriber
{
    /// <summary>Integer volumes with more distinct values than this report no label list.</summary>
    public const int MaxLabels = 1000;

    public static VolumeSummary Summarize(Volume v, string file)
    {
        double min = double.PositiveInfinity, max = double.NegativeInfinity;
        if (v.IsRgb)
        {
            foreach (var b in (byte[])v.Data) { if (b < min) min = b; if (b > max) max = b; }
        }
        else
        {
            long n = v.VoxelCount;
            for (long i = 0; i < n; i++)
            {
                double x = v.Get(i);
                if (double.IsNaN(x)) continue;
                if (x < min) min = x;
                if (x > max) max = x;
            }
        }
        bool any = min <= max;
        double[]? labels = null;
        if (v.IsInteger)
        {
            var set = new HashSet<double>();
            long n = v.VoxelCount;
            for (long i = 0; i < n && set.Count <= MaxLabels; i++) set.Add(v.Get(i));
            if (set.Count <= MaxLabels) labels = set.Order().ToArray();
        }
        var affine = Enumerable.Range(0, 4).Select(r => v.Affine.Skip(r * 4).Take(4).ToArray()).ToArray();
        return new VolumeSummary(file, (int[])v.Shape.Clone(), Volume.TypeName(v.Type), v.Spacing, affine,
            Orientation.AxisCodes(v.Affine), any ? min : null, any ? max : null, labels, v);
    }

    /// <summary>The `info --json` object of one volume (indented; non-finite numbers as null).</summary>
    public static string ToJson(VolumeSummary s) =>
        JsonSerializer.Serialize(new VolumeInfoDto(s.Shape, s.DType, s.Spacing, s.Affine, s.Orientation, s.Min, s.Max, s.Labels),
            VolumeDescriptionJsonContext.Default.VolumeInfoDto);

    /// <summary>The `info --json` object listing several DICOM series.</summary>
    public static string SeriesJson(IReadOnlyList<DicomSeriesInfo> list) =>
        JsonSerializer.Serialize(new SeriesListDto([.. list.Select(s => new SeriesDto(s.Id, s.SeriesInstanceUid, s.Modality, s.Description,
            s.Columns, s.Rows, s.SliceCount, s.Problem))]), VolumeDescriptionJsonContext.Default.SeriesListDto);
}
