using SamAdapt.Training.Engine;

namespace SamAdapt.Training.Engine.Tests;

public class ValidationResultTests
{
    [Fact]
    public void BestCriterionIgnoresBackgroundAndMissingClasses()
    {
        // an all-background model: perfect background, nothing else — must not look better than a model that segments
        var allBackground = new ValidationResult(["background", "a", "b"], [0.99, 0.0, double.NaN]);
        var segments = new ValidationResult(["background", "a", "b"], [0.90, 0.40, double.NaN]);
        Assert.Equal(0.0, allBackground.Mean);
        Assert.Equal(0.40, segments.Mean, 12);
        Assert.True(segments.Mean > allBackground.Mean);
        Assert.Equal(0.5, new ValidationResult(["only"], [0.5]).Mean);
        Assert.True(double.IsNaN(new ValidationResult(["background", "a"], [0.9, double.NaN]).Mean));
    }
}
