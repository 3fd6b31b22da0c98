using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using SamAdapt.Imaging;
using SamAdapt.Imaging.Datasets;
using SamAdapt.Imaging.Images2D;
using SamAdapt.Evaluation;
using SamAdapt.Inference;
using SamAdapt.Methods;
using SamAdapt.Methods.Semantic;
using SamAdapt.Training.Demo;
using SamAdapt.Training.Engine;

namespace SamAdapt.Cli.Commands;

/// <summary>
/// `samadapt demo`: the whole MA-SAM journey on data a Debian package ships (mricron-data's Colin27 T1 + AAL atlas):
/// build an nnU-Net dataset with 8 anatomical classes and held-out slabs, train MA-SAM adapters on the "tiny" SAM
/// configuration from scratch (no pretrained SAM weights ship with Debian; --checkpoint takes a real one), predict the
/// held-out slabs, evaluate (Dice / HD95 per class), and write PNG overlays. `--self-check` runs the old quick stack check.
/// </summary>
public sealed class DemoCommand : ICliCommand
{
    public int Order => 90;

    /// <summary>Default training length of the demo (tiny preset, 4 stacks of 3 slices per iteration, CPU): sized to keep
    /// the whole demo within 5 minutes on two cores (docs/demo.md). Fixed, not a time budget, so the demo is deterministic.</summary>
    public const int DefaultIterations = 1000;

    public sealed record Args
    {
        public string Out { get; init; } = "samadapt-demo";
        public string? Checkpoint { get; init; }
        public string Device { get; init; } = "cpu";
        public bool Bf16 { get; init; }
        public int Iterations { get; init; } = DefaultIterations;
        public int Seed { get; init; } = 1234;
        public string TemplatesDir { get; init; } = DemoDataset.DefaultTemplatesDir;
        public int Batch { get; init; } = SamPresets.TinyBatch;
        public int? ImageSize { get; init; }
        public int Threads { get; init; } = 1;
        public string Augment { get; init; } = "none";
    }

    public Command Build()
    {
        var output = new Option<string>("--out") { Description = "Folder for the dataset, run, predictions, report and overlays", DefaultValueFactory = _ => "samadapt-demo" };
        var ckpt = new Option<string?>("--checkpoint") { Description = "A real SAM checkpoint (.pth / .safetensors) to adapt instead of the tiny from-scratch model (use --img-size, e.g. 512, and a GPU)" };
        var size = new Option<int?>("--img-size") { Description = "Model input size (default: 128 for the tiny preset, 512 with --checkpoint)" };
        var iters = new Option<int>("--iterations") { Description = "Training iterations", DefaultValueFactory = _ => DefaultIterations };
        var batch = new Option<int>("--batch") { Description = "Stacks per batch", DefaultValueFactory = _ => SamPresets.TinyBatch };
        var seed = new Option<int>("--seed") { Description = "Random seed", DefaultValueFactory = _ => 1234 };
        var templates = new Option<string>("--templates") { Description = "Folder with ch2.nii.gz, aal.nii.gz, aal.nii.txt (Debian: mricron-data)", DefaultValueFactory = _ => DemoDataset.DefaultTemplatesDir };
        var self = new Option<bool>("--self-check") { Description = "Only run the quick stack self-check (tensors, autograd, a small training run, checkpoint round trip)" };
        var runtime = new RuntimeOptions(defaultThreads: 1);
        var augment = new Option<string>("--augment") { Description = "Training augmentations: none (default: the held-out slabs share the scan, and a 5-minute run learns faster without them) or ma-sam", DefaultValueFactory = _ => "none" };
        var steps = new Option<int>("--steps") { Description = "Training steps of the self-check", DefaultValueFactory = _ => 300 };
        var cmd = new Command("demo",
            "End-to-end MA-SAM demo on the Colin27 brain MRI with AAL atlas classes (Debian mricron-data): builds the dataset, trains adapters " +
            "on a tiny SAM from scratch, predicts held-out slabs, prints Dice/HD95 per class, writes NIfTI predictions and PNG overlays. About 3 minutes on 2 CPU cores.");
        foreach (var o in new Option[] { output, ckpt, size, iters, batch, seed, templates, self, steps, augment }) cmd.Options.Add(o);
        runtime.AddTo(cmd);
        cmd.SetAction(pr =>
        {
            if (pr.GetValue(self)) return SelfCheck.Run(pr.GetValue(steps), pr.GetValue(seed));
            var rt = runtime.Bind(pr);
            return Run(new Args
            {
                Out = pr.GetValue(output)!, Checkpoint = pr.GetValue(ckpt), Device = rt.Device ?? "cpu", Bf16 = rt.Bf16 ?? false,
                Iterations = pr.GetValue(iters), Seed = pr.GetValue(seed), TemplatesDir = pr.GetValue(templates)!, Batch = pr.GetValue(batch),
                ImageSize = pr.GetValue(size), Threads = rt.Threads, Augment = pr.GetValue(augment)!,
            }, pr.InvocationConfiguration.Output, pr.InvocationConfiguration.Error);
        });
        return cmd;
    }

    public static int Run(Args a, TextWriter stdout, TextWriter stderr, bool? interactive = null)
    {
        if (a.Iterations < 1) throw new CliException($"--iterations must be at least 1, got {a.Iterations}");
        if (!DemoDataset.Available(a.TemplatesDir))
            throw new CliException($"the demo needs {DemoDataset.ImageFile}, {DemoDataset.AtlasFile} and {DemoDataset.AtlasNamesFile} in {a.TemplatesDir}: " +
                "install them with `sudo apt-get install mricron-data` (or point --templates at a copy)");
        var total = Stopwatch.StartNew();
        var root = Path.GetFullPath(a.Out);
        string datasetDir = Path.Combine(root, "Dataset900_Colin27AAL"), runDir = Path.Combine(root, "run"),
            predDir = Path.Combine(root, "predictions"), overlayDir = Path.Combine(root, "overlays");
        if (File.Exists(Path.Combine(runDir, "config.yaml")))
            throw new CliException($"{root} already holds a demo run ({runDir}); remove the folder or choose another --out");

        stdout.WriteLine("SamAdapt demo: MA-SAM on the Colin27 T1 brain MRI with AAL atlas classes (Debian package mricron-data)");
        if (a.Checkpoint is null)
            stdout.WriteLine("No pretrained SAM weights ship with Debian, so the demo trains a small SAM configuration (preset 'tiny': 96² input, " +
                "patch 8, 2 encoder blocks of width 96, MA-SAM's FacT and 3D adapters) from scratch, the whole model (a random base has nothing to preserve). " +
                "Pass --checkpoint SAM.pth to adapt a real SAM instead.");
        stdout.WriteLine();

        stdout.WriteLine($"[1/4] building the dataset in {datasetDir}");
        var info = DemoDataset.Build(datasetDir);
        stdout.WriteLine($"      {info.TrainSlabs.Count()} training slabs, {info.TestSlabs.Count()} held-out slabs of {info.Slabs[0].SliceCount} sagittal slices; " +
            $"classes: {string.Join(", ", info.Classes.Select(c => c.Name))}");

        stdout.WriteLine($"[2/4] training MA-SAM ({a.Iterations} iterations, {a.Device}) into {runDir}");
        var train = new TrainSettings
        {
            Dataset = datasetDir, Method = "ma-sam", Out = runDir,
            Checkpoint = a.Checkpoint, Model = a.Checkpoint is null ? "tiny" : null, ImageSize = a.ImageSize,
            // the slabs are cut from one scan: a fixed window keeps their intensities identical, where train's default for a
            // T1 channel (per-volume z-score) would shift each slab by its own statistics. No validation split: the held-out
            // slabs are the test, nothing is selected on validation (the final weights are evaluated), and with one scan every
            // training slab counts (a validation slab took most of the deep grey from training: docs/training-notes.md).
            // train's defaults otherwise: warm-up 5% of the run, poly 0.9, lr 2e-3 from scratch, a third of the stacks
            // centred on foreground
            Slices = a.Checkpoint is null ? SamPresets.TinySlices : 5, Intensity = DemoDatasetInfo.RecommendedIntensity, ValFraction = 0,
            Iterations = a.Iterations, Batch = a.Batch, Seed = a.Seed, Augment = a.Augment,
            CheckpointEvery = Math.Max(1, a.Iterations / 4), LogEvery = 50,
            Runtime = new RuntimeSettings { Device = a.Device, Bf16 = a.Bf16, Threads = a.Threads },
        };
        TrainingResult result;
        try { result = TrainRunner.Run(train, new TrainOutput(stdout, stderr, interactive)); }
        catch (Exception e) when (e is TrainingException or ArgumentException or InvalidDataException or FileNotFoundException)
        { throw new CliException(e.Message); }
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"      {result.Steps} iterations in {result.ElapsedSeconds:F0} s"));

        stdout.WriteLine($"[3/4] predicting the held-out slabs into {predDir}");
        PredictionRunner.Run(new PredictSettings
        {
            Run = runDir, Weights = RunWeights.Last, Input = info.ImagesTs, Out = predDir + Path.DirectorySeparatorChar,
            Device = a.Device, Bf16 = a.Bf16, Batch = 4,
        }, path => VolumeIO.Read(path), stderr,
            done: c => stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"      {c.Id}: {string.Join("×", c.Shape)} → {c.Output} ({c.Seconds:F1} s)")));

        stdout.WriteLine("[4/4] evaluating against the atlas labels of the held-out slabs");
        var evaluator = new SegmentationEvaluator(new EvaluationOptions
        {
            Labels = info.Classes.Select(c => c.Index).ToList(),
            LabelNames = info.Classes.ToDictionary(c => c.Index, c => c.Name),
            Metrics = MetricKind.Dice | MetricKind.Hd95,
            NsdTolerance = 2.0,
            HausdorffMode = EvaluationOptions.ParseHausdorffMode("monai"),
            EmptyPolicy = EmptyPolicy.Monai,
            MaxDegreeOfParallelism = 2,
        });
        var report = evaluator.EvaluateFiles(CaseMatcher.Match(predDir, info.LabelsTs), VolumeIO.Read);
        EvaluationRunner.WriteReports(report, Path.Combine(root, "evaluation.json"), Path.Combine(root, "evaluation.csv"), Path.Combine(root, "evaluation.md"));
        EvaluateCommand.RenderTable(report, stdout);

        Directory.CreateDirectory(overlayDir);
        var written = WriteOverlays(info, predDir, overlayDir);
        stdout.WriteLine($"overlays (left: atlas, right: prediction): {string.Join(", ", written.Select(Path.GetFileName))} in {overlayDir}");
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"demo finished in {total.Elapsed.TotalMinutes:F1} min; everything is in {root}"));
        return 0;
    }

    /// <summary>Distinct colours for up to 16 classes (index 0 unused).</summary>
    private static readonly byte[][] Palette =
    [
        [0, 0, 0], [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48], [145, 30, 180], [70, 240, 240],
        [240, 50, 230], [210, 245, 60], [250, 190, 212], [0, 128, 128], [220, 190, 255], [170, 110, 40], [255, 250, 200], [128, 0, 0],
    ];

    /// <summary>PNG overlays of the middle slice of each held-out slab: atlas labels (left) and prediction (right) over the grey image.</summary>
    public static List<string> WriteOverlays(DemoDatasetInfo info, string predDir, string overlayDir, int scale = 3)
    {
        var written = new List<string>();
        foreach (var slab in info.TestSlabs)
        {
            var img = VolumeIO.Read(Path.Combine(info.ImagesTs, CaseIds.ImageFileName(slab.CaseId, 0)));
            var gt = VolumeIO.Read(Path.Combine(info.LabelsTs, slab.CaseId + ".nii.gz"));
            var predPath = Path.Combine(predDir, slab.CaseId + ".nii.gz");
            if (!File.Exists(predPath)) continue;
            var pred = VolumeIO.Read(predPath);
            int ni = img.Shape[0], nj = img.Shape[1], nk = img.Shape.Length > 2 ? img.Shape[2] : 1, k = nk / 2;
            var grey = img.ToFloat32();
            var (lo, hi) = ValueRange.Of<float>(grey.AsSpan(ni * nj * k, ni * nj));
            int w = 2 * ni * scale + scale * 2, h = nj * scale;
            var rgb = new byte[w * h * 3];
            for (int panel = 0; panel < 2; panel++)
            {
                var lab = panel == 0 ? gt : pred;
                int x0 = panel * (ni * scale + scale * 2);
                for (int j = 0; j < nj; j++)
                    for (int i = 0; i < ni; i++)
                    {
                        long idx = i + (long)ni * (j + (long)nj * k);
                        double g = hi > lo ? (grey[idx] - lo) / (hi - lo) : 0;
                        int l = (int)lab.Get(idx);
                        var c = l > 0 ? Palette[1 + (l - 1) % (Palette.Length - 1)] : null;
                        byte r = (byte)(255 * g), gg = r, b = r;
                        if (c is not null) { r = (byte)(0.45 * 255 * g + 0.55 * c[0]); gg = (byte)(0.45 * 255 * g + 0.55 * c[1]); b = (byte)(0.45 * 255 * g + 0.55 * c[2]); }
                        for (int dy = 0; dy < scale; dy++)
                            for (int dx = 0; dx < scale; dx++)
                            {
                                int y = (nj - 1 - j) * scale + dy, x = x0 + i * scale + dx;
                                int o = (y * w + x) * 3;
                                rgb[o] = r; rgb[o + 1] = gg; rgb[o + 2] = b;
                            }
                    }
            }
            var path = Path.Combine(overlayDir, $"{slab.CaseId}_slice{k}.png");
            ImageFile.WriteRgbPng(path, w, h, rgb);
            written.Add(path);
        }
        return written;
    }
}
