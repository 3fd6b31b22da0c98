namespace SamAdapt.Imaging.Datasets;

public enum DatasetProblemKind
{
    /// <summary>An image channel or label map the layout requires is not there.</summary>
    MissingFile,
    /// <summary>A file exists but cannot be read (corrupt, unsupported format).</summary>
    UnreadableFile,
    /// <summary>A file in an image folder that does not follow the naming rules, or a stray channel/duplicate case.</summary>
    UnexpectedFile,
    /// <summary>Image channels or image and label differ in shape or affine beyond the tolerance.</summary>
    GeometryMismatch,
    /// <summary>An image has a different number of channels than dataset.json declares.</summary>
    ChannelCountMismatch,
    /// <summary>A label map holds values that dataset.json does not declare.</summary>
    UnknownLabel,
    /// <summary>A label map holds non-integer values.</summary>
    NonIntegerLabels,
    /// <summary>numTraining differs from the number of training cases.</summary>
    NumTrainingMismatch,
    /// <summary>The labels of dataset.json break the format's rules (no background 0, not consecutive, …).</summary>
    InvalidLabelDefinition,
    /// <summary>A 2-D mask that cannot be a label image: colour (RGB) values, a per-class mask that is not binary, overlapping
    /// per-class masks, masks of one image with different sizes.</summary>
    InvalidMask,
}

/// <summary>One finding. <see cref="CaseId"/> is null for dataset-level problems.</summary>
public sealed record DatasetProblem(string? CaseId, DatasetProblemKind Kind, string Message)
{
    public override string ToString() => CaseId is null ? $"{Kind}: {Message}" : $"{CaseId}: {Kind}: {Message}";
}

/// <summary>A per-case row of the report. Shape and spacing are the (first) image's; <see cref="LabelsPresent"/> the
/// integer values found in the label map (null when it was not read).</summary>
public sealed record CaseReport(
    string CaseId, bool IsTest, int[]? Shape, double[]? Spacing, IReadOnlyList<int>? LabelsPresent,
    IReadOnlyList<DatasetProblem> Problems)
{
    public bool Ok => Problems.Count == 0;
    public string Status => Ok ? "ok" : string.Join(", ", Problems.Select(p => p.Kind).Distinct());
}

public sealed class DatasetReport
{
    public required SegmentationDataset Dataset { get; init; }
    public required IReadOnlyList<CaseReport> Cases { get; init; }
    /// <summary>Problems not tied to one case (numTraining, label definitions, stray files).</summary>
    public required IReadOnlyList<DatasetProblem> DatasetProblems { get; init; }

    public IEnumerable<DatasetProblem> AllProblems => DatasetProblems.Concat(Cases.SelectMany(c => c.Problems));
    public bool HasProblems => AllProblems.Any();
}

/// <summary>Geometry comparison tolerance: |a − b| ≤ Absolute + Relative·max(|a|, |b|) for every affine element.</summary>
public sealed record GeometryTolerance(double Absolute = 1e-3, double Relative = 1e-4)
{
    public static GeometryTolerance Default { get; } = new();

    public bool Same(double a, double b) => Math.Abs(a - b) <= Absolute + Relative * Math.Max(Math.Abs(a), Math.Abs(b));
}

/// <summary>
/// Checks a <see cref="SegmentationDataset"/> against its files: presence of every channel and label map, shape and
/// affine agreement between channels and with the label map, channel counts, label maps holding integers that
/// dataset.json declares, numTraining, and the label definition rules of nnU-Net v2 (background 0, consecutive).
/// It reports; it never repairs.
/// </summary>
public sealed class DatasetValidator(IDatasetVolumeReader? reader = null, GeometryTolerance? tolerance = null)
{
    private readonly IDatasetVolumeReader _reader = reader ?? DatasetVolumeReader.Default;
    private readonly GeometryTolerance _tol = tolerance ?? GeometryTolerance.Default;

    public static DatasetReport Check(string datasetDir) => new DatasetValidator().Validate(SegmentationDataset.Load(datasetDir));

    /// <param name="progress">Called with each case id before it is checked.</param>
    public DatasetReport Validate(SegmentationDataset ds, Action<string>? progress = null)
    {
        var datasetProblems = ds.LayoutProblems.Where(p => p.CaseId is null || ds.AllCases.All(c => c.Id != p.CaseId)).ToList();
        datasetProblems.AddRange(CheckLabelDefinition(ds));
        if (ds.DeclaredNumTraining is { } declared && declared != ds.TrainingCases.Count)
            datasetProblems.Add(new DatasetProblem(null, DatasetProblemKind.NumTrainingMismatch,
                $"dataset.json says numTraining = {declared}, found {ds.TrainingCases.Count} training case(s)"));
        else if (ds.DeclaredNumTraining is null && ds.Format == DatasetFormat.NnUNetV2)
            datasetProblems.Add(new DatasetProblem(null, DatasetProblemKind.NumTrainingMismatch,
                $"dataset.json has no numTraining (nnU-Net v2 requires it; found {ds.TrainingCases.Count} training case(s))"));

        var allowed = ds.AllowedLabelValues;
        var rows = new List<CaseReport>();
        foreach (var c in ds.AllCases)
        {
            progress?.Invoke(c.Id);
            var problems = ds.LayoutProblems.Where(p => p.CaseId == c.Id).ToList();
            rows.Add(CheckCase(ds, c, allowed, problems));
        }
        return new DatasetReport { Dataset = ds, Cases = rows, DatasetProblems = datasetProblems };
    }

    private static IEnumerable<DatasetProblem> CheckLabelDefinition(SegmentationDataset ds)
    {
        var labels = ds.Labels;
        if (labels.Count == 0)
        {
            yield return new DatasetProblem(null, DatasetProblemKind.InvalidLabelDefinition, "dataset.json declares no labels");
            yield break;
        }
        var single = labels.Where(l => !l.IsRegion).ToList();
        if (!single.Any(l => l.Values[0] == 0))
            yield return new DatasetProblem(null, DatasetProblemKind.InvalidLabelDefinition, "no background label with value 0");
        foreach (var dup in single.GroupBy(l => l.Values[0]).Where(g => g.Count() > 1))
            yield return new DatasetProblem(null, DatasetProblemKind.InvalidLabelDefinition,
                $"value {dup.Key} is used by several labels: {string.Join(", ", dup.Select(l => l.Name))}");
        if (labels.Any(l => l.Values.Any(v => v < 0)))
            yield return new DatasetProblem(null, DatasetProblemKind.InvalidLabelDefinition, "negative label values");
        if (ds.Format == DatasetFormat.NnUNetV2)
        {
            var values = ds.AllowedLabelValues.OrderBy(v => v).ToList();
            if (values.Count > 0 && values[0] >= 0 && values[^1] != values.Count - 1)
                yield return new DatasetProblem(null, DatasetProblemKind.InvalidLabelDefinition,
                    $"label values must be consecutive integers from 0 (nnU-Net v2), found {string.Join(", ", values)}");
        }
    }

    private CaseReport CheckCase(SegmentationDataset ds, DatasetCase c, IReadOnlySet<int> allowed, List<DatasetProblem> problems)
    {
        int[]? shape = null;
        double[]? spacing = null;
        IReadOnlyList<int>? present = null;
        VolumeHeader? reference = null;
        string? referencePath = null;

        for (int ch = 0; ch < c.ImagePaths.Count; ch++)
        {
            var path = c.ImagePaths[ch];
            var rel = Relative(ds, path);
            if (!File.Exists(path))
            {
                problems.Add(new DatasetProblem(c.Id, DatasetProblemKind.MissingFile,
                    ds.Format == DatasetFormat.NnUNetV2 ? $"image channel {ch} ({ds.ChannelNames[ch]}) missing: {rel}" : $"image missing: {rel}"));
                continue;
            }
            VolumeHeader h;
            try { h = _reader.ReadHeader(path); }
            catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or ArgumentException)
            {
                problems.Add(new DatasetProblem(c.Id, DatasetProblemKind.UnreadableFile, $"{rel}: {Strip(e.Message, path)}"));
                continue;
            }
            int channels = ChannelsOf(h);
            // one file holding every channel: MSD's 4-D images, an RGB image (image folders, nnU-Net natural images)
            bool allInOne = ds.Format is DatasetFormat.Msd or DatasetFormat.ImageFolder || c.ImagePaths.Count == 1 && ds.ChannelNames.Count > 1;
            int expected = allInOne ? ds.ChannelNames.Count : 1;
            if (channels != expected)
                problems.Add(new DatasetProblem(c.Id, DatasetProblemKind.ChannelCountMismatch, ds.Format switch
                {
                    DatasetFormat.Msd => $"{rel} has {channels} channel(s) (dim 4), dataset.json declares {expected} modalit{(expected == 1 ? "y" : "ies")}",
                    DatasetFormat.ImageFolder => $"{rel} has {channels} channel(s) ({Colours(channels)}), the dataset's first image has {expected} ({Colours(expected)}); convert the images to one kind",
                    _ when allInOne => $"{rel} has {channels} channel(s), dataset.json declares {expected}",
                    _ => $"{rel} has {channels} channels; nnU-Net v2 stores one channel per file",
                }));
            if (reference is null)
            {
                reference = h;
                referencePath = rel;
                shape = Spatial(h.Shape);
                spacing = h.Spacing;
            }
            else if (Compare(reference, h) is { } why)
                problems.Add(new DatasetProblem(c.Id, DatasetProblemKind.GeometryMismatch, $"{rel} vs {referencePath}: {why}"));
        }

        if (c.LabelPath is { } lp)
        {
            var rel = Relative(ds, lp);
            if (!File.Exists(lp))
                problems.Add(new DatasetProblem(c.Id, DatasetProblemKind.MissingFile, $"label map missing: {rel}"));
            else
            {
                try
                {
                    var label = DatasetLabelReader.Read(c, _reader);
                    var lh = VolumeHeader.Of(label);
                    if (ChannelsOf(lh) != 1 && !label.IsRgb)
                        problems.Add(new DatasetProblem(c.Id, DatasetProblemKind.ChannelCountMismatch, $"{rel}: label map has {ChannelsOf(lh)} channels/time points"));
                    if (reference is not null && Compare(reference, lh) is { } why)
                        problems.Add(new DatasetProblem(c.Id, DatasetProblemKind.GeometryMismatch, $"{rel} vs {referencePath}: {why}"));
                    shape ??= Spatial(lh.Shape);
                    spacing ??= lh.Spacing;
                    var stats = LabelStats.Of(label);
                    present = stats.Values;
                    if (stats.NonInteger > 0)
                        problems.Add(new DatasetProblem(c.Id, DatasetProblemKind.NonIntegerLabels,
                            $"{rel}: {stats.NonInteger} voxel(s) hold non-integer values (e.g. {stats.NonIntegerExample}); label maps must be integers"));
                    var unknown = stats.Values.Where(v => !allowed.Contains(v)).ToList();
                    if (unknown.Count > 0)
                        problems.Add(new DatasetProblem(c.Id, DatasetProblemKind.UnknownLabel,
                            $"{rel}: value(s) {string.Join(", ", unknown)} not declared in " +
                            (ds.Format == DatasetFormat.ImageFolder ? $"{ImageFolderDataset.ClassesJson} (its labels: {string.Join(", ", ds.Labels.Select(l => $"{l.Name}={l.Values[0]}"))})" : "dataset.json labels")));
                }
                catch (InvalidDataException e) when (c.ClassMasks is not null || ds.Format == DatasetFormat.ImageFolder)
                {
                    // colour, non-binary, overlapping or mis-sized masks (the message names the file)
                    problems.Add(new DatasetProblem(c.Id, DatasetProblemKind.InvalidMask, Path.GetRelativePath(ds.Root, e.Message.Split(':')[0]) + e.Message[e.Message.IndexOf(':')..]));
                }
                catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or ArgumentException)
                {
                    problems.Add(new DatasetProblem(c.Id, DatasetProblemKind.UnreadableFile, $"{rel}: {Strip(e.Message, lp)}"));
                }
            }
        }
        return new CaseReport(c.Id, c.IsTest, shape, spacing, present, problems);
    }

    private static int[] Spatial(int[] shape) => [.. shape.Take(3), .. Enumerable.Repeat(1, Math.Max(0, 3 - shape.Length))];

    private static string Colours(int channels) => channels switch { 1 => "grey", 3 => "RGB", _ => "multi-channel" };

    /// <summary>3 for RGB(A) images (alpha is dropped), else the product of the dimensions beyond the third (1 for 3-D).</summary>
    private static int ChannelsOf(VolumeHeader h)
    {
        if (h.Type is VoxelType.Rgb24 or VoxelType.Rgba32) return 3;
        int c = 1;
        for (int i = 3; i < h.Shape.Length; i++) c *= h.Shape[i];
        return c;
    }

    /// <summary>Null when spatial shape and affine agree within the tolerance, else the reason.</summary>
    private string? Compare(VolumeHeader a, VolumeHeader b)
    {
        var sa = Spatial(a.Shape);
        var sb = Spatial(b.Shape);
        if (!sa.SequenceEqual(sb)) return $"shape [{string.Join(",", sb)}] ≠ [{string.Join(",", sa)}]";
        for (int i = 0; i < 12; i++)
            if (!_tol.Same(a.Affine[i], b.Affine[i]))
                return $"affine differs (row {i / 4}, column {i % 4}: {b.Affine[i]:0.######} vs {a.Affine[i]:0.######})";
        return null;
    }

    private static string Relative(SegmentationDataset ds, string path) => Path.GetRelativePath(ds.Root, path);

    /// <summary>Messages usually start with the full path; the report already names the file.</summary>
    private static string Strip(string message, string path) =>
        message.StartsWith(path + ": ", StringComparison.Ordinal) ? message[(path.Length + 2)..] : message;
}

/// <summary>Distinct integer values of a label map and a count of non-integer voxels, read by exact element type.</summary>
internal sealed record LabelStats(IReadOnlyList<int> Values, long NonInteger, double NonIntegerExample)
{
    public static LabelStats Of(Volume v)
    {
        if (v.Type is VoxelType.Rgb24 or VoxelType.Rgba32)
            throw new InvalidDataException($"{v.Source}: label map is colour ({v.Type}); label maps must be integer grey images");
        var t = v.Data.GetType().GetElementType();
        if (!v.IsScaled)
        {
            if (t == typeof(byte)) return Counted(((byte[])v.Data).Select(x => (int)x), 256, 0);
            if (t == typeof(sbyte)) return Counted(((sbyte[])v.Data).Select(x => (int)x), 256, 128);
            if (t == typeof(ushort)) return Counted(((ushort[])v.Data).Select(x => (int)x), 65536, 0);
            if (t == typeof(short)) return Counted(((short[])v.Data).Select(x => (int)x), 65536, 32768);
        }
        var set = new HashSet<long>();
        long nonInt = 0;
        double example = 0;
        for (long i = 0; i < v.VoxelCount; i++)
        {
            var x = VoxelValues.Get(v.Data, i);
            if (v.IsScaled) x = x * v.Slope + v.Intercept;
            if (x != Math.Floor(x) || !double.IsFinite(x) || Math.Abs(x) > int.MaxValue)
            {
                if (nonInt++ == 0) example = x;
                continue;
            }
            set.Add((long)x);
        }
        return new LabelStats(set.Select(x => (int)x).OrderBy(x => x).ToList(), nonInt, example);
    }

    private static LabelStats Counted(IEnumerable<int> values, int range, int offset)
    {
        var seen = new bool[range];
        foreach (var x in values) seen[x + offset] = true;
        var list = new List<int>();
        for (int i = 0; i < range; i++) if (seen[i]) list.Add(i - offset);
        return new LabelStats(list, 0, 0);
    }
}
