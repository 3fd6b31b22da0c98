using SamAdapt.Training.Augmentation;

namespace SamAdapt.Training.Data;

/// <summary>
/// A train/validation split by case. Both lists are sorted (ordinal) so the split text in a run config is stable.
/// </summary>
public sealed record DatasetSplit(IReadOnlyList<string> TrainCases, IReadOnlyList<string> ValidationCases)
{
    /// <summary>
    /// <list type="bullet">
    /// <item><paramref name="validationCases"/> given: those cases (they must exist; the error lists unknown ones).</item>
    /// <item>else <paramref name="validationFraction"/> &gt; 0 and at least 2 cases: round(fraction·n) cases, at least
    /// 1 and at most n − 1, chosen by a shuffle seeded with <paramref name="seed"/> (independent of the input order).</item>
    /// <item>else: no validation cases.</item>
    /// </list>
    /// </summary>
    /// <item>With <paramref name="caseClasses"/> (the foreground classes each case's label holds), the fraction's cases are
    /// chosen so that the validation cases together hold every class that can be spared: greedily, the case adding the
    /// most classes not yet covered (ties in the seeded shuffle order), never one that would take the last training
    /// case of a class away; the rest of the quota follows the shuffle. <see cref="MissingValidationClasses"/> lists
    /// the classes still absent from validation.</item>
    public static DatasetSplit Create(IEnumerable<string> caseIds, IReadOnlyCollection<string>? validationCases = null,
        double validationFraction = 0, int seed = 1234, IReadOnlyDictionary<string, IReadOnlyCollection<int>>? caseClasses = null)
    {
        var ids = caseIds.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        if (ids.Count == 0) throw new InvalidDataException("the dataset has no labelled training case");
        if (validationCases is { Count: > 0 })
        {
            var set = new HashSet<string>(ids, StringComparer.Ordinal);
            var unknown = validationCases.Where(v => !set.Contains(v)).ToList();
            if (unknown.Count > 0)
                throw new ArgumentException($"validation case(s) not in the dataset: {string.Join(", ", unknown)} (cases: {Preview(ids)})");
            var val = validationCases.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
            if (val.Count == ids.Count) throw new ArgumentException("every case is a validation case; nothing is left to train on");
            return new DatasetSplit(ids.Except(val, StringComparer.Ordinal).ToList(), val);
        }
        if (!(validationFraction >= 0 && validationFraction < 1))
            throw new ArgumentException($"validation fraction must be within [0, 1), got {validationFraction}");
        if (validationFraction == 0 || ids.Count < 2) return new DatasetSplit(ids, []);
        int n = Math.Clamp((int)Math.Round(validationFraction * ids.Count, MidpointRounding.AwayFromZero), 1, ids.Count - 1);
        var order = ids.ToArray();
        var rng = SampleRandom.Create(seed, 0, 0, SampleRandom.SplitStream);
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        List<string> v;
        if (caseClasses is null) v = order.Take(n).ToList();
        else
        {
            IReadOnlyCollection<int> Of(string id) => caseClasses.TryGetValue(id, out var c) ? c : [];
            var trainCount = new Dictionary<int, int>();
            foreach (var id in ids) foreach (var c in Of(id)) trainCount[c] = trainCount.GetValueOrDefault(c) + 1;
            var covered = new HashSet<int>();
            v = [];
            bool Spare(string id) => Of(id).All(c => trainCount[c] > 1);
            while (v.Count < n)
            {
                string? best = null;
                int gain = 0;
                foreach (var id in order)
                {
                    if (v.Contains(id) || !Spare(id)) continue;
                    int g = Of(id).Count(c => !covered.Contains(c));
                    if (g > gain) { best = id; gain = g; }
                }
                if (best is null) break;
                v.Add(best);
                foreach (var c in Of(best)) { covered.Add(c); trainCount[c]--; }
            }
            foreach (bool spareOnly in new[] { true, false })
                foreach (var id in order)
                {
                    if (v.Count >= n) break;
                    if (v.Contains(id) || (spareOnly && !Spare(id))) continue;
                    v.Add(id);
                    foreach (var c in Of(id)) { covered.Add(c); trainCount[c]--; }
                }
            var all = ids.SelectMany(Of).ToHashSet();
            v = v.Order(StringComparer.Ordinal).ToList();
            return new DatasetSplit(ids.Except(v, StringComparer.Ordinal).ToList(), v)
            { MissingValidationClasses = all.Where(c => !covered.Contains(c)).Order().ToList() };
        }
        v = v.Order(StringComparer.Ordinal).ToList();
        return new DatasetSplit(ids.Except(v, StringComparer.Ordinal).ToList(), v);
    }

    /// <summary>Foreground classes (indices) that some case holds but no validation case does (filled when the split
    /// was made from a fraction with the cases' classes known; empty otherwise).</summary>
    public IReadOnlyList<int> MissingValidationClasses { get; init; } = [];

    private static string Preview(List<string> ids) => string.Join(", ", ids.Take(20)) + (ids.Count > 20 ? $", … ({ids.Count} in all)" : "");
}
