namespace SamAdapt.Common;

/// <summary>
/// A setting of a library operation is wrong (a malformed value, options that cannot be combined, an input that does
/// not exist): the message names the option the way the CLI spells it, what was expected and what was found. Front ends
/// show it as one line (the CLI: exit 2, docs/reliability.md).
/// </summary>
public sealed class SettingsException(string message) : ArgumentException(message);
