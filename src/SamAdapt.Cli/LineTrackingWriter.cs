using System.Text;

namespace SamAdapt.Cli;

/// <summary>stderr that remembers whether a line is open (a "\r…%" progress line): an error then starts on a new line.</summary>
internal sealed class LineTrackingWriter(TextWriter inner) : TextWriter
{
    private volatile bool _open;

    public override Encoding Encoding => inner.Encoding;

    public override void Write(char value)
    {
        lock (this) { inner.Write(value); _open = value != '\n'; }
    }

    public override void Write(string? value)
    {
        if (string.IsNullOrEmpty(value)) return;
        lock (this) { inner.Write(value); _open = value[^1] != '\n'; }
    }

    public override void Write(char[] buffer, int index, int count)
    {
        if (count <= 0) return;
        lock (this) { inner.Write(buffer, index, count); _open = buffer[index + count - 1] != '\n'; }
    }

    public override void WriteLine(string? value)
    {
        lock (this) { inner.WriteLine(value); _open = false; }
    }

    public override void Flush() => inner.Flush();

    /// <summary>Ends an open line so the next message starts at column 0.</summary>
    public void EndOpenLine()
    {
        lock (this) { if (_open) { inner.WriteLine(); _open = false; } }
    }
}
