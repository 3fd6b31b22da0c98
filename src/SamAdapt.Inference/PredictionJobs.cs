using SamAdapt.Imaging.Datasets;

namespace SamAdapt.Inference;

/// <summary>One volume to predict: its case id, input path and output label-map path.</summary>
public sealed record PredictionJob(string Id, string Input, string Output);

/// <summary>Turns an input (one volume, a DICOM folder, or a folder of NIfTI volumes) and an output (file or folder) into jobs.</summary>
public static class PredictionJobs
{
    /// <summary>Input → output pairs: one volume (file or DICOM folder) or every NIfTI of a folder (channel 0 files only, by
    /// <see cref="CaseIds"/>). Throws <see cref="ArgumentException"/> for unusable combinations.</summary>
    public static List<PredictionJob> Plan(string input, string output)
    {
        bool folderOfVolumes = Directory.Exists(input) && Directory.EnumerateFiles(input).Any(IsNifti);
        if (!folderOfVolumes)
        {
            var id = File.Exists(input) ? CaseIds.Parse(Path.GetFileName(input)).Id : Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(input)));
            bool outDir = Directory.Exists(output) || output.EndsWith('/') || output.EndsWith(Path.DirectorySeparatorChar);
            if (!outDir && !IsNifti(output)) throw new ArgumentException($"--out: expected a .nii or .nii.gz file (or a folder), got {output}");
            return [new PredictionJob(id, input, outDir ? Path.Combine(output, id + ".nii.gz") : output)];
        }
        if (File.Exists(output)) throw new ArgumentException($"--out: {output} is a file; with a folder of inputs --out must be a folder");
        var files = Directory.EnumerateFiles(input).Where(IsNifti).Order(StringComparer.Ordinal).ToList();
        var jobs = new List<PredictionJob>();
        foreach (var f in files)
        {
            var (id, ch) = CaseIds.Parse(Path.GetFileName(f));
            if (ch != 0) continue; // other channels of a multi-channel case: the model reads channel 0
            jobs.Add(new PredictionJob(id, f, Path.Combine(output, id + ".nii.gz")));
        }
        var dup = jobs.GroupBy(j => j.Id).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new ArgumentException($"--input: several files map to case '{dup.Key}': {string.Join(", ", dup.Select(j => Path.GetFileName(j.Input)))}");
        return jobs;
    }

    /// <summary>The probability-map path that goes with a label-map path: <c>NAME_probabilities.nii.gz</c>.</summary>
    public static string ProbabilityPath(string labelPath)
    {
        var dir = Path.GetDirectoryName(labelPath) ?? "";
        return Path.Combine(dir, CaseIds.Stem(Path.GetFileName(labelPath)) + "_probabilities.nii.gz");
    }

    public static bool IsNifti(string p) =>
        p.EndsWith(".nii", StringComparison.OrdinalIgnoreCase) || p.EndsWith(".nii.gz", StringComparison.OrdinalIgnoreCase);
}
