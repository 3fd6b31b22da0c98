namespace SamAdapt.Common;

/// <summary>
/// The named values of an enum-valued command-line option (e.g. <c>predict --tta</c>, <c>--masksam-output</c>): parsed case-insensitively,
/// named back for messages; an unknown value is an <see cref="ArgumentException"/> naming the option and every choice.
/// </summary>
public sealed class OptionChoices<T>(string option, params (string Name, T Value)[] choices) where T : struct, Enum
{
    /// <summary>The choices' names, in the order given.</summary>
    public IReadOnlyList<string> Names { get; } = choices.Select(c => c.Name).ToList();

    /// <summary>The name of <paramref name="value"/>.</summary>
    public string Name(T value) => choices.First(c => c.Value.Equals(value)).Name;

    /// <summary>The value named <paramref name="text"/> (case and surrounding blanks ignored).</summary>
    public T Parse(string text)
    {
        foreach (var (name, value) in choices)
            if (string.Equals(name, text.Trim(), StringComparison.OrdinalIgnoreCase)) return value;
        throw new ArgumentException($"{option}: expected one of {string.Join(", ", Names)}, found '{text}'");
    }
}
