using SamAdapt.Imaging.Datasets;

namespace SamAdapt.Inference;

/// <summary>One volume to predict: its case id, input path (channel 0) and output label-map path. <see cref="Channels"/> lists
/// every channel file of the case in order (nnU-Net's <c>CASE_0000</c>, <c>CASE_0001</c>, …; just <see cref="Input"/> otherwise).</summary>
public sealed record PredictionJob(string Id, string Input, string Output)
{
    public IReadOnlyList<string> Channels { get; init; } = [Input];
}

/// <summary>Turns an input (one volume, a DICOM folder, or a folder of NIfTI volumes) and an output (file or folder) into jobs.</summary>
public static class PredictionJobs
{
    /// <summary>Input → output pairs: one volume (file or DICOM folder) or every NIfTI / 2-D image (PNG, JPEG, BMP) of a folder,
    /// a case per id (by <see cref="CaseIds"/>; its <c>_XXXX</c> channel files gathered in order). A 2-D image gets a PNG label map
    /// of its size (<c>ID.png</c> in an output folder), a volume a NIfTI one. Throws <see cref="ArgumentException"/> for unusable
    /// combinations.</summary>
    public static List<PredictionJob> Plan(string input, string output)
    {
        // a folder of NIfTI volumes, or one holding only 2-D images (a DICOM folder with a stray preview image stays a series)
        bool folderOfVolumes = Directory.Exists(input) && (Directory.EnumerateFiles(input).Any(IsNifti)
            || Directory.EnumerateFiles(input).Where(f => !Path.GetFileName(f).StartsWith('.')).ToList() is { Count: > 0 } all && all.All(Is2DImage));
        if (!folderOfVolumes)
        {
            var id = File.Exists(input) ? CaseIds.Parse(Path.GetFileName(input)).Id : Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(input)));
            bool outDir = Directory.Exists(output) || output.EndsWith('/') || output.EndsWith(Path.DirectorySeparatorChar);
            bool image2D = Is2DImage(input);
            if (!outDir && !IsNifti(output) && !(image2D && IsPng(output)))
                throw new ArgumentException(image2D
                    ? $"--out: expected a .png, .nii or .nii.gz file (or a folder), got {output}"
                    : $"--out: expected a .nii or .nii.gz file (or a folder), got {output}");
            return [new PredictionJob(id, input, outDir ? Path.Combine(output, id + OutputEnding(input)) : output) { Channels = SiblingChannels(input) }];
        }
        if (File.Exists(output)) throw new ArgumentException($"--out: {output} is a file; with a folder of inputs --out must be a folder");
        var files = Directory.EnumerateFiles(input).Where(IsInputFile).Where(f => !Path.GetFileName(f).StartsWith('.')).Order(StringComparer.Ordinal).ToList();
        var jobs = new List<PredictionJob>();
        foreach (var g in files.GroupBy(f => CaseIds.Parse(Path.GetFileName(f)).Id, StringComparer.Ordinal))
        {
            var byChannel = g.Select(f => (File: f, CaseIds.Parse(Path.GetFileName(f)).Channel)).OrderBy(x => x.Channel).ToList();
            if (byChannel.GroupBy(x => x.Channel).FirstOrDefault(x => x.Count() > 1) is { } dup)
                throw new ArgumentException($"--input: several files map to case '{g.Key}': {string.Join(", ", dup.Select(x => Path.GetFileName(x.File)))}");
            var first = byChannel[0].File;
            jobs.Add(new PredictionJob(g.Key, first, Path.Combine(output, g.Key + OutputEnding(first))) { Channels = byChannel.Select(x => x.File).ToList() });
        }
        return jobs;
    }

    /// <summary>The channel files of the case an input file belongs to: for <c>CASE_0000.ext</c>, it and the <c>CASE_0001.ext</c>,
    /// <c>CASE_0002.ext</c>, … beside it (as long as they exist); any other input alone.</summary>
    public static IReadOnlyList<string> SiblingChannels(string input)
    {
        if (!File.Exists(input)) return [input];
        var name = Path.GetFileName(input);
        var ending = name.EndsWith(".nii.gz", StringComparison.OrdinalIgnoreCase) ? name[^7..] : Path.GetExtension(name);
        if (CaseIds.SplitChannel(name[..^ending.Length]) is not ({ } id, 0)) return [input];
        var dir = Path.GetDirectoryName(Path.GetFullPath(input))!;
        var result = new List<string> { input };
        for (int c = 1; ; c++)
        {
            var next = Path.Combine(dir, CaseIds.ImageFileName(id, c, ending));
            if (!File.Exists(next)) return result;
            result.Add(next);
        }
    }

    private static string OutputEnding(string input) => Is2DImage(input) ? ".png" : ".nii.gz";

    private static bool IsInputFile(string p) => IsNifti(p) || Is2DImage(p);

    /// <summary>A 2-D image file (PNG, JPEG, BMP): predicted as a volume of one slice.</summary>
    public static bool Is2DImage(string p) => File.Exists(p) && SamAdapt.Imaging.Images2D.ImageFile.IsImageFile(p);

    private static bool IsPng(string p) => p.EndsWith(".png", StringComparison.OrdinalIgnoreCase);

    /// <summary>The probability-map path that goes with a label-map path: <c>NAME_probabilities.nii.gz</c>.</summary>
    public static string ProbabilityPath(string labelPath)
    {
        var dir = Path.GetDirectoryName(labelPath) ?? "";
        return Path.Combine(dir, CaseIds.Stem(Path.GetFileName(labelPath)) + "_probabilities.nii.gz");
    }

    public static bool IsNifti(string p) =>
        p.EndsWith(".nii", StringComparison.OrdinalIgnoreCase) || p.EndsWith(".nii.gz", StringComparison.OrdinalIgnoreCase);
}
