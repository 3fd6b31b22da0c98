using System.Globalization;
using System.Security;
using System.Text;

namespace SamAdapt.Training.Engine;

/// <summary>
/// curves.svg: two stacked panels sharing the step axis — the training loss (raw, faint, and a moving average) and the
/// validation Dice (mean, bold, and per class, thin) — with axes, ticks, grid lines, labels and legends. Plain SVG 1.1,
/// no scripts or external resources.
/// </summary>
public static class CurvesSvg
{
    private const double Width = 960, PanelHeight = 300, Left = 70, Right = 200, Top = 50, Gap = 70, Bottom = 50;

    private static readonly string[] Palette =
    [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
        "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd",
    ];

    public static string Render(IReadOnlyList<TrainLogRow> train, IReadOnlyList<ValLogRow> val, IReadOnlyList<string> classNames, string title = "Training curves")
    {
        double height = Top + 2 * PanelHeight + Gap + Bottom;
        double plotW = Width - Left - Right;
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{height}\" viewBox=\"0 0 {Width} {height}\" font-family=\"DejaVu Sans, Arial, Helvetica, sans-serif\" font-size=\"12\">\n");
        sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"0\" y=\"0\" width=\"{Width}\" height=\"{height}\" fill=\"#ffffff\"/>\n");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{Width / 2}\" y=\"28\" text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\">{Esc(title)}</text>\n");

        var points = train.Where(r => !r.Skipped && double.IsFinite(r.Loss)).ToList();
        long maxStep = Math.Max(1, Math.Max(train.Count == 0 ? 0 : train.Max(r => r.Step), val.Count == 0 ? 0 : val.Max(r => r.Step)));
        var xTicks = NiceTicks(0, maxStep, 8);
        double xMax = Math.Max(maxStep, xTicks[^1]);

        // ---- loss panel ----
        double y0 = Top;
        double lossMin = points.Count == 0 ? 0 : Math.Min(0, points.Min(p => p.Loss));
        double lossMax = points.Count == 0 ? 1 : points.Max(p => p.Loss);
        if (lossMax <= lossMin) lossMax = lossMin + 1;
        var lossTicks = NiceTicks(lossMin, lossMax, 6);
        double lo = lossTicks[0], hi = lossTicks[^1];
        Panel(sb, y0, xTicks, xMax, lossTicks, lo, hi, "loss", plotW);
        if (points.Count > 0)
        {
            Func<double, double> X = s => Left + s / xMax * plotW;
            Func<double, double> Y = v => y0 + PanelHeight - (v - lo) / (hi - lo) * PanelHeight;
            sb.Append(Polyline(points.Select(p => (X(p.Step), Y(p.Loss))), "#9ecae1", 1));
            int window = Math.Max(1, points.Count / 50);
            if (window > 1)
                sb.Append(Polyline(MovingAverage(points, window).Select(p => (X(p.Step), Y(p.Loss))), "#08519c", 2));
            Legend(sb, Left + plotW + 15, y0 + 10, window > 1
                ? [("#9ecae1", 1, "loss"), ("#08519c", 2, $"mean of {window}")]
                : [("#08519c", 1, "loss")]);
        }
        else sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left + plotW / 2}\" y=\"{y0 + PanelHeight / 2}\" text-anchor=\"middle\" fill=\"#888\">no steps yet</text>\n");
        int skipped = train.Count(r => r.Skipped);
        if (skipped > 0)
        {
            Func<double, double> X = s => Left + s / xMax * plotW;
            foreach (var r in train.Where(r => r.Skipped))
                sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{F(X(r.Step))}\" y1=\"{F(y0 + PanelHeight - 6)}\" x2=\"{F(X(r.Step))}\" y2=\"{F(y0 + PanelHeight)}\" stroke=\"#d62728\" stroke-width=\"1\"/>\n");
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(Left + plotW + 15)}\" y=\"{F(y0 + 70)}\" fill=\"#d62728\">{skipped} non-finite step(s)</text>\n");
        }

        // ---- validation panel ----
        double y1 = Top + PanelHeight + Gap;
        var diceTicks = new[] { 0, 0.2, 0.4, 0.6, 0.8, 1.0 };
        Panel(sb, y1, xTicks, xMax, diceTicks, 0, 1, "validation Dice", plotW);
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(Left + plotW / 2)}\" y=\"{F(y1 + PanelHeight + 40)}\" text-anchor=\"middle\">iteration</text>\n");
        if (val.Count > 0)
        {
            Func<double, double> X = s => Left + s / xMax * plotW;
            Func<double, double> Y = v => y1 + PanelHeight - Math.Clamp(v, 0, 1) * PanelHeight;
            var legend = new List<(string, double, string)>();
            for (int c = 0; c < classNames.Count; c++)
            {
                var color = Palette[c % Palette.Length];
                var pts = val.Where(r => c < r.Dice.Count && double.IsFinite(r.Dice[c])).Select(r => (X(r.Step), Y(r.Dice[c]))).ToList();
                if (pts.Count == 0) continue;
                sb.Append(Polyline(pts, color, 1, 0.8));
                if (pts.Count == 1) sb.Append(Dot(pts[0], color, 2.5));
                legend.Add((color, 1, classNames[c]));
            }
            var mean = val.Where(r => double.IsFinite(r.MeanDice)).Select(r => (X(r.Step), Y(r.MeanDice))).ToList();
            sb.Append(Polyline(mean, "#000000", 2.5));
            foreach (var p in mean) sb.Append(Dot(p, "#000000", 3));
            legend.Insert(0, ("#000000", 2.5, "mean"));
            var best = val.Where(r => double.IsFinite(r.MeanDice)).OrderByDescending(r => r.MeanDice).ThenBy(r => r.Step).FirstOrDefault();
            Legend(sb, Left + plotW + 15, y1 + 10, legend);
            if (best != null)
            {
                sb.Append(CultureInfo.InvariantCulture, $"<circle cx=\"{F(X(best.Step))}\" cy=\"{F(Y(best.MeanDice))}\" r=\"6\" fill=\"none\" stroke=\"#d62728\" stroke-width=\"1.5\"/>\n");
                double ty = y1 + 10 + 18 * legend.Count + 10 + 16;
                sb.Append(CultureInfo.InvariantCulture, $"<circle cx=\"{F(Left + plotW + 22)}\" cy=\"{F(ty - 4)}\" r=\"5\" fill=\"none\" stroke=\"#d62728\" stroke-width=\"1.5\"/>\n");
                sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(Left + plotW + 32)}\" y=\"{F(ty)}\">best mean {best.MeanDice.ToString("F4", CultureInfo.InvariantCulture)} at {best.Step}</text>\n");
            }
        }
        else sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(Left + plotW / 2)}\" y=\"{F(y1 + PanelHeight / 2)}\" text-anchor=\"middle\" fill=\"#888\">no validation yet</text>\n");
        sb.Append("</svg>\n");
        return sb.ToString();
    }

    private static void Panel(StringBuilder sb, double y0, double[] xTicks, double xMax, IReadOnlyList<double> yTicks, double lo, double hi, string yLabel, double plotW)
    {
        sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"{F(Left)}\" y=\"{F(y0)}\" width=\"{F(plotW)}\" height=\"{F(PanelHeight)}\" fill=\"#fafafa\" stroke=\"#000000\" stroke-width=\"1\"/>\n");
        foreach (var t in yTicks)
        {
            double y = y0 + PanelHeight - (t - lo) / (hi - lo) * PanelHeight;
            sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{F(Left)}\" y1=\"{F(y)}\" x2=\"{F(Left + plotW)}\" y2=\"{F(y)}\" stroke=\"#dddddd\" stroke-width=\"1\"/>\n");
            sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{F(Left - 5)}\" y1=\"{F(y)}\" x2=\"{F(Left)}\" y2=\"{F(y)}\" stroke=\"#000000\"/>\n");
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(Left - 8)}\" y=\"{F(y + 4)}\" text-anchor=\"end\">{Esc(Label(t))}</text>\n");
        }
        foreach (var t in xTicks)
        {
            double x = Left + t / xMax * plotW;
            sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{F(x)}\" y1=\"{F(y0)}\" x2=\"{F(x)}\" y2=\"{F(y0 + PanelHeight)}\" stroke=\"#eeeeee\" stroke-width=\"1\"/>\n");
            sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{F(x)}\" y1=\"{F(y0 + PanelHeight)}\" x2=\"{F(x)}\" y2=\"{F(y0 + PanelHeight + 5)}\" stroke=\"#000000\"/>\n");
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(x)}\" y=\"{F(y0 + PanelHeight + 19)}\" text-anchor=\"middle\">{Esc(Label(t))}</text>\n");
        }
        // redraw the frame over the grid
        sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"{F(Left)}\" y=\"{F(y0)}\" width=\"{F(plotW)}\" height=\"{F(PanelHeight)}\" fill=\"none\" stroke=\"#000000\" stroke-width=\"1\"/>\n");
        double cy = y0 + PanelHeight / 2;
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"18\" y=\"{F(cy)}\" text-anchor=\"middle\" transform=\"rotate(-90 18 {F(cy)})\">{Esc(yLabel)}</text>\n");
    }

    private static void Legend(StringBuilder sb, double x, double y, IReadOnlyList<(string Color, double Width, string Label)> items)
    {
        double h = 18 * items.Count + 10;
        sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"{F(x - 5)}\" y=\"{F(y - 5)}\" width=\"{F(Right - 25)}\" height=\"{F(h)}\" fill=\"#ffffff\" stroke=\"#cccccc\"/>\n");
        for (int i = 0; i < items.Count; i++)
        {
            var (c, w, label) = items[i];
            double yy = y + 10 + 18 * i;
            sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{F(x)}\" y1=\"{F(yy)}\" x2=\"{F(x + 24)}\" y2=\"{F(yy)}\" stroke=\"{c}\" stroke-width=\"{F(w)}\"/>\n");
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(x + 30)}\" y=\"{F(yy + 4)}\">{Esc(label.Length > 20 ? label[..19] + "…" : label)}</text>\n");
        }
    }

    private static string Polyline(IEnumerable<(double X, double Y)> pts, string color, double width, double opacity = 1)
    {
        var p = string.Join(" ", pts.Select(q => F(q.X) + "," + F(q.Y)));
        return string.Create(CultureInfo.InvariantCulture,
            $"<polyline points=\"{p}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"{F(width)}\" stroke-opacity=\"{F(opacity)}\" stroke-linejoin=\"round\"/>\n");
    }

    private static string Dot((double X, double Y) p, string color, double r) =>
        string.Create(CultureInfo.InvariantCulture, $"<circle cx=\"{F(p.X)}\" cy=\"{F(p.Y)}\" r=\"{F(r)}\" fill=\"{color}\"/>\n");

    private static IEnumerable<TrainLogRow> MovingAverage(List<TrainLogRow> pts, int window)
    {
        double sum = 0;
        for (int i = 0; i < pts.Count; i++)
        {
            sum += pts[i].Loss;
            if (i >= window) sum -= pts[i - window].Loss;
            if (i >= window - 1) yield return pts[i] with { Loss = sum / window };
        }
    }

    /// <summary>Round tick values covering [lo, hi] (about <paramref name="count"/> of them), first ≤ lo, last ≥ hi.</summary>
    public static double[] NiceTicks(double lo, double hi, int count)
    {
        if (!(hi > lo)) hi = lo + 1;
        double raw = (hi - lo) / Math.Max(1, count - 1);
        double mag = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double step = new[] { 1.0, 2, 2.5, 5, 10 }.Select(m => m * mag).First(s => s >= raw * 0.999);
        double start = Math.Floor(lo / step + 1e-9) * step, end = Math.Ceiling(hi / step - 1e-9) * step;
        var ticks = new List<double>();
        for (double t = start; t <= end + step * 1e-6; t += step) ticks.Add(Math.Round(t / step) * step);
        return ticks.ToArray();
    }

    private static string Label(double v)
    {
        if (v == 0) return "0";
        double a = Math.Abs(v);
        if (a >= 1e5 || a < 1e-3) return v.ToString("0.##E+0", CultureInfo.InvariantCulture);
        return v.ToString("0.####", CultureInfo.InvariantCulture);
    }

    private static string F(double v) => Math.Round(v, 2).ToString(CultureInfo.InvariantCulture);
    private static string Esc(string s) => SecurityElement.Escape(s) ?? "";
}
