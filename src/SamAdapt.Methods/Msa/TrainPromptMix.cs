using System.Globalization;

namespace SamAdapt.Methods.Msa;

/// <summary>
/// The distribution of prompts that prompt-trained MSA simulates per target (docs/methods/msa.md, "Training prompts"): a mixture, by
/// weight, of boxes that contain the target at a random IoU with its tight box, MedSAM's ±10 % jittered boxes, 1..<see cref="MaxClicks"/>
/// random positive clicks, and interactive sessions (a first click at the target's centre, then 0..<see cref="Rounds"/> rounds that each
/// add a click in the largest error region of the previous prediction and feed its low-resolution logits back as the mask prompt,
/// without gradient through the earlier rounds). The default covers what <c>evaluate-prompted</c> asks (1pt, 3pt, box0.5, box0.75,
/// iterative:5). Text form: <c>box:0.4,click:0.3,iterative:0.3</c> (a kind without a weight weighs 1).
/// </summary>
public sealed record TrainPromptMix
{
    /// <summary>Weight of boxes containing the target with an IoU drawn uniformly in [<see cref="BoxIoUMin"/>, 1] (kind <c>box</c>).</summary>
    public double Box { get; init; }
    /// <summary>Weight of MedSAM's boxes: each side of the tight box moved by up to ±10 % of its length (kind <c>jitter-box</c>).</summary>
    public double JitterBox { get; init; }
    /// <summary>Weight of 1..<see cref="MaxClicks"/> uniformly drawn positive clicks (kind <c>click</c>).</summary>
    public double Click { get; init; }
    /// <summary>Weight of interactive sessions (kind <c>iterative</c>).</summary>
    public double Iterative { get; init; }
    /// <summary>Most positive clicks of a <c>click</c> prompt.</summary>
    public int MaxClicks { get; init; } = 3;
    /// <summary>Most correction rounds of an interactive session (its prompt then holds up to Rounds + 1 clicks).</summary>
    public int Rounds { get; init; } = 4;
    /// <summary>
    /// At most this many targets per stack and step, drawn at random from its (slice, class) targets; 0 = every target. With several
    /// stacks per batch it spreads the decoder's work over more images for the same cost.
    /// </summary>
    public int TargetsPerStack { get; init; }
    /// <summary>Lowest IoU of a <c>box</c> prompt with the tight box.</summary>
    public double BoxIoUMin { get; init; } = 0.5;

    /// <summary>The default mixture.</summary>
    public static TrainPromptMix Default { get; } = new() { Box = 0.4, Click = 0.3, Iterative = 0.3 };
    public const string DefaultText = "box:0.4,click:0.3,iterative:0.3";

    /// <summary>MedSAM's recipe: jittered boxes only.</summary>
    public static TrainPromptMix MedSam { get; } = new() { JitterBox = 1 };

    /// <summary>Tight boxes only (validation).</summary>
    internal bool TightOnly { get; init; }
    public static TrainPromptMix TightBoxes { get; } = new() { Box = 1, TightOnly = true };

    private double Total => Box + JitterBox + Click + Iterative;

    public void Validate()
    {
        foreach (var (n, w) in new[] { ("box", Box), ("jitter-box", JitterBox), ("click", Click), ("iterative", Iterative) })
            if (!(w >= 0 && double.IsFinite(w))) throw new ArgumentException($"--train-prompts: weight of '{n}' must be a finite number ≥ 0, got {w.ToString(CultureInfo.InvariantCulture)}");
        if (!(Total > 0)) throw new ArgumentException("--train-prompts: every weight is 0; give at least one of box, jitter-box, click, iterative");
        if (MaxClicks < 1) throw new ArgumentException($"--max-clicks must be ≥ 1, got {MaxClicks}");
        if (Rounds < 0) throw new ArgumentException($"--prompt-rounds must be ≥ 0, got {Rounds}");
        if (TargetsPerStack < 0) throw new ArgumentException($"--targets-per-stack must be ≥ 0 (0 = every target), got {TargetsPerStack}");
        if (!(BoxIoUMin > 0 && BoxIoUMin <= 1)) throw new ArgumentException($"box IoU minimum must be in (0, 1], got {BoxIoUMin.ToString(CultureInfo.InvariantCulture)}");
    }

    /// <summary>Parses <c>kind[:weight],…</c> (kinds box, jitter-box, click, iterative).</summary>
    public static TrainPromptMix Parse(string text, int? maxClicks = null, int? rounds = null, int? targetsPerStack = null)
    {
        var mix = new TrainPromptMix();
        var seen = new HashSet<string>();
        foreach (var raw in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = raw.Split(':', 2, StringSplitOptions.TrimEntries);
            var kind = parts[0].ToLowerInvariant();
            double w = 1;
            if (parts.Length == 2 && !(double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out w) && w >= 0 && double.IsFinite(w)))
                throw new ArgumentException($"--train-prompts: weight of '{parts[0]}' must be a number ≥ 0, got '{parts[1]}'");
            if (!seen.Add(kind)) throw new ArgumentException($"--train-prompts: '{kind}' is given twice in '{text}'");
            mix = kind switch
            {
                "box" => mix with { Box = w },
                "jitter-box" => mix with { JitterBox = w },
                "click" => mix with { Click = w },
                "iterative" => mix with { Iterative = w },
                _ => throw new ArgumentException($"--train-prompts: unknown prompt kind '{parts[0]}'; expected box, jitter-box, click or iterative (e.g. {DefaultText})"),
            };
        }
        if (seen.Count == 0) throw new ArgumentException($"--train-prompts: no prompt kind given; expected e.g. {DefaultText}");
        mix = mix with { MaxClicks = maxClicks ?? mix.MaxClicks, Rounds = rounds ?? mix.Rounds, TargetsPerStack = targetsPerStack ?? mix.TargetsPerStack };
        mix.Validate();
        return mix;
    }

    /// <summary>The text form (kinds with a non-zero weight).</summary>
    public string ToText() => string.Join(",", new[] { ("box", Box), ("jitter-box", JitterBox), ("click", Click), ("iterative", Iterative) }
        .Where(k => k.Item2 > 0).Select(k => k.Item1 + ":" + k.Item2.ToString("R", CultureInfo.InvariantCulture)));

    /// <summary>The kind of one target's prompt, drawn by weight.</summary>
    public TrainPromptKind Draw(Random rng)
    {
        double u = rng.NextDouble() * Total;
        if ((u -= Box) < 0) return TrainPromptKind.Box;
        if ((u -= JitterBox) < 0) return TrainPromptKind.JitterBox;
        if ((u -= Click) < 0) return TrainPromptKind.Click;
        return Iterative > 0 ? TrainPromptKind.Iterative : Click > 0 ? TrainPromptKind.Click : JitterBox > 0 ? TrainPromptKind.JitterBox : TrainPromptKind.Box;
    }
}

/// <summary>One target's prompt kind in training (<see cref="TrainPromptMix"/>).</summary>
public enum TrainPromptKind { Box, JitterBox, Click, Iterative }
