using System.Globalization;

namespace SamAdapt.Imaging.Preprocessing;

/// <summary>
/// A named, parameterised intensity transform that can be recorded in a run manifest and parsed back.
/// The text form is <c>name</c> or <c>name:p1,p2,…</c> (invariant culture, shortest round-trip numbers), e.g.
/// <c>ct-window:-175,250</c>; <c>IntensityTransform.Parse(t.ToString()) == t</c> for every transform.
/// Presets (<see cref="Presets"/>) parse to their canonical form, so a manifest always records the concrete numbers.
/// Transforms take physical values (after NIfTI slope/intercept, i.e. <see cref="Volume.ToFloat32"/>) and compute
/// in double precision, storing float32.
/// </summary>
public abstract record IntensityTransform
{
    /// <summary>The transform's kind, the part before ':' in the text form.</summary>
    public abstract string Name { get; }

    /// <summary>The parameter list after ':' (empty when there are none).</summary>
    public abstract string Parameters { get; }

    public sealed override string ToString() => Parameters.Length == 0 ? Name : Name + ":" + Parameters;

    /// <summary>Transforms the values in place. Statistics (min/max, percentiles, mean/std) come from these values.</summary>
    public abstract void ApplyInPlace(Span<float> values);

    /// <summary>A transformed copy.</summary>
    public float[] Apply(ReadOnlySpan<float> values)
    {
        var r = values.ToArray();
        ApplyInPlace(r);
        return r;
    }

    /// <summary>The volume's physical values, transformed (i fastest, like <see cref="Volume.Data"/>).</summary>
    public float[] Apply(Volume volume)
    {
        var r = volume.ToFloat32();
        ApplyInPlace(r);
        return r;
    }

    /// <summary>A new float32 volume on the same grid holding the transformed values.</summary>
    public Volume ApplyToVolume(Volume volume)
    {
        var data = Apply(volume);
        return new Volume((int[])volume.Shape.Clone(), VoxelType.Float32, data, (double[])volume.Affine.Clone())
        {
            SpatialUnit = volume.SpatialUnit,
            TimeUnit = volume.TimeUnit,
            TimeStep = volume.TimeStep,
            Description = volume.Description,
            Source = volume.Source,
        };
    }

    /// <summary>Named presets and the canonical transform each stands for.</summary>
    public static IReadOnlyDictionary<string, IntensityTransform> Presets { get; } = new Dictionary<string, IntensityTransform>(StringComparer.OrdinalIgnoreCase)
    {
        // MONAI BTCV recipe: ScaleIntensityRanged(a_min=-175, a_max=250, b_min=0, b_max=1, clip=True)
        ["abdomen-btcv"] = new CtWindow(-175, 250),
        // TransUNet / SAMed Synapse: clip [-125, 275], (x + 125) / 400
        ["synapse"] = new CtWindow(-125, 275),
        // MA-SAM BTCV window with a fixed [0,1] scaling
        ["ma-sam"] = new CtWindow(-200, 250),
        // MA-SAM's exact chain (clip, ×255, dataset z-score, per-sample min-max) collapses to clip + min-max of the sample
        ["ma-sam-exact"] = new CtWindowMinMax(-200, 250),
        // MedSAM soft-tissue window, level 40 / width 400
        ["medsam"] = new CtWindow(-160, 240),
        // MedSAM pre_CT_MR.py: clip, min-max of the volume to [0,255], uint8 truncation (returned as q/255)
        ["medsam-exact"] = new CtWindowUInt8(-160, 240),
        // MedSAM MR: clip to [P0.5, P99.5] of the non-zero voxels, min-max, zeros stay zero
        ["medsam-mr"] = new PercentileClip(0.5, 99.5, NonZero: true, Rescale: true),
    };

    /// <summary>The kinds <see cref="Parse"/> understands, for help texts.</summary>
    public static IReadOnlyList<string> Syntax { get; } =
    [
        "none",
        "ct-window:LO,HI",
        "ct-level-width:LEVEL,WIDTH",
        "ct-window-minmax:LO,HI",
        "ct-window-uint8:LO,HI",
        "zscore[:nonzero]",
        "percentile-clip:PLO,PHI[,nonzero][,rescale]",
        "nnunet-ct:P00_5,P99_5,MEAN,STD",
        .. Presets.Keys,
    ];

    /// <summary>Parses the text form or a preset name; throws <see cref="FormatException"/> with the accepted syntax.</summary>
    public static IntensityTransform Parse(string text)
    {
        if (TryParse(text, out var t, out var error)) return t;
        throw new FormatException(error);
    }

    public static bool TryParse(string? text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IntensityTransform? transform, out string error)
    {
        transform = null;
        error = "";
        if (string.IsNullOrWhiteSpace(text)) { error = "empty intensity transform; expected one of: " + string.Join(", ", Syntax); return false; }
        var s = text.Trim();
        if (Presets.TryGetValue(s, out var preset)) { transform = preset; return true; }
        int colon = s.IndexOf(':');
        var name = (colon < 0 ? s : s[..colon]).Trim().ToLowerInvariant();
        var args = colon < 0 ? [] : s[(colon + 1)..].Split(',', StringSplitOptions.TrimEntries);
        try
        {
            transform = name switch
            {
                "none" => NoArgs(args, new NoIntensityTransform()),
                "ct-window" => Window(args, (lo, hi) => new CtWindow(lo, hi)),
                "ct-window-minmax" => Window(args, (lo, hi) => new CtWindowMinMax(lo, hi)),
                "ct-window-uint8" => Window(args, (lo, hi) => new CtWindowUInt8(lo, hi)),
                "ct-level-width" => LevelWidth(args),
                "zscore" => ZScoreOf(args),
                "percentile-clip" => PercentileClipOf(args),
                "nnunet-ct" => NnUNetOf(args),
                _ => null,
            };
        }
        catch (FormatException e)
        {
            error = $"invalid intensity transform '{s}': {e.Message}";
            return false;
        }
        catch (ArgumentException e)
        {
            error = $"invalid intensity transform '{s}': {e.Message}";
            return false;
        }
        if (transform is null)
        {
            error = $"unknown intensity transform '{s}'; expected one of: " + string.Join(", ", Syntax);
            return false;
        }
        return true;
    }

    private static IntensityTransform NoArgs(string[] args, IntensityTransform t) =>
        args.Length == 0 ? t : throw new FormatException($"'{t.Name}' takes no parameters");

    private static IntensityTransform Window(string[] args, Func<double, double, IntensityTransform> make)
    {
        if (args.Length != 2) throw new FormatException("expected two numbers LO,HI");
        return make(Num(args[0]), Num(args[1]));
    }

    private static IntensityTransform LevelWidth(string[] args)
    {
        if (args.Length != 2) throw new FormatException("expected two numbers LEVEL,WIDTH");
        double level = Num(args[0]), width = Num(args[1]);
        if (!(width > 0)) throw new FormatException("window width must be > 0");
        return new CtWindow(level - width / 2, level + width / 2);
    }

    private static IntensityTransform ZScoreOf(string[] args) => args switch
    {
        [] => new ZScore(false),
        [var a] when a.Equals("nonzero", StringComparison.OrdinalIgnoreCase) => new ZScore(true),
        _ => throw new FormatException("expected 'zscore' or 'zscore:nonzero'"),
    };

    private static IntensityTransform PercentileClipOf(string[] args)
    {
        if (args.Length < 2) throw new FormatException("expected PLO,PHI[,nonzero][,rescale]");
        bool nonZero = false, rescale = false;
        foreach (var flag in args.Skip(2))
        {
            if (flag.Equals("nonzero", StringComparison.OrdinalIgnoreCase) && !nonZero) nonZero = true;
            else if (flag.Equals("rescale", StringComparison.OrdinalIgnoreCase) && !rescale) rescale = true;
            else throw new FormatException($"unknown or repeated flag '{flag}' (allowed: nonzero, rescale)");
        }
        return new PercentileClip(Num(args[0]), Num(args[1]), nonZero, rescale);
    }

    private static IntensityTransform NnUNetOf(string[] args)
    {
        if (args.Length != 4) throw new FormatException("expected four numbers P00_5,P99_5,MEAN,STD");
        return new NnUNetCtNormalization(Num(args[0]), Num(args[1]), Num(args[2]), Num(args[3]));
    }

    private static double Num(string s)
    {
        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !double.IsFinite(v))
            throw new FormatException($"'{s}' is not a finite number");
        return v;
    }

    /// <summary>Shortest round-trip invariant text of a number.</summary>
    protected static string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    internal static (double Min, double Max) MinMax(ReadOnlySpan<float> values)
    {
        double min = double.PositiveInfinity, max = double.NegativeInfinity;
        foreach (var v in values)
        {
            if (v < min) min = v;
            if (v > max) max = v;
        }
        return (min, max);
    }
}

/// <summary><c>none</c>: leaves values unchanged.</summary>
public sealed record NoIntensityTransform : IntensityTransform
{
    public override string Name => "none";
    public override string Parameters => "";
    public override void ApplyInPlace(Span<float> values) { }
}

/// <summary>The CT window transforms' shared part: a finite window LO &lt; HI, written as "LO,HI".</summary>
public abstract record CtWindowTransform : IntensityTransform
{
    protected CtWindowTransform(double Lower, double Upper)
    {
        if (!double.IsFinite(Lower) || !double.IsFinite(Upper) || !(Upper > Lower))
            throw new ArgumentException($"CT window needs finite LO < HI, got [{Lower}, {Upper}]");
        this.Lower = Lower;
        this.Upper = Upper;
    }

    public double Lower { get; }
    public double Upper { get; }
    public override string Parameters => F(Lower) + "," + F(Upper);
}

/// <summary>
/// <c>ct-window:LO,HI</c>: clip to [LO, HI], then map linearly to [0, 1]: y = (clip(x, LO, HI) − LO) / (HI − LO).
/// Equal to MONAI's <c>ScaleIntensityRange(a_min=LO, a_max=HI, b_min=0, b_max=1, clip=True)</c> and to
/// TransUNet/SAMed's Synapse preprocessing. Level/width: LO = L − W/2, HI = L + W/2.
/// </summary>
public sealed record CtWindow : CtWindowTransform
{
    public CtWindow(double Lower, double Upper) : base(Lower, Upper) { }

    public double Level => (Lower + Upper) / 2;
    public double Width => Upper - Lower;
    public override string Name => "ct-window";

    public override void ApplyInPlace(Span<float> values)
    {
        double lo = Lower, w = Upper - Lower;
        for (int i = 0; i < values.Length; i++)
            values[i] = (float)((Math.Clamp((double)values[i], lo, Upper) - lo) / w);
    }
}

/// <summary>
/// <c>ct-window-minmax:LO,HI</c>: clip to [LO, HI], then min-max scale the clipped values to [0, 1] using their own
/// minimum and maximum: y = (c − min c) / max(max c − min c, 1e-8). This is what MA-SAM's on-the-fly chain
/// (clip [−200, 250] → ×255 scaling → dataset z-score → per-sample min-max) amounts to, since every step before the
/// min-max is increasing and affine. MA-SAM applies it per training sample (one 5-slice stack), so apply it to the
/// stack, not to the whole volume, to reproduce it.
/// </summary>
public sealed record CtWindowMinMax : CtWindowTransform
{
    public CtWindowMinMax(double Lower, double Upper) : base(Lower, Upper) { }

    public override string Name => "ct-window-minmax";

    public override void ApplyInPlace(Span<float> values)
    {
        if (values.Length == 0) return;
        var (min, max) = MinMax(values);
        double cmin = Math.Clamp(min, Lower, Upper), cmax = Math.Clamp(max, Lower, Upper);
        double range = Math.Max(cmax - cmin, 1e-8);
        for (int i = 0; i < values.Length; i++)
            values[i] = (float)((Math.Clamp((double)values[i], Lower, Upper) - cmin) / range);
    }
}

/// <summary>
/// <c>ct-window-uint8:LO,HI</c>: MedSAM's <c>pre_CT_MR.py</c> CT rule: clip to [LO, HI], min-max scale the clipped
/// volume to [0, 255], truncate to uint8 (q = ⌊255·(c − min)/(max − min)⌋), returned as q / 255 in [0, 1].
/// (MedSAM later min-max scales each resized slice again; that belongs to the model-input stage.)
/// A constant volume gives 0.
/// </summary>
public sealed record CtWindowUInt8 : CtWindowTransform
{
    public CtWindowUInt8(double Lower, double Upper) : base(Lower, Upper) { }

    public override string Name => "ct-window-uint8";

    public override void ApplyInPlace(Span<float> values)
    {
        if (values.Length == 0) return;
        var (min, max) = MinMax(values);
        double cmin = Math.Clamp(min, Lower, Upper), cmax = Math.Clamp(max, Lower, Upper);
        double range = cmax - cmin;
        for (int i = 0; i < values.Length; i++)
        {
            if (!(range > 0)) { values[i] = 0; continue; }
            double q = Math.Floor((Math.Clamp((double)values[i], Lower, Upper) - cmin) / range * 255.0);
            values[i] = (float)(Math.Clamp(q, 0, 255) / 255.0);
        }
    }
}

/// <summary>
/// <c>zscore</c> / <c>zscore:nonzero</c>: per-image z-score y = (x − mean) / max(std, 1e-8) with the population
/// standard deviation (ddof = 0, numpy's default), as nnU-Net's <c>ZScoreNormalization</c>. With <c>nonzero</c> the
/// statistics come from voxels ≠ 0 only and voxels equal to 0 stay 0 (nnU-Net's <c>use_mask_for_norm</c>).
/// For an arbitrary mask use <see cref="ApplyInPlace(Span{float}, ReadOnlySpan{bool})"/>.
/// </summary>
public sealed record ZScore(bool NonZero) : IntensityTransform
{
    public override string Name => "zscore";
    public override string Parameters => NonZero ? "nonzero" : "";

    public override void ApplyInPlace(Span<float> values)
    {
        if (!NonZero) { Normalize(values, default, useMask: false); return; }
        var mask = new bool[values.Length];
        for (int i = 0; i < values.Length; i++) mask[i] = values[i] != 0;
        Normalize(values, mask, useMask: true);
    }

    /// <summary>Statistics from the voxels where <paramref name="mask"/> is true; voxels outside are set to 0.</summary>
    public static void ApplyInPlace(Span<float> values, ReadOnlySpan<bool> mask)
    {
        if (mask.Length != values.Length) throw new ArgumentException($"mask has {mask.Length} elements, values {values.Length}");
        Normalize(values, mask, useMask: true);
    }

    private static void Normalize(Span<float> values, ReadOnlySpan<bool> mask, bool useMask)
    {
        var (mean, std, n) = MeanStd(values, mask, useMask);
        if (n == 0) { if (useMask) values.Clear(); return; }
        double d = Math.Max(std, 1e-8);
        for (int i = 0; i < values.Length; i++)
            values[i] = useMask && !mask[i] ? 0f : (float)((values[i] - mean) / d);
    }

    /// <summary>Mean and population std (two-pass, double precision) of the selected values.</summary>
    public static (double Mean, double Std, long Count) MeanStd(ReadOnlySpan<float> values, ReadOnlySpan<bool> mask, bool useMask)
    {
        double sum = 0; long n = 0;
        for (int i = 0; i < values.Length; i++)
            if (!useMask || mask[i]) { sum += values[i]; n++; }
        if (n == 0) return (double.NaN, double.NaN, 0);
        double mean = sum / n, ss = 0;
        for (int i = 0; i < values.Length; i++)
            if (!useMask || mask[i]) { double d = values[i] - mean; ss += d * d; }
        return (mean, Math.Sqrt(ss / n), n);
    }
}

/// <summary>
/// <c>percentile-clip:PLO,PHI[,nonzero][,rescale]</c>: clip to the image's own PLO-th and PHI-th percentiles (numpy
/// 'linear' semantics, <see cref="Percentile"/>), e.g. [0.5, 99.5] for MRI. <c>nonzero</c>: percentiles from voxels ≠ 0
/// only, and voxels equal to 0 stay 0. <c>rescale</c>: then map [P_lo, P_hi] linearly to [0, 1]
/// (MedSAM's MR rule without the uint8 step; a degenerate range gives 0).
/// </summary>
public sealed record PercentileClip : IntensityTransform
{
    public PercentileClip(double LowerPercentile, double UpperPercentile, bool NonZero = false, bool Rescale = false)
    {
        if (!(LowerPercentile >= 0 && UpperPercentile <= 100 && LowerPercentile < UpperPercentile))
            throw new ArgumentException($"percentiles must satisfy 0 <= lo < hi <= 100, got [{LowerPercentile}, {UpperPercentile}]");
        this.LowerPercentile = LowerPercentile;
        this.UpperPercentile = UpperPercentile;
        this.NonZero = NonZero;
        this.Rescale = Rescale;
    }

    public double LowerPercentile { get; }
    public double UpperPercentile { get; }
    public bool NonZero { get; }
    public bool Rescale { get; }
    public override string Name => "percentile-clip";
    public override string Parameters => F(LowerPercentile) + "," + F(UpperPercentile) + (NonZero ? ",nonzero" : "") + (Rescale ? ",rescale" : "");

    /// <summary>The clip bounds this transform would use for <paramref name="values"/> (NaN if no voxel qualifies).</summary>
    public (double Lower, double Upper) Bounds(ReadOnlySpan<float> values)
    {
        double[] selected;
        if (NonZero)
        {
            int n = 0;
            foreach (var v in values) if (v != 0) n++;
            selected = new double[n];
            n = 0;
            foreach (var v in values) if (v != 0) selected[n++] = v;
        }
        else
        {
            selected = new double[values.Length];
            for (int i = 0; i < values.Length; i++) selected[i] = values[i];
        }
        if (selected.Length == 0) return (double.NaN, double.NaN);
        Array.Sort(selected);
        return (Percentile.OfSorted(selected, LowerPercentile), Percentile.OfSorted(selected, UpperPercentile));
    }

    public override void ApplyInPlace(Span<float> values)
    {
        var (lo, hi) = Bounds(values);
        if (double.IsNaN(lo)) return; // nothing to compute bounds from (all zero with nonzero): unchanged
        double range = hi - lo;
        for (int i = 0; i < values.Length; i++)
        {
            if (NonZero && values[i] == 0) continue;
            double c = Math.Clamp((double)values[i], lo, hi);
            values[i] = (float)(Rescale ? (range > 0 ? (c - lo) / range : 0) : c);
        }
    }
}

/// <summary>
/// <c>nnunet-ct:P00_5,P99_5,MEAN,STD</c>: nnU-Net's <c>CTNormalization</c> with dataset-level foreground statistics
/// (see <see cref="ForegroundIntensityStatistics"/>): y = (clip(x, P00_5, P99_5) − MEAN) / max(STD, 1e-8).
/// </summary>
public sealed record NnUNetCtNormalization : IntensityTransform
{
    public NnUNetCtNormalization(double Percentile00_5, double Percentile99_5, double Mean, double Std)
    {
        if (!(Percentile00_5 <= Percentile99_5)) throw new ArgumentException($"clip bounds must satisfy lo <= hi, got [{Percentile00_5}, {Percentile99_5}]");
        if (!(Std >= 0)) throw new ArgumentException($"std must be >= 0, got {Std}");
        this.Percentile00_5 = Percentile00_5;
        this.Percentile99_5 = Percentile99_5;
        this.Mean = Mean;
        this.Std = Std;
    }

    public double Percentile00_5 { get; }
    public double Percentile99_5 { get; }
    public double Mean { get; }
    public double Std { get; }
    public override string Name => "nnunet-ct";
    public override string Parameters => F(Percentile00_5) + "," + F(Percentile99_5) + "," + F(Mean) + "," + F(Std);

    public override void ApplyInPlace(Span<float> values)
    {
        double d = Math.Max(Std, 1e-8);
        for (int i = 0; i < values.Length; i++)
            values[i] = (float)((Math.Clamp((double)values[i], Percentile00_5, Percentile99_5) - Mean) / d);
    }
}
