using System.Globalization;
using Spectre.Console;

namespace SamAdapt.Training.Engine;

/// <summary>Live numbers the progress display shows.</summary>
public readonly record struct ProgressSnapshot(long Step, long Total, double Loss, double Lr, double SlicesPerSecond, TimeSpan? Eta, long Skipped);

/// <summary>Where the trainer reports: progress updates and messages.</summary>
public interface ITrainingProgress
{
    /// <summary>Runs <paramref name="loop"/> with the display active (a live bar stays on screen until it returns).</summary>
    T Run<T>(long total, long start, Func<T> loop);
    void Update(in ProgressSnapshot s);
    void Message(string text);
    void Warning(string text);
}

/// <summary>Factory: a Spectre.Console bar on stderr when stderr is a terminal, else plain lines every N iterations.</summary>
public static class TrainingProgress
{
    public static ITrainingProgress Create(TextWriter? writer = null, bool? interactive = null, long plainEvery = 50)
    {
        bool tty = interactive ?? (writer == null && !Console.IsErrorRedirected);
        var w = writer ?? Console.Error;
        return tty ? new SpectreProgress(w) : new PlainProgress(w, plainEvery);
    }

    internal static string Format(in ProgressSnapshot s) =>
        string.Create(CultureInfo.InvariantCulture,
            $"loss {(double.IsFinite(s.Loss) ? s.Loss.ToString("F4", CultureInfo.InvariantCulture) : "n/a")}  lr {s.Lr:0.00e+0}  {s.SlicesPerSecond:F1} slices/s  ETA {Eta(s.Eta)}{(s.Skipped > 0 ? $"  skipped {s.Skipped}" : "")}");

    internal static string Eta(TimeSpan? t) => t is { } v
        ? (v.TotalHours >= 1 ? $"{(int)v.TotalHours}:{v.Minutes:00}:{v.Seconds:00}" : $"{v.Minutes:00}:{v.Seconds:00}")
        : "--:--";
}

internal sealed class PlainProgress(TextWriter w, long every) : ITrainingProgress
{
    private long _total;

    public T Run<T>(long total, long start, Func<T> loop)
    {
        _total = total;
        return loop();
    }

    public void Update(in ProgressSnapshot s)
    {
        _total = s.Total;
        if (every <= 0 || (s.Step % every != 0 && s.Step != s.Total)) return;
        var pct = s.Total > 0 ? 100.0 * s.Step / s.Total : 0;
        w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"step {s.Step}/{_total} ({pct:F0}%)  {TrainingProgress.Format(s)}"));
        w.Flush();
    }

    public void Message(string text) { w.WriteLine(text); w.Flush(); }
    public void Warning(string text) { w.WriteLine("warning: " + text); w.Flush(); }
}

internal sealed class SpectreProgress : ITrainingProgress
{
    private readonly IAnsiConsole _console;
    private ProgressTask? _task;

    public SpectreProgress(TextWriter w)
    {
        _console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(w) });
    }

    public T Run<T>(long total, long start, Func<T> loop)
    {
        T result = default!;
        _console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(ctx =>
            {
                _task = ctx.AddTask("training", maxValue: Math.Max(1, total));
                _task.Value = start;
                try { result = loop(); }
                finally { _task.StopTask(); _task = null; }
            });
        return result;
    }

    public void Update(in ProgressSnapshot s)
    {
        if (_task == null) return;
        _task.MaxValue = Math.Max(1, s.Total);
        _task.Value = s.Step;
        _task.Description = Markup.Escape($"{s.Step}/{s.Total}  {TrainingProgress.Format(s)}");
    }

    public void Message(string text) => _console.MarkupLine(Markup.Escape(text));
    public void Warning(string text) => _console.MarkupLine("[yellow]warning:[/] " + Markup.Escape(text));
}
