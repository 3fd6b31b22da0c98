using System.Globalization;
using System.Text;
using System.Text.Json;

namespace SamAdapt.Methods.Msa;

/// <summary>One prompt setting of <c>evaluate-prompted</c>: n random positive clicks, a box at a given IoU with the target, or N iterative clicks.</summary>
public sealed record PromptSetting(string Name, int Clicks = 0, double BoxIoU = 0, int Iterative = 0)
{
    /// <summary>"1pt", "3pt", "box0.5", "box0.75", "iterative:N" (comma-separated in a protocol).</summary>
    public static IReadOnlyList<PromptSetting> ParseProtocol(string text)
    {
        var list = new List<PromptSetting>();
        foreach (var raw in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var t = raw.ToLowerInvariant();
            if (t.EndsWith("pt", StringComparison.Ordinal) && int.TryParse(t[..^2], NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n >= 1)
                list.Add(new PromptSetting(t, Clicks: n));
            else if (t.StartsWith("box", StringComparison.Ordinal) && double.TryParse(t[3..], NumberStyles.Float, CultureInfo.InvariantCulture, out double iou) && iou > 0 && iou <= 1)
                list.Add(new PromptSetting(t, BoxIoU: iou));
            else if (t.StartsWith("iterative:", StringComparison.Ordinal) && int.TryParse(t["iterative:".Length..], NumberStyles.None, CultureInfo.InvariantCulture, out int r) && r >= 1)
                list.Add(new PromptSetting(t, Iterative: r));
            else throw new ArgumentException($"--protocol: unknown prompt setting '{raw}'; expected Npt (e.g. 1pt, 3pt), boxIOU (e.g. box0.5, box0.75) or iterative:N");
        }
        if (list.Count == 0) throw new ArgumentException("--protocol: no prompt setting given");
        if (list.Select(s => s.Name).Distinct().Count() != list.Count) throw new ArgumentException($"--protocol: a setting is repeated in '{text}'");
        return list;
    }
}

/// <summary>A segmented slice: the mask (rows × cols) and the model's low-resolution logits, which the next interactive click feeds back as
/// the mask prompt (null when the segmenter has none).</summary>
public sealed record SlicePrediction(bool[] Mask, float[]? LowResLogits = null);

/// <summary>
/// Segments one target slice of one case from prompts in the slice's own pixel frame (x = column, y = row) and, for interactive clicks
/// after the first, the previous prediction's <see cref="SlicePrediction.LowResLogits"/> as the mask prompt (as training feeds them).
/// </summary>
public delegate SlicePrediction SliceSegmenter(int caseIndex, int slice, IReadOnlyList<Click> clicks, PromptBox? box, float[]? previousLogits);

/// <summary>The results of <see cref="PromptedEvaluator"/>: per setting, per class Dice (mean over cases holding the class); for iterative
/// settings NoC@85/90 and the mean Dice after each click.</summary>
public sealed record PromptedReport(IReadOnlyList<string> ClassNames, IReadOnlyList<PromptedSettingResult> Settings)
{
    public string ToJson() => JsonSerializer.Serialize(new
    {
        classes = ClassNames,
        settings = Settings.Select(s => new
        {
            name = s.Name,
            dice = ClassNames.Select((c, i) => (c, i)).ToDictionary(x => x.c, x => Num(s.Dice[x.i])),
            mean_dice = Num(s.MeanDice),
            targets = s.Targets,
            noc85 = s.Noc85 is { } a ? Num(a) : null,
            noc90 = s.Noc90 is { } b ? Num(b) : null,
            dice_after_click = s.DiceAfterClick?.Select(Num).ToList(),
        }),
    }, new JsonSerializerOptions { WriteIndented = true });

    private static double? Num(double v) => double.IsNaN(v) ? null : Math.Round(v, 6);

    public string ToCsv()
    {
        var sb = new StringBuilder("setting,class,dice\n");
        foreach (var s in Settings)
        {
            for (int i = 0; i < ClassNames.Count; i++) sb.Append(CultureInfo.InvariantCulture, $"{s.Name},{ClassNames[i]},{F(s.Dice[i])}\n");
            sb.Append(CultureInfo.InvariantCulture, $"{s.Name},mean,{F(s.MeanDice)}\n");
            if (s.Noc85 is { } a) sb.Append(CultureInfo.InvariantCulture, $"{s.Name},noc85,{F(a)}\n");
            if (s.Noc90 is { } b) sb.Append(CultureInfo.InvariantCulture, $"{s.Name},noc90,{F(b)}\n");
        }
        return sb.ToString();
    }

    public string ToMarkdown()
    {
        var sb = new StringBuilder();
        sb.Append("| setting | ").Append(string.Join(" | ", ClassNames)).Append(" | mean | NoC@85 | NoC@90 |\n");
        sb.Append("|---|").Append(string.Concat(ClassNames.Select(_ => "---:|"))).Append("---:|---:|---:|\n");
        foreach (var s in Settings)
            sb.Append(CultureInfo.InvariantCulture, $"| {s.Name} | {string.Join(" | ", s.Dice.Select(P))} | {P(s.MeanDice)} | {(s.Noc85 is { } a ? a.ToString("F2", CultureInfo.InvariantCulture) : "")} | {(s.Noc90 is { } b ? b.ToString("F2", CultureInfo.InvariantCulture) : "")} |\n");
        sb.Append("\nDice in %, mean over the cases that hold the class; NoC: clicks to reach IoU 0.85 / 0.90 per target slice (capped at the click budget).\n");
        return sb.ToString();
    }

    private static string F(double v) => double.IsNaN(v) ? "" : v.ToString("R", CultureInfo.InvariantCulture);
    private static string P(double v) => double.IsNaN(v) ? "n/a" : (100 * v).ToString("F1", CultureInfo.InvariantCulture);
}

public sealed record PromptedSettingResult(string Name, IReadOnlyList<double> Dice, double MeanDice, int Targets,
    double? Noc85 = null, double? Noc90 = null, IReadOnlyList<double>? DiceAfterClick = null);

/// <summary>
/// evaluate-prompted's computation (docs/methods/msa.md, "Prompted evaluation"): for each case, class present and slice holding it (a
/// target), prompts are simulated from the ground truth with a seeded generator and the target is segmented. Dice per class is computed
/// on each case's whole volume (Σ over its target slices) and averaged over the cases holding the class. Iterative: the first click is the
/// centre of the (whole) target, each next one the centre of the largest error region (<see cref="PromptSimulator.NextClick"/>), with the
/// previous prediction's low-resolution logits as the mask prompt; NoC@85/90
/// is the first click count whose IoU reaches 0.85/0.90 (the budget N when never), averaged over targets; Dice after click i is the
/// mean per-target Dice.
/// </summary>
public static class PromptedEvaluator
{
    /// <param name="labels">Per case, its label planes (slice → rows·cols label values) and the plane size.</param>
    /// <param name="classValues">Foreground label values, in report order.</param>
    public static PromptedReport Evaluate(IReadOnlyList<(int[][] Planes, int Rows, int Cols)> labels, IReadOnlyList<int> classValues, IReadOnlyList<string> classNames,
        IReadOnlyList<PromptSetting> settings, SliceSegmenter segment, int seed)
    {
        var results = new List<PromptedSettingResult>();
        foreach (var setting in settings)
        {
            var rng = new Random(PromptSimulator.StableSeed(seed, setting.Name.Length, (int)(setting.BoxIoU * 1000), setting.Clicks, setting.Iterative));
            var perClassCase = classValues.Select(_ => new List<double>()).ToArray();
            int targets = 0;
            var noc85 = new List<double>();
            var noc90 = new List<double>();
            var afterClick = setting.Iterative > 0 ? new double[setting.Iterative] : null;
            for (int ci = 0; ci < labels.Count; ci++)
            {
                var (planes, rows, cols) = labels[ci];
                for (int k = 0; k < classValues.Count; k++)
                {
                    double inter = 0, sum = 0;
                    bool present = false;
                    for (int z = 0; z < planes.Length; z++)
                    {
                        var truth = new BinaryMask(planes[z].Select(v => v == classValues[k]).ToArray(), rows, cols);
                        if (truth.IsEmpty) continue;
                        present = true;
                        targets++;
                        bool[] pred;
                        if (setting.Iterative > 0)
                        {
                            var clicks = new List<Click>();
                            pred = new bool[truth.Data.Length];
                            float[]? previous = null;
                            double? n85 = null, n90 = null;
                            for (int r = 0; r < setting.Iterative; r++)
                            {
                                if (PromptSimulator.NextClick(truth, new BinaryMask(pred, rows, cols)) is not { } c) break;
                                clicks.Add(c);
                                var sp = segment(ci, z, clicks, null, previous);
                                (pred, previous) = (sp.Mask, sp.LowResLogits);
                                var (iou, dice) = Overlap(pred, truth.Data);
                                afterClick![r] += dice;
                                if (n85 is null && iou >= 0.85) n85 = r + 1;
                                if (n90 is null && iou >= 0.90) n90 = r + 1;
                                if (r + 1 < setting.Iterative && PromptSimulator.NextClick(truth, new BinaryMask(pred, rows, cols)) is null)
                                    for (int rest = r + 1; rest < setting.Iterative; rest++) afterClick[rest] += dice; // exact: stays
                            }
                            noc85.Add(n85 ?? setting.Iterative);
                            noc90.Add(n90 ?? setting.Iterative);
                        }
                        else if (setting.BoxIoU > 0) pred = segment(ci, z, [], PromptSimulator.BoxWithIoU(truth, setting.BoxIoU, rng), null).Mask;
                        else pred = segment(ci, z, PromptSimulator.Clicks(truth, setting.Clicks, 0, rng), null, null).Mask;
                        for (int i = 0; i < pred.Length; i++)
                        {
                            if (pred[i] && truth.Data[i]) inter++;
                            sum += (pred[i] ? 1 : 0) + (truth.Data[i] ? 1 : 0);
                        }
                    }
                    if (present) perClassCase[k].Add(sum == 0 ? 1 : 2 * inter / sum);
                }
            }
            var dicePerClass = perClassCase.Select(l => l.Count == 0 ? double.NaN : l.Average()).ToList();
            var valid = dicePerClass.Where(v => !double.IsNaN(v)).ToList();
            results.Add(new PromptedSettingResult(setting.Name, dicePerClass, valid.Count == 0 ? double.NaN : valid.Average(), targets,
                setting.Iterative > 0 && noc85.Count > 0 ? noc85.Average() : null, setting.Iterative > 0 && noc90.Count > 0 ? noc90.Average() : null,
                afterClick?.Select(v => targets == 0 ? double.NaN : v / targets).ToList()));
        }
        return new PromptedReport(classNames, results);
    }

    /// <summary>IoU and Dice of two masks (both 1 when both are empty).</summary>
    public static (double IoU, double Dice) Overlap(bool[] a, bool[] b)
    {
        double inter = 0, pa = 0, pb = 0;
        for (int i = 0; i < a.Length; i++) { if (a[i] && b[i]) inter++; if (a[i]) pa++; if (b[i]) pb++; }
        double union = pa + pb - inter;
        return union == 0 ? (1, 1) : (inter / union, 2 * inter / (pa + pb));
    }
}
