using SamAdapt.Imaging;
using SamAdapt.Imaging.Datasets;
using SamAdapt.Tests;
using SamAdapt.Imaging.Preprocessing;
using SamAdapt.Training.Data;
using SamAdapt.Training.Demo;
using Xunit.Abstractions;

namespace SamAdapt.Training.Tests;

public class DemoDatasetTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDir _tmp = TestPaths.NewTempDir();
    public void Dispose() => _tmp.Dispose();

    private static string Templates => DemoDataset.DefaultTemplatesDir;

    [Fact]
    public void Classes_cover_every_AAL_region_exactly_once()
    {
        var regions = DemoDataset.ReadRegions(Path.Combine(Templates, DemoDataset.AtlasNamesFile));
        Assert.Equal(116, regions.Count);
        var classes = DemoDataset.GroupRegions(regions);
        Assert.True(classes.Count >= 6);
        var all = classes.SelectMany(c => c.AalIds).Order().ToList();
        Assert.Equal(Enumerable.Range(1, 116), all);
        var byName = classes.ToDictionary(c => c.Name, c => c.AalIds.Select(id => regions.First(r => r.Id == id).Name).ToList());
        Assert.Equal(["Hippocampus_L", "Hippocampus_R", "Amygdala_L", "Amygdala_R"], byName["hippocampus_amygdala"]);
        Assert.Equal(8, byName["deep_grey"].Count);
        Assert.Equal(26, byName["cerebellum"].Count);
        Assert.Contains("Precentral_L", byName["frontal"]);
        Assert.Contains("ParaHippocampal_R", byName["temporal"]);
        Assert.Contains("Fusiform_L", byName["occipital"]);
        Assert.Contains("Precuneus_R", byName["parietal"]);
        Assert.Equal(Enumerable.Range(1, classes.Count), classes.Select(c => c.Index));
        // a region no rule knows is an error, not background
        Assert.Throws<InvalidDataException>(() => DemoDataset.GroupRegions([.. regions, new AalRegion(117, "Mystery_L", 0)]));
    }

    [Fact]
    public void Slabs_do_not_overlap_and_cover_the_range()
    {
        var slabs = DemoDataset.Slabs(5, 90, 8);
        Assert.Equal(10, slabs.Count);
        Assert.Equal(5, slabs[0].FirstSlice);
        for (int i = 1; i < slabs.Count; i++) Assert.Equal(slabs[i - 1].FirstSlice + slabs[i - 1].SliceCount, slabs[i].FirstSlice);
        Assert.Equal(90, slabs[^1].FirstSlice + slabs[^1].SliceCount - 1);
        Assert.DoesNotContain(slabs, s => s.IsTest);
        Assert.Throws<ArgumentException>(() => DemoDataset.Slabs(0, 20, 8)); // two slabs cannot hold two out
    }

    [Fact]
    public void Held_out_slabs_are_the_most_balanced_of_each_half()
    {
        var slabs = DemoDataset.Slabs(0, 59, 10);
        // [background, class 1, class 2] per slab: slab 1 is the best of the first half (smallest class 40),
        // slab 3 and 4 tie in the second half (30) and the one nearer its middle (4 of 3..5) wins; slab 5 misses a class
        long[][] counts = [[9, 100, 0], [9, 50, 40], [9, 35, 35], [9, 30, 90], [9, 80, 30], [9, 500, 0]];
        var chosen = DemoDataset.ChooseHeldOut(slabs, counts);
        Assert.Equal([1, 4], chosen.Select((s, i) => (s, i)).Where(x => x.s.IsTest).Select(x => x.i));
        Assert.Equal(slabs.Select(s => s.FirstSlice), chosen.Select(s => s.FirstSlice));
        // when no slab of a half holds every class, one is still held out per half
        long[][] sparse = [[9, 0, 0], [9, 5, 0], [9, 0, 7], [9, 1, 1], [9, 0, 0], [9, 0, 0]];
        Assert.Equal(2, DemoDataset.ChooseHeldOut(slabs, sparse).Count(s => s.IsTest));
        Assert.Throws<ArgumentException>(() => DemoDataset.ChooseHeldOut(slabs, counts[..5]));
    }

    [Fact]
    public void Crop_keeps_world_coordinates()
    {
        var data = Enumerable.Range(0, 4 * 5 * 6).Select(x => (short)x).ToArray();
        double[] aff = [0, 0, -2, 10, 1.5, 0, 0, -3, 0, 2.5, 0, 7, 0, 0, 0, 1];
        var v = new Volume([4, 5, 6], VoxelType.Int16, data, aff);
        for (int axis = 0; axis < 3; axis++)
        {
            var c = DemoDataset.Crop(v, axis, 1, 2);
            var s = c.Shape;
            for (int k = 0; k < s[2]; k++)
                for (int j = 0; j < s[1]; j++)
                    for (int i = 0; i < s[0]; i++)
                    {
                        int si = axis == 0 ? i + 1 : i, sj = axis == 1 ? j + 1 : j, sk = axis == 2 ? k + 1 : k;
                        Assert.Equal(v.Get(si, sj, sk), c.Get(i, j, k));
                        var a = Geometry.Apply(c.Affine, i, j, k);
                        var b = Geometry.Apply(v.Affine, si, sj, sk);
                        Assert.Equal(b.X, a.X, 9);
                        Assert.Equal(b.Y, a.Y, 9);
                        Assert.Equal(b.Z, a.Z, 9);
                    }
        }
    }

    [Fact]
    public void Built_dataset_validates_and_slabs_sit_at_their_source_positions()
    {
        Assert.True(DemoDataset.Available(), "mricron-data is a build dependency (build.sh deps)");
        var root = Path.Combine(_tmp.Path, "Dataset900_Colin27AAL");
        var info = DemoDataset.Build(root);
        Assert.Equal([109, 91, 181], info.Shape); // 2 mm in-plane, 1 mm across the sagittal slices, PSR
        Assert.Equal(2, info.TestSlabs.Count());
        // every class is present in every held-out slab, with at least 100 voxels
        foreach (var s in info.TestSlabs)
        {
            var l = VolumeIO.Read(Path.Combine(root, "labelsTs", s.CaseId + ".nii.gz"));
            var counts = new long[info.Classes.Count + 1];
            for (long i = 0; i < l.VoxelCount; i++) counts[(int)l.Get(i)]++;
            Assert.All(counts.Skip(1), c => Assert.True(c >= 100, $"{s.CaseId}: class counts {string.Join(",", counts)}"));
        }
        for (int c = 1; c <= info.Classes.Count; c++) Assert.True(info.ClassVoxels[c] > 0, $"class {info.Classes[c - 1].Name} is empty");
        Assert.True(info.ClassVoxels.Skip(1).Distinct().Count() == info.Classes.Count); // different sizes
        foreach (var c in info.Classes) output.WriteLine($"{c.Index} {c.Name}: {info.ClassVoxels[c.Index]} voxels at 2 mm, AAL {string.Join(",", c.AalIds)}");
        foreach (var s in info.Slabs) output.WriteLine($"{s.CaseId}: slices {s.FirstSlice}..{s.FirstSlice + s.SliceCount - 1}{(s.IsTest ? " (test)" : "")}");

        var ds = SegmentationDataset.Load(root);
        var report = new DatasetValidator().Validate(ds);
        Assert.False(report.HasProblems, string.Join("\n", report.AllProblems));
        Assert.Equal(info.TrainSlabs.Count(), ds.TrainingCases.Count);
        Assert.Equal(info.TestSlabs.Count(), ds.TestCases.Count);
        Assert.Equal(info.Classes.Select(c => c.Name).Prepend("background"), ds.Labels.Select(l => l.Name));

        // slabs do not overlap and each voxel sits where it was in the resampled source
        var reference = Resampler.ToSpacing(Orientation.Reorient(VolumeIO.Read(Path.Combine(Templates, DemoDataset.ImageFile)).ConvertTo(VoxelType.Float32), DemoDataset.CaseOrientation), [2, 2, 1], Interpolation.Linear);
        var covered = new HashSet<int>();
        foreach (var s in info.Slabs)
        {
            var dir = s.IsTest ? "imagesTs" : "imagesTr";
            var v = VolumeIO.Read(Path.Combine(root, dir, s.CaseId + "_0000.nii.gz"));
            var l = VolumeIO.Read(Path.Combine(root, s.IsTest ? "labelsTs" : "labelsTr", s.CaseId + ".nii.gz"));
            Assert.Equal(v.Shape, l.Shape);
            Assert.Equal(s.SliceCount, v.Shape[2]);
            for (int k = 0; k < s.SliceCount; k++) Assert.True(covered.Add(s.FirstSlice + k));
            foreach (var (i, j, k) in new[] { (0, 0, 0), (54, 45, s.SliceCount / 2), (108, 90, s.SliceCount - 1) })
            {
                var w = Geometry.Apply(v.Affine, i, j, k);
                var src = Geometry.Apply(reference.Affine, i, j, s.FirstSlice + k);
                Assert.Equal(src.X, w.X, 3);
                Assert.Equal(src.Y, w.Y, 3);
                Assert.Equal(src.Z, w.Z, 3);
                Assert.Equal(reference.Get(i, j, s.FirstSlice + k), v.Get(i, j, k), 3);
            }
            Assert.Equal(Volume.IntentLabel, l.IntentCode);
        }
        Assert.Contains(info.Slabs, s => s.IsTest);

        // the training-sample pipeline reads it
        var data = TrainingData.Load(ds, new SampleOptions
        {
            ImageSize = 64, Slices = 5, BatchSize = 2, Intensity = IntensityTransform.Parse(DemoDatasetInfo.RecommendedIntensity),
        }, validationFraction: 0.2);
        Assert.Equal(info.TrainSlabs.Count(), data.TrainVolumes.Count + data.ValidationVolumes.Count);
        Assert.Equal(Math.Max(1, (int)Math.Round(0.2 * info.TrainSlabs.Count())), data.ValidationVolumes.Count);
        Assert.Equal(9, data.Classes.NumClasses);
        var batch = data.GetBatch(0, 0);
        Assert.Equal([10L, 3, 64, 64], batch.ImageShape);
        Assert.All(batch.Image, v => Assert.InRange(v, 0f, 1f));
        Assert.All(batch.Label!, v => Assert.InRange(v, 0L, 8L));

        // and the held-out labels evaluate against themselves with the class names
        var selfReport = Path.Combine(_tmp.Path, "self.json");
        var evaluator = new SamAdapt.Evaluation.SegmentationEvaluator(new SamAdapt.Evaluation.EvaluationOptions
        {
            Labels = info.Classes.Select(c => c.Index).ToList(),
            LabelNames = info.Classes.ToDictionary(c => c.Index, c => c.Name),
            Metrics = SamAdapt.Evaluation.MetricKind.Dice,
        });
        var selfEval = evaluator.EvaluateFiles(SamAdapt.Evaluation.CaseMatcher.Match(info.LabelsTs, info.LabelsTs), VolumeIO.Read);
        SamAdapt.Evaluation.ReportWriter.WriteJson(selfEval, selfReport);
        var text = File.ReadAllText(selfReport);
        Assert.Contains("\"hippocampus_amygdala\"", text);
        var mean = System.Text.Json.JsonDocument.Parse(text).RootElement.GetProperty("mean_foreground").GetProperty("dice").GetDouble();
        Assert.Equal(1.0, mean);
    }
}
