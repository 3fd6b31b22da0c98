using System.Globalization;
using SamAdapt.Training.Data;

namespace SamAdapt.Training.Augmentation;

/// <summary>
/// One named, parameterised augmentation. Text form: <c>name:key=value,key=value</c> (invariant culture, shortest
/// round-trip numbers); <c>Augmentation.Parse(a.ToString()) == a</c>. Every step first draws one uniform number u
/// from the sample's <see cref="Random"/> and acts when u &lt; P, then draws its parameters — so the draws a step
/// makes are fixed by the seed alone. Geometric steps (<see cref="IsGeometric"/>) contribute a sampling map that the
/// <see cref="AugmentationPipeline"/> fuses with neighbouring geometric steps and applies once (one interpolation);
/// the others act on the values directly.
/// </summary>
public abstract record Augmentation
{
    protected Augmentation(double p)
    {
        if (!(p >= 0 && p <= 1)) throw new ArgumentOutOfRangeException(nameof(p), p, "probability must be within [0, 1]");
        P = p;
    }

    /// <summary>Probability of acting on a sample.</summary>
    public double P { get; }

    public abstract string Name { get; }

    /// <summary>Parameters after P, as key=value pairs.</summary>
    protected abstract IEnumerable<(string Key, double Value)> Extra { get; }

    public virtual bool IsGeometric => false;

    public sealed override string ToString() =>
        Name + ":" + string.Join(",", new[] { ("p", P) }.Concat(Extra).Select(kv => kv.Item1 + "=" + Num(kv.Item2)));

    /// <summary>Geometric steps: the sampling map for this sample (identity when the step does not act).</summary>
    public virtual Affine2D DrawMap(Random rng, int height, int width) => throw new NotSupportedException($"{Name} is not geometric");

    /// <summary>Value steps: transforms the sample (may return the same object, modified in place).</summary>
    public virtual StackSample ApplyValues(StackSample sample, Random rng) => throw new NotSupportedException($"{Name} is geometric");

    protected bool Fires(Random rng) => rng.NextDouble() < P;

    protected static double Uniform(Random rng, double lo, double hi) => lo + (hi - lo) * rng.NextDouble();

    internal static string Num(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>Names <see cref="Parse"/> understands, with their keys and defaults.</summary>
    public static IReadOnlyList<string> Syntax { get; } =
    [
        "rot90-flip:p=0.5",
        "rotate:p=0.5,max=15",
        "gamma:p=0.5,min=0.5,max=3.5",
        "brightness:p=0.25,min=0.7,max=1.3",
        "contrast:p=0.25,min=0.7,max=1.3",
        "scale:p=0.25,min=0.8,max=1.2",
        "erase:p=0.5,area-min=0.02,area-max=0.05,ratio-min=0.3,ratio-max=3.3",
    ];

    /// <summary>Parses one step; missing keys take the defaults of <see cref="Syntax"/>.</summary>
    public static Augmentation Parse(string text)
    {
        if (string.IsNullOrWhiteSpace(text)) throw new FormatException("empty augmentation; expected one of: " + string.Join(", ", Syntax));
        var s = text.Trim();
        int colon = s.IndexOf(':');
        var name = (colon < 0 ? s : s[..colon]).Trim().ToLowerInvariant();
        var kv = new Dictionary<string, double>(StringComparer.OrdinalIgnoreCase);
        if (colon >= 0)
            foreach (var part in s[(colon + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                int eq = part.IndexOf('=');
                if (eq <= 0) throw new FormatException($"augmentation '{s}': expected key=value, got '{part}'");
                var key = part[..eq].Trim();
                if (!double.TryParse(part[(eq + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !double.IsFinite(v))
                    throw new FormatException($"augmentation '{s}': '{part[(eq + 1)..]}' is not a finite number");
                if (!kv.TryAdd(key, v)) throw new FormatException($"augmentation '{s}': key '{key}' given twice");
            }
        double Get(string key, double def)
        {
            if (kv.Remove(key, out var v)) return v;
            return def;
        }
        Augmentation result;
        try
        {
            result = name switch
            {
                "rot90-flip" => new Rot90Flip(Get("p", 0.5)),
                "rotate" => new RandomRotation(Get("p", 0.5), Get("max", 15)),
                "gamma" => new RandomGamma(Get("p", 0.5), Get("min", 0.5), Get("max", 3.5)),
                "brightness" => new RandomBrightness(Get("p", 0.25), Get("min", 0.7), Get("max", 1.3)),
                "contrast" => new RandomContrast(Get("p", 0.25), Get("min", 0.7), Get("max", 1.3)),
                "scale" => new RandomScale(Get("p", 0.25), Get("min", 0.8), Get("max", 1.2)),
                "erase" => new RandomErasing(Get("p", 0.5), Get("area-min", 0.02), Get("area-max", 0.05), Get("ratio-min", 0.3), Get("ratio-max", 3.3)),
                _ => throw new FormatException($"unknown augmentation '{name}'; expected one of: " + string.Join(", ", Syntax)),
            };
        }
        catch (ArgumentException e)
        {
            throw new FormatException($"augmentation '{s}': {e.Message}", e);
        }
        if (kv.Count > 0) throw new FormatException($"augmentation '{s}': unknown key(s) {string.Join(", ", kv.Keys)}");
        return result;
    }

    protected static void CheckRange(double lo, double hi, string what, double min = double.NegativeInfinity)
    {
        if (!double.IsFinite(lo) || !double.IsFinite(hi) || lo > hi || lo < min)
            throw new ArgumentException($"{what} range must satisfy {(double.IsNegativeInfinity(min) ? "" : Num(min) + " <= ")}min <= max, got [{Num(lo)}, {Num(hi)}]");
    }

    /// <summary>Min and max of the image values.</summary>
    /// <summary>
    /// PIL-style enhancement, in place: y = centre + f·(x − centre) (a blend with a constant image), clipped to [0, 1]
    /// when the input lies in [0, 1]. Brightness blends with black (centre 0), contrast with the mean grey.
    /// </summary>
    protected static void Blend(float[] v, double f, double centre)
    {
        var (lo, hi) = Range(v);
        bool unit = lo >= 0 && hi <= 1;
        for (int i = 0; i < v.Length; i++)
        {
            double y = centre + f * (v[i] - centre);
            v[i] = (float)(unit ? Math.Clamp(y, 0, 1) : y);
        }
    }

    internal static (float Min, float Max) Range(float[] values)
    {
        float lo = float.PositiveInfinity, hi = float.NegativeInfinity;
        foreach (var v in values)
        {
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
        return (lo, hi);
    }
}

/// <summary>
/// <c>rot90-flip</c>: MA-SAM's <c>random_rot_flip</c>: with probability P, rotate by k·90° (k uniform in 0..3, numpy
/// <c>rot90</c> on (rows, cols)), then flip along a random axis (rows or columns). Square planes map exactly.
/// </summary>
public sealed record Rot90Flip : Augmentation
{
    public Rot90Flip(double P = 0.5) : base(P) { }
    public override string Name => "rot90-flip";
    protected override IEnumerable<(string, double)> Extra => [];
    public override bool IsGeometric => true;

    public override Affine2D DrawMap(Random rng, int height, int width)
    {
        if (!Fires(rng)) return Affine2D.Identity;
        int k = rng.Next(4), axis = rng.Next(2);
        // forward: rot90 then flip → sampling map inv(rot)∘inv(flip)
        return Affine2D.Rot90(k).Then(Affine2D.Flip(axis));
    }
}

/// <summary><c>rotate</c>: with probability P, rotate about the centre by an integer angle uniform in
/// [−max, max] degrees (MA-SAM: <c>randint(−15, 15)</c>), keeping the size; corners outside become 0.</summary>
public sealed record RandomRotation : Augmentation
{
    public RandomRotation(double P = 0.5, double MaxDegrees = 15) : base(P)
    {
        if (!(MaxDegrees >= 0 && MaxDegrees <= 180)) throw new ArgumentException($"max rotation must be within [0, 180] degrees, got {MaxDegrees}");
        this.MaxDegrees = MaxDegrees;
    }

    public double MaxDegrees { get; }
    public override string Name => "rotate";
    protected override IEnumerable<(string, double)> Extra => [("max", MaxDegrees)];
    public override bool IsGeometric => true;

    public override Affine2D DrawMap(Random rng, int height, int width)
    {
        if (!Fires(rng)) return Affine2D.Identity;
        int m = (int)Math.Floor(MaxDegrees);
        int angle = rng.Next(-m, m + 1);
        return Affine2D.Rotation(angle);
    }
}

/// <summary><c>scale</c>: with probability P, zoom about the centre by a factor uniform in [min, max] and keep the
/// size (centre crop when enlarging, zero padding when shrinking) — RandAugment's scale op in MA-SAM.</summary>
public sealed record RandomScale : Augmentation
{
    public RandomScale(double P = 0.25, double Min = 0.8, double Max = 1.2) : base(P)
    {
        CheckRange(Min, Max, "scale", 1e-3);
        this.Min = Min;
        this.Max = Max;
    }

    public double Min { get; }
    public double Max { get; }
    public override string Name => "scale";
    protected override IEnumerable<(string, double)> Extra => [("min", Min), ("max", Max)];
    public override bool IsGeometric => true;

    public override Affine2D DrawMap(Random rng, int height, int width)
    {
        if (!Fires(rng)) return Affine2D.Identity;
        return Affine2D.Zoom(Uniform(rng, Min, Max));
    }
}

/// <summary>
/// <c>gamma</c>: with probability P, γ uniform in [min, max] and y = x^γ. When the stack's values lie in [0, 1]
/// (MA-SAM's inputs) this is exactly x^γ; otherwise values are mapped to [0, 1] by the stack's min and max first and
/// back afterwards (y = lo + (hi − lo)·((x − lo)/(hi − lo))^γ, MONAI's <c>AdjustContrast</c>). Labels are unchanged.
/// </summary>
public sealed record RandomGamma : Augmentation
{
    public RandomGamma(double P = 0.5, double Min = 0.5, double Max = 3.5) : base(P)
    {
        CheckRange(Min, Max, "gamma", 1e-6);
        this.Min = Min;
        this.Max = Max;
    }

    public double Min { get; }
    public double Max { get; }
    public override string Name => "gamma";
    protected override IEnumerable<(string, double)> Extra => [("min", Min), ("max", Max)];

    public override StackSample ApplyValues(StackSample sample, Random rng)
    {
        if (!Fires(rng)) return sample;
        Apply(sample.Image, Uniform(rng, Min, Max));
        return sample;
    }

    /// <summary>The transform with a given γ, in place (single-precision <see cref="MathF.Pow"/>).</summary>
    public static void Apply(float[] values, double gamma)
    {
        var (lo, hi) = Range(values);
        bool unit = lo >= 0 && hi <= 1;
        float a = unit ? 0 : lo, r = unit ? 1 : hi - lo, g = (float)gamma;
        if (!(r > 0)) return;
        const int chunk = 1 << 16;
        int chunks = (values.Length + chunk - 1) / chunk;
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = AffineWarp.Threads }, c =>
        {
            int end = Math.Min(values.Length, (c + 1) * chunk);
            if (unit)
                for (int i = c * chunk; i < end; i++) values[i] = MathF.Pow(values[i], g);
            else
                for (int i = c * chunk; i < end; i++) values[i] = a + r * MathF.Pow((values[i] - a) / r, g);
        });
    }
}

/// <summary><c>brightness</c>: with probability P, y = f·x with f uniform in [min, max] (PIL
/// <c>ImageEnhance.Brightness</c>: a blend with black); clipped to [0, 1] when the input lies in [0, 1].</summary>
public sealed record RandomBrightness : Augmentation
{
    public RandomBrightness(double P = 0.25, double Min = 0.7, double Max = 1.3) : base(P)
    {
        CheckRange(Min, Max, "brightness", 0);
        this.Min = Min;
        this.Max = Max;
    }

    public double Min { get; }
    public double Max { get; }
    public override string Name => "brightness";
    protected override IEnumerable<(string, double)> Extra => [("min", Min), ("max", Max)];

    public override StackSample ApplyValues(StackSample sample, Random rng)
    {
        if (!Fires(rng)) return sample;
        Blend(sample.Image, Uniform(rng, Min, Max), centre: 0);
        return sample;
    }
}

/// <summary><c>contrast</c>: with probability P, y = m + f·(x − m) with f uniform in [min, max] and m the stack's
/// mean (PIL <c>ImageEnhance.Contrast</c>: a blend with the mean grey); clipped to [0, 1] when the input lies in [0, 1].</summary>
public sealed record RandomContrast : Augmentation
{
    public RandomContrast(double P = 0.25, double Min = 0.7, double Max = 1.3) : base(P)
    {
        CheckRange(Min, Max, "contrast", 0);
        this.Min = Min;
        this.Max = Max;
    }

    public double Min { get; }
    public double Max { get; }
    public override string Name => "contrast";
    protected override IEnumerable<(string, double)> Extra => [("min", Min), ("max", Max)];

    public override StackSample ApplyValues(StackSample sample, Random rng)
    {
        if (!Fires(rng)) return sample;
        double f = Uniform(rng, Min, Max);
        var v = sample.Image;
        double sum = 0;
        foreach (var x in v) sum += x;
        Blend(v, f, centre: sum / v.Length);
        return sample;
    }
}

/// <summary>
/// <c>erase</c>: MA-SAM's random erasing. With probability P, a box covering a fraction of the plane uniform in
/// [area-min, area-max] with aspect ratio (height/width) log-uniform in [ratio-min, ratio-max] is placed uniformly (up
/// to 10 tries until it fits), filled with uniform noise over the stack's value range in every channel and slice,
/// and its label set to 0 (background). The box is the same in all slices.
/// </summary>
public sealed record RandomErasing : Augmentation
{
    public RandomErasing(double P = 0.5, double AreaMin = 0.02, double AreaMax = 0.05, double RatioMin = 0.3, double RatioMax = 3.3) : base(P)
    {
        CheckRange(AreaMin, AreaMax, "area", 0);
        if (AreaMax > 1) throw new ArgumentException($"area fraction must be <= 1, got {AreaMax}");
        CheckRange(RatioMin, RatioMax, "aspect ratio", 1e-6);
        this.AreaMin = AreaMin;
        this.AreaMax = AreaMax;
        this.RatioMin = RatioMin;
        this.RatioMax = RatioMax;
    }

    public double AreaMin { get; }
    public double AreaMax { get; }
    public double RatioMin { get; }
    public double RatioMax { get; }
    public override string Name => "erase";
    protected override IEnumerable<(string, double)> Extra =>
        [("area-min", AreaMin), ("area-max", AreaMax), ("ratio-min", RatioMin), ("ratio-max", RatioMax)];

    public override StackSample ApplyValues(StackSample sample, Random rng)
    {
        if (!Fires(rng)) return sample;
        int H = sample.Height, W = sample.Width;
        for (int attempt = 0; attempt < 10; attempt++)
        {
            double area = Uniform(rng, AreaMin, AreaMax) * H * W;
            double ratio = Math.Exp(Uniform(rng, Math.Log(RatioMin), Math.Log(RatioMax)));
            int bh = (int)Math.Round(Math.Sqrt(area * ratio)), bw = (int)Math.Round(Math.Sqrt(area / ratio));
            if (bh < 1 || bw < 1 || bh > H || bw > W) continue;
            int y0 = rng.Next(H - bh + 1), x0 = rng.Next(W - bw + 1);
            Erase(sample, y0, x0, bh, bw, rng);
            return sample;
        }
        return sample;
    }

    /// <summary>Fills the box with noise (stack value range) and clears its label.</summary>
    public static void Erase(StackSample s, int y0, int x0, int bh, int bw, Random rng)
    {
        var (lo, hi) = Range(s.Image);
        if (!(hi > lo)) { lo = 0; hi = 1; }
        int H = s.Height, W = s.Width;
        for (int p = 0; p < s.Channels * s.Depth; p++)
            for (int y = y0; y < y0 + bh; y++)
                for (int x = x0; x < x0 + bw; x++)
                    s.Image[(p * H + y) * W + x] = (float)(lo + (hi - lo) * rng.NextDouble());
        if (s.Label is { } l)
            for (int d = 0; d < s.Depth; d++)
                for (int y = y0; y < y0 + bh; y++)
                    Array.Clear(l, (d * H + y) * W + x0, bw);
    }
}
