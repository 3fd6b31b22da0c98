using System.Globalization;
using System.Text;

namespace SamAdapt.Training.Engine;

/// <summary>One row of train_log.csv. <see cref="Step"/> counts iterations from 1; skipped (non-finite) steps are logged too.</summary>
public sealed record TrainLogRow(long Step, long Epoch, double Loss, double Lr, double GradNorm, double SlicesPerSecond, double Seconds, bool Skipped)
{
    public const string Header = "step,epoch,loss,lr,grad_norm,slices_per_s,seconds,skipped";

    public string ToCsv() => string.Join(",",
        Step.ToString(CultureInfo.InvariantCulture), Epoch.ToString(CultureInfo.InvariantCulture), Csv.R(Loss), Csv.R(Lr), Csv.R(GradNorm),
        Csv.F(SlicesPerSecond, 3), Csv.F(Seconds, 3), Skipped ? "1" : "0");

    public static TrainLogRow? Parse(string line)
    {
        var f = line.Split(',');
        if (f.Length != 8) return null;
        try
        {
            return new TrainLogRow(long.Parse(f[0], CultureInfo.InvariantCulture), long.Parse(f[1], CultureInfo.InvariantCulture),
                Csv.D(f[2]), Csv.D(f[3]), Csv.D(f[4]), Csv.D(f[5]), Csv.D(f[6]), f[7] == "1");
        }
        catch (FormatException) { return null; }
        catch (OverflowException) { return null; }
    }
}

/// <summary>One row of val_log.csv: the step after which validation ran, Dice per class, and their mean.</summary>
public sealed record ValLogRow(long Step, IReadOnlyList<double> Dice, double MeanDice)
{
    public static string Header(IReadOnlyList<string> classNames) =>
        "step," + string.Join(",", classNames.Select(c => "dice_" + Csv.Name(c))) + ",mean_dice";

    public string ToCsv() => Step.ToString(CultureInfo.InvariantCulture) + "," + string.Join(",", Dice.Select(Csv.R)) + "," + Csv.R(MeanDice);

    public static ValLogRow? Parse(string line, int classes)
    {
        var f = line.Split(',');
        if (f.Length != classes + 2) return null;
        try
        {
            return new ValLogRow(long.Parse(f[0], CultureInfo.InvariantCulture), f.Skip(1).Take(classes).Select(Csv.D).ToArray(), Csv.D(f[^1]));
        }
        catch (FormatException) { return null; }
        catch (OverflowException) { return null; }
    }
}

internal static class Csv
{
    public static string R(double v) => double.IsNaN(v) ? "nan" : double.IsPositiveInfinity(v) ? "inf" : double.IsNegativeInfinity(v) ? "-inf" : v.ToString("R", CultureInfo.InvariantCulture);
    public static string F(double v, int digits) => double.IsFinite(v) ? v.ToString("F" + digits, CultureInfo.InvariantCulture) : R(v);
    public static double D(string s) => s switch
    {
        "nan" => double.NaN,
        "inf" => double.PositiveInfinity,
        "-inf" => double.NegativeInfinity,
        _ => double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture),
    };
    public static string Name(string s) => new(s.Select(ch => char.IsLetterOrDigit(ch) || ch is '_' or '-' ? ch : '_').ToArray());
}

/// <summary>
/// train_log.csv and val_log.csv of a run: appended one line per event and flushed (a killed process loses at
/// most the line being written), read back and truncated to a checkpoint's step on resume so no step appears twice.
/// </summary>
public sealed class TrainingLogs : IDisposable
{
    public const string TrainFile = "train_log.csv";
    public const string ValFile = "val_log.csv";

    private readonly string _dir;
    private StreamWriter? _train, _val;
    private readonly List<TrainLogRow> _trainRows = new();
    private readonly List<ValLogRow> _valRows = new();

    public TrainingLogs(string runDir, IReadOnlyList<string> classNames)
    {
        _dir = runDir;
        ClassNames = classNames;
    }

    public IReadOnlyList<string> ClassNames { get; }
    public IReadOnlyList<TrainLogRow> TrainRows => _trainRows;
    public IReadOnlyList<ValLogRow> ValRows => _valRows;
    public string TrainPath => Path.Combine(_dir, TrainFile);
    public string ValPath => Path.Combine(_dir, ValFile);

    /// <summary>Starts empty logs (headers only) for a new run.</summary>
    public void StartNew()
    {
        FileUtil.WriteAllTextAtomic(TrainPath, TrainLogRow.Header + "\n");
        FileUtil.WriteAllTextAtomic(ValPath, ValLogRow.Header(ClassNames) + "\n");
        _trainRows.Clear();
        _valRows.Clear();
    }

    /// <summary>
    /// Reads the logs of an interrupted run and cuts them back to the rows with step ≤ <paramref name="lastStep"/>
    /// (rows written after the checkpoint, and a half-written last line, are dropped). Missing files start empty.
    /// </summary>
    public void ResumeAt(long lastStep)
    {
        _trainRows.Clear();
        _valRows.Clear();
        _trainRows.AddRange(ReadRows(TrainPath, TrainLogRow.Parse).Where(r => r.Step <= lastStep));
        var valHeader = ValLogRow.Header(ClassNames);
        if (File.Exists(ValPath))
        {
            var first = File.ReadLines(ValPath).FirstOrDefault();
            if (first != null && first != valHeader)
                throw new InvalidDataException($"'{ValPath}' has columns '{first}', expected '{valHeader}': the classes of the run differ from the task's");
        }
        _valRows.AddRange(ReadRows(ValPath, l => ValLogRow.Parse(l, ClassNames.Count)).Where(r => r.Step <= lastStep));
        var sb = new StringBuilder(TrainLogRow.Header).Append('\n');
        foreach (var r in _trainRows) sb.Append(r.ToCsv()).Append('\n');
        FileUtil.WriteAllTextAtomic(TrainPath, sb.ToString());
        sb.Clear().Append(valHeader).Append('\n');
        foreach (var r in _valRows) sb.Append(r.ToCsv()).Append('\n');
        FileUtil.WriteAllTextAtomic(ValPath, sb.ToString());
    }

    private static IEnumerable<T> ReadRows<T>(string path, Func<string, T?> parse) where T : class
    {
        if (!File.Exists(path)) yield break;
        bool header = true;
        foreach (var line in File.ReadLines(path))
        {
            if (header) { header = false; continue; }
            if (line.Length == 0) continue;
            var r = parse(line);
            if (r != null) yield return r;
        }
    }

    public void Append(TrainLogRow row)
    {
        _train ??= Open(TrainPath);
        _train.Write(row.ToCsv());
        _train.Write('\n');
        _train.Flush();
        _trainRows.Add(row);
    }

    public void Append(ValLogRow row)
    {
        _val ??= Open(ValPath);
        _val.Write(row.ToCsv());
        _val.Write('\n');
        _val.Flush();
        _valRows.Add(row);
    }

    private static StreamWriter Open(string path) =>
        new(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read), new UTF8Encoding(false)) { AutoFlush = false };

    /// <summary>Reads a train_log.csv (for tests and reports).</summary>
    public static IReadOnlyList<TrainLogRow> ReadTrainLog(string path) => ReadRows(path, TrainLogRow.Parse).ToList();

    public void Dispose()
    {
        _train?.Dispose();
        _val?.Dispose();
        _train = _val = null;
    }
}
