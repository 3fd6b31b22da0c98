using SamAdapt.Methods.MaskSam;
using SamAdapt.Torch;

namespace SamAdapt.Methods.Tests.MaskSam;

/// <summary>Box conversions, IoU, GIoU and mask boxes against hand-computed cases.</summary>
public class BoxOpsTests
{
    private static Tensor Boxes(params float[] v) => Tensor.FromArray<float>(v, [v.Length / 4, 4]);

    [Fact]
    public void ConversionsRoundTripAndMatchHandValues()
    {
        using var xyxy = BoxOps.CxCyWhToXyxy(Boxes(0.5f, 0.5f, 0.2f, 0.4f, 1f, 2f, 2f, 2f));
        Assert.Equal(new[] { 0.4f, 0.3f, 0.6f, 0.7f, 0f, 1f, 2f, 3f }, xyxy.ToArray<float>(), new FloatEq(1e-6f));
        using var back = BoxOps.XyxyToCxCyWh(xyxy);
        Assert.Equal(new[] { 0.5f, 0.5f, 0.2f, 0.4f, 1f, 2f, 2f, 2f }, back.ToArray<float>(), new FloatEq(1e-6f));
    }

    [Fact]
    public void IouAndGeneralizedIouMatchHandCases()
    {
        // a = [0,0,2,2] (area 4); b0 = [1,1,3,3]: inter 1, union 7, hull 9 → IoU 1/7, GIoU 1/7 − 2/9
        // b1 = [0,0,2,2]: identical → 1, 1; b2 = [3,0,4,1]: disjoint, union 5, hull [0,0,4,2] = 8 → 0, −3/8
        using var a = Boxes(0, 0, 2, 2);
        using var b = Boxes(1, 1, 3, 3, 0, 0, 2, 2, 3, 0, 4, 1);
        var (iou, union) = BoxOps.PairwiseIou(a, b);
        Assert.Equal(new[] { 1f / 7, 1f, 0f }, iou.ToArray<float>(), new FloatEq(1e-6f));
        Assert.Equal(new[] { 7f, 4f, 5f }, union.ToArray<float>(), new FloatEq(1e-6f));
        using var giou = BoxOps.GeneralizedIou(a, b);
        Assert.Equal(new long[] { 1, 3 }, giou.shape);
        Assert.Equal(new[] { 1f / 7 - 2f / 9, 1f, -3f / 8 }, giou.ToArray<float>(), new FloatEq(1e-6f));
        iou.Dispose();
        union.Dispose();
    }

    [Fact]
    public void MaskBoxesAreNormalisedTightBoxesAndZeroWhenEmpty()
    {
        var m = new float[2 * 4 * 8];
        // mask 0: pixels (y=1, x=2) and (y=3, x=5)
        m[0 * 32 + 1 * 8 + 2] = 1;
        m[0 * 32 + 3 * 8 + 5] = 1;
        using var masks = Tensor.FromArray<float>(m, [2, 4, 8]);
        using var boxes = BoxOps.MasksToBoxes(masks);
        Assert.Equal(new[] { 2f / 8, 1f / 4, 5f / 8, 3f / 4, 0, 0, 0, 0 }, boxes.ToArray<float>(), new FloatEq(1e-7f));
    }

    private sealed class FloatEq(float tol) : IEqualityComparer<float>
    {
        public bool Equals(float x, float y) => Math.Abs(x - y) <= tol;
        public int GetHashCode(float obj) => 0;
    }
}
