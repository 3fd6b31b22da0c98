using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace SamAdapt.Imaging.Datasets;

/// <summary>On-disk layout of a segmentation dataset.</summary>
public enum DatasetFormat
{
    /// <summary>nnU-Net v2 raw: channel_names, labels name → int (or list = region), numTraining, file_ending;
    /// imagesTr/{CASE}_{XXXX}{ending}, labelsTr/{CASE}{ending}, optional imagesTs.</summary>
    NnUNetV2,
    /// <summary>Medical Segmentation Decathlon: modality, labels "int" → name, training [{image, label}], test [path];
    /// multi-channel images are 4-D (channels on dim 4).</summary>
    Msd,
    /// <summary>No dataset.json: <c>images/</c> (PNG, JPEG, BMP) and <c>masks/</c> as users keep 2-D data (<see cref="ImageFolderDataset"/>).</summary>
    ImageFolder,
}

/// <summary>A label class: name and the label-map value(s) that make it. More than one value = an nnU-Net region.</summary>
public sealed record DatasetLabel(string Name, IReadOnlyList<int> Values)
{
    public bool IsRegion => Values.Count > 1;
}

/// <summary>
/// One case: its id, the image file(s) and label map (paths as the format prescribes; they may not exist — the
/// validator reports that). nnU-Net: one path per channel, in channel order. MSD: one (possibly 4-D) image path.
/// </summary>
/// <para>Image-folder datasets with one binary mask per class list them in <see cref="ClassMasks"/> (class value order;
/// <see cref="LabelPath"/> is then the first of them); <see cref="DatasetLabelReader"/> composes the label map.</para>
public sealed record DatasetCase(string Id, IReadOnlyList<string> ImagePaths, string? LabelPath, bool IsTest)
{
    /// <summary>Per-class binary masks (image-folder datasets), or null when <see cref="LabelPath"/> is a label map.</summary>
    public IReadOnlyList<ClassMask>? ClassMasks { get; init; }
}

/// <summary>
/// A segmentation dataset in nnU-Net v2 raw or MSD layout (auto-detected from dataset.json). Loading never repairs
/// anything: naming problems found while listing files go to <see cref="LayoutProblems"/>, everything else is
/// checked by <see cref="DatasetValidator"/>.
/// </summary>
public sealed class SegmentationDataset
{
    public required string Root { get; init; }
    public required DatasetFormat Format { get; init; }
    public string Name { get; init; } = "";
    public string Description { get; init; } = "";
    /// <summary>Channel (modality) names in channel order.</summary>
    public required IReadOnlyList<string> ChannelNames { get; init; }
    /// <summary>Label classes as declared (background included), in declaration order.</summary>
    public required IReadOnlyList<DatasetLabel> Labels { get; init; }
    /// <summary>File ending of images and labels (".nii.gz", ".png", …).</summary>
    public required string FileEnding { get; init; }
    /// <summary>numTraining as declared in dataset.json (null when absent).</summary>
    public int? DeclaredNumTraining { get; init; }
    public required IReadOnlyList<DatasetCase> TrainingCases { get; init; }
    public required IReadOnlyList<DatasetCase> TestCases { get; init; }
    /// <summary>Problems found while listing the folders (unparseable file names, stray channel files, …).</summary>
    public required IReadOnlyList<DatasetProblem> LayoutProblems { get; init; }

    public IEnumerable<DatasetCase> AllCases => TrainingCases.Concat(TestCases);

    /// <summary>Image-folder datasets: how the masks are stored; null for the other formats.</summary>
    public MaskLayout? MaskLayout { get; init; }

    /// <summary>Every label-map value dataset.json allows (union of the values of all classes and regions).</summary>
    public IReadOnlySet<int> AllowedLabelValues => Labels.SelectMany(l => l.Values).ToHashSet();

    /// <summary>Name of the class whose only value is <paramref name="value"/> (null if none).</summary>
    public string? LabelName(int value) => Labels.FirstOrDefault(l => l.Values.Count == 1 && l.Values[0] == value)?.Name;

    public const string DatasetJson = "dataset.json";

    /// <summary>Loads <paramref name="root"/>/dataset.json, detecting the format. Throws when the folder or
    /// dataset.json is missing or dataset.json is not a dataset description of either format.</summary>
    public static SegmentationDataset Load(string root)
    {
        if (!Directory.Exists(root)) throw new DirectoryNotFoundException($"dataset folder not found: {root}");
        var jsonPath = Path.Combine(root, DatasetJson);
        if (!File.Exists(jsonPath))
        {
            if (ImageFolderDataset.Detect(root)) return ImageFolderDataset.Load(root);
            throw new FileNotFoundException($"{jsonPath} not found: a dataset folder needs a dataset.json (nnU-Net v2 or MSD), " +
                $"or {ImageFolderDataset.ImagesDir}/ and masks/ folders of 2-D images (docs/imaging.md)", jsonPath);
        }
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllText(jsonPath), new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{jsonPath}: invalid JSON: {e.Message}", e);
        }
        using (doc)
        {
            var j = doc.RootElement;
            if (j.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{jsonPath}: expected a JSON object");
            bool v2 = j.TryGetProperty("channel_names", out _) || j.TryGetProperty("file_ending", out _);
            bool msd = j.TryGetProperty("modality", out _) || j.TryGetProperty("training", out _);
            if (v2) return LoadNnUNet(root, jsonPath, j);
            if (msd) return LoadMsd(root, jsonPath, j);
            throw new InvalidDataException(
                $"{jsonPath}: neither nnU-Net v2 (channel_names, file_ending) nor MSD (modality, training) keys found");
        }
    }

    // ---------------------------------------------------------------- nnU-Net v2

    private static SegmentationDataset LoadNnUNet(string root, string jsonPath, JsonElement j)
    {
        var channels = ReadIndexedNames(j, "channel_names", jsonPath);
        var ending = j.TryGetProperty("file_ending", out var fe) && fe.ValueKind == JsonValueKind.String
            ? fe.GetString()!
            : throw new InvalidDataException($"{jsonPath}: 'file_ending' (e.g. \".nii.gz\") is required");
        if (!j.TryGetProperty("labels", out var lj) || lj.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{jsonPath}: 'labels' must be an object of name → value (or list of values)");
        var labels = new List<DatasetLabel>();
        foreach (var p in lj.EnumerateObject())
        {
            var values = new List<int>();
            if (p.Value.ValueKind == JsonValueKind.Number && p.Value.TryGetInt32(out var v)) values.Add(v);
            else if (p.Value.ValueKind == JsonValueKind.Array)
            {
                foreach (var e in p.Value.EnumerateArray())
                    values.Add(e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out var x)
                        ? x
                        : throw new InvalidDataException($"{jsonPath}: label '{p.Name}': region values must be integers"));
                if (values.Count == 0) throw new InvalidDataException($"{jsonPath}: label '{p.Name}': empty region");
            }
            else throw new InvalidDataException(
                $"{jsonPath}: label '{p.Name}' has value {p.Value.GetRawText()}; nnU-Net v2 labels are name → integer " +
                "(an MSD-style \"1\": \"name\" map belongs in an MSD dataset.json)");
            labels.Add(new DatasetLabel(p.Name, values));
        }
        int? numTraining = ReadOptionalInt(j, "numTraining", jsonPath);

        var problems = new List<DatasetProblem>();
        var train = ListNnUNetCases(root, "imagesTr", "labelsTr", ending, channels.Count, problems);
        var test = ListNnUNetCases(root, "imagesTs", null, ending, channels.Count, problems);
        return new SegmentationDataset
        {
            Root = root,
            Format = DatasetFormat.NnUNetV2,
            Name = j.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString()! : Path.GetFileName(Path.GetFullPath(root).TrimEnd('/')),
            Description = j.TryGetProperty("description", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString()! : "",
            ChannelNames = channels,
            Labels = labels,
            FileEnding = ending,
            DeclaredNumTraining = numTraining,
            TrainingCases = train,
            TestCases = test,
            LayoutProblems = problems,
        };
    }

    private static List<DatasetCase> ListNnUNetCases(string root, string imagesDir, string? labelsDir, string ending,
        int channelCount, List<DatasetProblem> problems)
    {
        var imgFolder = Path.Combine(root, imagesDir);
        var ids = new SortedSet<string>(StringComparer.Ordinal);
        if (Directory.Exists(imgFolder))
        {
            foreach (var f in Directory.GetFiles(imgFolder).OrderBy(x => x, StringComparer.Ordinal))
            {
                var name = Path.GetFileName(f);
                if (name.StartsWith('.')) continue; // hidden files (e.g. macOS ._ resource forks)
                if (!name.EndsWith(ending, StringComparison.Ordinal))
                {
                    problems.Add(new DatasetProblem(null, DatasetProblemKind.UnexpectedFile,
                        $"{imagesDir}/{name}: does not end with file_ending '{ending}'"));
                    continue;
                }
                var split = CaseIds.SplitChannel(name[..^ending.Length]);
                if (split is not { } m)
                {
                    problems.Add(new DatasetProblem(null, DatasetProblemKind.UnexpectedFile,
                        $"{imagesDir}/{name}: image names must be {{CASE}}_{{XXXX}}{ending} (4-digit channel suffix, even for one channel)"));
                    continue;
                }
                var (id, ch) = m;
                if (ch >= channelCount)
                    problems.Add(new DatasetProblem(id, DatasetProblemKind.UnexpectedFile,
                        $"{imagesDir}/{name}: channel {ch} but dataset.json declares {channelCount} channel(s)"));
                ids.Add(id);
            }
        }
        if (labelsDir is not null)
        {
            var lblFolder = Path.Combine(root, labelsDir);
            if (Directory.Exists(lblFolder))
                foreach (var f in Directory.GetFiles(lblFolder))
                {
                    var name = Path.GetFileName(f);
                    if (name.StartsWith('.')) continue;
                    if (!name.EndsWith(ending, StringComparison.Ordinal))
                    {
                        problems.Add(new DatasetProblem(null, DatasetProblemKind.UnexpectedFile,
                            $"{labelsDir}/{name}: does not end with file_ending '{ending}'"));
                        continue;
                    }
                    ids.Add(name[..^ending.Length]);
                }
        }
        // nnU-Net's natural-image datasets keep an RGB image in one file (CASE_0000.png) with three channel names
        bool oneFileHoldsChannels(string id) => channelCount > 1 && Images2D.ImageFile.IsImageFile("x" + ending)
            && !File.Exists(Path.Combine(imgFolder, CaseIds.ImageFileName(id, 1, ending)));
        return ids.Select(id => new DatasetCase(
            id,
            Enumerable.Range(0, oneFileHoldsChannels(id) ? 1 : channelCount).Select(c => Path.Combine(imgFolder, CaseIds.ImageFileName(id, c, ending))).ToList(),
            labelsDir is null ? null : Path.Combine(root, labelsDir, id + ending),
            IsTest: labelsDir is null)).ToList();
    }

    // ---------------------------------------------------------------- MSD

    private static SegmentationDataset LoadMsd(string root, string jsonPath, JsonElement j)
    {
        var channels = ReadIndexedNames(j, "modality", jsonPath);
        if (!j.TryGetProperty("labels", out var lj) || lj.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{jsonPath}: 'labels' must be an object of \"value\" → name");
        var labels = new List<DatasetLabel>();
        foreach (var p in lj.EnumerateObject())
        {
            if (!int.TryParse(p.Name, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
                throw new InvalidDataException(
                    $"{jsonPath}: MSD label key '{p.Name}' is not an integer (MSD labels are \"value\" → name; " +
                    "name → value is the nnU-Net v2 form, which needs channel_names and file_ending)");
            labels.Add(new DatasetLabel(p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText(), [value]));
        }
        labels.Sort((a, b) => a.Values[0].CompareTo(b.Values[0]));

        var problems = new List<DatasetProblem>();
        var train = new List<DatasetCase>();
        if (j.TryGetProperty("training", out var tj))
        {
            if (tj.ValueKind != JsonValueKind.Array) throw new InvalidDataException($"{jsonPath}: 'training' must be a list of {{image, label}}");
            int idx = 0;
            foreach (var e in tj.EnumerateArray())
            {
                idx++;
                string? image = e.ValueKind == JsonValueKind.Object && e.TryGetProperty("image", out var ie) && ie.ValueKind == JsonValueKind.String ? ie.GetString() : null;
                string? label = e.ValueKind == JsonValueKind.Object && e.TryGetProperty("label", out var le) && le.ValueKind == JsonValueKind.String ? le.GetString() : null;
                if (image is null)
                {
                    problems.Add(new DatasetProblem($"training[{idx - 1}]", DatasetProblemKind.MissingFile, $"training entry {idx - 1} has no \"image\" path"));
                    continue;
                }
                var id = CaseIdFromPath(image);
                if (label is null)
                    problems.Add(new DatasetProblem(id, DatasetProblemKind.MissingFile, $"training entry {idx - 1} ({id}) has no \"label\" path"));
                train.Add(new DatasetCase(id, [Resolve(root, image)], label is null ? null : Resolve(root, label), false));
            }
        }
        var test = new List<DatasetCase>();
        if (j.TryGetProperty("test", out var sj) && sj.ValueKind == JsonValueKind.Array)
            foreach (var e in sj.EnumerateArray())
            {
                string? image = e.ValueKind == JsonValueKind.String ? e.GetString()
                    : e.ValueKind == JsonValueKind.Object && e.TryGetProperty("image", out var ie) && ie.ValueKind == JsonValueKind.String ? ie.GetString() : null;
                if (image is null) continue;
                test.Add(new DatasetCase(CaseIdFromPath(image), [Resolve(root, image)], null, true));
            }
        foreach (var dup in train.GroupBy(c => c.Id).Where(g => g.Count() > 1))
            problems.Add(new DatasetProblem(dup.Key, DatasetProblemKind.UnexpectedFile, $"case id {dup.Key} appears {dup.Count()} times in 'training'"));

        var firstImage = train.Concat(test).Select(c => c.ImagePaths[0]).FirstOrDefault() ?? ".nii.gz";
        return new SegmentationDataset
        {
            Root = root,
            Format = DatasetFormat.Msd,
            Name = j.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString()! : Path.GetFileName(Path.GetFullPath(root).TrimEnd('/')),
            Description = j.TryGetProperty("description", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString()! : "",
            ChannelNames = channels,
            Labels = labels,
            FileEnding = Ending(firstImage),
            DeclaredNumTraining = ReadOptionalInt(j, "numTraining", jsonPath),
            TrainingCases = train,
            TestCases = test,
            LayoutProblems = problems,
        };
    }

    private static string Resolve(string root, string relative) =>
        Path.GetFullPath(Path.Combine(root, relative.Replace('\\', '/')));

    private static string Ending(string path)
    {
        var name = Path.GetFileName(path);
        if (name.EndsWith(".nii.gz", StringComparison.OrdinalIgnoreCase)) return name[^7..];
        return Path.GetExtension(name);
    }

    private static string CaseIdFromPath(string path)
    {
        var name = Path.GetFileName(path);
        var e = Ending(name);
        return e.Length > 0 ? name[..^e.Length] : name;
    }

    /// <summary>{"0": "CT", "1": "PET"} → ["CT", "PET"], requiring keys 0..n−1.</summary>
    private static List<string> ReadIndexedNames(JsonElement j, string key, string jsonPath)
    {
        if (!j.TryGetProperty(key, out var o) || o.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{jsonPath}: '{key}' must be an object like {{\"0\": \"CT\"}}");
        var byIndex = new SortedDictionary<int, string>();
        foreach (var p in o.EnumerateObject())
        {
            if (!int.TryParse(p.Name, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i) || i < 0)
                throw new InvalidDataException($"{jsonPath}: '{key}' key '{p.Name}' is not a channel index");
            byIndex[i] = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText();
        }
        if (byIndex.Count == 0) throw new InvalidDataException($"{jsonPath}: '{key}' declares no channel");
        if (byIndex.Keys.Last() != byIndex.Count - 1)
            throw new InvalidDataException($"{jsonPath}: '{key}' indices must be 0..{byIndex.Count - 1}, found {string.Join(", ", byIndex.Keys)}");
        return byIndex.Values.ToList();
    }

    private static int? ReadOptionalInt(JsonElement j, string key, string jsonPath)
    {
        if (!j.TryGetProperty(key, out var e)) return null;
        if (e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out var v)) return v;
        throw new InvalidDataException($"{jsonPath}: '{key}' must be an integer, found {e.GetRawText()}");
    }
}
