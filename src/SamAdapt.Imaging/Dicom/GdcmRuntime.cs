using System.Reflection;
using System.Runtime.InteropServices;
using SamAdapt.Common;

namespace SamAdapt.Imaging.Dicom;

/// <summary>
/// Makes Debian's GDCM C# binding usable from .NET: gdcm-sharp.dll P/Invokes "gdcmsharpglue", which .NET looks for
/// only beside the application. The build copies libgdcmsharpglue.so to the output folder; this resolver also finds
/// it beside gdcm-sharp.dll or in the Debian install folder, and turns a missing library into an actionable message.
/// Also silences GDCM's own stderr chatter (we report errors ourselves, with file names).
/// </summary>
internal static class GdcmRuntime
{
    public const string DebianDir = "/usr/lib/cli/gdcm-sharp-3.0";
    private const string GlueName = "gdcmsharpglue";
    private static int _initialized;

    public static void Ensure()
    {
        if (Interlocked.Exchange(ref _initialized, 1) != 0) return;
        Assembly gdcmAssembly;
        try
        {
            gdcmAssembly = typeof(gdcm.Reader).Assembly;
        }
        catch (FileNotFoundException e)
        {
            throw new DllNotFoundException(
                $"the GDCM C# binding (gdcm-sharp.dll) is missing: install Debian's libgdcm-cil ({e.Message})", e);
        }
        try
        {
            NativeLibrary.SetDllImportResolver(gdcmAssembly, Resolve);
        }
        catch (InvalidOperationException)
        {
            // another component installed a resolver for gdcm-sharp already; it is responsible for finding the glue
        }
        gdcm.Trace.WarningOff();
        gdcm.Trace.DebugOff();
        gdcm.Trace.ErrorOff();
    }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? path)
    {
        if (name != GlueName) return IntPtr.Zero;
        var file = "lib" + GlueName + ".so";
        var candidates = new List<string>();
        foreach (var dir in new[]
                 {
                     Path.GetDirectoryName(typeof(GdcmRuntime).Assembly.Location),
                     Path.GetDirectoryName(assembly.Location),
                     AppContext.BaseDirectory,
                     DebianDir,
                 })
        {
            if (!string.IsNullOrEmpty(dir)) candidates.Add(Path.Combine(dir, file));
        }
        return NativeLibraryLoader.LoadFirst(candidates, errors => new DllNotFoundException(
            $"GDCM's native glue {file} could not be loaded (install Debian's libgdcm-cil and libgdcm3.0). Tried:\n" + errors));
    }
}
