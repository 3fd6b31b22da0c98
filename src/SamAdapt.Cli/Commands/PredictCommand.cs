using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using SamAdapt.Imaging;
using SamAdapt.Sam.Adapters;
using SamAdapt.Torch;
using SamAdapt.Training.Engine;
using SamAdapt.Training.MaSam;

namespace SamAdapt.Cli.Commands;

/// <summary>
/// `samadapt predict --run RUN_DIR --input VOLUME|FOLDER|DICOM_DIR --out FILE|FOLDER`: rebuilds the trained model from a run
/// folder and segments volumes with slice-window inference (stride 1, probabilities averaged over the D-slice windows),
/// writing NIfTI label maps on each input's exact grid and affine.
/// </summary>
public sealed partial class PredictCommand : ICliCommand
{
    public int Order => 60;

    public sealed record Args(string Run, string Weights, string Input, string Out, string Device = "cpu", bool Bf16 = false, int Batch = 1,
        bool Probabilities = false, string? Series = null, int Threads = 0);

    public Command Build()
    {
        var run = new Option<string>("--run") { Description = "Run folder written by `samadapt train`", Required = true };
        var weights = new Option<string>("--weights") { Description = "best (best validation Dice; falls back to the final weights when the run had no validation) or last", DefaultValueFactory = _ => "best" };
        var input = new Option<string>("--input") { Description = $"A volume ({VolumeInput.InputFormats}) or a folder of NIfTI volumes (nnU-Net _0000 names allowed)", Required = true };
        var output = new Option<string>("--out") { Description = "Output NIfTI file for one volume, or a folder (one <case>.nii.gz per input)", Required = true };
        var device = new Option<string>("--device") { Description = "cpu or cuda[:N]", DefaultValueFactory = _ => "cpu" };
        var bf16 = new Option<bool>("--bf16") { Description = "bfloat16 autocast" };
        var batch = new Option<int>("--batch") { Description = "Slice stacks per forward pass", DefaultValueFactory = _ => 1 };
        var probs = new Option<bool>("--probabilities") { Description = "Also write <case>_probabilities.nii.gz: float32 (X, Y, Z, K+1), background first" };
        var series = VolumeInput.SeriesOption();
        var threads = ThreadsOption();
        var cmd = new Command("predict",
            "Segment volumes with a trained MA-SAM / LoRA run: slice-window inference, label maps on the input's grid (NIfTI, intent label).");
        foreach (var o in new Option[] { run, weights, input, output, device, bf16, batch, probs, series, threads }) cmd.Options.Add(o);
        cmd.SetAction(pr => Run(new Args(pr.GetValue(run)!, pr.GetValue(weights)!, pr.GetValue(input)!, pr.GetValue(output)!, pr.GetValue(device)!,
            pr.GetValue(bf16), pr.GetValue(batch), pr.GetValue(probs), pr.GetValue(series), pr.GetValue(threads)), pr.InvocationConfiguration.Output, pr.InvocationConfiguration.Error));
        return cmd;
    }

    /// <summary>A loaded run: the task config and the rebuilt model.</summary>
    public sealed record LoadedRun(MaSamTaskConfig Config, AdaptedSam Model, string WeightsFile) : IDisposable
    {
        public void Dispose() => Model.Dispose();
    }

    /// <summary>Reads RUN_DIR/config.yaml and rebuilds the model from the chosen weights (and the base checkpoint recorded there).</summary>
    public static LoadedRun LoadRun(string runDir, string weights, Device device, TextWriter log)
    {
        if (!Directory.Exists(runDir)) throw new CliException($"--run: no such folder: {runDir}");
        var cfgPath = Path.Combine(runDir, RunConfig.FileName);
        if (!File.Exists(cfgPath)) throw new CliException($"--run: {runDir} has no {RunConfig.FileName}; it is not a `samadapt train` run folder");
        MaSamTaskConfig cfg;
        try { cfg = RunConfig.Load(cfgPath).Task<MaSamTaskConfig>(); }
        catch (Exception e) when (e is InvalidDataException or YamlDotNet.Core.YamlException) { throw new CliException($"--run: cannot read {cfgPath}: {e.Message}"); }
        if (cfg.ClassValues.Count < 2) throw new CliException($"--run: {cfgPath} lists no classes; it was not written by an MA-SAM / LoRA run");
        string file = weights.ToLowerInvariant() switch
        {
            "best" => File.Exists(Path.Combine(runDir, Trainer.BestFile)) ? Path.Combine(runDir, Trainer.BestFile) : Path.Combine(runDir, Trainer.AdapterFile),
            "last" => Path.Combine(runDir, Trainer.AdapterFile),
            _ => throw new CliException($"--weights must be best or last, got '{weights}'"),
        };
        if (!File.Exists(file)) throw new CliException($"--run: {file} does not exist yet (has the run written its first checkpoint?)");
        if (weights.Equals("best", StringComparison.OrdinalIgnoreCase) && !file.EndsWith(Trainer.BestFile, StringComparison.Ordinal))
            log.WriteLine($"note: {runDir} has no {Trainer.BestFile} (no validation data); using {Trainer.AdapterFile}");
        string? baseCkpt = cfg.BaseCheckpoint == "" ? null : cfg.BaseCheckpoint;
        if (baseCkpt is not null && !File.Exists(baseCkpt))
            throw new CliException($"the run was trained on the SAM checkpoint {baseCkpt}, which no longer exists; put it back (SHA-256 {cfg.BaseCheckpointSha256})");
        try { return new LoadedRun(cfg, AdaptedSam.Rebuild(file, baseCkpt, device), file); }
        catch (Exception e) when (e is InvalidDataException or ArgumentException) { throw new CliException($"cannot rebuild the model from {file}: {e.Message}"); }
    }

    public static int Run(Args a, TextWriter stdout, TextWriter stderr)
    {
        if (a.Batch < 1) throw new CliException($"--batch must be at least 1, got {a.Batch}");
        ApplyThreads(a.Threads);
        Device device;
        try { device = Torch.Device.Parse(a.Device); }
        catch (FormatException e) { throw new CliException($"--device: {e.Message}"); }
        if (device.IsCuda && !torch.cuda.is_available()) throw new CliException($"--device {a.Device}: libtorch sees no CUDA device; use --device cpu");
        if (!File.Exists(a.Input) && !Directory.Exists(a.Input)) throw new CliException($"--input: no such file or folder: {a.Input}");

        var jobs = Jobs(a.Input, a.Out, a.Series);
        foreach (var job in jobs)
            SamAdapt.Torch.Serialization.OutputGuard.Check(
                [("--out", job.Output), ("--out (probabilities)", a.Probabilities ? ProbabilityPath(job.Output) : null)],
                [("--input", job.Input), ("--run", Path.Combine(a.Run, RunConfig.FileName))]);
        if (a.Bf16 && !device.IsCuda)
            throw new CliException($"--bf16: expected --device cuda (bfloat16 autocast runs on CUDA), found --device {a.Device}");
        using var run = LoadRun(a.Run, a.Weights, device, stderr);
        var predictor = new VolumePredictor(run.Model, run.Config, device, a.Bf16, a.Batch);
        stderr.WriteLine($"model: {run.Config.Method}, {run.Config.ClassNames.Count - 1} classes, weights {run.WeightsFile}; {jobs.Count} volume(s)");
        var failed = new List<string>();
        foreach (var (i, job) in jobs.Index())
        {
            var sw = Stopwatch.StartNew();
            Volume image;
            try { image = VolumeInput.Read(job.Input, a.Series); }
            catch (Exception e) when (jobs.Count > 1 && Errors.IsUserFacing(Errors.Unwrap(e)))
            {
                // a folder: one bad case does not stop the others; the verb still fails (exit 2) at the end
                stderr.WriteLine($"samadapt: error: {Errors.Message(e)} (case {job.Id} skipped)");
                failed.Add(job.Id);
                continue;
            }
            int last = -1;
            var progress = new Sync<(int Done, int Total)>(p =>
            {
                int pct = 100 * p.Done / p.Total;
                if (pct / 10 != last / 10 || p.Done == p.Total)
                {
                    last = pct;
                    stderr.Write($"\r[{i + 1}/{jobs.Count}] {job.Id}: {pct,3}% ({p.Done}/{p.Total} slices)");
                }
            });
            var result = predictor.Predict(image, job.Id, a.Probabilities, progress);
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(job.Output))!);
            using (var outputs = SamAdapt.Torch.Serialization.AtomicFile.BeginSet()) // labels and probabilities: both or neither
            {
                VolumeIO.Write(result.Labels, job.Output);
                if (result.Probabilities is not null) VolumeIO.Write(result.Probabilities, ProbabilityPath(job.Output));
                outputs.Commit();
            }
            stderr.WriteLine();
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{job.Id}: {string.Join("×", image.Shape)} → {job.Output} ({sw.Elapsed.TotalSeconds:F1} s)"));
        }
        if (failed.Count > 0)
            throw new CliException($"--input: {failed.Count} of {jobs.Count} case(s) could not be read ({string.Join(", ", failed)}); the others were written");
        return 0;
    }

    /// <summary>The --threads option shared by train, predict and demo.</summary>
    public static Option<int> ThreadsOption(int defaultValue = 0) => new("--threads")
    {
        Description = "libtorch intra-op CPU threads (0: libtorch's default, one per core). Small models on a busy machine run faster with 1",
        DefaultValueFactory = _ => defaultValue,
    };

    public static void ApplyThreads(int threads)
    {
        if (threads < 0) throw new CliException($"--threads must be ≥ 0, got {threads}");
        if (threads > 0) torch.set_num_threads(threads);
    }

    public static string ProbabilityPath(string labelPath)
    {
        var dir = Path.GetDirectoryName(labelPath) ?? "";
        var name = Path.GetFileName(labelPath);
        var stem = name.EndsWith(".nii.gz", StringComparison.OrdinalIgnoreCase) ? name[..^7] : Path.GetFileNameWithoutExtension(name);
        return Path.Combine(dir, stem + "_probabilities.nii.gz");
    }

    public sealed record Job(string Id, string Input, string Output);

    [GeneratedRegex(@"^(?<id>.+)_(?<ch>\d{4})$")]
    private static partial Regex ChannelSuffix();

    /// <summary>Case id of a file name: the name without .nii/.nii.gz/.mha…, and without an nnU-Net _0000 channel suffix.</summary>
    public static (string Id, int Channel) CaseId(string fileName)
    {
        var stem = fileName.EndsWith(".nii.gz", StringComparison.OrdinalIgnoreCase) ? fileName[..^7] : Path.GetFileNameWithoutExtension(fileName);
        var m = ChannelSuffix().Match(stem);
        return m.Success ? (m.Groups["id"].Value, int.Parse(m.Groups["ch"].Value, CultureInfo.InvariantCulture)) : (stem, 0);
    }

    /// <summary>Input → output pairs: one volume (file or DICOM folder) or every NIfTI of a folder (channel 0 files only).</summary>
    public static List<Job> Jobs(string input, string output, string? series)
    {
        bool folderOfVolumes = Directory.Exists(input) && Directory.EnumerateFiles(input).Any(IsNifti);
        if (!folderOfVolumes)
        {
            var id = File.Exists(input) ? CaseId(Path.GetFileName(input)).Id : Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(input)));
            bool outDir = Directory.Exists(output) || output.EndsWith('/') || output.EndsWith(Path.DirectorySeparatorChar);
            if (!outDir && !IsNifti(output)) throw new CliException($"--out: expected a .nii or .nii.gz file (or a folder), got {output}");
            return [new Job(id, input, outDir ? Path.Combine(output, id + ".nii.gz") : output)];
        }
        if (File.Exists(output)) throw new CliException($"--out: {output} is a file; with a folder of inputs --out must be a folder");
        var files = Directory.EnumerateFiles(input).Where(IsNifti).Order(StringComparer.Ordinal).ToList();
        if (files.Count == 0) throw new CliException($"--input: {input} holds no NIfTI volume (.nii / .nii.gz)");
        var jobs = new List<Job>();
        foreach (var f in files)
        {
            var (id, ch) = CaseId(Path.GetFileName(f));
            if (ch != 0) continue; // other channels of a multi-channel case: the model reads channel 0
            jobs.Add(new Job(id, f, Path.Combine(output, id + ".nii.gz")));
        }
        var dup = jobs.GroupBy(j => j.Id).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new CliException($"--input: several files map to case '{dup.Key}': {string.Join(", ", dup.Select(j => Path.GetFileName(j.Input)))}");
        return jobs;
    }

    private static bool IsNifti(string p) =>
        p.EndsWith(".nii", StringComparison.OrdinalIgnoreCase) || p.EndsWith(".nii.gz", StringComparison.OrdinalIgnoreCase);

    private sealed class Sync<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
