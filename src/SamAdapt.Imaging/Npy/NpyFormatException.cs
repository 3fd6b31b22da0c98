namespace SamAdapt.Imaging.Npy;

/// <summary>A .npy file is malformed, truncated, or uses a feature this reader does not support.</summary>
public sealed class NpyFormatException : Exception
{
    public NpyFormatException(string message) : base(message) { }
    public NpyFormatException(string message, Exception inner) : base(message, inner) { }
}
