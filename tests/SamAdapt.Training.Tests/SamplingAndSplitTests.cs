using SamAdapt.Imaging;
using SamAdapt.Training.Data;

namespace SamAdapt.Training.Tests;

/// <summary>nnU-Net-style foreground oversampling of stacks, and validation splits that cover every class.</summary>
public class SamplingAndSplitTests
{
    /// <summary>A 16×16×20 volume: class 1 (large) on slices 0–15, class 2 (4 voxels) on slice 18 only.</summary>
    private static TrainingData Data(double foregroundProbability)
    {
        int ni = 16, nj = 16, nk = 20;
        var img = new float[ni * nj * nk];
        var lbl = new byte[ni * nj * nk];
        for (int k = 0; k < nk; k++)
            for (int j = 0; j < nj; j++)
                for (int i = 0; i < ni; i++)
                {
                    int x = i + ni * (j + nj * k);
                    byte c = (byte)(k < 16 && i < 10 && j < 10 ? 1 : k == 18 && i is 12 or 13 && j is 12 or 13 ? 2 : 0);
                    lbl[x] = c;
                    img[x] = 10 * c + k;
                }
        double[] affine = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
        var classes = new ClassMapping([[1], [2]], ["big", "small"]);
        var options = new SampleOptions
        {
            ImageSize = 16, Slices = 3, BatchSize = 1, Seed = 3, ForegroundProbability = foregroundProbability,
            Intensity = Imaging.Preprocessing.IntensityTransform.Parse("none"), Augmentation = Augmentation.AugmentationPipeline.None,
        };
        var pipeline = new SamplePipeline(options, classes);
        var v = pipeline.Prepare("case", new Volume([ni, nj, nk], VoxelType.Float32, img, affine), new Volume([ni, nj, nk], VoxelType.UInt8, lbl, affine));
        return new TrainingData(pipeline, new DatasetSplit(["case"], []), [v], []);
    }

    private static double ShareAt(TrainingData d, Func<int, bool> slice)
    {
        int hits = 0, n = 0;
        for (int epoch = 0; epoch < 150; epoch++)
            for (int p = 0; p < 20; p++, n++)
                if (slice(d.SampleAt(epoch, p).Slice)) hits++;
        return hits / (double)n;
    }

    [Fact]
    public void Prepared_volumes_know_the_slices_of_each_class()
    {
        var v = Data(0).TrainVolumes[0];
        Assert.Equal(Enumerable.Range(0, 16), v.ClassSlices[1]);
        Assert.Equal([18], v.ClassSlices[2]);
        Assert.Equal(Enumerable.Range(0, 16).Append(18), v.ForegroundSlices);
    }

    [Fact]
    public void A_third_of_the_stacks_are_centred_on_a_class_drawn_uniformly()
    {
        // uniform slices: the small class's one slice is 1/20 of the samples
        Assert.InRange(ShareAt(Data(0), s => s == 18), 0.03, 0.07);
        // p = 1/3: half of the oversampled stacks go to the small class → 1/3 · 1/2 + 2/3 · 1/20 ≈ 0.2
        Assert.InRange(ShareAt(Data(SampleOptions.NnUNetForegroundProbability), s => s == 18), 0.16, 0.24);
        // p = 1: every stack is centred on foreground, the two classes equally often
        var all = Data(1);
        Assert.Equal(1.0, ShareAt(all, s => s < 16 || s == 18));
        Assert.InRange(ShareAt(all, s => s == 18), 0.45, 0.55);
        // addressable: the same (epoch, position) always gives the same slice
        var d = Data(SampleOptions.NnUNetForegroundProbability);
        Assert.Equal(Enumerable.Range(0, 20).Select(p => d.SampleAt(4, p)), Enumerable.Range(0, 20).Select(p => Data(SampleOptions.NnUNetForegroundProbability).SampleAt(4, p)));
    }

    [Fact]
    public void Validation_cases_cover_every_class_that_can_be_spared()
    {
        // 10 cases: class 1 everywhere, class 2 in c1–c9, class 3 only in c7 and c8, class 4 only in c5
        var classes = new Dictionary<string, IReadOnlyCollection<int>>();
        for (int i = 0; i < 10; i++)
        {
            var set = new List<int> { 1 };
            if (i >= 1) set.Add(2);
            if (i is 7 or 8) set.Add(3);
            if (i == 5) set.Add(4);
            classes[$"c{i}"] = set;
        }
        foreach (int seed in new[] { 1, 2, 3, 4, 5 })
        {
            var split = DatasetSplit.Create(classes.Keys, null, 0.2, seed, classes);
            Assert.Equal(2, split.ValidationCases.Count);
            var covered = split.ValidationCases.SelectMany(c => classes[c]).ToHashSet();
            Assert.Superset(new HashSet<int> { 1, 2, 3 }, covered);
            // class 4 is in one case only: it stays in training, and the split says validation lacks it
            Assert.Contains("c5", split.TrainCases);
            Assert.Equal([4], split.MissingValidationClasses);
            // every class keeps a training case
            var trained = split.TrainCases.SelectMany(c => classes[c]).ToHashSet();
            Assert.Superset(new HashSet<int> { 1, 2, 3, 4 }, trained);
        }
        // without class information the split is the plain seeded shuffle (and reports nothing missing)
        Assert.Empty(DatasetSplit.Create(classes.Keys, null, 0.2, 1).MissingValidationClasses);
    }
}
