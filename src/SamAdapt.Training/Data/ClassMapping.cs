using System.Globalization;
using SamAdapt.Imaging.Datasets;

namespace SamAdapt.Training.Data;

/// <summary>
/// Maps label-map values of a dataset to the contiguous class indices the model predicts: class 0 is background,
/// class i (1..K) holds the values of group i. Values in no group become background. Text form (<c>--labels</c>):
/// groups separated by ',', values within a group joined by '+', e.g. <c>1,2,3</c> or MA-SAM's BTCV merge
/// <c>1,2,3,4,5,6,7,8,9,10,11,12+13</c>. <c>Parse(m.ToString())</c> gives the same groups.
/// </summary>
public sealed class ClassMapping
{
    private readonly Dictionary<int, int> _toClass = new();

    public ClassMapping(IReadOnlyList<IReadOnlyList<int>> groups, IReadOnlyList<string>? names = null)
    {
        if (groups.Count == 0) throw new ArgumentException("at least one foreground label is needed");
        if (groups.Count > 255) throw new ArgumentException($"at most 255 foreground classes are supported, got {groups.Count}");
        if (names is not null && names.Count != groups.Count) throw new ArgumentException($"{names.Count} names for {groups.Count} classes");
        for (int g = 0; g < groups.Count; g++)
        {
            if (groups[g].Count == 0) throw new ArgumentException($"class {g + 1} has no label value");
            foreach (var v in groups[g])
            {
                if (v == 0) throw new ArgumentException("label 0 is background and cannot be a foreground class");
                if (!_toClass.TryAdd(v, g + 1)) throw new ArgumentException($"label value {v} is listed twice");
            }
        }
        Groups = groups.Select(g => (IReadOnlyList<int>)g.ToArray()).ToArray();
        ClassNames = ["background", .. names ?? Groups.Select(g => string.Join("+", g.Select(v => v.ToString(CultureInfo.InvariantCulture))))];
    }

    /// <summary>Label values of each foreground class; class i + 1 = Groups[i].</summary>
    public IReadOnlyList<IReadOnlyList<int>> Groups { get; }

    /// <summary>Class names, index 0 = "background".</summary>
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>Classes including background (K + 1): the model's output channels.</summary>
    public int NumClasses => Groups.Count + 1;

    /// <summary>Class index of a label-map value (0 for values in no group).</summary>
    public int Map(int value) => value == 0 ? 0 : _toClass.GetValueOrDefault(value);

    /// <summary>A lookup table for values 0..maxValue (values above → background).</summary>
    public byte[] Lut(int maxValue)
    {
        var lut = new byte[maxValue + 1];
        for (int v = 1; v <= maxValue; v++) lut[v] = (byte)Map(v);
        return lut;
    }

    /// <summary>The label value written back for a class (the first value of its group; 0 for background).</summary>
    public int ValueOf(int classIndex) => classIndex == 0 ? 0 : Groups[classIndex - 1][0];

    public override string ToString() =>
        string.Join(",", Groups.Select(g => string.Join("+", g.Select(v => v.ToString(CultureInfo.InvariantCulture)))));

    /// <summary>Parses <c>1,2,3</c> / <c>1,2+3</c>; names are taken from <paramref name="dataset"/> when given.</summary>
    public static ClassMapping Parse(string text, SegmentationDataset? dataset = null)
    {
        if (string.IsNullOrWhiteSpace(text)) throw new FormatException("empty label list; expected e.g. 1,2,3 or 1,2+3");
        var groups = new List<IReadOnlyList<int>>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            var values = new List<int>();
            foreach (var v in part.Split('+', StringSplitOptions.TrimEntries))
                values.Add(int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var x) && x > 0
                    ? x : throw new FormatException($"label list '{text}': '{v}' is not a positive integer label value"));
            groups.Add(values);
        }
        try
        {
            return new ClassMapping(groups, dataset is null ? null : groups.Select(g => NameOf(dataset, g)).ToArray());
        }
        catch (ArgumentException e)
        {
            throw new FormatException($"label list '{text}': {e.Message}", e);
        }
    }

    /// <summary>Every foreground label of a dataset, one class each, in value order, named from dataset.json.</summary>
    public static ClassMapping FromDataset(SegmentationDataset dataset)
    {
        var values = dataset.Labels.Where(l => !l.IsRegion).SelectMany(l => l.Values).Where(v => v != 0).Distinct().Order().ToList();
        if (values.Count == 0) throw new InvalidDataException($"{dataset.Root}: dataset.json declares no foreground label");
        return new ClassMapping(values.Select(v => (IReadOnlyList<int>)[v]).ToList(), values.Select(v => dataset.LabelName(v) ?? v.ToString(CultureInfo.InvariantCulture)).ToList());
    }

    private static string NameOf(SegmentationDataset ds, IReadOnlyList<int> group) =>
        string.Join("+", group.Select(v => ds.LabelName(v) ?? v.ToString(CultureInfo.InvariantCulture)));
}
