namespace SamAdapt.Torch.Optim;

/// <summary>A learning-rate multiplier as a function of the (0-based) step.</summary>
public interface ILrSchedule
{
    double Factor(long step);
}

/// <summary>
/// Linear warm-up then polynomial decay (MA-SAM / SAMed): during warm-up factor = (step+1)/warmup; afterwards
/// factor = (1 − (step − warmup)/(total − warmup))^power, reaching 0 at <paramref name="totalSteps"/>.
/// </summary>
public sealed record WarmupPolyDecay(long WarmupSteps, long totalSteps, double Power) : ILrSchedule
{
    public long TotalSteps { get; } = totalSteps > 0 ? totalSteps : throw new ArgumentOutOfRangeException(nameof(totalSteps), "total steps must be positive");

    public double Factor(long step)
    {
        if (WarmupSteps > 0 && step < WarmupSteps) return (step + 1) / (double)WarmupSteps;
        var span = Math.Max(1, TotalSteps - WarmupSteps);
        var progress = Math.Clamp((step - WarmupSteps) / (double)span, 0, 1);
        return Math.Pow(1 - progress, Power);
    }
}

public sealed record ConstantLr : ILrSchedule
{
    public double Factor(long step) => 1;
}

public static class ScheduleExtensions
{
    /// <summary>Sets every group's lr to BaseLr × schedule factor for this step.</summary>
    public static void Apply(this ILrSchedule schedule, Optimizer optimizer, long step)
    {
        var f = schedule.Factor(step);
        foreach (var g in optimizer.Groups) g.Lr = g.BaseLr * f;
    }
}

public static class GradClip
{
    /// <summary>
    /// Scales gradients so their global L2 norm is at most <paramref name="maxNorm"/>; returns the norm before clipping
    /// (NaN/inf when a gradient is not finite — callers use this to skip a step).
    /// </summary>
    public static double ClipGradNorm(IEnumerable<Tensor> parameters, double maxNorm)
    {
        using var scope = DisposeScope.Begin();
        using var _ = torch.no_grad();
        var grads = parameters.Select(p => p.grad).Where(g => g is not null).Select(g => g!).ToArray();
        if (grads.Length == 0) return 0;
        var norms = grads.Select(g => g.norm(2).to(DType.Float32)).ToArray();
        var total = torch.stack(norms).norm(2);
        double totalNorm = total.item();
        if (!double.IsFinite(totalNorm)) return totalNorm;
        var coef = maxNorm / (totalNorm + 1e-6);
        if (coef < 1) foreach (var g in grads) g.mul_(coef);
        return totalNorm;
    }
}
