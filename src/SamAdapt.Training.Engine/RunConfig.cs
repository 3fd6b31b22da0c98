using System.Globalization;
using System.Text;
using YamlDotNet.RepresentationModel;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace SamAdapt.Training.Engine;

/// <summary>Facts about the run that are recorded but never compared on resume.</summary>
public sealed record RunInfo
{
    public string CreatedUtc { get; init; } = "";
    public string SamadaptVersion { get; init; } = "";
    public string TorchVersion { get; init; } = "";
    public string Host { get; init; } = "";
}

/// <summary>
/// The run's config.yaml: <c>method</c>, <c>trainer</c> (<see cref="TrainerOptions"/>), <c>task</c> (the task's own
/// config object: model, preprocessing, dataset and split, base checkpoint SHA-256, ...) and <c>run</c> (when, which
/// versions). Keys are snake_case.
/// </summary>
public sealed class RunConfig
{
    public const string FileName = "config.yaml";

    public RunConfig(string method, TrainerOptions trainer, object task, RunInfo? run = null)
    {
        Method = method;
        Trainer = trainer;
        Task = task;
        Run = run ?? new RunInfo
        {
            CreatedUtc = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            SamadaptVersion = typeof(RunConfig).Assembly.GetName().Version?.ToString() ?? "",
            TorchVersion = SafeTorchVersion(),
            Host = Environment.MachineName,
        };
    }

    public string Method { get; }
    public TrainerOptions Trainer { get; }
    public object Task { get; }
    public RunInfo Run { get; }

    private static string SafeTorchVersion()
    {
        try { return SamAdapt.Torch.torch.version; } catch (DllNotFoundException) { return ""; }
    }

    internal static ISerializer Serializer { get; } = new SerializerBuilder()
        .WithNamingConvention(UnderscoredNamingConvention.Instance)
        .DisableAliases()
        .Build();

    internal static IDeserializer Deserializer { get; } = new DeserializerBuilder()
        .WithNamingConvention(UnderscoredNamingConvention.Instance)
        .IgnoreUnmatchedProperties()
        .Build();

    /// <summary>The YAML text of the whole file.</summary>
    public string ToYaml()
    {
        var doc = new Dictionary<string, object?>
        {
            ["method"] = Method,
            ["trainer"] = Trainer,
            ["task"] = Task,
            ["run"] = Run,
        };
        var sb = new StringBuilder();
        sb.Append("# SamAdapt training run configuration. `samadapt train --resume` refuses to continue when\n");
        sb.Append("# method, trainer or task settings differ (except trainer.device, the time budget and the reporting intervals).\n");
        sb.Append(Serializer.Serialize(doc));
        return sb.ToString();
    }

    /// <summary>Writes config.yaml atomically.</summary>
    public void Save(string path) => FileUtil.WriteAllTextAtomic(path, ToYaml());

    /// <summary>Flattened "a.b.c" → scalar text of this config (for comparisons).</summary>
    public IReadOnlyDictionary<string, string?> Flatten() => FlattenYaml(ToYaml());

    /// <summary>Reads a config.yaml written by <see cref="Save"/>.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">Not valid YAML or not shaped like a run config.</exception>
    public static LoadedRunConfig Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"run configuration not found: '{path}'", path);
        var text = File.ReadAllText(path);
        YamlMappingNode root;
        try { root = ParseRoot(text); }
        catch (YamlDotNet.Core.YamlException e) { throw new InvalidDataException($"'{path}' is not valid YAML: {e.Message}", e); }
        string method = root.Children.TryGetValue(new YamlScalarNode("method"), out var m) && m is YamlScalarNode ms ? ms.Value ?? "" : "";
        if (!root.Children.TryGetValue(new YamlScalarNode("trainer"), out var trainerNode))
            throw new InvalidDataException($"'{path}' has no 'trainer:' section; it is not a SamAdapt run configuration");
        TrainerOptions trainer;
        try { trainer = Deserializer.Deserialize<TrainerOptions>(NodeText(trainerNode)); }
        catch (YamlDotNet.Core.YamlException e) { throw new InvalidDataException($"'{path}': the 'trainer:' section cannot be read: {e.Message}", e); }
        root.Children.TryGetValue(new YamlScalarNode("task"), out var taskNode);
        return new LoadedRunConfig(path, method, trainer, taskNode is null ? "{}" : NodeText(taskNode), FlattenYaml(text));
    }

    internal static YamlMappingNode ParseRoot(string text)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(text));
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode map)
            throw new InvalidDataException("the configuration is not a YAML mapping");
        return map;
    }

    private static string NodeText(YamlNode node)
    {
        var s = new YamlStream(new YamlDocument(node));
        var w = new StringWriter();
        s.Save(w, assignAnchors: false);
        return w.ToString();
    }

    /// <summary>Flattens YAML to dotted keys (sequence items as key[i]) and scalar values (null for YAML null).</summary>
    public static IReadOnlyDictionary<string, string?> FlattenYaml(string text)
    {
        var result = new SortedDictionary<string, string?>(StringComparer.Ordinal);
        Walk(ParseRoot(text), "", result);
        return result;

        static void Walk(YamlNode node, string prefix, IDictionary<string, string?> result)
        {
            switch (node)
            {
                case YamlMappingNode map:
                    if (map.Children.Count == 0) result[prefix] = "{}";
                    foreach (var (k, v) in map.Children)
                        Walk(v, prefix.Length == 0 ? ((YamlScalarNode)k).Value ?? "" : prefix + "." + ((YamlScalarNode)k).Value, result);
                    break;
                case YamlSequenceNode seq:
                    if (seq.Children.Count == 0) result[prefix] = "[]";
                    for (int i = 0; i < seq.Children.Count; i++) Walk(seq.Children[i], $"{prefix}[{i}]", result);
                    break;
                case YamlScalarNode s:
                    var text = s.Value;
                    result[prefix] = s.Style == YamlDotNet.Core.ScalarStyle.Plain && (text is null or "" or "~" or "null" or "Null" or "NULL") ? null : text;
                    break;
            }
        }
    }

    /// <summary>Keys whose values differ (absent keys count), excluding <c>run.*</c> and <paramref name="mayChange"/>.</summary>
    public static IReadOnlyList<string> Differences(IReadOnlyDictionary<string, string?> stored, IReadOnlyDictionary<string, string?> current, IReadOnlySet<string> mayChange)
    {
        var keys = stored.Keys.Union(current.Keys).Where(k => !k.StartsWith("run.", StringComparison.Ordinal) && !mayChange.Contains(k)).OrderBy(k => k, StringComparer.Ordinal);
        var diffs = new List<string>();
        foreach (var k in keys)
        {
            var hasA = stored.TryGetValue(k, out var a);
            var hasB = current.TryGetValue(k, out var b);
            if (hasA && hasB && a == b) continue;
            diffs.Add($"{k}: run has {(hasA ? a ?? "null" : "(absent)")}, now {(hasB ? b ?? "null" : "(absent)")}");
        }
        return diffs;
    }
}

/// <summary>A config.yaml read back: the method, the trainer options, and the task section (typed on demand).</summary>
public sealed record LoadedRunConfig(string Path, string Method, TrainerOptions Trainer, string TaskYaml, IReadOnlyDictionary<string, string?> Flat)
{
    /// <summary>The task section deserialised as <typeparamref name="T"/> (snake_case keys).</summary>
    public T Task<T>() => RunConfig.Deserializer.Deserialize<T>(TaskYaml) ?? throw new InvalidDataException($"'{Path}' has an empty 'task:' section");
}
