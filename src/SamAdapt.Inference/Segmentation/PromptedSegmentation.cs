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

namespace SamAdapt.Inference.Segmentation;

/// <summary>Everything a prompted (or automatic) segmentation of one 2-D image needs: the `segment` verb binds its options here.</summary>
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
/// SAM / MedSAM inference on one 2-D image (PNG/JPEG, NumPy, or a NIfTI slice) with point/box/mask prompts, or the automatic
/// "segment everything" mode, as a library call. Outputs are written only after everything succeeded; bad input is an
/// <see cref="ArgumentException"/> (or a file exception) naming the option, and nothing is written.
/// </summary>
public static class PromptedSegmentation
{
    // ------------------------------------------------------------------ run

    /// <summary>Performs the segmentation; returns report lines. Throws user-facing exceptions on bad input (nothing is written then).</summary>
    public static IReadOnlyList<string> Run(SegmentOptions o)
    {
        // 1. everything that can be checked without the model
        CheckOutput("--out", o.Out, [".npy", ".png", ".nii", ".nii.gz"]);
        foreach (var (name, path) in new[] { ("--logits", o.Logits), ("--low-res-logits", o.LowResLogits), ("--iou", o.Iou) })
            if (path is not null)
            {
                if (o.Auto) throw new ArgumentException($"{name} is not available with --auto");
                CheckOutput(name, path, [".npy"]);
            }
        if (o.MasksJson is not null && !o.Auto) throw new ArgumentException("--masks-json needs --auto");
        if (o.Auto && (o.Points.Count > 0 || o.Box is not null || o.MaskInput is not null))
            throw new ArgumentException("--auto segments everything; it takes no --point/--box/--mask-input prompts");
        if (o.Auto && o.Preset != SamPreset.Sam) throw new ArgumentException("--auto uses SAM's pre/post-processing; it cannot be combined with --preset medsam");
        if (!o.Auto && o.Points.Count == 0 && o.Box is null && o.MaskInput is null)
            throw new ArgumentException("give a prompt (--point, --box or --mask-input) or --auto");
        if (!File.Exists(o.Checkpoint)) throw new ArgumentException($"--checkpoint {o.Checkpoint}: file not found");
        SamAdapt.Common.OutputGuard.Check(
            [("--out", o.Out), ("--logits", o.Logits), ("--low-res-logits", o.LowResLogits), ("--iou", o.Iou), ("--masks-json", o.MasksJson)],
            [("--image", o.Image), ("--checkpoint", o.Checkpoint), ("--mask-input", o.MaskInput), ("--model", o.Model)]);
        if (o.Auto && o.AutoOptions.PointsPerSide is < 1 or > 1024)
            throw new ArgumentException($"--points-per-side: expected 1..1024, found {o.AutoOptions.PointsPerSide}");
        Device device;
        try { device = SamAdapt.Torch.Device.Parse(o.Device); }
        catch (FormatException e) { throw new ArgumentException("--device: " + e.Message); }
        if (device.IsCuda && !torch.cuda.is_available()) throw new ArgumentException($"--device {o.Device}: CUDA is not available on this machine");

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
            catch (ArgumentException e) { throw new ArgumentException($"bad prompt: {e.Message}"); }
        }

        // 2. model and inference
        var (config, configNote) = ResolveConfig(o.Model, o.Checkpoint);
        using var predictor = new SamPredictor(SamCheckpoint.Load(o.Checkpoint, config, device: device), o.Preset, ownsModel: true);
        if (prompt?.MaskInput is { } m && m.Length != predictor.LowResSize * predictor.LowResSize)
            throw new ArgumentException($"--mask-input {o.MaskInput}: {m.Length} values; this model takes 1x{predictor.LowResSize}x{predictor.LowResSize} low-res logits");
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
            using (var outputs = SamAdapt.Common.AtomicFile.BeginSet()) // label map and records: all or none
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
        catch (ArgumentException e) { throw new ArgumentException($"bad prompt: {e.Message}"); }

        // 3. outputs (only now: nothing is written on an error above)
        int c = pred.Count, h = pred.Height, w = pred.Width, best = pred.BestIndex;
        using var outputSet = SamAdapt.Common.AtomicFile.BeginSet(); // mask and logits: all or none
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
            throw new ArgumentException($"{option} {path}: unsupported output format (use {string.Join(", ", extensions)})");
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null && !Directory.Exists(dir)) throw new ArgumentException($"{option} {path}: folder {dir} does not exist");
    }

    /// <summary>
    /// auto → a <c>config.json</c> beside the checkpoint when there is one (SamConfig JSON: the fixture's short names or SAM's long ones),
    /// else <see cref="SamCheckpoint.InferConfig"/> (8 decoder heads, as every released model); a preset name; or a config JSON path.
    /// </summary>
    public static (SamConfig Config, string? Note) ResolveConfig(string model, string checkpoint)
    {
        if (model.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
        {
            if (!File.Exists(model)) throw new ArgumentException($"--model {model}: file not found");
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
            catch (InvalidDataException e) { throw new ArgumentException($"cannot infer the SAM model type of {checkpoint}: {e.Message}"); }
        }
        try { return (SamConfig.FromName(model), null); }
        catch (ArgumentException e) { throw new ArgumentException($"--model {model}: {e.Message} (use auto, vit_b, vit_l, vit_h or a config .json)"); }
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
        if (!File.Exists(path)) throw new ArgumentException($"--image {path}: file not found");
        bool nifti = NiftiReader.IsNiftiPath(path);
        if (!nifti && o.Slice is not null) throw new ArgumentException("--slice applies to NIfTI images only");
        if (!nifti && o.Window is not null) throw new ArgumentException("--window applies to NIfTI images only");
        if (path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase))
        {
            var a = NpyFile.Read(path);
            if (a.DType != NpyDType.UInt8) throw new ArgumentException($"--image {path}: {a.DType.NumpyName()} array; segment takes uint8 HxWx3 (RGB) or HxW (grey)");
            if (a.Rank == 2 || (a.Rank == 3 && a.Shape[2] == 1))
            {
                int h = (int)a.Shape[0], w = (int)a.Shape[1];
                return new InputImage(Grey(a.AsSpan<byte>()), h, w, null, 2, 0, null);
            }
            if (a.Rank == 3 && a.Shape[2] == 3) return new InputImage(a.ToArray<byte>(), (int)a.Shape[0], (int)a.Shape[1], null, 2, 0, null);
            throw new ArgumentException($"--image {path}: shape ({string.Join(", ", a.Shape)}); segment takes HxWx3 (RGB) or HxW (grey) uint8");
        }
        if (nifti)
        {
            var v = VolumeIO.Read(path);
            int axis = o.Axis switch { "x" or "0" => 0, "y" or "1" => 1, _ => 2 };
            var shape3 = v.Shape.Length >= 3 ? v.Shape[..3] : [v.Shape[0], v.Shape.Length > 1 ? v.Shape[1] : 1, 1];
            int k = o.Slice ?? (shape3[axis] == 1 ? 0 : throw new ArgumentException($"--image {path}: a volume needs --slice K (0..{shape3[axis] - 1} along {o.Axis})"));
            if (k < 0 || k >= shape3[axis]) throw new ArgumentException($"--slice {k}: out of range 0..{shape3[axis] - 1} along axis {o.Axis} of {string.Join("x", v.Shape)}");
            float[,] s;
            try { s = SliceExtractor.Extract(v, axis, k); }
            catch (Exception e) when (e is ArgumentException or NotSupportedException) { throw new ArgumentException($"--image {path}: {e.Message}"); }
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
                else (lo, hi) = ValueRange.Of(s);
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
        throw new ArgumentException($"--image {path}: unsupported format (use .png, .jpg, .npy, .nii or .nii.gz)");

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
        if (!File.Exists(path)) throw new ArgumentException($"--mask-input {path}: file not found");
        var a = NpyFile.Read(path);
        if (a.DType is not (NpyDType.Float32 or NpyDType.Float64 or NpyDType.Float16))
            throw new ArgumentException($"--mask-input {path}: {a.DType.NumpyName()} array; expected float low-res logits");
        var dims = a.Shape.Where(d => d != 1).ToArray();
        if (dims.Length != 2 || dims[0] != dims[1] || a.Shape.Length > 4)
            throw new ArgumentException($"--mask-input {path}: shape ({string.Join(", ", a.Shape)}); expected one SxS mask (1xSxS, SxS or 1x1xSxS)");
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
            if (count > 65535) throw new ArgumentException($"{count} masks do not fit a 16-bit PNG label map; use .npy");
            if (count <= 255) ImageFile.WriteMaskPng(path, img.Width, img.Height, labels.Select(l => (byte)l).ToArray());
            else ImageFile.WritePng(path, new Image2D(img.Width, img.Height, 1, labels.Select(l => (ushort)l).ToArray()));
        }
        else
        {
            if (count > 65535) throw new ArgumentException($"{count} masks do not fit a uint16 NIfTI label map; use .npy");
            WriteNifti(path, labels.Select(l => (ushort)l).ToArray(), VoxelType.UInt16, img);
        }
    }

    private static void WriteRecords(string path, IReadOnlyList<SamMaskRecord> ordered)
    {
        var json = ordered.Select((r, i) => new MaskRecordDto(i + 1, r.Area, r.Bbox, r.PredictedIou, r.StabilityScore, [r.PointCoords], r.CropBox)).ToList();
        var text = JsonSerializer.Serialize(json, MaskRecordsJsonContext.Default.ListMaskRecordDto);
        SamAdapt.Common.AtomicFile.Write(path, s => s.Write(System.Text.Encoding.UTF8.GetBytes(text)));
    }
}
