using System.CommandLine;
using System.Globalization;
using SamAdapt.Imaging;

namespace SamAdapt.Cli.Commands;

/// <summary>Everything `samadapt convert` can do, independent of the command line.</summary>
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
/// `samadapt convert IN OUT [--orient CODE] [--spacing SX,SY,SZ] [--like REF] [--interp linear|nearest] [--dtype T]
/// [--series UID] [--slice K]`. IN: NIfTI, DICOM folder/file or PNG/JPEG/BMP; OUT: NIfTI or PNG.
/// Order: read → resample onto --like's grid → reorient → resample to --spacing (in the output axis order) →
/// slice → dtype conversion → write (atomic; nothing is written on any error).
/// </summary>
public sealed class ConvertCommand : ICliCommand
{
    public int Order => 1;

    public Command Build()
    {
        var input = new Argument<string>("IN") { Description = "Input: " + VolumeInput.InputFormats };
        var output = new Argument<string>("OUT")
        {
            Description = "Output: NIfTI (.nii or .nii.gz; .hdr/.img also accepted) or PNG (.png: one 2-D slice, non-negative " +
                          "integer values — masks and overlays; rows written j = 0 first, geometry is not stored)",
        };
        var series = VolumeInput.SeriesOption();
        var slice = new Option<int?>("--slice")
        {
            Description = "Keep only slice K (0-based) along the third axis, after --orient/--spacing/--like; the affine is shifted " +
                          "so the slice keeps its world position. Needed to write a multi-slice volume as PNG",
        };
        var orient = new Option<string>("--orient")
        {
            Description = "Reorient to this axis code (three letters from R/L, A/P, S/I, e.g. RAS, LPS). Exact: voxels are permuted/flipped, world positions unchanged",
        };
        var spacing = new Option<string>("--spacing")
        {
            Description = "Resample to this voxel size in mm, 'SX,SY,SZ' along the output i,j,k axes (or one value for all). " +
                          "The field of view is kept: new size = round(old size × old spacing / new spacing), grid centred on the old one",
        };
        var like = new Option<string>("--like") { Description = "Resample onto the grid (shape and affine) of this reference volume" };
        var interp = new Option<string>("--interp")
        {
            Description = "Interpolation for --spacing/--like: linear (trilinear, output float32) or nearest (keeps values and type). " +
                          "Default: nearest for label maps — intent_code 1002, or integer volumes with ≤ 1000 distinct values forming " +
                          "piecewise-constant regions — otherwise linear",
        };
        interp.AcceptOnlyFromAmong("linear", "nearest");
        var dtype = new Option<string>("--dtype")
        {
            Description = "Store voxels as uint8, int16 or float32 (scaled values converted; integers rounded to nearest, ties away " +
                          "from zero; an error if any value does not fit). Label maps are written as uint8/int16 with intent_code 1002 by default",
        };
        dtype.AcceptOnlyFromAmong("uint8", "int16", "float32");
        var cmd = new Command("convert", "Convert between NIfTI variants, optionally reorienting, resampling and changing the voxel type");
        cmd.Arguments.Add(input);
        cmd.Arguments.Add(output);
        foreach (var o in new Option[] { orient, spacing, like, interp, dtype, series, slice }) cmd.Options.Add(o);
        cmd.SetAction(pr =>
        {
            var opts = new ConvertOptions
            {
                Orient = pr.GetValue(orient),
                Spacing = pr.GetValue(spacing) is { } s ? ParseSpacing(s) : null,
                Like = pr.GetValue(like),
                Interp = pr.GetValue(interp) is { } i ? (i == "nearest" ? Interpolation.Nearest : Interpolation.Linear) : null,
                DType = pr.GetValue(dtype) is { } d ? Volume.ParseTypeName(d) : null,
                Series = pr.GetValue(series),
                Slice = pr.GetValue(slice),
            };
            var report = Run(pr.GetValue(input)!, pr.GetValue(output)!, opts);
            pr.InvocationConfiguration.Output.WriteLine(report);
            return 0;
        });
        return cmd;
    }

    public static double[] ParseSpacing(string s)
    {
        var parts = s.Split(',', StringSplitOptions.TrimEntries);
        var r = new double[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!double.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out r[i]) || !(r[i] > 0) || !double.IsFinite(r[i]))
                throw new CliException($"--spacing '{s}': '{parts[i]}' is not a positive number");
        if (r.Length == 1) return [r[0], r[0], r[0]];
        if (r.Length != 3) throw new CliException($"--spacing '{s}' needs three comma-separated values SX,SY,SZ (or one)");
        return r;
    }

    /// <summary>Performs the conversion; returns a one-line report. Throws user-facing exceptions on bad input.</summary>
    public static string Run(string inPath, string outPath, ConvertOptions o)
    {
        if (o.Like != null && o.Spacing != null) throw new CliException("--like and --spacing cannot be combined (the reference defines the spacing)");
        if (o.Orient != null)
        {
            try { Orientation.ParseCode(o.Orient); }
            catch (FormatException e) { throw new CliException("--orient: " + e.Message); }
        }
        var writer = VolumeIO.WriterFor(outPath)
            ?? throw new CliException($"{outPath}: unsupported output format (use .nii, .nii.gz or .png)");
        if (o.Slice is < 0) throw new CliException($"--slice {o.Slice}: the slice index must be >= 0");
        SamAdapt.Common.OutputGuard.Check("OUT", outPath, ("IN", inPath), ("--like", o.Like));
        if (outPath.EndsWith(".hdr", StringComparison.OrdinalIgnoreCase) || outPath.EndsWith(".img", StringComparison.OrdinalIgnoreCase))
            SamAdapt.Common.OutputGuard.Check(
                [("OUT", Path.ChangeExtension(outPath, ".hdr")), ("OUT", Path.ChangeExtension(outPath, ".img"))], [("IN", inPath), ("--like", o.Like)]);
        var v = VolumeInput.Read(inPath, o.Series);
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
            if (k >= nk) throw new CliException($"--slice {k}: {inPath} has {nk} slice(s) along the third axis (0..{nk - 1}) after the requested reorientation/resampling");
            v = SamAdapt.Imaging.Preprocessing.SliceExtractor.ExtractVolume(v, 2, k);
            notes.Add($"slice {k} of {nk}");
        }
        if (writer is Image2DFormat && v.Shape.Length >= 3 && v.Shape[2] > 1)
            throw new CliException($"{outPath}: PNG holds one 2-D image but {inPath} has {v.Shape[2]} slices along the third axis; choose one with --slice K (0..{v.Shape[2] - 1})");

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
