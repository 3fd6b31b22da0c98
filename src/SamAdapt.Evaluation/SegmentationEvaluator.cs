using System.Collections.Concurrent;
using SamAdapt.Imaging;

namespace SamAdapt.Evaluation;

/// <summary>A prediction file and its ground truth, matched by case id.</summary>
public sealed record CasePair(string CaseId, string PredictionPath, string GroundTruthPath);

/// <summary>Raised when prediction and ground truth are not on the same voxel grid (an <see cref="IOException"/>, like other bad-input errors, since <see cref="InvalidDataException"/> is sealed).</summary>
public sealed class GridMismatchException(string message) : IOException(message);

/// <summary>
/// Evaluates label maps against ground truth: Dice, HD95 and NSD per case and label (definitions in
/// <see cref="SurfaceDistances"/>, <see cref="BinaryMetrics"/>), empty-mask handling per <see cref="EmptyPolicy"/>,
/// and means per <see cref="EvaluationReport"/>. Thread-safe; cases run in parallel.
/// </summary>
public sealed class SegmentationEvaluator
{
    public SegmentationEvaluator(EvaluationOptions options)
    {
        options.Validate();
        Options = options;
    }

    public EvaluationOptions Options { get; }

    /// <summary>One case from volumes: checks the grids match, then uses the GT's spacing (mm).</summary>
    public CaseResult EvaluateCase(string caseId, Volume prediction, Volume groundTruth)
    {
        EnsureSameGrid(caseId, prediction, groundTruth, Options.AffineTolerance);
        var pred = LabelMap.FromVolume(prediction);
        var gt = LabelMap.FromVolume(groundTruth);
        return EvaluateCase(caseId, pred.Data, gt.Data, gt.Shape, gt.Spacing);
    }

    /// <summary>One case from label maps; the prediction's shape must equal the GT's, the GT's spacing is used.</summary>
    public CaseResult EvaluateCase(string caseId, LabelMap prediction, LabelMap groundTruth)
    {
        if (!prediction.Shape.SequenceEqual(groundTruth.Shape))
            throw new GridMismatchException($"case '{caseId}': prediction shape [{string.Join(",", prediction.Shape)}] differs from ground-truth shape [{string.Join(",", groundTruth.Shape)}]. {ResampleHint(null, null)}");
        return EvaluateCase(caseId, prediction.Data, groundTruth.Data, groundTruth.Shape, groundTruth.Spacing);
    }

    /// <summary>One case from flat label arrays (axis 0 fastest) sharing <paramref name="shape"/> and <paramref name="spacing"/> (mm).</summary>
    public CaseResult EvaluateCase(string caseId, ReadOnlySpan<int> prediction, ReadOnlySpan<int> groundTruth, int[] shape, double[] spacing)
    {
        var s = LabelMap.NormalizeShape(shape);
        long n = 1;
        foreach (var d in s) n *= d;
        if (prediction.Length != n || groundTruth.Length != n)
            throw new ArgumentException($"case '{caseId}': prediction has {prediction.Length} voxels and ground truth {groundTruth.Length}, shape [{string.Join(",", shape)}] needs {n}");
        SurfaceDistances.CheckSpacing(spacing, s.Length);
        var sp = Options.UseVoxelUnits ? Enumerable.Repeat(1.0, s.Length).ToArray() : spacing[..s.Length];
        return new CaseResult(caseId, LabelStatistics.Evaluate(prediction, groundTruth, s, sp, Options));
    }

    /// <summary>Several in-memory cases (in parallel) into a report.</summary>
    public EvaluationReport Evaluate(IEnumerable<(string CaseId, Volume Prediction, Volume GroundTruth)> cases, CancellationToken cancellation = default)
    {
        var list = cases.ToList();
        CheckUniqueIds(list.Select(c => c.CaseId));
        var results = new ConcurrentBag<CaseResult>();
        RunParallel(list, c => c.CaseId, c => results.Add(EvaluateCase(c.CaseId, c.Prediction, c.GroundTruth)), cancellation);
        return new EvaluationReport(Options, results);
    }

    /// <summary>
    /// Matched files: each pair is loaded with <paramref name="load"/> (e.g. the NIfTI reader), evaluated, and released;
    /// <paramref name="progress"/> gets each case as it finishes (from worker threads).
    /// </summary>
    public EvaluationReport EvaluateFiles(IReadOnlyList<CasePair> pairs, Func<string, Volume> load,
        IProgress<CaseResult>? progress = null, CancellationToken cancellation = default)
    {
        CheckUniqueIds(pairs.Select(p => p.CaseId));
        var results = new ConcurrentBag<CaseResult>();
        RunParallel(pairs, p => p.CaseId, p =>
        {
            var gt = load(p.GroundTruthPath);
            var pred = load(p.PredictionPath);
            if (pred.Source.Length == 0) pred.Source = p.PredictionPath;
            if (gt.Source.Length == 0) gt.Source = p.GroundTruthPath;
            var r = EvaluateCase(p.CaseId, pred, gt);
            results.Add(r);
            progress?.Report(r);
        }, cancellation);
        return new EvaluationReport(Options, results);
    }

    /// <summary>Matches prediction and GT folders by case id and evaluates them: the body of <c>samadapt evaluate</c>.</summary>
    public EvaluationReport EvaluateFolders(string predictionDir, string groundTruthDir, Func<string, Volume> load,
        IReadOnlyList<string>? extensions = null, bool ignoreUnmatchedGroundTruth = false,
        IProgress<CaseResult>? progress = null, CancellationToken cancellation = default) =>
        EvaluateFiles(CaseMatcher.Match(predictionDir, groundTruthDir, extensions, ignoreUnmatchedGroundTruth), load, progress, cancellation);

    private void RunParallel<T>(IReadOnlyList<T> items, Func<T, string> id, Action<T> body, CancellationToken cancellation)
    {
        var errors = new ConcurrentBag<(string Id, Exception Error)>();
        var po = new ParallelOptions { MaxDegreeOfParallelism = Options.MaxDegreeOfParallelism, CancellationToken = cancellation };
        Parallel.ForEach(items, po, (item, state) =>
        {
            try { body(item); }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                errors.Add((id(item), e));
                state.Stop();
            }
        });
        if (!errors.IsEmpty)
        {
            var (caseId, e) = errors.OrderBy(x => x.Id, StringComparer.Ordinal).First();
            if (e is GridMismatchException) throw e;
            if (IsUserError(e))
                throw new InvalidDataException(e.Message.Contains($"'{caseId}'") ? e.Message : $"case '{caseId}': {e.Message}", e);
            throw new InvalidOperationException($"case '{caseId}': {e.GetType().Name}: {e.Message}", e);
        }
    }

    private static bool IsUserError(Exception e) =>
        e is IOException or InvalidDataException or ArgumentException or FormatException or NotSupportedException or UnauthorizedAccessException
            or SamAdapt.Common.ResourceLimitException || e.GetType().Name == "NpyFormatException";

    private static void CheckUniqueIds(IEnumerable<string> ids)
    {
        var dup = ids.GroupBy(x => x, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        if (dup.Count > 0) throw new ArgumentException($"case ids must be unique; repeated: {string.Join(", ", dup)}");
    }

    /// <summary>
    /// Throws <see cref="GridMismatchException"/> unless both volumes have the same shape and affines whose upper
    /// 3×4 entries differ by at most <paramref name="affineTolerance"/> (mm).
    /// </summary>
    public static void EnsureSameGrid(string caseId, Volume prediction, Volume groundTruth, double affineTolerance = 1e-3)
    {
        var ps = LabelMap.NormalizeShape(prediction.Shape);
        var gs = LabelMap.NormalizeShape(groundTruth.Shape);
        string hint = ResampleHint(prediction.Source, groundTruth.Source);
        if (!ps.SequenceEqual(gs))
            throw new GridMismatchException($"case '{caseId}': prediction and ground truth are on different grids: prediction shape [{string.Join(",", ps)}], ground-truth shape [{string.Join(",", gs)}]. {hint}");
        double worst = 0; int wr = 0, wc = 0;
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 4; c++)
            {
                double d = Math.Abs(prediction.Affine[r * 4 + c] - groundTruth.Affine[r * 4 + c]);
                if (!(d <= worst)) { worst = d; wr = r; wc = c; }
            }
        if (!(worst <= affineTolerance))
            throw new GridMismatchException($"case '{caseId}': prediction and ground truth are on different grids: their affines differ by {worst:G4} mm at row {wr}, column {wc} (tolerance {affineTolerance:G4} mm). {hint}");
    }

    internal static string ResampleHint(string? pred, string? gt)
    {
        string p = string.IsNullOrEmpty(pred) ? "PRED" : Quote(pred), g = string.IsNullOrEmpty(gt) ? "GT" : Quote(gt);
        return $"Resample the prediction onto the ground-truth grid first: samadapt convert {p} OUT --like {g} --interp nearest";
    }

    private static string Quote(string s) => s.Contains(' ') ? "\"" + s + "\"" : s;
}

/// <summary>Matches prediction and ground-truth files by case id (file name without its extension).</summary>
public static class CaseMatcher
{
    /// <summary>Extensions tried by default, longest first (NIfTI volumes and 2-D PNG label images).</summary>
    public static IReadOnlyList<string> DefaultExtensions { get; } = [".nii.gz", ".nii", ".png"]; // PNG: 2-D label images (predictions of 2-D inputs)

    /// <summary>The case id of a file name, or null when it has none of the extensions (case-insensitive).</summary>
    public static string? CaseIdOf(string fileName, IReadOnlyList<string>? extensions = null)
    {
        foreach (var ext in (extensions ?? DefaultExtensions).OrderByDescending(e => e.Length))
            if (fileName.Length > ext.Length && fileName.EndsWith(ext, StringComparison.OrdinalIgnoreCase))
                return fileName[..^ext.Length];
        return null;
    }

    /// <summary>
    /// Pairs every prediction with the GT file of the same case id. Throws <see cref="InvalidDataException"/> listing
    /// predictions without GT and (unless <paramref name="ignoreUnmatchedGroundTruth"/>) GT files without prediction,
    /// and for duplicate ids within a folder (e.g. both case.nii and case.nii.gz).
    /// </summary>
    public static IReadOnlyList<CasePair> Match(string predictionDir, string groundTruthDir, IReadOnlyList<string>? extensions = null, bool ignoreUnmatchedGroundTruth = false) =>
        Match(predictionDir, List(groundTruthDir, "ground-truth", extensions), groundTruthDir, extensions, ignoreUnmatchedGroundTruth);

    /// <summary>
    /// <see cref="Match(string, string, IReadOnlyList{string}?, bool)"/> against ground truth given as case id → path
    /// (<paramref name="groundTruthName"/> names its source in errors), e.g. the cases of a dataset.
    /// </summary>
    public static IReadOnlyList<CasePair> Match(string predictionDir, IReadOnlyDictionary<string, string> groundTruth, string groundTruthName,
        IReadOnlyList<string>? extensions = null, bool ignoreUnmatchedGroundTruth = false)
    {
        var preds = List(predictionDir, "prediction", extensions);
        var gts = groundTruth;
        var groundTruthDir = groundTruthName;
        var noGt = preds.Keys.Where(k => !gts.ContainsKey(k)).Order(StringComparer.Ordinal).ToList();
        var noPred = ignoreUnmatchedGroundTruth ? [] : gts.Keys.Where(k => !preds.ContainsKey(k)).Order(StringComparer.Ordinal).ToList();
        if (noGt.Count > 0 || noPred.Count > 0)
        {
            var parts = new List<string>();
            if (noGt.Count > 0) parts.Add($"{noGt.Count} prediction(s) in {predictionDir} have no ground truth in {groundTruthDir}: {Names(noGt, preds)}");
            if (noPred.Count > 0) parts.Add($"{noPred.Count} ground-truth file(s) in {groundTruthDir} have no prediction in {predictionDir}: {Names(noPred, gts)}");
            throw new InvalidDataException("cannot match predictions to ground truth by case id: " + string.Join("; ", parts));
        }
        if (preds.Count == 0)
            throw new InvalidDataException($"no prediction files ({string.Join(", ", extensions ?? DefaultExtensions)}) in {predictionDir}");
        return [.. preds.Keys.Order(StringComparer.Ordinal).Select(k => new CasePair(k, preds[k], gts[k]))];
    }

    private static string Names(List<string> ids, IReadOnlyDictionary<string, string> paths)
    {
        const int max = 50;
        var shown = ids.Take(max).Select(id => Path.GetFileName(paths[id]));
        return string.Join(", ", shown) + (ids.Count > max ? $", … ({ids.Count - max} more)" : "");
    }

    private static Dictionary<string, string> List(string dir, string what, IReadOnlyList<string>? extensions)
    {
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"{what} folder not found: {dir}");
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var path in Directory.EnumerateFiles(dir).Order(StringComparer.Ordinal))
        {
            var id = CaseIdOf(Path.GetFileName(path), extensions);
            if (id is null) continue;
            if (map.TryGetValue(id, out var other))
                throw new InvalidDataException($"two {what} files have case id '{id}': {Path.GetFileName(other)} and {Path.GetFileName(path)}");
            map[id] = path;
        }
        return map;
    }
}
