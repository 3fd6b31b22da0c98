namespace SamAdapt.Sam.Automatic;

/// <summary>How generated masks are returned (reference <c>output_mode</c>).</summary>
public enum AmgOutputMode
{
    /// <summary>"binary_mask": an H×W bool mask.</summary>
    BinaryMask,
    /// <summary>"uncompressed_rle": <see cref="UncompressedRle"/>.</summary>
    UncompressedRle,
    /// <summary>"coco_rle": the COCO compressed RLE string (pycocotools).</summary>
    CocoRle,
}

/// <summary>
/// Settings of SAM's automatic mask generator with the reference defaults (docs/sam.md §4.4).
/// </summary>
public sealed record AutomaticMaskGeneratorOptions
{
    /// <summary>Points sampled along one side of the image (grid of n² points); null when <see cref="PointGrids"/> is given.</summary>
    public int? PointsPerSide { get; init; } = 32;
    /// <summary>Points run through the model at once (affects speed and GEMM tiling, not the algorithm).</summary>
    public int PointsPerBatch { get; init; } = 64;
    /// <summary>Keep masks whose predicted IoU is strictly greater than this.</summary>
    public double PredIouThresh { get; init; } = 0.88;
    /// <summary>Keep masks whose stability score is at least this.</summary>
    public double StabilityScoreThresh { get; init; } = 0.95;
    /// <summary>Offset of the two thresholds around the mask threshold used by the stability score.</summary>
    public double StabilityScoreOffset { get; init; } = 1.0;
    /// <summary>IoU threshold of the per-crop box NMS.</summary>
    public double BoxNmsThresh { get; init; } = 0.7;
    /// <summary>Extra layers of image crops (layer i has (2^i)² crops).</summary>
    public int CropNLayers { get; init; }
    /// <summary>IoU threshold of the NMS that merges masks of different crops.</summary>
    public double CropNmsThresh { get; init; } = 0.7;
    /// <summary>Crop overlap as a fraction of the short image side (scaled per layer).</summary>
    public double CropOverlapRatio { get; init; } = 512.0 / 1500.0;
    /// <summary>Points per side in layer i are divided by this^i.</summary>
    public int CropNPointsDownscaleFactor { get; init; } = 1;
    /// <summary>Explicit normalised point grids per layer (x, y interleaved), instead of <see cref="PointsPerSide"/>.</summary>
    public IReadOnlyList<double[]>? PointGrids { get; init; }
    /// <summary>When &gt; 0, holes and islands smaller than this area are removed (followed by another NMS).</summary>
    public int MinMaskRegionArea { get; init; }
    public AmgOutputMode OutputMode { get; init; } = AmgOutputMode.BinaryMask;

    /// <summary>The reference's argument checks: exactly one of points-per-side or point grids.</summary>
    public void Validate()
    {
        if ((PointsPerSide is null) == (PointGrids is null))
            throw new ArgumentException("exactly one of PointsPerSide or PointGrids must be set");
        if (PointsPerSide is <= 0) throw new ArgumentException("PointsPerSide must be positive");
        if (PointsPerBatch <= 0) throw new ArgumentException("PointsPerBatch must be positive");
        if (CropNLayers < 0) throw new ArgumentException("CropNLayers must be >= 0");
        if (CropNPointsDownscaleFactor <= 0) throw new ArgumentException("CropNPointsDownscaleFactor must be positive");
        if (PointGrids is not null && PointGrids.Count != CropNLayers + 1)
            throw new ArgumentException($"PointGrids needs one grid per layer ({CropNLayers + 1}), found {PointGrids.Count}");
    }
}
