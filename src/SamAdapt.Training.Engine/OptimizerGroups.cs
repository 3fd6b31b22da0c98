using SamAdapt.Torch;
using SamAdapt.Torch.Optim;

namespace SamAdapt.Training.Engine;

/// <summary>
/// The AdamW parameter groups of a run (docs/methods/ma-sam.md §2). With <see cref="TrainerOptions.Recipe"/>
/// "samadapt" (the default) every group is split into the tensors that are weight-decayed and those that are not: biases, norm
/// weights (every tensor of rank ≤ 1) and learned tokens / embeddings (<see cref="IsDecayExempt"/>) get no decay, as is usual for
/// AdamW fine-tuning. With "reference" every trainable tensor is decayed, as the reference code does. Frozen tensors are left out.
/// </summary>
public static class OptimizerGroups
{
    /// <summary>Suffix of the name of a group's no-decay part.</summary>
    public const string NoDecaySuffix = " (no decay)";

    /// <summary>True for a bias, a norm's weight (rank ≤ 1), a positional table or a learned token / prompt embedding.</summary>
    public static bool IsDecayExempt(string name, Tensor p)
    {
        if (p.dim() <= 1 || name.EndsWith(".bias", StringComparison.Ordinal)) return true;
        var parts = name.Split('.');
        var member = parts.Length >= 2 && parts[^1] == "weight" ? parts[^2] : parts[^1];
        if (int.TryParse(member, out _) && parts.Length >= 3) member = parts[^3]; // point_embeddings.0.weight
        return member is "pos_embed" or "point_embeddings" || member.EndsWith("_token", StringComparison.Ordinal) ||
               member.EndsWith("_tokens", StringComparison.Ordinal) || member.EndsWith("_embed", StringComparison.Ordinal);
    }

    /// <summary>
    /// AdamW groups from the task's specs (trainable tensors only; "other" collects trainable tensors of <paramref name="all"/> in no spec).
    /// Throws <see cref="ArgumentException"/> when a tensor is in two specs.
    /// </summary>
    public static List<ParamGroup> Build(IEnumerable<ParameterGroupSpec> specs, IEnumerable<(string Name, Tensor Value)> all, TrainerOptions o)
    {
        bool split = !TrainerOptions.IsReference(o.Recipe);
        var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        var groups = new List<ParamGroup>();
        void Add(string name, IReadOnlyList<(string Name, Tensor Value)> ps, double lr, double wd)
        {
            var trainable = ps.Where(p => p.Value.requires_grad).ToList();
            if (!split || wd == 0)
            {
                if (trainable.Count > 0) groups.Add(new ParamGroup(trainable.Select(p => p.Value).ToList(), lr, wd, name));
                return;
            }
            var decayed = trainable.Where(p => !IsDecayExempt(p.Name, p.Value)).Select(p => p.Value).ToList();
            var exempt = trainable.Where(p => IsDecayExempt(p.Name, p.Value)).Select(p => p.Value).ToList();
            if (decayed.Count > 0) groups.Add(new ParamGroup(decayed, lr, wd, name));
            if (exempt.Count > 0) groups.Add(new ParamGroup(exempt, lr, 0, name + NoDecaySuffix));
        }
        foreach (var g in specs)
        {
            foreach (var (n, p) in g.Parameters)
                if (!seen.Add(p)) throw new ArgumentException($"parameter '{n}' is in more than one parameter group (group '{g.Name}')");
            Add(g.Name, g.Parameters, o.Lr * g.LrScale, g.WeightDecay ?? o.WeightDecay);
        }
        Add("other", all.Where(p => !seen.Contains(p.Value)).ToList(), o.Lr, o.WeightDecay);
        return groups;
    }
}
