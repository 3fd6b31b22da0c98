using SamAdapt.Training.Data;

namespace SamAdapt.Training.Augmentation;

/// <summary>
/// An ordered list of <see cref="Augmentation"/> steps applied to a (C, D, H, W) stack and its (D, H, W) labels — the
/// same transform for every slice and channel, nearest-neighbour for labels. Text form: the steps' text forms joined
/// by ';' (or a preset name: <c>ma-sam</c>, <c>none</c>); <c>Parse(p.ToString())</c> equals <c>p</c>.
/// <para>Consecutive geometric steps are composed into one sampling map and applied in one pass (one interpolation,
/// no intermediate cropping); value steps act where they are listed.</para>
/// <para>Determinism: <see cref="Apply(StackSample, int, int, long)"/> seeds a <see cref="Random"/> from
/// (seed, epoch, sample index) (<see cref="SampleRandom"/>), so a sample's augmentation depends on nothing else —
/// not on thread scheduling, batch composition or where a resumed run restarted.</para>
/// </summary>
public sealed class AugmentationPipeline : IEquatable<AugmentationPipeline>
{
    public AugmentationPipeline(IEnumerable<Augmentation> steps) => Steps = steps.ToArray();

    public IReadOnlyList<Augmentation> Steps { get; }

    public bool IsEmpty => Steps.Count == 0 || Steps.All(s => s.P == 0);

    public static AugmentationPipeline None { get; } = new([]);

    /// <summary>
    /// MA-SAM's <c>RandomGenerator</c> (docs/methods.md §0): rot90+flip (p 0.5), rotation by randint(−15, 15)° (p 0.5),
    /// gamma γ ∈ [0.5, 3.5] (p 0.5), then the RandAugment part as independent steps — scale 0.8–1.2, brightness and
    /// contrast 0.7–1.3, each with p 0.25 (RandAugment picks 2 of ~12 ops per sample, so each op acts on roughly one
    /// sample in six; 0.25 keeps the expected number of ops similar with the subset ported here). Random erasing is
    /// left out by default (add <c>erase:p=0.5</c>); shear, translate, posterize and sharpness are not ported.
    /// Geometric steps come first here so they fuse into one interpolation.
    /// </summary>
    public static AugmentationPipeline MaSam { get; } = new(
    [
        new Rot90Flip(0.5),
        new RandomRotation(0.5, 15),
        new RandomScale(0.25, 0.8, 1.2),
        new RandomGamma(0.5, 0.5, 3.5),
        new RandomBrightness(0.25, 0.7, 1.3),
        new RandomContrast(0.25, 0.7, 1.3),
    ]);

    public static IReadOnlyDictionary<string, AugmentationPipeline> Presets { get; } =
        new Dictionary<string, AugmentationPipeline>(StringComparer.OrdinalIgnoreCase) { ["ma-sam"] = MaSam, ["none"] = None };

    public override string ToString() => Steps.Count == 0 ? "none" : string.Join(";", Steps.Select(s => s.ToString()));

    /// <summary>Parses a preset name or ';'-separated steps (see <see cref="Augmentation.Syntax"/>).</summary>
    public static AugmentationPipeline Parse(string text)
    {
        if (string.IsNullOrWhiteSpace(text)) throw new FormatException("empty augmentation list (use 'none' for no augmentation)");
        if (Presets.TryGetValue(text.Trim(), out var p)) return p;
        return new(text.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(Augmentation.Parse));
    }

    /// <summary>Augments a copy of <paramref name="sample"/> with a generator seeded from (seed, epoch, index).</summary>
    public StackSample Apply(StackSample sample, int seed, int epoch, long index) =>
        Apply(sample, SampleRandom.Create(seed, epoch, index, SampleRandom.AugmentationStream));

    /// <summary>Augments a copy of <paramref name="sample"/> (the input is not modified).</summary>
    public StackSample Apply(StackSample sample, Random rng)
    {
        // value steps work in place: copy the input before the first one unless a warp already made new arrays
        var s = sample;
        bool owned = false;
        var pending = Affine2D.Identity;
        foreach (var step in Steps)
        {
            if (step.IsGeometric)
            {
                // forward T_prev then T_step → sampling map inv(T_prev)∘inv(T_step)
                pending = pending.Then(step.DrawMap(rng, s.Height, s.Width));
                continue;
            }
            if (!pending.IsIdentity) { s = AffineWarp.Apply(s, pending); pending = Affine2D.Identity; owned = true; }
            if (!owned) { s = s.Clone(); owned = true; }
            s = step.ApplyValues(s, rng);
        }
        if (!pending.IsIdentity) { s = AffineWarp.Apply(s, pending); owned = true; }
        return owned ? s : s.Clone();
    }

    public bool Equals(AugmentationPipeline? other) => other is not null && Steps.SequenceEqual(other.Steps);
    public override bool Equals(object? obj) => Equals(obj as AugmentationPipeline);
    public override int GetHashCode() => Steps.Aggregate(17, (h, s) => h * 31 + s.GetHashCode());
}

/// <summary>
/// Per-sample random generators that depend only on (seed, epoch, index, stream): the inputs are mixed with
/// SplitMix64 into the 32-bit seed of <see cref="Random"/>(int), whose sequence is fixed across .NET versions and
/// platforms. Streams keep independent uses (augmentation, sampling) from sharing draws.
/// </summary>
public static class SampleRandom
{
    public const int AugmentationStream = 1;
    public const int SamplingStream = 2;
    public const int SplitStream = 3;
    public const int ShuffleStream = 4;

    public static Random Create(int seed, int epoch, long index, int stream) => new(Seed(seed, epoch, index, stream));

    public static int Seed(int seed, int epoch, long index, int stream)
    {
        ulong h = Mix((ulong)(uint)seed);
        h = Mix(h ^ (ulong)(uint)epoch);
        h = Mix(h ^ (ulong)index);
        h = Mix(h ^ (ulong)(uint)stream);
        return (int)(h & 0x7FFFFFFF);
    }

    private static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
