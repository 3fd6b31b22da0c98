using System.CommandLine;
using System.Globalization;
using SamAdapt.Sam.Automatic;
using SamAdapt.Sam.Prediction;

using SamAdapt.Inference.Segmentation;

namespace SamAdapt.Cli.Commands;

/// <summary>
/// `samadapt segment`: SAM / MedSAM inference on one 2-D image (PNG/JPEG, NumPy, or a NIfTI slice) with point/box/mask prompts, or the
/// automatic "segment everything" mode. Outputs are written only after everything succeeded; bad prompts are rejected before the model
/// loads (exit 2, nothing written).
/// </summary>
public sealed class SegmentCommand : ICliCommand
{
    public int Order => 3;

    public Command Build()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "SAM checkpoint (.pth or .safetensors)", Required = true };
        var model = new Option<string>("--model")
        {
            Description = "Architecture: auto (default: a config.json next to the checkpoint if present, else inferred from the tensor shapes " +
                          "with 8 decoder heads), vit_b, vit_l, vit_h, or a CONFIG.json (e.g. the sam-tiny fixture's)",
            DefaultValueFactory = _ => "auto",
        };
        var image = new Option<string>("--image")
        {
            Description = "Input image: .png/.jpg (grey or RGB; alpha dropped; 16-bit min-max scaled to 8 bits), .npy (HxWx3 or HxW uint8), " +
                          "or .nii/.nii.gz with --slice",
            Required = true,
        };
        var slice = new Option<int?>("--slice") { Description = "NIfTI: index K of the slice to segment (along --axis)" };
        var axis = new Option<string>("--axis") { Description = "NIfTI: slice axis x|y|z (voxel axes i|j|k; default z)", DefaultValueFactory = _ => "z" };
        axis.AcceptOnlyFromAmong("x", "y", "z", "0", "1", "2");
        var window = new Option<string>("--window")
        {
            Description = "NIfTI: intensity window LO,HI mapped linearly to 0..255 (clipped, rounded). Default: uint8 volumes are used as " +
                          "stored; other types are min-max scaled over the slice",
        };
        var point = new Option<string[]>("--point") { Description = "Point prompt X,Y[,LABEL] in pixels (x right, y down); LABEL 1 = foreground (default), 0 = background. Repeatable" };
        var box = new Option<string>("--box") { Description = "Box prompt X0,Y0,X1,Y1 in pixels" };
        var maskInput = new Option<string>("--mask-input") { Description = "Low-res mask logits from a previous run (.npy, 1xSxS / SxS float32, S = input/4) for refinement" };
        var multimask = new Option<bool>("--multimask") { Description = "Return 3 masks instead of 1 (PNG/NIfTI outputs keep the one with the highest predicted IoU)" };
        var preset = new Option<string>("--preset")
        {
            Description = "Pre/post-processing: sam (SamPredictor) or medsam (MedSAM: cubic resize to SxS, min-max, sigmoid > 0.5)",
            DefaultValueFactory = _ => "sam",
        };
        preset.AcceptOnlyFromAmong("sam", "medsam");
        var device = new Option<string>("--device") { Description = "cpu or cuda[:N]", DefaultValueFactory = _ => "cpu" };
        var output = new Option<string>("--out")
        {
            Description = "Mask output: .npy (bool CxHxW, all masks), .png (0/255, best mask) or .nii/.nii.gz (uint8 0/1, best mask; a NIfTI " +
                          "slice input gets the slice's geometry). With --auto: a label map (see --auto)",
            Required = true,
        };
        var logits = new Option<string>("--logits") { Description = "Write float32 CxHxW logits at the original size (.npy; medsam: probabilities)" };
        var lowRes = new Option<string>("--low-res-logits") { Description = "Write float32 Cxhxw low-res logits (.npy)" };
        var iou = new Option<string>("--iou") { Description = "Write float32 C predicted IoUs (.npy)" };
        var auto = new Option<bool>("--auto")
        {
            Description = "Segment everything (SamAutomaticMaskGenerator defaults). --out gets a label map: masks sorted by area (largest first) get " +
                          "ids 1..N in that order and are painted in that order, so a smaller mask overlapping a larger one keeps its id; 0 = no mask. " +
                          ".png: 8-bit (16-bit above 255 masks), .nii/.nii.gz: uint16 label map, .npy: int32 HxW",
        };
        var masksJson = new Option<string>("--masks-json") { Description = "With --auto: write the mask records (id, area, bbox XYWH, predicted_iou, stability_score, point_coords, crop_box) as JSON" };
        var pps = new Option<int?>("--points-per-side") { Description = "With --auto: grid points per side (default 32)" };
        var iouThresh = new Option<double?>("--pred-iou-thresh") { Description = "With --auto: keep masks with predicted IoU above this (default 0.88)" };
        var stabThresh = new Option<double?>("--stability-score-thresh") { Description = "With --auto: keep masks with stability score at least this (default 0.95)" };
        var nmsThresh = new Option<double?>("--box-nms-thresh") { Description = "With --auto: box NMS IoU threshold (default 0.7)" };
        var cropLayers = new Option<int?>("--crop-n-layers") { Description = "With --auto: extra crop layers (default 0)" };
        var minArea = new Option<int?>("--min-mask-region-area") { Description = "With --auto: remove holes/islands smaller than this (default 0 = off)" };

        var cmd = new Command("segment", "Segment a 2-D image (PNG/JPEG, NumPy or a NIfTI slice) with SAM or MedSAM from point/box/mask prompts, or everything (--auto)");
        foreach (var o in new Option[] { checkpoint, model, image, slice, axis, window, point, box, maskInput, multimask, preset, device, output, logits, lowRes, iou,
                     auto, masksJson, pps, iouThresh, stabThresh, nmsThresh, cropLayers, minArea })
            cmd.Options.Add(o);
        cmd.SetAction(pr =>
        {
            var defaults = new AutomaticMaskGeneratorOptions();
            var opts = new SegmentOptions
            {
                Checkpoint = pr.GetValue(checkpoint)!,
                Model = pr.GetValue(model) ?? "auto",
                Image = pr.GetValue(image)!,
                Slice = pr.GetValue(slice),
                Axis = pr.GetValue(axis) ?? "z",
                Window = pr.GetValue(window) is { } w ? ParseWindow(w) : null,
                Points = (pr.GetValue(point) ?? []).Select(ParsePoint).ToList(),
                Box = pr.GetValue(box) is { } b ? ParseNumbers("--box", b, 4, "X0,Y0,X1,Y1") : null,
                MaskInput = pr.GetValue(maskInput),
                Multimask = pr.GetValue(multimask),
                Preset = pr.GetValue(preset) == "medsam" ? SamPreset.MedSam : SamPreset.Sam,
                Device = pr.GetValue(device) ?? "cpu",
                Out = pr.GetValue(output)!,
                Logits = pr.GetValue(logits),
                LowResLogits = pr.GetValue(lowRes),
                Iou = pr.GetValue(iou),
                Auto = pr.GetValue(auto),
                MasksJson = pr.GetValue(masksJson),
                AutoOptions = defaults with
                {
                    PointsPerSide = pr.GetValue(pps) ?? defaults.PointsPerSide,
                    PredIouThresh = pr.GetValue(iouThresh) ?? defaults.PredIouThresh,
                    StabilityScoreThresh = pr.GetValue(stabThresh) ?? defaults.StabilityScoreThresh,
                    BoxNmsThresh = pr.GetValue(nmsThresh) ?? defaults.BoxNmsThresh,
                    CropNLayers = pr.GetValue(cropLayers) ?? defaults.CropNLayers,
                    MinMaskRegionArea = pr.GetValue(minArea) ?? defaults.MinMaskRegionArea,
                },
            };
            IReadOnlyList<string> lines;
            try { lines = PromptedSegmentation.Run(opts); }
            catch (ArgumentException e) { throw new CliException(e.Message); }
            foreach (var line in lines) pr.InvocationConfiguration.Output.WriteLine(line);
            return 0;
        });
        return cmd;
    }

    // ------------------------------------------------------------------ parsing

    public static (double X, double Y, int Label) ParsePoint(string s)
    {
        var parts = s.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length is not (2 or 3)) throw new CliException($"--point '{s}': expected X,Y or X,Y,LABEL");
        double x = Number("--point", s, parts[0]), y = Number("--point", s, parts[1]);
        int label = 1;
        if (parts.Length == 3 && (!int.TryParse(parts[2], NumberStyles.Integer, CultureInfo.InvariantCulture, out label) || label is not (0 or 1)))
            throw new CliException($"--point '{s}': label '{parts[2]}' must be 1 (foreground) or 0 (background)");
        return (x, y, label);
    }

    public static double[] ParseNumbers(string option, string s, int count, string form)
    {
        var parts = s.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length != count) throw new CliException($"{option} '{s}': expected {form}");
        return parts.Select(p => Number(option, s, p)).ToArray();
    }

    private static (double, double) ParseWindow(string s)
    {
        var v = ParseNumbers("--window", s, 2, "LO,HI");
        if (!(v[1] > v[0])) throw new CliException($"--window '{s}': HI must be greater than LO");
        return (v[0], v[1]);
    }

    private static double Number(string option, string whole, string part)
    {
        if (!double.TryParse(part, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !double.IsFinite(v))
            throw new CliException($"{option} '{whole}': '{part}' is not a number");
        return v;
    }
}
