namespace SamAdapt.Torch.Serialization;

/// <summary>Loads model weights from either checkpoint format, chosen by the file's content (not its extension).</summary>
public static class CheckpointFile
{
    /// <summary>The formats <see cref="Detect"/> recognises.</summary>
    public enum Format
    {
        /// <summary>A torch.save zip file (.pth, .pt, .bin).</summary>
        TorchZip,
        /// <summary>The pre-1.6 torch.save format (recognised only to report it).</summary>
        TorchLegacy,
        /// <summary>A safetensors file.</summary>
        SafeTensors,
    }

    /// <summary>Loads the state dict of a .pth (see <see cref="PthReader.LoadStateDict"/>) or safetensors file.</summary>
    /// <param name="path">The checkpoint.</param>
    /// <param name="key">For .pth training checkpoints: the entry holding the state dict (null: found automatically).</param>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is neither format, or is corrupt.</exception>
    public static Dictionary<string, HostTensor> LoadStateDict(string path, string? key = null) => Detect(path) switch
    {
        Format.SafeTensors => SafeTensors.Load(path).Tensors,
        _ => PthReader.LoadStateDict(path, key),
    };

    /// <summary>Identifies the format from the first bytes of the file.</summary>
    public static Format Detect(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"checkpoint file not found: '{path}'", path);
        Span<byte> head = stackalloc byte[32];
        int n;
        using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1))
        {
            n = fs.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        }
        head = head[..n];
        if (head.StartsWith("PK\x03\x04"u8)) return Format.TorchZip;
        if (head.IndexOf((ReadOnlySpan<byte>)[0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]) >= 0) return Format.TorchLegacy;
        // safetensors: u64 header length, then the JSON object; let its loader validate the details
        if ((n >= 9 && head[8] == (byte)'{') || string.Equals(Path.GetExtension(path), ".safetensors", StringComparison.OrdinalIgnoreCase))
            return Format.SafeTensors;
        throw new InvalidDataException(
            $"'{path}' is neither a PyTorch checkpoint (zip starting with \"PK\\3\\4\") nor a safetensors file (u64 header length, then '{{'); it starts with [{Convert.ToHexString(head[..Math.Min(n, 16)])}]");
    }
}
