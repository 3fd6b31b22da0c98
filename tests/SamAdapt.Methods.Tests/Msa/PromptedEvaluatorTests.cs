using SamAdapt.Methods.Msa;

namespace SamAdapt.Methods.Tests.Msa;

/// <summary>evaluate-prompted's numbers against a case computed by hand, with a segmenter whose answer to each prompt is known.</summary>
public class PromptedEvaluatorTests
{
    // one 10×10 slice: class 1 = rows 2..4 × cols 4..8 (15 px), class 2 = rows 7..8 × cols 1..2 (4 px)
    private static int[] Plane()
    {
        var p = new int[100];
        for (int r = 2; r <= 4; r++) for (int c = 4; c <= 8; c++) p[r * 10 + c] = 1;
        for (int r = 7; r <= 8; r++) for (int c = 1; c <= 2; c++) p[r * 10 + c] = 2;
        return p;
    }

    /// <summary>A box gives the pixels inside it; clicks give the 3×3 squares around the positives minus those around the negatives.</summary>
    private static SlicePrediction Segment(int caseIndex, int slice, IReadOnlyList<Click> clicks, PromptBox? box, float[]? previous) =>
        new(SegmentMask(clicks, box));

    private static bool[] SegmentMask(IReadOnlyList<Click> clicks, PromptBox? box)
    {
        var m = new bool[100];
        if (box is { } b)
        {
            for (int r = 0; r < 10; r++) for (int c = 0; c < 10; c++)
                m[r * 10 + c] = c >= Math.Round(b.X0) && c <= Math.Round(b.X1) && r >= Math.Round(b.Y0) && r <= Math.Round(b.Y1);
            return m;
        }
        foreach (var pass in new[] { 1, 0 })
            foreach (var k in clicks.Where(k => k.Label == pass))
                for (int r = (int)k.Y - 1; r <= (int)k.Y + 1; r++) for (int c = (int)k.X - 1; c <= (int)k.X + 1; c++)
                    if (r is >= 0 and < 10 && c is >= 0 and < 10) m[r * 10 + c] = pass == 1;
        return m;
    }

    [Fact]
    public void Dice_per_setting_and_iterative_NoC_match_a_hand_computed_case()
    {
        var report = PromptedEvaluator.Evaluate([([Plane()], 10, 10)], [1, 2], ["liver", "kidney"],
            PromptSetting.ParseProtocol("box1,1pt,iterative:2"), Segment, seed: 3);
        var box = report.Settings[0];
        Assert.Equal("box1", box.Name);
        Assert.Equal([1.0, 1.0], box.Dice);                  // the tight box is exactly each rectangle
        Assert.Equal(2, box.Targets);
        // 1pt on the 2×2 kidney: any click inside gives a 3×3 square holding all of it: Dice 2·4 / (9 + 4)
        Assert.Equal(8.0 / 13, report.Settings[1].Dice[1], 12);
        // iterative on the kidney: click 1 at its first innermost pixel (row 7, col 1) → the square rows 6..8 × cols 0..2 (Dice 8/13,
        // IoU 4/9); the largest error is the 5-pixel L of false positives → a negative click at (row 6, col 0), removing rows 5..7 × cols 0..1
        // → 5 px predicted, 3 of them kidney: Dice 6/9, IoU 3/6; neither reaches 0.85 within 2 clicks
        var it = report.Settings[2];
        Assert.Equal(2, it.DiceAfterClick!.Count);
        var kidney = PromptedEvaluator.Evaluate([([Plane().Select(v => v == 2 ? 2 : 0).ToArray()], 10, 10)], [2], ["kidney"],
            PromptSetting.ParseProtocol("iterative:2"), Segment, seed: 3).Settings[0];
        Assert.Equal(8.0 / 13, kidney.DiceAfterClick![0], 12);
        Assert.Equal(6.0 / 9, kidney.DiceAfterClick[1], 12);
        Assert.Equal(6.0 / 9, kidney.Dice[0], 12);
        Assert.Equal(2.0, kidney.Noc85);
        Assert.Equal(2.0, kidney.Noc90);
        // the reports carry the numbers
        Assert.Contains("\"box1\"", report.ToJson());
        Assert.Contains("box1,kidney,1", report.ToCsv());
        Assert.Contains("| box1 | 100.0 | 100.0 | 100.0 |", report.ToMarkdown());
    }

    [Fact]
    public void The_simulation_is_seeded()
    {
        var a = PromptedEvaluator.Evaluate([([Plane()], 10, 10)], [1, 2], ["a", "b"], PromptSetting.ParseProtocol("1pt,box0.5"), Segment, seed: 9);
        var b = PromptedEvaluator.Evaluate([([Plane()], 10, 10)], [1, 2], ["a", "b"], PromptSetting.ParseProtocol("1pt,box0.5"), Segment, seed: 9);
        Assert.Equal(a.ToJson(), b.ToJson());
    }

    [Theory]
    [InlineData("2pt,box0.75,iterative:5", 3)]
    [InlineData("1pt", 1)]
    public void Protocols_parse(string text, int count) => Assert.Equal(count, PromptSetting.ParseProtocol(text).Count);

    [Theory]
    [InlineData("box2")]
    [InlineData("0pt")]
    [InlineData("iterative:x")]
    [InlineData("1pt,1pt")]
    public void Bad_protocols_are_errors_naming_the_option(string text) =>
        Assert.Contains("--protocol", Assert.Throws<ArgumentException>(() => PromptSetting.ParseProtocol(text)).Message);
}
