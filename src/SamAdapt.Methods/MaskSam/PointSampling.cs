using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Methods.MaskSam;

/// <summary>A source of uniform [0, 1) samples of a given shape (float32): the random draws of point sampling.</summary>
public delegate Tensor UniformSource(long[] shape);

/// <summary>
/// Point sampling of Mask2Former-style losses (docs/methods/masksam.md, "Losses"): bilinear sampling of maps at normalised points,
/// and PointRend's importance sampling (oversample, keep the most uncertain, add uniform points).
/// </summary>
public static class PointSampling
{
    /// <summary>Uniform draws from the global libtorch generator (<c>torch.rand</c>), as the reference code does.</summary>
    public static UniformSource Global { get; } = shape => torch.rand(shape);

    /// <summary>Uniform draws from a private generator seeded with <paramref name="seed"/> (independent of the global one, so
    /// reproducible whatever else runs).</summary>
    public static UniformSource Seeded(int seed)
    {
        var rng = new Random(seed);
        return shape =>
        {
            long n = 1;
            foreach (var d in shape) n *= d;
            var v = new float[n];
            for (long i = 0; i < n; i++) v[i] = (float)rng.NextDouble();
            return Tensor.FromArray<float>(v, shape);
        };
    }

    /// <summary>
    /// Samples <paramref name="input"/> (N, C, H, W) at points (N, P, 2) given as (x, y) in [0, 1]² (bilinear, zero outside,
    /// align_corners false): (N, C, P).
    /// </summary>
    public static Tensor PointSample(Tensor input, Tensor points)
    {
        using var scope = DisposeScope.Begin();
        var grid = (points * 2.0 - 1.0).unsqueeze(2).to(input.dtype);           // (N, P, 1, 2)
        return F.grid_sample(input, grid, "bilinear", "zeros", alignCorners: false).squeeze(3).MoveToOuterScope();
    }

    /// <summary>
    /// PointRend's importance sampling on logits (N, 1, H, W): draws ⌊P·oversample⌋ uniform candidates per map, keeps the
    /// ⌊importance·P⌋ with the highest uncertainty −|logit| (sampled bilinearly), and appends P − that many fresh uniform points:
    /// (N, P, 2) as (x, y) in [0, 1]². The draws come from <paramref name="rand"/>: first the candidates (N, ⌊P·oversample⌋, 2), then
    /// the extra points (N, P − k, 2). Not differentiable (the points are a choice).
    /// </summary>
    public static Tensor UncertainPoints(Tensor logits, int numPoints, double oversampleRatio, double importanceSampleRatio, UniformSource rand)
    {
        if (oversampleRatio < 1) throw new ArgumentOutOfRangeException(nameof(oversampleRatio), "the oversample ratio must be ≥ 1");
        if (importanceSampleRatio is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(importanceSampleRatio), "the importance ratio must be in [0, 1]");
        using var scope = DisposeScope.Begin();
        using var _ = torch.no_grad();
        long n = logits.size(0);
        long sampled = (long)(numPoints * oversampleRatio);
        var candidates = rand([n, sampled, 2]).to(logits.device);
        var uncertainty = PointSample(logits.detach(), candidates).select(1, 0).abs().neg(); // (N, sampled)
        long k = (long)(importanceSampleRatio * numPoints);
        var idx = uncertainty.topk(k, 1).indices;                                          // (N, k)
        var chosen = candidates.gather(1, idx.unsqueeze(2).expand(n, k, 2));
        long extra = numPoints - k;
        var result = extra > 0 ? torch.cat([chosen, rand([n, extra, 2]).to(logits.device)], 1) : chosen;
        return result.MoveToOuterScope();
    }
}
