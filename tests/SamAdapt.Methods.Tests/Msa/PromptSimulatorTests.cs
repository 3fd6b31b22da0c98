using SamAdapt.Methods.Msa;

namespace SamAdapt.Methods.Tests.Msa;

/// <summary>Prompt simulation: clicks inside/outside the target, boxes around it, iterative clicks in error regions, the (x, y) model frame.</summary>
public class PromptSimulatorTests
{
    /// <summary>A non-square H×W mask with a rectangle rows r0..r1, cols c0..c1 set.</summary>
    private static BinaryMask Rect(int h, int w, int r0, int r1, int c0, int c1)
    {
        var d = new bool[h * w];
        for (int r = r0; r <= r1; r++) for (int c = c0; c <= c1; c++) d[r * w + c] = true;
        return new BinaryMask(d, h, w);
    }

    [Fact]
    public void Positive_clicks_land_inside_the_target_and_negatives_outside_as_x_column_y_row()
    {
        var m = Rect(40, 100, 5, 9, 70, 90); // wide image, object far right: a (row, col) swap would leave the image
        var rng = new Random(1);
        for (int i = 0; i < 200; i++)
        {
            var p = PromptSimulator.PositiveClick(m, rng)!.Value;
            Assert.Equal(1, p.Label);
            Assert.True(m[(int)p.Y, (int)p.X], $"positive click ({p.X}, {p.Y}) is outside the target");
            var n = PromptSimulator.NegativeClick(m, rng)!.Value;
            Assert.Equal(0, n.Label);
            Assert.False(m[(int)n.Y, (int)n.X]);
        }
        var clicks = PromptSimulator.Clicks(m, 3, 2, rng);
        Assert.Equal([1, 1, 1, 0, 0], clicks.Select(c => c.Label));
        Assert.Null(PromptSimulator.PositiveClick(new BinaryMask(new bool[12], 3, 4), rng));
    }

    [Fact]
    public void Boxes_enclose_the_target_jittered_or_at_the_requested_IoU()
    {
        var m = Rect(100, 140, 40, 59, 50, 89); // 20 rows × 40 cols, far enough from the border for unclipped boxes
        Assert.Equal(new PromptBox(50, 40, 89, 59), PromptSimulator.TightBox(m));
        var rng = new Random(2);
        foreach (double iou in new[] { 0.5, 0.75 })
            for (int i = 0; i < 50; i++)
            {
                var b = PromptSimulator.BoxWithIoU(m, iou, rng)!.Value;
                Assert.True(b.X0 <= 50 && b.Y0 <= 40 && b.X1 >= 89 && b.Y1 >= 59, $"box {b} does not contain the target");
                double area = (b.X1 - b.X0 + 1) * (b.Y1 - b.Y0 + 1);
                Assert.InRange(800 / area, iou - 0.01, iou + 0.01); // the target is 800 px and inside the box
            }
        for (int i = 0; i < 50; i++)
        {
            var b = PromptSimulator.JitteredBox(m, 0.1, rng)!.Value;
            Assert.InRange(b.X0, 50 - 4.01, 50 + 4.01);
            Assert.InRange(b.X1, 89 - 4.01, 89 + 4.01);
            Assert.InRange(b.Y0, 40 - 2.01, 40 + 2.01);
            Assert.InRange(b.Y1, 59 - 2.01, 59 + 2.01);
        }
    }

    [Fact]
    public void Iterative_clicks_land_at_the_centre_of_the_largest_error_region()
    {
        var truth = Rect(30, 50, 5, 24, 5, 44);
        // the prediction misses a 10×10 block (rows 10..19, cols 30..39) and adds a 3×3 blob outside: the miss is larger
        var pred = (bool[])truth.Data.Clone();
        for (int r = 10; r <= 19; r++) for (int c = 30; c <= 39; c++) pred[r * 50 + c] = false;
        for (int r = 26; r <= 28; r++) for (int c = 1; c <= 3; c++) pred[r * 50 + c] = true;
        var click = PromptSimulator.NextClick(truth, new BinaryMask(pred, 30, 50))!.Value;
        Assert.Equal(1, click.Label);
        Assert.InRange(click.X, 34, 35);
        Assert.InRange(click.Y, 14, 15);
        // now only the spurious blob remains: a negative click at its centre
        var pred2 = (bool[])truth.Data.Clone();
        for (int r = 26; r <= 28; r++) for (int c = 1; c <= 3; c++) pred2[r * 50 + c] = true;
        Assert.Equal(new Click(2, 27, 0), PromptSimulator.NextClick(truth, new BinaryMask(pred2, 30, 50)));
        Assert.Null(PromptSimulator.NextClick(truth, truth));
    }

    [Fact]
    public void Model_frame_scales_x_with_the_width_and_y_with_the_height()
    {
        // a 40×100 slice resized to 64×64: column 99 (right edge) and row 0 (top) stay at the right and top
        var c = PromptSimulator.ToModelFrame(new Click(99, 0, 1), 40, 100, 64);
        Assert.Equal(63.18f, c.X, 0.01f);
        Assert.Equal(0.3f, c.Y, 0.01f);
        // pixel centres map to centres: the middle of the image stays the middle
        var mid = PromptSimulator.ToModelFrame(new Click(49.5f, 19.5f, 1), 40, 100, 64);
        Assert.Equal(31.5f, mid.X, 1e-4f);
        Assert.Equal(31.5f, mid.Y, 1e-4f);
        // a click drawn inside a target of a non-square mask, mapped and mapped back, lies in the target
        var m = Rect(40, 100, 30, 35, 5, 12);
        var rng = new Random(3);
        for (int i = 0; i < 50; i++)
        {
            var p = PromptSimulator.ToModelFrame(PromptSimulator.PositiveClick(m, rng)!.Value, 40, 100, 64);
            int col = (int)Math.Round((p.X + 0.5) * 100 / 64 - 0.5), row = (int)Math.Round((p.Y + 0.5) * 40 / 64 - 0.5);
            Assert.True(m[row, col]);
        }
        var b = PromptSimulator.ToModelFrame(new PromptBox(0, 0, 99, 39), 40, 100, 64);
        Assert.Equal(-0.18f, b.X0, 1e-4f);
        Assert.Equal(63.18f, b.X1, 1e-4f);
        Assert.Equal(0.3f, b.Y0, 1e-4f);
        Assert.Equal(62.7f, b.Y1, 1e-4f);
    }
}
