using System.Globalization;
using SamAdapt.Common;
using SamAdapt.Imaging.Datasets;

namespace SamAdapt.Imaging.Dicom.Seg;

/// <summary>Parses the segment names of `convert --to dicom-seg --names`.</summary>
public static class SegmentNames
{
    /// <summary>
    /// Label value → name from: a dataset.json (or its folder; regions skipped); "1=liver,2=tumour"; or "liver,tumour"
    /// (names of the values 1, 2, … in order). Throws <see cref="SettingsException"/> naming --names.
    /// </summary>
    public static Dictionary<int, string> Parse(string text)
    {
        if (Directory.Exists(text) || (File.Exists(text) && Path.GetFileName(text).Equals(SegmentationDataset.DatasetJson, StringComparison.OrdinalIgnoreCase)))
        {
            var root = Directory.Exists(text) ? text : Path.GetDirectoryName(Path.GetFullPath(text))!;
            if (!File.Exists(Path.Combine(root, SegmentationDataset.DatasetJson)))
                throw new SettingsException($"--names: {root} has no {SegmentationDataset.DatasetJson}");
            var ds = SegmentationDataset.Load(root);
            return ds.Labels.Where(l => !l.IsRegion && l.Values[0] != 0).ToDictionary(l => l.Values[0], l => l.Name);
        }
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var d = new Dictionary<int, string>();
        bool explicitValues = parts.Any(p => p.Contains('='));
        for (int i = 0; i < parts.Length; i++)
        {
            var p = parts[i];
            int value;
            string name;
            if (explicitValues)
            {
                int eq = p.IndexOf('=');
                if (eq < 0 || !int.TryParse(p[..eq].Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out value) || value <= 0)
                    throw new SettingsException($"--names: expected VALUE=NAME pairs with positive integer values (e.g. 1=liver,2=tumour), found '{p}'");
                name = p[(eq + 1)..].Trim();
            }
            else
            {
                value = i + 1;
                name = p;
            }
            if (name.Length == 0) throw new SettingsException($"--names: empty name for label {value} in '{text}'");
            if (!d.TryAdd(value, name)) throw new SettingsException($"--names: label {value} is named twice");
        }
        return d;
    }
}
