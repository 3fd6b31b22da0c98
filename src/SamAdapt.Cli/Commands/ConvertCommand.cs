using System.CommandLine;
using SamAdapt.Imaging;
using SamAdapt.Imaging.Conversion;
using SamAdapt.Imaging.Dicom.Seg;

namespace SamAdapt.Cli.Commands;

/// <summary>
/// `samadapt convert IN OUT [--orient CODE] [--spacing SX,SY,SZ] [--like REF] [--interp linear|nearest] [--dtype T]
/// [--series UID] [--slice K]`, and `samadapt convert LABELS OUT.dcm --to dicom-seg --reference DICOM_DIR [--names …]`. IN: NIfTI, DICOM folder/file or PNG/JPEG/BMP; OUT: NIfTI or PNG.
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
        var to = new Option<string>("--to")
        {
            Description = "dicom-seg: write the label map IN (on a DICOM series' grid) as a DICOM Segmentation object OUT.dcm that " +
                          "references the series given by --reference (binary, one segment per label value, named by --names)",
        };
        to.AcceptOnlyFromAmong("dicom-seg");
        var reference = new Option<string>("--reference") { Description = "With --to dicom-seg: the DICOM folder of the series the labels were drawn on (--series picks one)" };
        var names = new Option<string>("--names")
        {
            Description = "With --to dicom-seg: segment names, as 'liver,tumour' (values 1, 2, …), '1=liver,2=tumour' or a dataset.json (or its folder)",
        };
        var cmd = new Command("convert", "Convert between NIfTI variants, optionally reorienting, resampling and changing the voxel type");
        cmd.Arguments.Add(input);
        cmd.Arguments.Add(output);
        foreach (var o in new Option[] { orient, spacing, like, interp, dtype, series, slice, to, reference, names }) cmd.Options.Add(o);
        cmd.SetAction(pr =>
        {
            if (pr.GetValue(to) is "dicom-seg")
            {
                var conflicting = new Option[] { orient, spacing, like, interp, dtype, slice }.Where(o => pr.GetResult(o) is not null).Select(o => o.Name).ToList();
                if (conflicting.Count > 0)
                    throw new CliException($"--to dicom-seg: the label map is written on the reference series' own grid; {string.Join(", ", conflicting)} cannot be combined with it");
                var refDir = pr.GetValue(reference) ?? throw new CliException("--to dicom-seg: expected --reference DICOM_DIR (the series the labels were drawn on), found none");
                pr.InvocationConfiguration.Output.WriteLine(SettingsErrors.Run(() =>
                    DicomSegExport.Convert(pr.GetValue(input)!, pr.GetValue(output)!, refDir, pr.GetValue(series), pr.GetValue(names))));
                return 0;
            }
            if (pr.GetResult(reference) is not null || pr.GetResult(names) is not null)
                throw new CliException("--reference and --names apply to --to dicom-seg only");
            var opts = new ConvertOptions
            {
                Orient = pr.GetValue(orient),
                Spacing = pr.GetValue(spacing) is { } s ? SettingsErrors.Run(() => VolumeConverter.ParseSpacing(s)) : null,
                Like = pr.GetValue(like),
                Interp = pr.GetValue(interp) is { } i ? (i == "nearest" ? Interpolation.Nearest : Interpolation.Linear) : null,
                DType = pr.GetValue(dtype) is { } d ? Volume.ParseTypeName(d) : null,
                Series = pr.GetValue(series),
                Slice = pr.GetValue(slice),
            };
            var report = SettingsErrors.Run(() => VolumeConverter.Convert(pr.GetValue(input)!, pr.GetValue(output)!, opts));
            pr.InvocationConfiguration.Output.WriteLine(report);
            return 0;
        });
        return cmd;
    }
}
