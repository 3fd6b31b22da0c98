using System.Globalization;

namespace SamAdapt.Training.Data;

/// <summary>How the C image channels of a sample become SAM's three input channels (docs/imaging.md, "Multi-channel inputs").</summary>
public enum InputMappingKind
{
    /// <summary>One channel (grey) copied to all three (C = 1; the default of single-channel data).</summary>
    Replicate,
    /// <summary>Three channels used as they are (C = 3: RGB images, three-sequence volumes).</summary>
    Identity,
    /// <summary>Three chosen channels i, j, k of C (<c>select:i,j,k</c>).</summary>
    Select,
    /// <summary>A learned 1×1 convolution C → 3 (<see cref="LearnedInputProjection"/>), trained with the method's parameters.</summary>
    Learned,
}

/// <summary>
/// The input mapping of a run: <see cref="Channels"/> image channels (C) → SAM's 3. Host-side kinds (replicate, identity,
/// select) write the 3 channels when a sample is turned into model input; <see cref="InputMappingKind.Learned"/> hands the model
/// all C channels and a <see cref="LearnedInputProjection"/> maps them on the device. Text form (config.yaml, weights metadata,
/// <c>--input-projection</c>): <c>replicate</c>, <c>identity</c>, <c>select:i,j,k</c>, <c>learned</c>, each with the channel
/// count as <c>…@C</c> in the recorded form (e.g. <c>learned@4</c>).
/// </summary>
public sealed record InputMapping
{
    private InputMapping(InputMappingKind kind, int channels, IReadOnlyList<int> selected)
    {
        Kind = kind;
        Channels = channels;
        Selected = selected;
    }

    public InputMappingKind Kind { get; }
    /// <summary>C: image channels each sample holds.</summary>
    public int Channels { get; }
    /// <summary>For <see cref="InputMappingKind.Select"/>: the three channel indices (SAM channel 0, 1, 2); empty otherwise.</summary>
    public IReadOnlyList<int> Selected { get; }

    /// <summary>Channels of the tensor the model (or its learned projection) receives: C for learned, 3 otherwise.</summary>
    public int ModelChannels => Kind == InputMappingKind.Learned ? Channels : 3;

    /// <summary>A single grey channel replicated to three: what every run before multi-channel support did.</summary>
    public static InputMapping Grey { get; } = new(InputMappingKind.Replicate, 1, []);

    public bool IsGrey => Kind == InputMappingKind.Replicate;

    public static InputMapping Identity3 { get; } = new(InputMappingKind.Identity, 3, []);

    public static InputMapping Learned(int channels) =>
        channels >= 1 ? new(InputMappingKind.Learned, channels, []) : throw new ArgumentException($"a learned projection needs at least one channel, got {channels}");

    public static InputMapping Select(int channels, int i, int j, int k)
    {
        int[] sel = [i, j, k];
        var bad = sel.Where(c => c < 0 || c >= channels).ToList();
        if (bad.Count > 0)
            throw new ArgumentException($"--input-projection select:{i},{j},{k}: channel(s) {string.Join(", ", bad)} out of range; the images have {channels} channel(s) (0..{channels - 1})");
        return new(InputMappingKind.Select, channels, sel);
    }

    /// <summary>
    /// The mapping for images of <paramref name="channels"/> channels and the user's <c>--input-projection</c> text (null or
    /// "auto" = default): C = 1 → replicate, C = 3 → identity, any other C → learned. "learned" and "select:i,j,k" are accepted
    /// for any C (select needs three indices below C); "replicate" only for C = 1, "identity" only for C = 3.
    /// </summary>
    public static InputMapping Resolve(string? text, int channels)
    {
        if (channels < 1) throw new ArgumentException($"images must have at least one channel, found {channels}");
        var t = (text ?? "auto").Trim().ToLowerInvariant();
        int at = t.IndexOf('@');
        if (at >= 0)
        {
            // the recorded form names the channel count it was trained with: it must match
            if (!int.TryParse(t[(at + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var recorded))
                throw new ArgumentException($"--input-projection '{text}': expected …@C with C a channel count");
            if (recorded != channels)
                throw new ArgumentException($"--input-projection '{text}' was recorded for {recorded} channel(s); the images have {channels}");
            t = t[..at];
        }
        switch (t)
        {
            case "auto" or "":
                return channels switch { 1 => Grey, 3 => Identity3, _ => Learned(channels) };
            case "learned":
                return Learned(channels);
            case "replicate" or "grey":
                return channels == 1 ? Grey : throw new ArgumentException($"--input-projection replicate needs single-channel images; these have {channels} (use learned or select:i,j,k)");
            case "identity":
                return channels == 3 ? Identity3 : throw new ArgumentException($"--input-projection identity needs three-channel images; these have {channels} (use learned or select:i,j,k)");
        }
        if (t.StartsWith("select:", StringComparison.Ordinal))
        {
            var parts = t["select:".Length..].Split(',', StringSplitOptions.TrimEntries);
            var idx = new int[parts.Length];
            for (int p = 0; p < parts.Length; p++)
                if (!int.TryParse(parts[p], NumberStyles.None, CultureInfo.InvariantCulture, out idx[p]))
                    throw new ArgumentException($"--input-projection '{text}': '{parts[p]}' is not a channel index");
            if (idx.Length != 3) throw new ArgumentException($"--input-projection '{text}': select needs exactly three channel indices (SAM's R, G, B), found {idx.Length}");
            return Select(channels, idx[0], idx[1], idx[2]);
        }
        throw new ArgumentException($"--input-projection '{text}': expected learned, select:i,j,k, replicate, identity or auto");
    }

    /// <summary>Parses the recorded form (<see cref="ToString"/>), e.g. "learned@4", "select:0,2,3@4", "replicate@1".</summary>
    public static InputMapping Parse(string text)
    {
        var t = text.Trim();
        int at = t.IndexOf('@');
        if (at < 0 || !int.TryParse(t[(at + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var c))
            throw new FormatException($"input mapping '{text}': expected KIND@CHANNELS (e.g. learned@4)");
        return Resolve(t[..at], c);
    }

    public override string ToString() => Kind switch
    {
        InputMappingKind.Replicate => "replicate",
        InputMappingKind.Identity => "identity",
        InputMappingKind.Select => "select:" + string.Join(",", Selected),
        _ => "learned",
    } + "@" + Channels.ToString(CultureInfo.InvariantCulture);

    /// <summary>Equal when the recorded forms are (kind, channel count and selected channels).</summary>
    public bool Equals(InputMapping? other) => other is not null && ToString() == other.ToString();

    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(ToString());

    /// <summary>One line for summaries.</summary>
    public string Describe() => Kind switch
    {
        InputMappingKind.Replicate => "grey replicated to 3; pixel mean 0, std 1",
        InputMappingKind.Identity => "3 channels as SAM's RGB",
        InputMappingKind.Select => $"channels {string.Join(", ", Selected)} of {Channels} as SAM's RGB",
        _ => $"{Channels} channels → 3 by a learned 1×1 convolution",
    };

    /// <summary>
    /// Writes the image of a (C, D, S, S) stack as (D, M, S, S) model input, M = <see cref="ModelChannels"/>: grey copied to 3
    /// (replicate), the channels as they are (identity, learned), or the chosen three (select).
    /// </summary>
    public void Write(StackSample s, Span<float> dst)
    {
        if (s.Channels != Channels)
            throw new ArgumentException($"the stack has {s.Channels} channel(s); the input mapping {this} expects {Channels}");
        int plane = s.PlaneSize, m = ModelChannels, d = s.Depth;
        if (dst.Length != d * m * plane) throw new ArgumentException($"destination has {dst.Length} values, (D, {m}, H, W) needs {d * m * plane}");
        for (int z = 0; z < d; z++)
            for (int o = 0; o < m; o++)
            {
                int c = Kind switch { InputMappingKind.Replicate => 0, InputMappingKind.Select => Selected[o], _ => o };
                s.Image.AsSpan((c * d + z) * plane, plane).CopyTo(dst.Slice((z * m + o) * plane, plane));
            }
    }
}
