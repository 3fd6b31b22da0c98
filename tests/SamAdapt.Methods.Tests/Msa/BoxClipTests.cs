using SamAdapt.Methods.Msa;

namespace SamAdapt.Methods.Tests.Msa;

/// <summary>The box rule of prompted prediction: logits outside a box prompt (pixel centres more than half a pixel out) become −∞.</summary>
public class BoxClipTests
{
    [Fact]
    public void Pixels_outside_the_box_are_cleared_and_inside_kept()
    {
        int rows = 6, cols = 8;
        var logits = Enumerable.Range(0, rows * cols).Select(i => 1f + i).ToArray();
        var box = new PromptBox(2f, 1f, 5.4f, 3f); // x = columns 2..5 (5.4 + 0.5 < 6), y = rows 1..3
        BoxClip.Apply(logits, rows, cols, box);
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
            {
                bool inside = r >= 1 && r <= 3 && c >= 2 && c <= 5;
                if (inside) Assert.Equal(1f + r * cols + c, logits[r * cols + c]);
                else Assert.Equal(float.NegativeInfinity, logits[r * cols + c]);
            }
    }

    [Fact]
    public void A_tight_box_keeps_every_target_pixel()
    {
        var rng = new Random(3);
        for (int t = 0; t < 20; t++)
        {
            int rows = 7 + rng.Next(10), cols = 7 + rng.Next(10);
            var data = new bool[rows * cols];
            for (int i = 0; i < data.Length; i++) data[i] = rng.NextDouble() < 0.1;
            data[rng.Next(data.Length)] = true;
            var mask = new BinaryMask(data, rows, cols);
            var logits = Enumerable.Repeat(1f, data.Length).ToArray();
            BoxClip.Apply(logits, rows, cols, PromptSimulator.BoxWithIoU(mask, 0.75, rng)!.Value);
            for (int i = 0; i < data.Length; i++) if (data[i]) Assert.Equal(1f, logits[i]);
        }
    }

    [Fact]
    public void A_wrong_size_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => BoxClip.Apply(new float[5], 2, 3, new PromptBox(0, 0, 1, 1)));
        Assert.Contains("expected 2×3", e.Message);
    }
}
