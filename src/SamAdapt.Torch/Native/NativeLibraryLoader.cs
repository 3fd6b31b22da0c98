using System.Reflection;
using System.Runtime.InteropServices;

namespace SamAdapt.Torch.Native;

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
    private static int _registered;

    /// <summary>Installs the resolver for this assembly (idempotent). Other assemblies that P/Invoke into our
    /// libraries call <see cref="RegisterResolver(Assembly)"/> for themselves.</summary>
    public static void EnsureRegistered()
    {
        if (Interlocked.Exchange(ref _registered, 1) == 0)
            RegisterResolver(typeof(NativeLibraryLoader).Assembly);
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
            if (name == TorchBridge) OpenMpEnvironment.Apply();
            var errors = new List<string>();
            foreach (var path in Candidates(name))
            {
                if (!File.Exists(path)) { errors.Add($"  {path}: not found"); continue; }
                if (NativeLibrary.TryLoad(path, out h)) { Loaded[name] = h; return h; }
                try { NativeLibrary.Load(path); }
                catch (Exception e) { errors.Add($"  {path}: {e.Message}"); }
            }
            throw new DllNotFoundException(
                $"SamAdapt's native library lib{name}.so could not be loaded. Tried:\n{string.Join('\n', errors)}\n" +
                $"Build it with `./build.sh native` from the repository root (needs Debian's libtorch-dev, cmake, g++), " +
                $"or point {EnvVar} at the folder that holds it.");
        }
    }
}
