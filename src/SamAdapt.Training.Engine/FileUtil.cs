using SamAdapt.Common;
using System.Text;
using SamAdapt.Torch.Serialization;

namespace SamAdapt.Training.Engine;

internal static class FileUtil
{
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    public static void WriteAllTextAtomic(string path, string text) =>
        AtomicFile.Write(path, s => s.Write(Utf8.GetBytes(text)));

    /// <summary>Removes temporary files that an interrupted atomic write left in <paramref name="dir"/>.</summary>
    public static int RemoveStaleTempFiles(string dir)
    {
        int n = 0;
        foreach (var f in Directory.EnumerateFiles(dir, ".*.tmp"))
        {
            try { File.Delete(f); n++; } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
        return n;
    }
}
