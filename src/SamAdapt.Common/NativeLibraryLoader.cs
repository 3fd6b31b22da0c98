using System.Reflection;
using System.Runtime.InteropServices;

namespace SamAdapt.Common;

/// <summary>
/// The one place that finds and loads SamAdapt's native libraries (the libtorch bridge and the image codec).
/// Search order: next to the managed assembly, then $SAMADAPT_NATIVE_DIR, then the repository's build/native folder
/// (found by walking up from the assembly). Fails with a message that says how to build the library.
/// </summary>
public static class NativeLibraryLoader
{
    public const string TorchBridge = "samadapt_torch";
    public const string ImageCodec = "samadapt_image";
    public const string EnvVar = "SAMADAPT_NATIVE_DIR";

    private static readonly object Gate = new();
    private static readonly Dictionary<string, IntPtr> Loaded = new();
    private static readonly HashSet<Assembly> Registered = [];

    /// <summary>Installs the resolver for <paramref name="assembly"/> (once per assembly): its P/Invokes of
    /// <see cref="TorchBridge"/> and <see cref="ImageCodec"/> load through <see cref="Load"/>.</summary>
    public static void EnsureRegistered(Assembly assembly)
    {
        lock (Gate)
        {
            if (!Registered.Add(assembly)) return;
        }
        RegisterResolver(assembly);
    }

    public static void RegisterResolver(Assembly assembly)
    {
        NativeLibrary.SetDllImportResolver(assembly, (name, _, _) =>
            name is TorchBridge or ImageCodec ? Load(name) : IntPtr.Zero);
    }

    /// <summary>Candidate file paths in search order (for diagnostics and tests).</summary>
    public static IReadOnlyList<string> Candidates(string name)
    {
        var file = $"lib{name}.so";
        var list = new List<string>();
        var asmDir = Path.GetDirectoryName(typeof(NativeLibraryLoader).Assembly.Location);
        if (!string.IsNullOrEmpty(asmDir)) list.Add(Path.Combine(asmDir, file));
        var env = Environment.GetEnvironmentVariable(EnvVar);
        if (!string.IsNullOrEmpty(env)) list.Add(Path.Combine(env, file));
        for (var dir = asmDir is null ? null : new DirectoryInfo(asmDir); dir != null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "SamAdapt.sln")))
            {
                list.Add(Path.Combine(dir.FullName, "build", "native", file));
                break;
            }
        }
        return list;
    }

    public static IntPtr Load(string name)
    {
        lock (Gate)
        {
            if (Loaded.TryGetValue(name, out var h)) return h;
            h = LoadFirst(Candidates(name), errors => new DllNotFoundException(
                $"SamAdapt's native library lib{name}.so could not be loaded. Tried:\n{errors}\n" +
                $"Build it with `./build.sh native` from the repository root (needs Debian's libtorch-dev, cmake, g++), " +
                $"or point {EnvVar} at the folder that holds it."));
            Loaded[name] = h;
            return h;
        }
    }

    /// <summary>
    /// Loads the first of <paramref name="candidates"/> (file paths, duplicates skipped) that exists and loads; otherwise throws
    /// the exception <paramref name="fail"/> makes from the per-candidate reasons (one "  path: reason" line each). Every
    /// native-library probe of the project (this loader, the GDCM glue) goes through here.
    /// </summary>
    public static IntPtr LoadFirst(IEnumerable<string> candidates, Func<string, Exception> fail)
    {
        var errors = new List<string>();
        foreach (var path in candidates.Distinct())
        {
            if (!File.Exists(path)) { errors.Add($"  {path}: not found"); continue; }
            if (NativeLibrary.TryLoad(path, out var h)) return h;
            try { NativeLibrary.Load(path); }
            catch (Exception e) { errors.Add($"  {path}: {e.Message}"); }
        }
        throw fail(string.Join('\n', errors));
    }
}
