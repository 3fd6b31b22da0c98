using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using SamAdapt.Imaging;
using SamAdapt.Imaging.Images2D;
using SamAdapt.Imaging.Nifti;
using SamAdapt.Imaging.Npy;
using SamAdapt.Imaging.Preprocessing;
using SamAdapt.Sam;
using SamAdapt.Sam.Automatic;
using SamAdapt.Sam.Modeling;
using SamAdapt.Sam.Prediction;
using SamAdapt.Torch;

namespace SamAdapt.Cli.Commands;

/// <summary>Everything `samadapt segment` can do, independent of the command line.</summary>
public sealed record SegmentOptions
{
    public required string Checkpoint { get; init; }
    /// <summary>auto | vit_b | vit_l | vit_h | path to a config JSON.</summary>
    public string Model { get; init; } = "auto";
    public required string Image { get; init; }
    public int? Slice { get; init; }
    /// <summary>x | y | z (or 0 | 1 | 2): the volume axis the slice is taken along.</summary>
    public string Axis { get; init; } = "z";
    /// <summary>Intensity window LO,HI for non-uint8 NIfTI slices (default: min-max of the slice).</summary>
    public (double Lo, double Hi)? Window { get; init; }
    /// <summary>Points (x, y, label).</summary>
    public IReadOnlyList<(double X, double Y, int Label)> Points { get; init; } = [];
    public double[]? Box { get; init; }
    public string? MaskInput { get; init; }
    public bool Multimask { get; init; }
    public SamPreset Preset { get; init; } = SamPreset.Sam;
    public string Device { get; init; } = "cpu";
    public required string Out { get; init; }
    public string? Logits { get; init; }
    public string? LowResLogits { get; init; }
    public string? Iou { get; init; }
    /// <summary>Automatic "segment everything" mode.</summary>
    public bool Auto { get; init; }
    public string? MasksJson { get; init; }
    public AutomaticMaskGeneratorOptions AutoOptions { get; init; } = new();
}

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
            foreach (var line in Run(opts)) pr.InvocationConfiguration.Output.WriteLine(line);
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

    // ------------------------------------------------------------------ run

    /// <summary>Performs the segmentation; returns report lines. Throws user-facing exceptions on bad input (nothing is written then).</summary>
    public static IReadOnlyList<string> Run(SegmentOptions o)
    {
        // 1. everything that can be checked without the model
        CheckOutput("--out", o.Out, [".npy", ".png", ".nii", ".nii.gz"]);
        foreach (var (name, path) in new[] { ("--logits", o.Logits), ("--low-res-logits", o.LowResLogits), ("--iou", o.Iou) })
            if (path is not null)
            {
                if (o.Auto) throw new CliException($"{name} is not available with --auto");
                CheckOutput(name, path, [".npy"]);
            }
        if (o.MasksJson is not null && !o.Auto) throw new CliException("--masks-json needs --auto");
        if (o.Auto && (o.Points.Count > 0 || o.Box is not null || o.MaskInput is not null))
            throw new CliException("--auto segments everything; it takes no --point/--box/--mask-input prompts");
        if (o.Auto && o.Preset != SamPreset.Sam) throw new CliException("--auto uses SAM's pre/post-processing; it cannot be combined with --preset medsam");
        if (!o.Auto && o.Points.Count == 0 && o.Box is null && o.MaskInput is null)
            throw new CliException("give a prompt (--point, --box or --mask-input) or --auto");
        if (!File.Exists(o.Checkpoint)) throw new CliException($"--checkpoint {o.Checkpoint}: file not found");
        SamAdapt.Torch.Serialization.OutputGuard.Check(
            [("--out", o.Out), ("--logits", o.Logits), ("--low-res-logits", o.LowResLogits), ("--iou", o.Iou), ("--masks-json", o.MasksJson)],
            [("--image", o.Image), ("--checkpoint", o.Checkpoint), ("--mask-input", o.MaskInput), ("--model", o.Model)]);
        if (o.Auto && o.AutoOptions.PointsPerSide is < 1 or > 1024)
            throw new CliException($"--points-per-side: expected 1..1024, found {o.AutoOptions.PointsPerSide}");
        Device device;
        try { device = SamAdapt.Torch.Device.Parse(o.Device); }
        catch (FormatException e) { throw new CliException("--device: " + e.Message); }
        if (device.IsCuda && !torch.cuda.is_available()) throw new CliException($"--device {o.Device}: CUDA is not available on this machine");

        var img = ReadImage(o);
        var prompt = o.Auto ? null : new SamPrompt
        {
            PointCoords = o.Points.Count > 0 ? o.Points.SelectMany(p => new[] { p.X, p.Y }).ToArray() : null,
            PointLabels = o.Points.Count > 0 ? o.Points.Select(p => p.Label).ToArray() : null,
            Box = o.Box,
            MaskInput = o.MaskInput is { } mi ? ReadMaskInput(mi) : null,
        };
        if (prompt is not null)
        {
            try { SamPredictor.ValidatePrompt(prompt, img.Height, img.Width); }
            catch (ArgumentException e) { throw new CliException($"bad prompt: {e.Message}"); }
        }

        // 2. model and inference
        var (config, configNote) = ResolveConfig(o.Model, o.Checkpoint);
        using var predictor = new SamPredictor(SamCheckpoint.Load(o.Checkpoint, config, device: device), o.Preset, ownsModel: true);
        if (prompt?.MaskInput is { } m && m.Length != predictor.LowResSize * predictor.LowResSize)
            throw new CliException($"--mask-input {o.MaskInput}: {m.Length} values; this model takes 1x{predictor.LowResSize}x{predictor.LowResSize} low-res logits");
        var report = new List<string>();
        if (configNote is not null) report.Add(configNote);
        if (img.Note is not null) report.Add(img.Note);

        if (o.Auto)
        {
            var gen = new AutomaticMaskGenerator(predictor, o.AutoOptions with { OutputMode = AmgOutputMode.UncompressedRle });
            var records = gen.Generate(img.Rgb, img.Height, img.Width, 3);
            var ordered = records.OrderByDescending(r => r.Area).ToList(); // stable: ties keep the generator's (score) order
            var labels = new int[img.Height * img.Width];
            for (int id = 1; id <= ordered.Count; id++)
            {
                var mask = ordered[id - 1].ToMask();
                for (int i = 0; i < mask.Length; i++) if (mask[i]) labels[i] = id;
            }
            using (var outputs = SamAdapt.Torch.Serialization.AtomicFile.BeginSet())
            {
                WriteLabelMap(o.Out, labels, img, ordered.Count);
                if (o.MasksJson is { } jp) WriteRecords(jp, ordered);
                outputs.Commit();
            }
            report.Add($"wrote {o.Out}: {ordered.Count} mask(s) from a {o.AutoOptions.PointsPerSide}x{o.AutoOptions.PointsPerSide} grid, label ids 1..{ordered.Count} by decreasing area" +
                       (o.MasksJson is not null ? $"; records in {o.MasksJson}" : ""));
            return report;
        }

        predictor.SetImage(img.Rgb, img.Height, img.Width, 3);
        SamPrediction pred;
        try { pred = predictor.Predict(prompt!, o.Multimask, returnLogits: true); }
        catch (ArgumentException e) { throw new CliException($"bad prompt: {e.Message}"); }

        // 3. outputs (only now: nothing is written on an error above)
        int c = pred.Count, h = pred.Height, w = pred.Width, best = pred.BestIndex;
        using var outputSet = SamAdapt.Torch.Serialization.AtomicFile.BeginSet(); // mask and logits: all or none
        if (o.Out.EndsWith(".npy", StringComparison.OrdinalIgnoreCase))
            NpyFile.Write(o.Out, NpyArray.FromArray(pred.Masks, c, h, w));
        else
        {
            var mask = pred.Mask(best);
            if (o.Out.EndsWith(".png", StringComparison.OrdinalIgnoreCase))
                ImageFile.WriteMaskPng(o.Out, w, h, mask.Select(v => v ? (byte)255 : (byte)0).ToArray());
            else
                WriteNifti(o.Out, mask.Select(v => v ? (byte)1 : (byte)0).ToArray(), VoxelType.UInt8, img);
        }
        if (o.Logits is { } lp) NpyFile.Write(lp, NpyArray.FromArray(pred.Logits!, c, h, w));
        if (o.LowResLogits is { } lrp) NpyFile.Write(lrp, NpyArray.FromArray(pred.LowResLogits, c, pred.LowResHeight, pred.LowResWidth));
        if (o.Iou is { } ip) NpyFile.Write(ip, NpyArray.FromArray(pred.IouPredictions, c));
        outputSet.Commit();
        var ious = string.Join(", ", pred.IouPredictions.Select(v => v.ToString("F4", CultureInfo.InvariantCulture)));
        long area = pred.Mask(best).LongCount(v => v);
        report.Add($"wrote {o.Out}: {c} mask(s) {h}x{w}, predicted IoU [{ious}], best {best} ({area} pixels), preset {o.Preset.ToString().ToLowerInvariant()}");
        return report;
    }

    private static void CheckOutput(string option, string path, string[] extensions)
    {
        if (!extensions.Any(e => path.EndsWith(e, StringComparison.OrdinalIgnoreCase)))
            throw new CliException($"{option} {path}: unsupported output format (use {string.Join(", ", extensions)})");
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null && !Directory.Exists(dir)) throw new CliException($"{option} {path}: folder {dir} does not exist");
    }

    /// <summary>
    /// auto → a <c>config.json</c> beside the checkpoint when there is one (SamConfig JSON: the fixture's short names or SAM's long ones),
    /// else <see cref="SamCheckpoint.InferConfig"/> (8 decoder heads, as every released model); a preset name; or a config JSON path.
    /// </summary>
    public static (SamConfig Config, string? Note) ResolveConfig(string model, string checkpoint)
    {
        if (model.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
        {
            if (!File.Exists(model)) throw new CliException($"--model {model}: file not found");
            return (SamConfig.FromJsonFile(model), null);
        }
        if (string.Equals(model, SamCheckpoint.Auto, StringComparison.OrdinalIgnoreCase))
        {
            var beside = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(checkpoint))!, "config.json");
            if (File.Exists(beside))
            {
                try { return (SamConfig.FromJsonFile(beside), $"model: {beside}"); }
                catch (Exception e) when (e is FormatException or JsonException or ArgumentException or InvalidOperationException)
                {
                    // not a SAM config (another tool's config.json): fall back to inference from the shapes
                    _ = e;
                }
            }
            var sd = SamCheckpoint.ReadStateDict(checkpoint);
            try
            {
                var cfg = SamCheckpoint.InferConfig(SamCheckpoint.Shapes(sd));
                return (cfg, $"model: inferred {cfg.ModelType} from the checkpoint");
            }
            catch (InvalidDataException e) { throw new CliException($"cannot infer the SAM model type of {checkpoint}: {e.Message}"); }
        }
        try { return (SamConfig.FromName(model), null); }
        catch (ArgumentException e) { throw new CliException($"--model {model}: {e.Message} (use auto, vit_b, vit_l, vit_h or a config .json)"); }
    }

    // ------------------------------------------------------------------ images

    /// <summary>The 2-D image to segment: RGB bytes, size, and for NIfTI slices the geometry of the slice.</summary>
    public sealed record InputImage(byte[] Rgb, int Height, int Width, Volume? Source, int Axis, int Slice, string? Note);

    /// <summary>
    /// Reads --image. NIfTI: slice K along the axis (SliceExtractor's memory layout: axis z → rows j, columns i, so x = i and y = j) →
    /// grey → uint8: a uint8 volume is used as stored (lossless); otherwise --window LO,HI maps linearly to 0..255, or min-max of the slice
    /// does (<c>round((v − lo) / (hi − lo) · 255)</c>, clipped; a constant slice becomes 0) → replicated to RGB.
    /// </summary>
    public static InputImage ReadImage(SegmentOptions o)
    {
        var path = o.Image;
        if (!File.Exists(path)) throw new CliException($"--image {path}: file not found");
        bool nifti = NiftiReader.IsNiftiPath(path);
        if (!nifti && o.Slice is not null) throw new CliException("--slice applies to NIfTI images only");
        if (!nifti && o.Window is not null) throw new CliException("--window applies to NIfTI images only");
        if (path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase))
        {
            var a = NpyFile.Read(path);
            if (a.DType != NpyDType.UInt8) throw new CliException($"--image {path}: {a.DType.NumpyName()} array; segment takes uint8 HxWx3 (RGB) or HxW (grey)");
            if (a.Rank == 2 || (a.Rank == 3 && a.Shape[2] == 1))
            {
                int h = (int)a.Shape[0], w = (int)a.Shape[1];
                return new InputImage(Grey(a.AsSpan<byte>()), h, w, null, 2, 0, null);
            }
            if (a.Rank == 3 && a.Shape[2] == 3) return new InputImage(a.ToArray<byte>(), (int)a.Shape[0], (int)a.Shape[1], null, 2, 0, null);
            throw new CliException($"--image {path}: shape ({string.Join(", ", a.Shape)}); segment takes HxWx3 (RGB) or HxW (grey) uint8");
        }
        if (nifti)
        {
            var v = VolumeIO.Read(path);
            int axis = o.Axis switch { "x" or "0" => 0, "y" or "1" => 1, _ => 2 };
            var shape3 = v.Shape.Length >= 3 ? v.Shape[..3] : [v.Shape[0], v.Shape.Length > 1 ? v.Shape[1] : 1, 1];
            int k = o.Slice ?? (shape3[axis] == 1 ? 0 : throw new CliException($"--image {path}: a volume needs --slice K (0..{shape3[axis] - 1} along {o.Axis})"));
            if (k < 0 || k >= shape3[axis]) throw new CliException($"--slice {k}: out of range 0..{shape3[axis] - 1} along axis {o.Axis} of {string.Join("x", v.Shape)}");
            float[,] s;
            try { s = SliceExtractor.Extract(v, axis, k); }
            catch (Exception e) when (e is ArgumentException or NotSupportedException) { throw new CliException($"--image {path}: {e.Message}"); }
            int h = s.GetLength(0), w = s.GetLength(1);
            var grey = new byte[h * w];
            string note;
            if (v.Type == VoxelType.UInt8 && !v.IsScaled && o.Window is null)
            {
                for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) grey[y * w + x] = (byte)s[y, x];
                note = $"image: slice {k} along {o.Axis} ({w}x{h}), uint8 as stored";
            }
            else
            {
                double lo, hi;
                if (o.Window is { } win) (lo, hi) = win;
                else
                {
                    lo = double.MaxValue; hi = double.MinValue;
                    foreach (var val in s) { if (val < lo) lo = val; if (val > hi) hi = val; }
                }
                double range = hi - lo;
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++)
                    {
                        double t = range > 0 ? (s[y, x] - lo) / range * 255.0 : 0;
                        grey[y * w + x] = (byte)Math.Clamp(Math.Floor(t + 0.5), 0, 255);
                    }
                note = $"image: slice {k} along {o.Axis} ({w}x{h}), intensities {F(lo)}..{F(hi)} ({(o.Window is null ? "slice min-max" : "--window")}) → 0..255";
            }
            return new InputImage(Grey(grey), h, w, v, axis, k, note);
        }
        if (ImageFile.IsImageFile(path))
        {
            var im = ImageFile.Read(path);
            int n = im.Width * im.Height;
            byte[] samples;
            string? note = null;
            if (im.BitDepth == 8) samples = im.Pixels8!;
            else
            {
                var p16 = im.Pixels16!;
                int mn = p16.Min(), mx = p16.Max();
                samples = p16.Select(x => mx > mn ? (byte)Math.Floor((x - mn) * 255.0 / (mx - mn) + 0.5) : (byte)0).ToArray();
                note = $"image: 16-bit, min-max {mn}..{mx} → 0..255";
            }
            var rgb = new byte[n * 3];
            for (int i = 0; i < n; i++)
            {
                if (im.Channels <= 2)
                    rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = samples[i * im.Channels];
                else
                    for (int ch = 0; ch < 3; ch++) rgb[3 * i + ch] = samples[i * im.Channels + ch];
            }
            return new InputImage(rgb, im.Height, im.Width, null, 2, 0, note);
        }
        throw new CliException($"--image {path}: unsupported format (use .png, .jpg, .npy, .nii or .nii.gz)");

        static string F(double x) => x.ToString("G6", CultureInfo.InvariantCulture);
    }

    private static byte[] Grey(ReadOnlySpan<byte> g)
    {
        var rgb = new byte[g.Length * 3];
        for (int i = 0; i < g.Length; i++) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = g[i];
        return rgb;
    }

    private static float[] ReadMaskInput(string path)
    {
        if (!File.Exists(path)) throw new CliException($"--mask-input {path}: file not found");
        var a = NpyFile.Read(path);
        if (a.DType is not (NpyDType.Float32 or NpyDType.Float64 or NpyDType.Float16))
            throw new CliException($"--mask-input {path}: {a.DType.NumpyName()} array; expected float low-res logits");
        var dims = a.Shape.Where(d => d != 1).ToArray();
        if (dims.Length != 2 || dims[0] != dims[1] || a.Shape.Length > 4)
            throw new CliException($"--mask-input {path}: shape ({string.Join(", ", a.Shape)}); expected one SxS mask (1xSxS, SxS or 1x1xSxS)");
        return a.AsFloat32();
    }

    // ------------------------------------------------------------------ outputs

    /// <summary>
    /// A 2-D mask as NIfTI. For a NIfTI slice input: the source shape with the slice axis reduced to 1 and the source affine shifted to
    /// slice K (<c>A · [0,0,K]</c> along the axis), so it overlays the source in viewers. Otherwise the <see cref="Image2D"/> convention
    /// ([W, H, 1], row 0 at the top).
    /// </summary>
    private static void WriteNifti(string path, Array data, VoxelType type, InputImage img)
    {
        Volume v;
        if (img.Source is { } src)
        {
            var shape = new[] { src.Shape[0], src.Shape.Length > 1 ? src.Shape[1] : 1, src.Shape.Length > 2 ? src.Shape[2] : 1 };
            shape[img.Axis] = 1;
            var a = (double[])src.Affine.Clone();
            for (int r = 0; r < 3; r++) a[4 * r + 3] += src.Affine[4 * r + img.Axis] * img.Slice;
            v = new Volume(shape, type, data, a);
        }
        else v = new Volume([img.Width, img.Height, 1], type, data, Image2D.AffineFor(img.Height));
        v.IntentCode = Volume.IntentLabel;
        VolumeIO.Write(v, path);
    }

    private static void WriteLabelMap(string path, int[] labels, InputImage img, int count)
    {
        if (path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase))
            NpyFile.Write(path, NpyArray.FromArray(labels, img.Height, img.Width));
        else if (path.EndsWith(".png", StringComparison.OrdinalIgnoreCase))
        {
            if (count > 65535) throw new CliException($"{count} masks do not fit a 16-bit PNG label map; use .npy");
            if (count <= 255) ImageFile.WriteMaskPng(path, img.Width, img.Height, labels.Select(l => (byte)l).ToArray());
            else ImageFile.WritePng(path, new Image2D(img.Width, img.Height, 1, labels.Select(l => (ushort)l).ToArray()));
        }
        else
        {
            if (count > 65535) throw new CliException($"{count} masks do not fit a uint16 NIfTI label map; use .npy");
            WriteNifti(path, labels.Select(l => (ushort)l).ToArray(), VoxelType.UInt16, img);
        }
    }

    private static void WriteRecords(string path, IReadOnlyList<SamMaskRecord> ordered)
    {
        var json = ordered.Select((r, i) => new Dictionary<string, object>
        {
            ["id"] = i + 1,
            ["area"] = r.Area,
            ["bbox"] = r.Bbox,
            ["predicted_iou"] = r.PredictedIou,
            ["stability_score"] = r.StabilityScore,
            ["point_coords"] = new[] { r.PointCoords },
            ["crop_box"] = r.CropBox,
        }).ToList();
        var text = JsonSerializer.Serialize(json, new JsonSerializerOptions { WriteIndented = true });
        SamAdapt.Torch.Serialization.AtomicFile.Write(path, s => s.Write(System.Text.Encoding.UTF8.GetBytes(text)));
    }
}
