using System.Globalization;
using System.Text.Json;
using SamAdapt.Imaging.Images2D;

namespace SamAdapt.Imaging.Datasets;

/// <summary>How the masks of an image-folder dataset are stored (docs/imaging.md, "2-D datasets").</summary>
public enum MaskLayout
{
    /// <summary><c>masks/CASE.png</c>: one label image per image, pixel value = class value.</summary>
    LabelMap,
    /// <summary><c>masks/CASE_CLASS.png</c>: one binary mask per image and class.</summary>
    ClassSuffix,
    /// <summary><c>masks/CLASS/CASE.png</c>: one folder of binary masks per class.</summary>
    ClassFolders,
}

/// <summary>
/// A 2-D dataset as users keep one: a folder of images (PNG, JPEG, BMP; grey or RGB) and a folder of masks, without a
/// dataset.json (docs/imaging.md, "2-D datasets"):
/// <code>
/// DIR/images/CASE.png            grey or RGB (RGB = 3 channels; alpha is dropped)
/// DIR/masks/CASE.png             one label image per image (pixel value = class value), or
/// DIR/masks/CASE_CLASS.png       one binary mask per class (0 = outside, one non-zero value = inside), or
/// DIR/masks/CLASS/CASE.png       one folder of binary masks per class
/// DIR/classes.json               optional: {"labels": {"background": 0, "liver": 1, ...}}
/// </code>
/// <c>labels/</c> is accepted for <c>masks/</c>. Class names and values: from classes.json when present (with per-class masks its
/// names are the CLASS parts of the file or folder names, its values the label values they get); otherwise a label-map dataset
/// takes the values found in its masks ("class V" = V) and a per-class dataset numbers its class names in sorted order from 1.
/// A binary mask missing for a class means the class is absent from that image; an image with no mask at all is reported.
/// </summary>
public static class ImageFolderDataset
{
    public const string ImagesDir = "images", ClassesJson = "classes.json";
    public static IReadOnlyList<string> MaskDirs { get; } = ["masks", "labels"];

    /// <summary>Whether <paramref name="root"/> looks like an image-folder dataset: <c>images/</c> and <c>masks/</c> (or <c>labels/</c>).</summary>
    public static bool Detect(string root) =>
        Directory.Exists(Path.Combine(root, ImagesDir)) && MaskDirs.Any(m => Directory.Exists(Path.Combine(root, m)));

    public static SegmentationDataset Load(string root)
    {
        var imgDir = Path.Combine(root, ImagesDir);
        var maskDirName = MaskDirs.First(m => Directory.Exists(Path.Combine(root, m)));
        var maskDir = Path.Combine(root, maskDirName);
        var problems = new List<DatasetProblem>();
        var images = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var f in Files(imgDir))
        {
            var name = Path.GetFileName(f);
            if (!ImageFile.IsImageFile(f))
            {
                problems.Add(new DatasetProblem(null, DatasetProblemKind.UnexpectedFile, $"{ImagesDir}/{name}: not an image (expected .png, .jpg, .jpeg or .bmp)"));
                continue;
            }
            var id = Path.GetFileNameWithoutExtension(name);
            if (!images.TryAdd(id, f))
                problems.Add(new DatasetProblem(id, DatasetProblemKind.UnexpectedFile, $"{ImagesDir}/{name}: case '{id}' has another image ({Path.GetFileName(images[id])})"));
        }
        var declared = ReadClassesJson(root);
        var subdirs = Directory.GetDirectories(maskDir).Where(d => !Path.GetFileName(d).StartsWith('.')).Order(StringComparer.Ordinal).ToList();
        var maskFiles = Files(maskDir).ToList();
        MaskLayout layout;
        var masks = new Dictionary<string, List<ClassMask>>(StringComparer.Ordinal); // per-class layouts: case → masks
        var labelMaps = new Dictionary<string, string>(StringComparer.Ordinal);        // label-map layout: case → file
        List<DatasetLabel> labels;

        if (subdirs.Count > 0)
        {
            layout = MaskLayout.ClassFolders;
            foreach (var f in maskFiles)
                problems.Add(new DatasetProblem(null, DatasetProblemKind.UnexpectedFile,
                    $"{maskDirName}/{Path.GetFileName(f)}: with class folders ({maskDirName}/CLASS/CASE.png) masks belong in a class folder"));
            var names = subdirs.Select(Path.GetFileName).ToList();
            labels = ClassLabels(names!, declared, problems);
            foreach (var (dir, cls) in subdirs.Zip(names))
                foreach (var f in Files(dir))
                {
                    var id = Path.GetFileNameWithoutExtension(f);
                    if (!CheckMaskFile(f, $"{maskDirName}/{cls}", images, problems)) continue;
                    var value = labels.First(l => l.Name == cls).Values[0];
                    Add(masks, id, new ClassMask(cls!, value, f));
                }
        }
        else if (IsLabelMapLayout(maskFiles, images, declared))
        {
            layout = MaskLayout.LabelMap;
            foreach (var f in maskFiles)
            {
                if (!CheckMaskFile(f, maskDirName, images, problems)) continue;
                labelMaps[Path.GetFileNameWithoutExtension(f)] = f;
            }
            labels = declared is not null ? [.. declared] : LabelsFromMaps(labelMaps.Values);
        }
        else
        {
            layout = MaskLayout.ClassSuffix;
            var known = declared?.Where(l => l.Values[0] != 0).Select(l => l.Name).ToList();
            var found = new List<(string Id, string Class, string File)>();
            foreach (var f in maskFiles)
            {
                var stem = Path.GetFileNameWithoutExtension(f);
                if (SuffixMatch(stem, images, known) is not { } m)
                {
                    problems.Add(new DatasetProblem(null, DatasetProblemKind.UnexpectedFile,
                        $"{maskDirName}/{Path.GetFileName(f)}: no image for it (per-class masks are named CASE_CLASS{Path.GetExtension(f)}, CASE an image in {ImagesDir}/" +
                        (known is null ? ")" : $", CLASS one of {string.Join(", ", known)})")));
                    continue;
                }
                if (!CheckMaskFile(f, maskDirName, images, problems, m.Id)) continue;
                found.Add((m.Id, m.Class, f));
            }
            labels = ClassLabels(found.Select(x => x.Class).Distinct().Order(StringComparer.Ordinal).ToList(), declared, problems);
            foreach (var (id, cls, f) in found)
                Add(masks, id, new ClassMask(cls, labels.First(l => l.Name == cls).Values[0], f));
        }

        var cases = new List<DatasetCase>();
        foreach (var (id, path) in images)
        {
            if (layout == MaskLayout.LabelMap)
            {
                // a missing label map is reported by the validator (it names the file it expected)
                cases.Add(new DatasetCase(id, [path], labelMaps.GetValueOrDefault(id) ?? Path.Combine(maskDir, id + ".png"), false));
                continue;
            }
            if (!masks.TryGetValue(id, out var list))
            {
                problems.Add(new DatasetProblem(id, DatasetProblemKind.MissingFile,
                    $"{ImagesDir}/{Path.GetFileName(path)} has no mask in {maskDirName}/ (" +
                    (layout == MaskLayout.ClassSuffix ? $"expected {id}_CLASS.png for its classes)" : $"expected {maskDirName}/CLASS/{id}.png for its classes)")));
                continue;
            }
            var ordered = list.OrderBy(m => m.Value).ToList();
            cases.Add(new DatasetCase(id, [path], ordered[0].Path, false) { ClassMasks = ordered });
        }

        return new SegmentationDataset
        {
            Root = root,
            Format = DatasetFormat.ImageFolder,
            Name = Path.GetFileName(Path.GetFullPath(root).TrimEnd('/')),
            Description = layout switch
            {
                MaskLayout.LabelMap => $"images with one label image each ({maskDirName}/CASE.png)",
                MaskLayout.ClassSuffix => $"images with one binary mask per class ({maskDirName}/CASE_CLASS.png)",
                _ => $"images with one binary mask per class ({maskDirName}/CLASS/CASE.png)",
            },
            ChannelNames = ChannelNames(images.Values.FirstOrDefault()),
            Labels = labels,
            FileEnding = images.Count > 0 ? Path.GetExtension(images.Values.First()).ToLowerInvariant() : ".png",
            DeclaredNumTraining = null,
            TrainingCases = cases,
            TestCases = [],
            LayoutProblems = problems,
            MaskLayout = layout,
        };
    }

    /// <summary>Label maps (masks/CASE.png) unless more mask files are named CASE_CLASS than CASE.</summary>
    private static bool IsLabelMapLayout(List<string> maskFiles, SortedDictionary<string, string> images, List<DatasetLabel>? declared)
    {
        var known = declared?.Where(l => l.Values[0] != 0).Select(l => l.Name).ToList();
        int exact = maskFiles.Count(f => images.ContainsKey(Path.GetFileNameWithoutExtension(f)));
        int perClass = maskFiles.Count(f => !images.ContainsKey(Path.GetFileNameWithoutExtension(f)) && SuffixMatch(Path.GetFileNameWithoutExtension(f), images, known) is not null);
        return exact >= perClass;
    }

    private static IEnumerable<string> Files(string dir) =>
        Directory.GetFiles(dir).Where(f => !Path.GetFileName(f).StartsWith('.')).Order(StringComparer.Ordinal);

    private static void Add(Dictionary<string, List<ClassMask>> masks, string id, ClassMask m)
    {
        if (!masks.TryGetValue(id, out var l)) masks[id] = l = [];
        l.Add(m);
    }

    /// <summary>False (with a problem) for a mask that is no image or has no image of its case.</summary>
    private static bool CheckMaskFile(string f, string where, SortedDictionary<string, string> images, List<DatasetProblem> problems, string? id = null)
    {
        var name = Path.GetFileName(f);
        id ??= Path.GetFileNameWithoutExtension(f);
        if (!ImageFile.IsImageFile(f))
        {
            problems.Add(new DatasetProblem(null, DatasetProblemKind.UnexpectedFile, $"{where}/{name}: not an image (expected .png, .jpg, .jpeg or .bmp)"));
            return false;
        }
        if (!images.ContainsKey(id))
        {
            problems.Add(new DatasetProblem(null, DatasetProblemKind.UnexpectedFile, $"{where}/{name}: mask without an image (no {ImagesDir}/{id}.*)"));
            return false;
        }
        return true;
    }

    /// <summary>CASE_CLASS → (CASE, CLASS) with CASE the longest image id that fits (and CLASS among <paramref name="known"/> when given).</summary>
    private static (string Id, string Class)? SuffixMatch(string stem, SortedDictionary<string, string> images, IReadOnlyList<string>? known)
    {
        for (int i = stem.Length - 1; i > 0; i--)
        {
            if (stem[i] != '_') continue;
            string id = stem[..i], cls = stem[(i + 1)..];
            if (cls.Length > 0 && images.ContainsKey(id) && (known is null || known.Contains(cls))) return (id, cls);
        }
        return null;
    }

    /// <summary>Per-class layouts: classes.json's labels (which must name every class found), else the names numbered from 1.</summary>
    private static List<DatasetLabel> ClassLabels(IReadOnlyList<string> names, IReadOnlyList<DatasetLabel>? declared, List<DatasetProblem> problems)
    {
        if (declared is null)
            return [new DatasetLabel("background", [0]), .. names.Select((n, i) => new DatasetLabel(n, [i + 1]))];
        foreach (var n in names.Where(n => declared.All(l => l.Name != n)))
            problems.Add(new DatasetProblem(null, DatasetProblemKind.InvalidLabelDefinition,
                $"masks of class '{n}' found, but {ClassesJson} does not list it (its labels: {string.Join(", ", declared.Select(l => l.Name))})"));
        var labels = declared.ToList();
        int next = labels.SelectMany(l => l.Values).DefaultIfEmpty(0).Max() + 1;
        foreach (var n in names.Where(n => labels.All(l => l.Name != n))) labels.Add(new DatasetLabel(n, [next++])); // still listed, so loading goes on
        return labels;
    }

    /// <summary>Label-map layout without classes.json: background 0 and "class V" for every other value found in the masks.</summary>
    private static List<DatasetLabel> LabelsFromMaps(IEnumerable<string> files)
    {
        var values = new SortedSet<int>();
        foreach (var f in files)
        {
            try
            {
                var v = DatasetLabelReader.MaskValues(ImageFile.ReadVolume(f), f);
                foreach (var x in v.Distinct()) values.Add(x);
            }
            catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or ArgumentException)
            {
                // the validator reports unreadable or colour masks
            }
        }
        values.Remove(0);
        return [new DatasetLabel("background", [0]), .. values.Select(v => new DatasetLabel(string.Create(CultureInfo.InvariantCulture, $"class {v}"), [v]))];
    }

    private static List<string> ChannelNames(string? firstImage)
    {
        if (firstImage is null) return ["grey"];
        try
        {
            var (_, _, c, _) = ImageFile.ReadInfo(firstImage);
            return c >= 3 ? ["R", "G", "B"] : ["grey"];
        }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or ArgumentException)
        {
            return ["grey"];
        }
    }

    /// <summary>classes.json → labels (null when absent): <c>{"labels": {"background": 0, "NAME": VALUE, ...}}</c>.</summary>
    private static List<DatasetLabel>? ReadClassesJson(string root)
    {
        var path = Path.Combine(root, ClassesJson);
        if (!File.Exists(path)) return null;
        JsonDocument doc;
        try { doc = JsonDocument.Parse(File.ReadAllText(path), new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip }); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: invalid JSON: {e.Message}", e); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("labels", out var lj) || lj.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{path}: expected {{\"labels\": {{\"background\": 0, \"NAME\": VALUE, ...}}}}");
            var labels = new List<DatasetLabel>();
            foreach (var p in lj.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetInt32(out var v) || v < 0)
                    throw new InvalidDataException($"{path}: label '{p.Name}' has value {p.Value.GetRawText()}; expected a non-negative integer");
                labels.Add(new DatasetLabel(p.Name, [v]));
            }
            if (!labels.Any(l => l.Values[0] == 0)) labels.Insert(0, new DatasetLabel("background", [0]));
            return labels;
        }
    }
}
