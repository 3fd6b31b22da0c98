using System.Text.RegularExpressions;

namespace SamAdapt.Torch.NN;

/// <summary>Outcome of <see cref="Module.load_state_dict"/>: keys that did not line up.</summary>
public sealed record LoadResult(IReadOnlyList<string> Missing, IReadOnlyList<string> Unexpected, IReadOnlyList<string> Mismatched)
{
    public bool IsExact => Missing.Count == 0 && Unexpected.Count == 0 && Mismatched.Count == 0;

    public string Describe(int max = 10)
    {
        static string List(IReadOnlyList<string> xs, int max) =>
            string.Join(", ", xs.Take(max)) + (xs.Count > max ? $" … (+{xs.Count - max} more)" : "");
        var parts = new List<string>();
        if (Missing.Count > 0) parts.Add($"{Missing.Count} missing key(s): {List(Missing, max)}");
        if (Unexpected.Count > 0) parts.Add($"{Unexpected.Count} unexpected key(s): {List(Unexpected, max)}");
        if (Mismatched.Count > 0) parts.Add($"{Mismatched.Count} mis-shaped key(s): {List(Mismatched, max)}");
        return parts.Count == 0 ? "all keys matched" : string.Join("; ", parts);
    }

    /// <summary>
    /// The one key comparison of a model against a state dict (every loader uses it). <paramref name="model"/> and
    /// <paramref name="source"/> map keys to shapes. Missing: model keys that are <paramref name="required"/> (default: all) but
    /// absent from the source. Unexpected: source keys that are neither <paramref name="ignored"/> nor an <paramref name="accepted"/>
    /// model key (default: any model key). Mis-shaped: accepted model keys whose source shape differs, written
    /// "key (<paramref name="sourceLabel"/> [shape], model [shape])"; <paramref name="describeSource"/> replaces the source part
    /// (e.g. to name both a file's shape and the shape it was resized to).
    /// </summary>
    public static LoadResult Diff(IReadOnlyDictionary<string, long[]> model, IReadOnlyDictionary<string, long[]> source,
        Func<string, bool>? required = null, Func<string, bool>? accepted = null, Func<string, bool>? ignored = null,
        string sourceLabel = "checkpoint", Func<string, string>? describeSource = null)
    {
        required ??= _ => true;
        accepted ??= _ => true;
        var missing = model.Keys.Where(k => required(k) && !source.ContainsKey(k)).ToList();
        var unexpected = source.Keys.Where(k => !(ignored?.Invoke(k) ?? false) && !(model.ContainsKey(k) && accepted(k))).ToList();
        var mismatched = model.Where(kv => accepted(kv.Key) && source.TryGetValue(kv.Key, out var s) && !s.SequenceEqual(kv.Value))
            .Select(kv => $"{kv.Key} ({describeSource?.Invoke(kv.Key) ?? $"{sourceLabel} [{string.Join(",", source[kv.Key])}]"}, model [{string.Join(",", kv.Value)}])")
            .ToList();
        return new LoadResult(missing, unexpected, mismatched);
    }

    /// <summary>Key → shape of a state dict of tensors (for <see cref="Diff"/>).</summary>
    public static Dictionary<string, long[]> Shapes(IReadOnlyDictionary<string, Tensor> stateDict) =>
        stateDict.ToDictionary(kv => kv.Key, kv => kv.Value.shape);
}

/// <summary>Parameter counts: total and trainable, optionally grouped.</summary>
public sealed record ParameterCount(long Total, long Trainable);

/// <summary>
/// Base class of layers and models, shaped like torch.nn.Module: named parameters, buffers (persistent or not) and
/// submodules whose dotted names equal PyTorch's state_dict keys, train/eval, freezing by name, device/dtype moves.
/// A module owns its parameters and buffers (they belong to no dispose scope) and releases them on Dispose.
/// </summary>
public abstract class Module : IDisposable
{
    private readonly List<(string Name, Tensor? Value)> _parameters = new();
    private readonly List<(string Name, Tensor? Value, bool Persistent)> _buffers = new();
    private readonly List<(string Name, Module Value)> _modules = new();

    public bool training { get; private set; } = true;

    // ---------------- registration ----------------

    protected Tensor register_parameter(string name, Tensor value, bool requiresGrad = true)
    {
        CheckName(name);
        value.DetachFromScope();
        if (value.requires_grad != requiresGrad) value.requires_grad_(requiresGrad);
        _parameters.Add((name, value));
        return value;
    }

    /// <summary>Registers an optional parameter slot (e.g. a disabled bias); it appears in no state dict while null.</summary>
    protected void register_parameter_slot(string name) { CheckName(name); _parameters.Add((name, null)); }

    protected Tensor register_buffer(string name, Tensor value, bool persistent = true)
    {
        CheckName(name);
        value.DetachFromScope();
        _buffers.Add((name, value, persistent));
        return value;
    }

    protected T register_module<T>(string name, T module) where T : Module
    {
        CheckName(name);
        _modules.Add((name, module));
        return module;
    }

    private void CheckName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Contains('.'))
            throw new ArgumentException($"invalid member name '{name}' (non-empty, no dots)");
        if (_parameters.Any(p => p.Name == name) || _buffers.Any(b => b.Name == name) || _modules.Any(m => m.Name == name))
            throw new ArgumentException($"'{name}' is already registered in {GetType().Name}");
    }

    /// <summary>Replaces a registered parameter's tensor (keeps its position in the state dict).</summary>
    protected void replace_parameter(string name, Tensor value)
    {
        int i = _parameters.FindIndex(p => p.Name == name);
        if (i < 0) throw new ArgumentException($"no parameter '{name}' in {GetType().Name}");
        value.DetachFromScope();
        _parameters[i].Value?.Dispose();
        _parameters[i] = (name, value);
    }

    // ---------------- traversal ----------------

    public IEnumerable<(string Name, Tensor Value)> named_parameters(bool recurse = true)
    {
        foreach (var (prefix, m) in named_modules(recurse))
            foreach (var (n, p) in m._parameters)
                if (p != null) yield return (Join(prefix, n), p);
    }

    public IEnumerable<Tensor> parameters(bool recurse = true) => named_parameters(recurse).Select(p => p.Value);

    public IEnumerable<(string Name, Tensor Value)> named_buffers(bool recurse = true, bool persistentOnly = false)
    {
        foreach (var (prefix, m) in named_modules(recurse))
            foreach (var (n, b, persistent) in m._buffers)
                if (b != null && (persistent || !persistentOnly)) yield return (Join(prefix, n), b);
    }

    /// <summary>This module ("") and all descendants, depth first in registration order.</summary>
    public IEnumerable<(string Name, Module Module)> named_modules(bool recurse = true)
    {
        yield return ("", this);
        foreach (var (n, m) in _modules)
        {
            if (!recurse) { yield return (n, m); continue; }
            foreach (var (sub, mm) in m.named_modules()) yield return (Join(n, sub), mm);
        }
    }

    public IEnumerable<(string Name, Module Module)> named_children() => _modules.Select(m => (m.Name, m.Value));

    private static string Join(string a, string b) => a.Length == 0 ? b : b.Length == 0 ? a : a + "." + b;

    /// <summary>
    /// Parameters and persistent buffers by dotted key, in PyTorch's order (a module's own members first, then its
    /// children in registration order). The tensors are the module's own (not copies).
    /// </summary>
    public Dictionary<string, Tensor> state_dict()
    {
        var d = new Dictionary<string, Tensor>();
        Collect(this, "", d);
        return d;

        static void Collect(Module m, string prefix, Dictionary<string, Tensor> d)
        {
            foreach (var (n, p) in m._parameters) if (p != null) d[Join(prefix, n)] = p;
            foreach (var (n, b, persistent) in m._buffers) if (b != null && persistent) d[Join(prefix, n)] = b;
            foreach (var (n, c) in m._modules) Collect(c, Join(prefix, n), d);
        }
    }

    /// <summary>
    /// Copies values into this module's parameters and persistent buffers by key (dtype and device converted).
    /// Strict mode throws <see cref="InvalidDataException"/> naming the first missing, unexpected and mis-shaped keys.
    /// </summary>
    public LoadResult load_state_dict(IReadOnlyDictionary<string, Tensor> source, bool strict = true)
    {
        var own = state_dict();
        var result = LoadResult.Diff(LoadResult.Shapes(own), LoadResult.Shapes(source));
        if (strict && !result.IsExact)
            throw new InvalidDataException($"state dict does not match {GetType().Name}: {result.Describe()}");
        using (torch.no_grad())
        {
            foreach (var (k, dst) in own)
                if (source.TryGetValue(k, out var src) && src.shape.SequenceEqual(dst.shape))
                    dst.copy_(src);
        }
        return result;
    }

    // ---------------- modes ----------------

    public virtual Module train(bool on = true)
    {
        foreach (var (_, m) in named_modules()) m.training = on;
        return this;
    }

    public Module eval() => train(false);

    /// <summary>Sets requires_grad on every parameter whose dotted name matches the regular expression.</summary>
    public int set_requires_grad(string namePattern, bool requiresGrad)
    {
        var re = new Regex(namePattern, RegexOptions.CultureInvariant);
        int n = 0;
        foreach (var (name, p) in named_parameters())
            if (re.IsMatch(name)) { p.requires_grad_(requiresGrad); n++; }
        return n;
    }

    public Module freeze(string namePattern = ".*") { set_requires_grad(namePattern, false); return this; }
    public Module unfreeze(string namePattern = ".*") { set_requires_grad(namePattern, true); return this; }

    public ParameterCount count_parameters(string? namePattern = null)
    {
        var re = namePattern == null ? null : new Regex(namePattern, RegexOptions.CultureInvariant);
        long total = 0, trainable = 0;
        foreach (var (name, p) in named_parameters())
        {
            if (re != null && !re.IsMatch(name)) continue;
            var n = p.numel();
            total += n;
            if (p.requires_grad) trainable += n;
        }
        return new ParameterCount(total, trainable);
    }

    /// <summary>Moves parameters and buffers to a device and/or floating dtype in place (tensor identities kept).</summary>
    public Module to(Device? device = null, DType? dtype = null)
    {
        using var scope = DisposeScope.Begin();
        using var _ = torch.no_grad();
        foreach (var t in parameters().Concat(named_buffers().Select(b => b.Value)))
        {
            var targetType = dtype is { } dt && t.dtype.IsFloatingPoint() ? dt : t.dtype;
            var targetDevice = device ?? t.device;
            if (targetType == t.dtype && targetDevice == t.device) continue;
            t.set_data(t.to(targetDevice, targetType));
        }
        return this;
    }

    public Module to(DType dtype) => to(null, dtype);

    /// <summary>Clears the gradients of all parameters.</summary>
    public void zero_grad()
    {
        foreach (var p in parameters()) p.grad = null;
    }

    public virtual void Dispose()
    {
        foreach (var (_, p) in _parameters) p?.Dispose();
        foreach (var (_, b, _) in _buffers) b?.Dispose();
        foreach (var (_, m) in _modules) m.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>A module with one tensor in and one out, usable in <see cref="Sequential"/>.</summary>
public abstract class UnaryModule : Module
{
    public abstract Tensor forward(Tensor x);
    public Tensor call(Tensor x) => forward(x);
}
