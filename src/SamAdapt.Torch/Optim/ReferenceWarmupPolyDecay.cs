namespace SamAdapt.Torch.Optim;

/// <summary>
/// The learning-rate schedule exactly as the reference MA-SAM / SAMed trainers run it (docs/methods/ma-sam.md §2): the
/// optimizer starts at base/W, and after each step i the rate for the next one is set to base·(i+1)/W while i &lt; W, else
/// base·(1 − (i − W)/T)^power with T the planned total. So step 0 and step 1 both run at base/W, step s ≤ W at base·s/W (base at
/// step W), and step s &gt; W at base·(1 − (s − 1 − W)/T)^power: the decay divides by the total, not by the steps after warm-up,
/// and does not reach 0 at the end. With W = 0: step 0 at base, step s at base·(1 − (s − 1)/T)^power.
/// </summary>
public sealed record ReferenceWarmupPolyDecay(long WarmupSteps, long totalSteps, double Power) : ILrSchedule
{
    public long TotalSteps { get; } = totalSteps > 0 ? totalSteps : throw new ArgumentOutOfRangeException(nameof(totalSteps), "total steps must be positive");

    public double Factor(long step)
    {
        if (step < 0) throw new ArgumentOutOfRangeException(nameof(step), "steps are 0-based");
        if (step == 0) return WarmupSteps > 0 ? 1.0 / WarmupSteps : 1.0;
        long previous = step - 1; // the rate of step s is set after step s − 1
        if (WarmupSteps > 0 && previous < WarmupSteps) return (previous + 1) / (double)WarmupSteps;
        double shift = previous - WarmupSteps;
        return Math.Pow(Math.Max(0, 1 - shift / TotalSteps), Power);
    }
}
