using System.Globalization;
using SamAdapt.Common;

namespace SamAdapt.Imaging.Conversion;

/// <summary>The settings of one conversion (<see cref="VolumeConverter.Convert"/>; the CLI verb `samadapt convert`).</summary>
public sealed record ConvertOptions
{
    public string? Orient { get; init; }
    public double[]? Spacing { get; init; }
    public string? Like { get; init; }
    public Interpolation? Interp { get; init; }
    public VoxelType? DType { get; init; }
    /// <summary>DICOM input: the series to read.</summary>
    public string? Series { get; init; }
    /// <summary>Keep only slice K along the third (k) axis, after reorienting/resampling (shape [W, H, 1]).</summary>
    public int? Slice { get; init; }
}

/// <summary>
/// Converts one volume: read → resample onto <see cref="ConvertOptions.Like"/>'s grid → reorient → resample to
/// <see cref="ConvertOptions.Spacing"/> (in the output axis order) → slice → voxel-type conversion → write (atomic; nothing
/// is written on any error). Bad settings throw <see cref="ArgumentException"/> naming the option.
/// </summary>
public static class VolumeConverter
{
    public static double[] ParseSpacing(string s)
    {
        var parts = s.Split(',', StringSplitOptions.TrimEntries);
        var r = new double[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!double.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out r[i]) || !(r[i] > 0) || !double.IsFinite(r[i]))
                throw new SettingsException($"--spacing '{s}': '{parts[i]}' is not a positive number");
        if (r.Length == 1) return [r[0], r[0], r[0]];
        if (r.Length != 3) throw new SettingsException($"--spacing '{s}' needs three comma-separated values SX,SY,SZ (or one)");
        return r;
    }

    /// <summary>Performs the conversion; returns a one-line report. Throws user-facing exceptions on bad input.</summary>
    public static string Convert(string inPath, string outPath, ConvertOptions o)
    {
        if (o.Like != null && o.Spacing != null) throw new SettingsException("--like and --spacing cannot be combined (the reference defines the spacing)");
        if (o.Orient != null)
        {
            try { Orientation.ParseCode(o.Orient); }
            catch (FormatException e) { throw new SettingsException("--orient: " + e.Message); }
        }
        var writer = VolumeIO.WriterFor(outPath)
            ?? throw new SettingsException($"{outPath}: unsupported output format (use .nii, .nii.gz or .png)");
        if (o.Slice is < 0) throw new SettingsException($"--slice {o.Slice}: the slice index must be >= 0");
        OutputGuard.Check("OUT", outPath, ("IN", inPath), ("--like", o.Like));
        if (outPath.EndsWith(".hdr", StringComparison.OrdinalIgnoreCase) || outPath.EndsWith(".img", StringComparison.OrdinalIgnoreCase))
            OutputGuard.Check(
                [("OUT", Path.ChangeExtension(outPath, ".hdr")), ("OUT", Path.ChangeExtension(outPath, ".img"))], [("IN", inPath), ("--like", o.Like)]);
        var v = InputVolume.Read(inPath, o.Series);
        var notes = new List<string>();
        bool labelLike = Resampler.LooksLikeLabelMap(v);
        bool resampling = o.Like != null || o.Spacing != null;
        var interp = o.Interp ?? (labelLike ? Interpolation.Nearest : Interpolation.Linear);
        if (resampling) notes.Add($"interpolation {interp.ToString().ToLowerInvariant()}{(o.Interp == null ? (labelLike ? " (auto: label map)" : " (auto)") : "")}");
        bool valuesPreserved = !resampling || interp == Interpolation.Nearest;

        if (o.Like != null)
        {
            var reference = VolumeIO.Read(o.Like);
            v = Resampler.Like(v, reference, interp);
        }
        if (o.Orient != null) v = Orientation.Reorient(v, o.Orient);
        if (o.Spacing != null) v = Resampler.ToSpacing(v, o.Spacing, interp);
        if (o.Slice is { } k)
        {
            int nk = v.Shape.Length > 2 ? v.Shape[2] : 1;
            if (k >= nk) throw new SettingsException($"--slice {k}: {inPath} has {nk} slice(s) along the third axis (0..{nk - 1}) after the requested reorientation/resampling");
            v = Preprocessing.SliceExtractor.ExtractVolume(v, 2, k);
            notes.Add($"slice {k} of {nk}");
        }
        if (writer is Image2DFormat && v.Shape.Length >= 3 && v.Shape[2] > 1)
            throw new SettingsException($"{outPath}: PNG holds one 2-D image but {inPath} has {v.Shape[2]} slices along the third axis; choose one with --slice K (0..{v.Shape[2] - 1})");

        bool isLabel = labelLike && valuesPreserved;
        if (o.DType is { } t)
        {
            v = v.ConvertTo(t);
            notes.Add($"converted to {Volume.TypeName(t)}");
            if (t == VoxelType.Float32) isLabel = false;
        }
        else if (isLabel)
        {
            var before = v.Type;
            try { v = v.ToLabelMap(); }
            catch (InvalidDataException) { /* values beyond int16 (or fractional with intent 1002): keep the stored type */ }
            if (isLabel && v.Type != before) notes.Add($"label map stored as {Volume.TypeName(v.Type)}");
        }
        if (isLabel && v.IsInteger && v.IntentCode != Volume.IntentLabel) v.IntentCode = Volume.IntentLabel;
        if (isLabel && v.IntentCode == Volume.IntentLabel && writer is not Image2DFormat) notes.Add("intent_code 1002 (label map)");
        if (!isLabel && v.IntentCode == Volume.IntentLabel) v.IntentCode = 0;

        writer.Write(v, outPath);
        var spacing = string.Join("×", v.Spacing.Select(x => x.ToString("G6", CultureInfo.InvariantCulture)));
        return $"wrote {outPath}: shape {string.Join("×", v.Shape)} {Volume.TypeName(v.Type)}, spacing {spacing} mm, " +
               $"orientation {Orientation.AxisCodes(v.Affine)}" + (notes.Count > 0 ? "; " + string.Join("; ", notes) : "");
    }
}
