using SamAdapt.Torch;

namespace SamAdapt.Training.Engine;

/// <summary>
/// Validation Dice per class, accumulated over batches of predicted and true label maps (any device): for each
/// class c, Dice = 2|P_c ∩ G_c| / (|P_c| + |G_c|) over everything added (NaN when the class is in neither).
/// Positions labelled <c>ignoreIndex</c> are left out.
/// </summary>
public sealed class DiceAccumulator(IReadOnlyList<string> classNames, long ignoreIndex = -100)
{
    private readonly long[] _inter = new long[classNames.Count], _pred = new long[classNames.Count], _gt = new long[classNames.Count];

    public IReadOnlyList<string> ClassNames { get; } = classNames;

    /// <summary>Adds predicted labels and true labels of the same shape (integer tensors).</summary>
    public void Add(Tensor predicted, Tensor truth)
    {
        if (!predicted.shape.SequenceEqual(truth.shape))
            throw new ArgumentException($"prediction [{string.Join(", ", predicted.shape)}] and truth [{string.Join(", ", truth.shape)}] differ in shape");
        using var scope = DisposeScope.Begin();
        var c = ClassNames.Count;
        var p = predicted.to(DType.Int64).reshape(-1);
        var g = truth.to(DType.Int64).reshape(-1);
        var valid = g.ne(ignoreIndex);
        var classes = torch.arange(c, device: p.device).unsqueeze(1);  // [C, 1]
        var pm = p.unsqueeze(0).eq(classes).logical_and(valid.unsqueeze(0)); // [C, N]
        var gm = g.unsqueeze(0).eq(classes);
        var inter = pm.logical_and(gm).sum(1).cpu().ToArray<long>();
        var ps = pm.sum(1).cpu().ToArray<long>();
        var gs = gm.sum(1).cpu().ToArray<long>();
        for (int i = 0; i < c; i++) { _inter[i] += inter[i]; _pred[i] += ps[i]; _gt[i] += gs[i]; }
    }

    public double[] Dice() =>
        Enumerable.Range(0, ClassNames.Count).Select(i => _pred[i] + _gt[i] == 0 ? double.NaN : 2.0 * _inter[i] / (_pred[i] + _gt[i])).ToArray();

    public ValidationResult Result() => new(ClassNames, Dice());
}
