using SamAdapt.Imaging.Preprocessing;
using SamAdapt.Training.Augmentation;

namespace SamAdapt.Training.Data;

/// <summary>Where the intensity transform takes its statistics from.</summary>
public enum IntensityScope
{
    /// <summary><see cref="Stack"/> for transforms that are MA-SAM's per-sample min-max (<c>ct-window-minmax</c>,
    /// the <c>ma-sam-exact</c> preset), <see cref="Volume"/> otherwise.</summary>
    Auto,
    /// <summary>Once per volume, when it is loaded (statistics of the whole volume).</summary>
    Volume,
    /// <summary>Per D-slice stack at native resolution, before resizing (MA-SAM's per-sample min-max).</summary>
    Stack,
}

/// <summary>How cached volumes hold their (transformed) image values.</summary>
public enum CachePrecision
{
    /// <summary>4 bytes per voxel, exact.</summary>
    Float32,
    /// <summary>2 bytes per voxel (IEEE half, ~3 significant digits): halves the memory for large CT datasets.</summary>
    Float16,
}

/// <summary>
/// Everything that decides what a training sample looks like. All of it belongs in a run's config (see
/// <see cref="ToDictionary"/>), and the predictor must use the same values for <see cref="ImageSize"/>,
/// <see cref="Slices"/>, <see cref="SliceAxis"/>, <see cref="Channel"/>, <see cref="Intensity"/> and
/// <see cref="Scope"/>.
/// </summary>
public sealed record SampleOptions
{
    /// <summary>In-plane model size S (square): slices are resized to S×S (bilinear images, nearest labels).</summary>
    public int ImageSize { get; init; } = 512;

    /// <summary>Slices per stack D (odd), centred on the sampled slice with edge replication.</summary>
    public int Slices { get; init; } = 5;

    /// <summary>Voxel axis along which slices are taken (0 = i, 1 = j, 2 = k); volumes keep their native orientation.
    /// A slice is the [rows, cols] plane of <see cref="SliceLayout.Memory"/>: for axis 2, rows = j and cols = i.</summary>
    public int SliceAxis { get; init; } = 2;

    /// <summary>Image channel used (nnU-Net channel file _XXXX or MSD 4th dimension); it is replicated to SAM's 3 input channels.</summary>
    public int Channel { get; init; }

    public IntensityTransform Intensity { get; init; } = IntensityTransform.Parse("ma-sam");

    /// <summary>How the image channels become SAM's three (<see cref="InputMapping"/>). The default, a grey channel
    /// (<see cref="Channel"/>) replicated, reads one channel; any other mapping reads all C channels of a case (nnU-Net's
    /// <c>_XXXX</c> files in order, a 4-D image's fourth dimension, or an RGB image's three colours), each normalised on its own.</summary>
    public InputMapping Input { get; init; } = InputMapping.Grey;

    public IntensityScope Scope { get; init; } = IntensityScope.Auto;

    public CachePrecision Cache { get; init; } = CachePrecision.Float32;

    /// <summary>Training augmentations (validation and prediction samples are never augmented).</summary>
    public AugmentationPipeline Augmentation { get; init; } = AugmentationPipeline.MaSam;

    /// <summary>Stacks per batch B; a batch is B·D slices.</summary>
    public int BatchSize { get; init; } = 1;

    /// <summary>Seed of the epoch shuffles, foreground sampling, augmentations and the validation split.</summary>
    public int Seed { get; init; } = 1234;

    /// <summary>
    /// Foreground oversampling: the probability that a sampled position is replaced by a stack of the same case centred
    /// on a slice that holds a foreground class (class drawn uniformly among those present, then one of its slices;
    /// see <see cref="TrainingData.SampleAt"/>). 0 = plain shuffled slices (MA-SAM); <c>samadapt train</c> uses
    /// nnU-Net's 1/3 (<see cref="NnUNetForegroundProbability"/>).
    /// </summary>
    public double ForegroundProbability { get; init; }

    /// <summary>nnU-Net's <c>oversample_foreground_percent</c>: a third of the samples are centred on foreground.</summary>
    public const double NnUNetForegroundProbability = 1.0 / 3.0;

    /// <summary>Drop the last partial batch of an epoch (an epoch always has at least one batch; when there are
    /// fewer samples than <see cref="BatchSize"/> the order wraps around).</summary>
    public bool DropLast { get; init; } = true;

    /// <summary>Threads used to load volumes and to build the samples of a batch.</summary>
    public int MaxParallelism { get; init; } = Math.Clamp(Environment.ProcessorCount, 1, 4);

    public IntensityScope EffectiveScope => Scope != IntensityScope.Auto ? Scope
        : Intensity is CtWindowMinMax ? IntensityScope.Stack : IntensityScope.Volume;

    public void Validate()
    {
        if (ImageSize < 1) throw new ArgumentException($"image size must be positive, got {ImageSize}");
        if (Slices < 1 || Slices % 2 == 0) throw new ArgumentException($"slices per stack must be odd and >= 1, got {Slices}");
        if (SliceAxis is < 0 or > 2) throw new ArgumentException($"slice axis must be 0, 1 or 2, got {SliceAxis}");
        if (Channel < 0) throw new ArgumentException($"channel must be >= 0, got {Channel}");
        if (BatchSize < 1) throw new ArgumentException($"batch size must be >= 1, got {BatchSize}");
        if (!(ForegroundProbability >= 0 && ForegroundProbability <= 1)) throw new ArgumentException($"foreground probability must be within [0, 1], got {ForegroundProbability}");
        if (MaxParallelism < 1) throw new ArgumentException("MaxParallelism must be >= 1");
    }

    /// <summary>The settings as an ordered string → value map for the run's config.yaml.</summary>
    public IReadOnlyDictionary<string, object> ToDictionary()
    {
        var d = Settings();
        // recorded only when it is not the grey default, so the records of runs before multi-channel inputs stay the same
        if (!Input.IsGrey) d["input_projection"] = Input.ToString();
        return d;
    }

    private Dictionary<string, object> Settings() => new()
    {
        ["image_size"] = ImageSize,
        ["slices"] = Slices,
        ["slice_axis"] = SliceAxis,
        ["slice_layout"] = "memory (axis 2: rows = j, cols = i)",
        ["channel"] = Channel,
        ["intensity"] = Intensity.ToString(),
        ["intensity_scope"] = EffectiveScope.ToString().ToLowerInvariant(),
        ["in_plane_resize"] = "bilinear (align_corners=False) for images, nearest for labels",
        ["input_channels"] = Input.IsGrey ? "grey replicated to 3; pixel mean 0, std 1" : Input.Describe(),
        ["augmentation"] = Augmentation.ToString(),
        ["batch_size"] = BatchSize,
        ["seed"] = Seed,
        ["foreground_probability"] = ForegroundProbability,
        ["drop_last"] = DropLast,
        ["cache_precision"] = Cache.ToString().ToLowerInvariant(),
    };
}
