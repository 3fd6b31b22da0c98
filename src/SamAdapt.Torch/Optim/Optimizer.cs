namespace SamAdapt.Torch.Optim;

/// <summary>A group of parameters sharing hyper-parameters. <see cref="Lr"/> is what schedules change; <see cref="BaseLr"/> stays.</summary>
public sealed class ParamGroup(IReadOnlyList<Tensor> parameters, double lr, double weightDecay = 0, string name = "")
{
    public IReadOnlyList<Tensor> Params { get; } = parameters;
    public double BaseLr { get; } = lr;
    public double Lr { get; set; } = lr;
    public double WeightDecay { get; set; } = weightDecay;
    public string Name { get; } = name;
}

/// <summary>
/// Base optimizer: parameter groups, per-parameter state tensors, zero_grad, and a state dictionary
/// (flat name → tensor) that checkpoints save and resume restores exactly.
/// </summary>
public abstract class Optimizer : IDisposable
{
    protected Optimizer(IEnumerable<ParamGroup> groups)
    {
        Groups = groups.ToList();
        if (Groups.Count == 0 || Groups.All(g => g.Params.Count == 0))
            throw new ArgumentException("optimizer got no parameters to train");
    }

    public IReadOnlyList<ParamGroup> Groups { get; }

    /// <summary>Number of completed steps.</summary>
    public long StepCount { get; protected set; }

    /// <summary>Per-parameter state: (group index, parameter index) → name → tensor.</summary>
    protected readonly Dictionary<(int G, int P), Dictionary<string, Tensor>> State = new();

    public IEnumerable<Tensor> AllParams => Groups.SelectMany(g => g.Params);

    public void zero_grad()
    {
        foreach (var p in AllParams) p.grad = null;
    }

    /// <summary>Applies one update using the current gradients (parameters without a gradient are skipped).</summary>
    public void step()
    {
        using var scope = DisposeScope.Begin();
        using var _ = torch.no_grad();
        StepCount++;
        for (int g = 0; g < Groups.Count; g++)
        {
            var group = Groups[g];
            for (int i = 0; i < group.Params.Count; i++)
            {
                var p = group.Params[i];
                var grad = p.grad;
                if (grad is null) continue;
                if (!State.TryGetValue((g, i), out var st)) State[(g, i)] = st = new Dictionary<string, Tensor>();
                Update(group, p, grad, st);
            }
        }
    }

    /// <summary>Updates one parameter in place. State tensors created here must be detached from scopes.</summary>
    protected abstract void Update(ParamGroup group, Tensor param, Tensor grad, Dictionary<string, Tensor> state);

    /// <summary>Optimizer state as flat tensors: "state.{group}.{index}.{name}", "group.{g}.lr", "step".</summary>
    public Dictionary<string, Tensor> state_dict()
    {
        var d = new Dictionary<string, Tensor>();
        foreach (var ((g, i), st) in State.OrderBy(kv => kv.Key))
            foreach (var (name, t) in st) d[$"state.{g}.{i}.{name}"] = t;
        for (int g = 0; g < Groups.Count; g++)
        {
            d[$"group.{g}.lr"] = torch.tensor(new[] { Groups[g].Lr }).DetachFromScope();
            d[$"group.{g}.weight_decay"] = torch.tensor(new[] { Groups[g].WeightDecay }).DetachFromScope();
        }
        d["step"] = torch.tensor(new[] { StepCount }).DetachFromScope();
        return d;
    }

    /// <summary>Restores state saved by <see cref="state_dict"/> (same parameter layout required; checked).</summary>
    public void load_state_dict(IReadOnlyDictionary<string, Tensor> d)
    {
        // Build the new state completely before touching the current one: the dictionary may hold this optimizer's own
        // state tensors (opt.load_state_dict(opt.state_dict())), and a refused dictionary must leave the state intact.
        var state = new Dictionary<(int G, int P), Dictionary<string, Tensor>>();
        var groupSettings = new List<Action>();
        long? stepCount = null;
        using var scope = DisposeScope.Begin(); // temporaries (device moves); the kept copies are detached from it
        try
        {
            foreach (var (key, t) in d)
            {
                var parts = key.Split('.');
                if (parts[0] == "state" && parts.Length == 4)
                {
                    int g = int.Parse(parts[1]), i = int.Parse(parts[2]);
                    if (g >= Groups.Count || i >= Groups[g].Params.Count)
                        throw new InvalidDataException($"optimizer state '{key}' refers to a parameter this optimizer does not have");
                    var p = Groups[g].Params[i];
                    if (t.numel() > 1 && !t.shape.SequenceEqual(p.shape))
                        throw new InvalidDataException($"optimizer state '{key}' has shape [{string.Join(",", t.shape)}], parameter has [{string.Join(",", p.shape)}]");
                    var copy = t.to(p.device).clone().DetachFromScope();
                    if (!state.TryGetValue((g, i), out var st)) state[(g, i)] = st = new();
                    st[parts[3]] = copy;
                }
                else if (parts[0] == "group" && parts.Length == 3)
                {
                    int g = int.Parse(parts[1]);
                    if (g >= Groups.Count) throw new InvalidDataException($"optimizer state '{key}' refers to group {g}, there are {Groups.Count}");
                    var v = t.item();
                    if (parts[2] == "lr") groupSettings.Add(() => Groups[g].Lr = v);
                    else if (parts[2] == "weight_decay") groupSettings.Add(() => Groups[g].WeightDecay = v);
                }
                else if (key == "step") stepCount = (long)t.item();
                else throw new InvalidDataException($"unknown optimizer state key '{key}'");
            }
        }
        catch
        {
            foreach (var st in state.Values) foreach (var t in st.Values) t.Dispose();
            throw;
        }
        foreach (var st in State.Values) foreach (var t in st.Values) t.Dispose();
        State.Clear();
        foreach (var (k, v) in state) State[k] = v;
        foreach (var set in groupSettings) set();
        if (stepCount is { } n) StepCount = n;
    }

    public void Dispose()
    {
        foreach (var st in State.Values) foreach (var t in st.Values) t.Dispose();
        State.Clear();
        GC.SuppressFinalize(this);
    }
}

/// <summary>AdamW (decoupled weight decay), PyTorch's algorithm and defaults.</summary>
public sealed class AdamW(IEnumerable<ParamGroup> groups, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8) : Optimizer(groups)
{
    public AdamW(IEnumerable<Tensor> parameters, double lr = 1e-3, double weightDecay = 0.01, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8)
        : this([new ParamGroup(parameters.ToList(), lr, weightDecay)], beta1, beta2, eps) { }

    protected override void Update(ParamGroup group, Tensor p, Tensor grad, Dictionary<string, Tensor> st)
    {
        if (!st.TryGetValue("exp_avg", out var m))
        {
            st["exp_avg"] = m = torch.zeros_like(p).DetachFromScope();
            st["exp_avg_sq"] = torch.zeros_like(p).DetachFromScope();
            st["step"] = torch.zeros([1], DType.Float64).DetachFromScope();
        }
        var v = st["exp_avg_sq"];
        var stepT = st["step"];
        stepT.add_(1);
        double step = stepT.item();
        if (group.WeightDecay != 0) p.mul_(1 - group.Lr * group.WeightDecay);
        m.lerp_(grad, 1 - beta1);
        v.mul_(beta2).addcmul_(grad, grad, 1 - beta2);
        double bc1 = 1 - Math.Pow(beta1, step), bc2 = 1 - Math.Pow(beta2, step);
        var denom = (v.sqrt() / Math.Sqrt(bc2)).add_(eps);
        p.addcdiv_(m, denom, -group.Lr / bc1);
    }
}

/// <summary>SGD with momentum, dampening, Nesterov and (coupled) weight decay, as PyTorch's.</summary>
public sealed class SGD(IEnumerable<ParamGroup> groups, double momentum = 0, double dampening = 0, bool nesterov = false) : Optimizer(groups)
{
    public SGD(IEnumerable<Tensor> parameters, double lr, double momentum = 0, double weightDecay = 0, bool nesterov = false)
        : this([new ParamGroup(parameters.ToList(), lr, weightDecay)], momentum, 0, nesterov) { }

    protected override void Update(ParamGroup group, Tensor p, Tensor grad, Dictionary<string, Tensor> st)
    {
        if (nesterov && (momentum <= 0 || dampening != 0))
            throw new InvalidOperationException("Nesterov momentum requires momentum > 0 and zero dampening");
        var d = group.WeightDecay != 0 ? grad.add(p, group.WeightDecay) : grad;
        if (momentum != 0)
        {
            if (!st.TryGetValue("momentum_buffer", out var buf))
                st["momentum_buffer"] = buf = d.clone().detach().DetachFromScope();
            else
                buf.mul_(momentum).add_(d, 1 - dampening);
            d = nesterov ? d.add(buf, momentum) : buf;
        }
        p.add_(d, -group.Lr);
    }
}
