using SamAdapt.Methods.Msa;
using SamAdapt.Methods.Semantic;
using SamAdapt.Tests;
using SamAdapt.Torch;
using SamAdapt.Training.Data;
using SamAdapt.Training.Engine;
using Xunit.Abstractions;

namespace SamAdapt.Methods.Tests.Msa;

/// <summary>
/// Prompt-trained MSA must learn: a small from-scratch model with the depth branch fits one slab with box prompts (every target of every
/// slice, tight boxes), through the trainer. Also: the task's targets are one per (stack, class present, slice holding it).
/// </summary>
public class MsaLearningTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDir _tmp = TestPaths.NewTempDir();
    public void Dispose() => _tmp.Dispose();

    private string OneSlab() => MsaTestModels.OneSlab(_tmp.Path);

    private string SmallConfig() => MsaTestModels.SmallConfig(_tmp.Path);

    [Fact]
    public void Targets_are_one_per_stack_class_and_slice_holding_it()
    {
        // 2 stacks × 2 slices of 4×4: stack 0 holds class 1 in both slices and class 2 in slice 1; stack 1 is empty
        var labels = new long[2 * 2 * 16];
        labels[0] = 1; labels[16 + 5] = 1; labels[16 + 10] = 2;
        var t = MsaPromptTask.Targets(labels, 2, 2, 4, new TrainPromptMix { Click = 1, MaxClicks = 1 }, new Random(1));
        Assert.Equal([(0, 1), (1, 1), (1, 2)], t.Select(x => (x.Image, x.Class)));
        Assert.Equal([new Click(0, 0, 1)], t[0].Clicks);
        Assert.Equal([new Click(1, 1, 1)], t[1].Clicks);   // pixel 5 = row 1, col 1
        Assert.Equal([new Click(2, 2, 1)], t[2].Clicks);   // pixel 10 = row 2, col 2
        var boxes = MsaPromptTask.Targets(labels, 2, 2, 4, TrainPromptMix.TightBoxes, new Random(1));
        Assert.Equal(new PromptBox(2, 2, 2, 2), boxes[2].Box);
    }

    [Fact]
    public void A_small_msa_trained_from_scratch_with_box_prompts_fits_one_slab()
    {
        torch.set_num_threads(1);
        var setup = new MsaSetupOptions
        {
            Dataset = OneSlab(), Model = SmallConfig(), Slices = 3, BatchSize = 2, Seed = 11, ValFraction = 0, Augmentation = "none",
            Prompts = TrainPromptMix.MedSam,
        };
        var o = new TrainerOptions { Iterations = 150, BatchSize = 2, Lr = 2e-3, WeightDecay = 0.01, ValEvery = 0, CheckpointEvery = 0, LogEvery = 0, Seed = 11 };
        torch.manual_seed(o.Seed);
        var (cfg, data, model) = MsaTraining.Build(setup);
        Assert.True(model.Options.DepthBranch);
        Assert.All(model.parameters(), p => Assert.True(p.requires_grad)); // from scratch: everything trains
        using var task = new MsaPromptTask(cfg, model, data, setup.Seed);
        new Trainer(task, new SliceStackSource(data), o, System.IO.Path.Combine(_tmp.Path, "run")).Run();

        // every training stack's every slice and class, prompted with its tight box
        model.eval();
        using var _ = torch.no_grad();
        double inter = 0, sum = 0;
        var perClass = new double[3, 2];
        for (int e = 0; e < 2; e++)
            for (int bi = 0; bi < data.BatchesPerEpoch; bi++)
            {
                using var scope = DisposeScope.Begin();
                var b = data.GetBatch(e, bi);
                var targets = MsaPromptTask.Targets(b.Label!, b.BatchSize, b.Depth, b.Size, TrainPromptMix.TightBoxes, new Random(0));
                var logits = MsaPromptTask.Decode(model, model.EmbedImages(b.ImageTensor(), b.Depth), targets, b.Size);
                var pred = logits.gt(0.0).to(DType.Float32).contiguous().ToArray<float>();
                int plane = b.Size * b.Size;
                for (int t = 0; t < targets.Count; t++)
                    for (int i = 0; i < plane; i++)
                    {
                        bool p = pred[t * plane + i] > 0.5f, g = targets[t].Mask[i];
                        if (p && g) { inter++; perClass[targets[t].Class, 0]++; }
                        sum += (p ? 1 : 0) + (g ? 1 : 0);
                        perClass[targets[t].Class, 1] += (p ? 1 : 0) + (g ? 1 : 0);
                    }
            }
        double dice = 2 * inter / sum;
        var text = string.Join(", ", Enumerable.Range(1, 2).Select(c => (2 * perClass[c, 0] / perClass[c, 1]).ToString("F3")));
        output.WriteLine($"box-prompted Dice {dice:F3} (per class {text})");
        Assert.True(dice >= 0.85, $"box-prompted Dice {dice:F3} (per class {text})");
    }
}
