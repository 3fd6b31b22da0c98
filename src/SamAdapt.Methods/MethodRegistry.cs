namespace SamAdapt.Methods;

/// <summary>
/// Methods by name, in the spirit of SAM's model registry and nnU-Net's trainer lookup: <c>train</c>, <c>predict</c>,
/// <c>import</c> and <c>serve</c> resolve <c>--method</c> here, and an unknown name is an error that lists the known ones.
/// The built-in methods are registered below, one line each; other assemblies (plug-ins, tests) call <see cref="Register"/>.
/// </summary>
public static class MethodRegistry
{
    private static readonly Lock Gate = new();
    private static readonly Dictionary<string, ISegmentationMethod> ByName = new(StringComparer.OrdinalIgnoreCase);
    private static readonly List<ISegmentationMethod> Methods = [];

    static MethodRegistry()
    {
        Register(new MaSam.MaSamMethod());
        Register(new Lora.LoraMethod());
        Register(new Full.FullMethod());
        Register(new MaskSam.MaskSamMethod());
        Register(new Msa.MsaMethod());
        Register(new Msa.MedSamMethod());
    }

    /// <summary>Adds a method under its name and aliases; a name already taken is an <see cref="ArgumentException"/>.</summary>
    public static void Register(ISegmentationMethod method)
    {
        ArgumentNullException.ThrowIfNull(method);
        lock (Gate)
        {
            var names = new[] { method.Name }.Concat(method.Aliases).ToList();
            foreach (var n in names)
            {
                if (string.IsNullOrWhiteSpace(n)) throw new ArgumentException("a method name must not be empty");
                if (ByName.TryGetValue(n, out var other))
                    throw new ArgumentException($"method name '{n}' is already registered (by {other.GetType().Name})");
            }
            foreach (var n in names) ByName[n] = method;
            Methods.Add(method);
        }
    }

    /// <summary>The registered methods in registration order.</summary>
    public static IReadOnlyList<ISegmentationMethod> All
    {
        get { lock (Gate) return [.. Methods]; }
    }

    /// <summary>The names of <see cref="All"/>.</summary>
    public static IReadOnlyList<string> Names => All.Select(m => m.Name).ToList();

    /// <summary>"ma-sam, lora, full": the known names for messages.</summary>
    public static string Known => string.Join(", ", Names);

    public static bool TryGet(string name, out ISegmentationMethod method)
    {
        lock (Gate) return ByName.TryGetValue(name.Trim(), out method!);
    }

    /// <summary>The method called <paramref name="name"/> (or one of its aliases); otherwise an <see cref="UnknownMethodException"/>
    /// listing the known methods.</summary>
    public static ISegmentationMethod Get(string name) =>
        TryGet(name, out var m) ? m : throw new UnknownMethodException(name, Names);

    /// <summary>The names of the methods that can import a reference release (<see cref="IImportableMethod"/>).</summary>
    public static IReadOnlyList<string> ImportableNames => All.OfType<IImportableMethod>().Select(m => m.Name).ToList();

    /// <summary>The method called <paramref name="name"/> if it can import a reference release; an unknown name is an
    /// <see cref="UnknownMethodException"/>, a known one without an importer an <see cref="ArgumentException"/>, both
    /// listing the importable methods.</summary>
    public static IImportableMethod GetImportable(string name)
    {
        if (!TryGet(name, out var m)) throw new UnknownMethodException(name, Names);
        return m as IImportableMethod
            ?? throw new ArgumentException($"method '{m.Name}' has no importer; methods that import a reference release: {string.Join(", ", ImportableNames)}");
    }
}

/// <summary>An unknown method name; the message lists the known ones.</summary>
public sealed class UnknownMethodException(string name, IReadOnlyList<string> known)
    : ArgumentException($"unknown method '{name}'; known methods: {string.Join(", ", known)}")
{
    public string Name { get; } = name;
    public IReadOnlyList<string> Known { get; } = known;
}
