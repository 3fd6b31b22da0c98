using SamAdapt.Methods.MaskSam;
using SamAdapt.Torch;

namespace SamAdapt.Methods.Tests.MaskSam;

/// <summary>Point sampling: bilinear values at known points, importance sampling keeps uncertain points, determinism under a seed.</summary>
public class PointSamplingTests
{
    [Fact]
    public void PointSampleIsBilinearWithPixelCentres()
    {
        // 2×2 map [[0, 1], [2, 3]]: pixel centres at 0.25/0.75; the centre (0.5, 0.5) averages all four
        using var map = Tensor.FromArray<float>([0, 1, 2, 3], [1, 1, 2, 2]);
        using var pts = Tensor.FromArray<float>([0.25f, 0.25f, 0.75f, 0.25f, 0.25f, 0.75f, 0.5f, 0.5f], [1, 4, 2]);
        using var v = PointSampling.PointSample(map, pts);
        Assert.Equal(new long[] { 1, 1, 4 }, v.shape);
        var a = v.ToArray<float>();
        Assert.Equal(0f, a[0], 5);
        Assert.Equal(1f, a[1], 5); // x moves along the width
        Assert.Equal(2f, a[2], 5);
        Assert.Equal(1.5f, a[3], 5);
    }

    [Fact]
    public void SeededSamplingIsDeterministicAndPrefersUncertainPoints()
    {
        // logits: large magnitude everywhere except a band of zero logits on the left quarter
        var l = new float[2 * 16 * 16];
        for (int n = 0; n < 2; n++) for (int y = 0; y < 16; y++) for (int x = 0; x < 16; x++) l[n * 256 + y * 16 + x] = x < 4 ? 0f : 20f;
        using var logits = Tensor.FromArray<float>(l, [2, 1, 16, 16]);
        using var p1 = PointSampling.UncertainPoints(logits, 64, 3.0, 0.75, PointSampling.Seeded(42));
        using var p2 = PointSampling.UncertainPoints(logits, 64, 3.0, 0.75, PointSampling.Seeded(42));
        using var p3 = PointSampling.UncertainPoints(logits, 64, 3.0, 0.75, PointSampling.Seeded(43));
        Assert.Equal(new long[] { 2, 64, 2 }, p1.shape);
        Assert.Equal(p1.ToArray<float>(), p2.ToArray<float>());
        Assert.NotEqual(p1.ToArray<float>(), p3.ToArray<float>());
        var a = p1.ToArray<float>();
        for (int n = 0; n < 2; n++)
        {
            // the 48 importance points come first and lie where |logit| is smallest (x < 4/16, allowing the bilinear border)
            for (int k = 0; k < 48; k++) Assert.True(a[(n * 64 + k) * 2] < 0.3f, $"importance point {k} at x = {a[(n * 64 + k) * 2]}");
            Assert.All(a, v => Assert.InRange(v, 0f, 1f));
        }
    }

    [Fact]
    public void DrawOrderIsCandidatesThenExtraPoints()
    {
        var shapes = new List<long[]>();
        UniformSource recording = s => { shapes.Add(s); return torch.rand(s); };
        using var logits = torch.randn(3, 1, 8, 8);
        using var p = PointSampling.UncertainPoints(logits, 10, 2.0, 0.75, recording);
        Assert.Equal(2, shapes.Count);
        Assert.Equal(new long[] { 3, 20, 2 }, shapes[0]);
        Assert.Equal(new long[] { 3, 3, 2 }, shapes[1]);
    }
}
