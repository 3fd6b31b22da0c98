namespace SamAdapt.Methods.Tests;

public class RegistryTests
{
    [Fact]
    public void The_registry_lists_ma_sam_lora_and_full()
    {
        var names = MethodRegistry.Names;
        foreach (var n in new[] { "ma-sam", "lora", "full" }) Assert.Contains(n, names);
        Assert.Equal("lora", MethodRegistry.Get("samed").Name);          // alias
        Assert.Equal("ma-sam", MethodRegistry.Get(" MA-SAM ").Name);     // case and spaces
        foreach (var n in new[] { "ma-sam", "lora", "full" }) Assert.Equal(OutputContract.Semantic, MethodRegistry.Get(n).Output);
        Assert.Equal(OutputContract.Promptable, MethodRegistry.Get("msa").Output);
        Assert.Equal(OutputContract.Promptable, MethodRegistry.Get("medsam").Output);
        Assert.Equal("msa", MethodRegistry.Get("Med-SA").Name);          // alias
        Assert.All(MethodRegistry.All, m => Assert.False(string.IsNullOrWhiteSpace(m.Description)));
    }

    [Fact]
    public void An_unknown_name_is_an_error_listing_the_known_methods()
    {
        var e = Assert.Throws<UnknownMethodException>(() => MethodRegistry.Get("nope"));
        Assert.IsAssignableFrom<ArgumentException>(e);
        Assert.Contains("'nope'", e.Message);
        foreach (var n in new[] { "ma-sam", "lora", "full" }) Assert.Contains(n, e.Message);
        Assert.False(MethodRegistry.TryGet("nope", out _));
    }

    [Fact]
    public void A_taken_name_cannot_be_registered_twice()
    {
        var e = Assert.Throws<ArgumentException>(() => MethodRegistry.Register(new Full.FullMethod()));
        Assert.Contains("full", e.Message);
        Assert.Single(MethodRegistry.All, m => m.Name == "full");
    }

    [Fact]
    public void Train_without_or_with_an_unknown_method_fails_before_touching_the_run_folder()
    {
        using var tmp = SamAdapt.Tests.TestPaths.NewTempDir();
        var run = Path.Combine(tmp.Path, "run");
        var log = new TrainOutput(TextWriter.Null, TextWriter.Null, false);
        var e = Assert.Throws<ArgumentException>(() => TrainRunner.Run(new TrainSettings { Out = run, Dataset = tmp.Path }, log));
        Assert.Contains("--method is required", e.Message);
        Assert.Throws<UnknownMethodException>(() => TrainRunner.Run(new TrainSettings { Out = run, Dataset = tmp.Path, Method = "nope" }, log));
        Assert.False(Directory.Exists(run));
    }

    [Theory]
    [InlineData("ma-sam")]
    [InlineData("lora")]
    [InlineData("masksam")]
    public void Options_of_the_prompt_trained_methods_are_refused_for_the_others(string method)
    {
        using var tmp = SamAdapt.Tests.TestPaths.NewTempDir();
        var run = Path.Combine(tmp.Path, "run");
        var log = new TrainOutput(TextWriter.Null, TextWriter.Null, false);
        var e = Assert.Throws<ArgumentException>(() => TrainRunner.Run(new TrainSettings
        {
            Out = run, Dataset = tmp.Path, Method = method, SlicesAsChannels = true, AuxSemantic = 1, TrainPrompts = "box",
        }, log));
        Assert.Contains("--slices-as-channels, --aux-semantic, --train-prompts: option(s) of the prompt-trained methods (msa, medsam)", e.Message);
        Assert.Contains($"--method {method} does not use them", e.Message);
        Assert.False(Directory.Exists(run));
        Assert.Empty(new TrainSettings { Out = run, Method = method }.PromptTrainingOptionsGiven());
    }

    [Theory]
    [InlineData("ma-sam")]
    [InlineData("lora")]
    [InlineData("msa")]
    public void The_pixel_head_option_is_masksams_only(string method)
    {
        using var tmp = SamAdapt.Tests.TestPaths.NewTempDir();
        var run = Path.Combine(tmp.Path, "run");
        var log = new TrainOutput(TextWriter.Null, TextWriter.Null, false);
        var e = Assert.Throws<ArgumentException>(() => TrainRunner.Run(new TrainSettings
        {
            Out = run, Dataset = tmp.Path, Method = method, PixelHead = true,
        }, log));
        Assert.Equal($"--pixel-head: an option of masksam; --method {method} does not use it", e.Message);
        Assert.False(Directory.Exists(run));
    }
}
