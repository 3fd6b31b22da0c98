using SamAdapt.Imaging;
using SamAdapt.Imaging.Datasets;
using SamAdapt.Imaging.Nifti;
using SamAdapt.Imaging.Preprocessing;
using SamAdapt.Tests;
using SamAdapt.Torch;
using SamAdapt.Training.Augmentation;
using SamAdapt.Training.Data;

namespace SamAdapt.Training.Tests;

public class SamplePipelineTests : IDisposable
{
    private readonly TempDir _tmp = TestPaths.NewTempDir();
    public void Dispose() => _tmp.Dispose();

    private static double[] Affine(double sx = 1, double sy = 1, double sz = 1) => [sx, 0, 0, 0, 0, sy, 0, 0, 0, 0, sz, 0, 0, 0, 0, 1];

    /// <summary>Image value = 1000·k + 10·j + i (so every voxel says where it came from); label = k % 4.</summary>
    private static (Volume Image, Volume Label) Coded(int ni, int nj, int nk)
    {
        var img = new float[ni * nj * nk];
        var lbl = new byte[ni * nj * nk];
        for (int k = 0; k < nk; k++)
            for (int j = 0; j < nj; j++)
                for (int i = 0; i < ni; i++)
                {
                    img[i + ni * (j + nj * k)] = 1000 * k + 10 * j + i;
                    lbl[i + ni * (j + nj * k)] = (byte)(k % 4);
                }
        return (new Volume([ni, nj, nk], VoxelType.Float32, img, Affine()), new Volume([ni, nj, nk], VoxelType.UInt8, lbl, Affine()));
    }

    private static SampleOptions Plain(int size, int slices = 5) => new()
    {
        ImageSize = size, Slices = slices, Intensity = new NoIntensityTransform(), Augmentation = AugmentationPipeline.None,
    };

    [Fact]
    public void Stacks_replicate_edge_slices()
    {
        var (img, lbl) = Coded(4, 3, 6);
        var p = new SamplePipeline(Plain(16), ClassMapping.Parse("1,2,3"));
        var v = p.Prepare("c", img, lbl);
        Assert.Equal(6, v.SliceCount);
        Assert.Equal((3, 4), (v.Rows, v.Cols));
        int[][] expected = [[0, 0, 0, 1, 2], [0, 0, 1, 2, 3], [3, 4, 5, 5, 5], [2, 3, 4, 5, 5]];
        int[] centres = [0, 1, 5, 4];
        for (int t = 0; t < centres.Length; t++)
        {
            var s = p.NativeStack(v, centres[t]);
            Assert.Equal((1, 5, 3, 4), (s.Channels, s.Depth, s.Height, s.Width));
            for (int d = 0; d < 5; d++)
            {
                int k = expected[t][d];
                // plane d: rows = j, cols = i
                Assert.Equal(1000 * k + 10 * 2 + 3, s.Image[(d * 3 + 2) * 4 + 3]);
                Assert.Equal(1000 * k, s.Image[d * 12]);
                Assert.Equal(k % 4, s.Label![d * 12 + 5]);
            }
        }
        // matches the Imaging slice extractor
        var ref3 = SliceExtractor.ExtractStack(img, 2, 0, 5);
        var ns = p.NativeStack(v, 0);
        for (int d = 0; d < 5; d++) for (int r = 0; r < 3; r++) for (int c = 0; c < 4; c++) Assert.Equal(ref3[d, r, c], ns.Image[(d * 3 + r) * 4 + c]);
    }

    [Fact]
    public void Other_slice_axes_use_the_memory_layout()
    {
        var (img, lbl) = Coded(4, 3, 6);
        var p = new SamplePipeline(Plain(16) with { SliceAxis = 0, Slices = 1 }, ClassMapping.Parse("1,2,3"));
        var v = p.Prepare("c", img, lbl);
        Assert.Equal(4, v.SliceCount);
        Assert.Equal((6, 3), (v.Rows, v.Cols)); // axis 0 → [k, j]
        var s = p.NativeStack(v, 2);
        Assert.Equal(1000 * 5 + 10 * 1 + 2, s.Image[5 * 3 + 1]);
    }

    [Fact]
    public void Resize_sizes_and_values_follow_Resize2D()
    {
        var (img, lbl) = Coded(7, 5, 3);
        var p = new SamplePipeline(Plain(12, 3), ClassMapping.Parse("1,2,3"));
        var v = p.Prepare("c", img, lbl);
        var s = p.ModelStack(v, 1);
        Assert.Equal((3, 12, 12), (s.Depth, s.Height, s.Width));
        Assert.Equal(3 * 144, s.Label!.Length);
        var native = SliceExtractor.Extract(img, 2, 2); // [5, 7]
        var expected = Resize2D.Bilinear(native, 12, 12);
        var nearest = Resize2D.Nearest(SliceExtractor.Extract<byte>((byte[])lbl.Data, lbl.Shape, 2, 2), 12, 12);
        for (int r = 0; r < 12; r++)
            for (int c = 0; c < 12; c++)
            {
                Assert.Equal(expected[r, c], s.Image[(2 * 12 + r) * 12 + c]); // bit-exact
                Assert.Equal(nearest[r, c], s.Label[(2 * 12 + r) * 12 + c]);
            }
        var input = p.ModelInput(v, 1);
        Assert.Equal(3 * 3 * 144, input.Length);
        // grey replicated to the three channels
        for (int d = 0; d < 3; d++)
            for (int ch = 1; ch < 3; ch++)
                Assert.Equal(input.AsSpan(d * 3 * 144, 144).ToArray(), input.AsSpan((d * 3 + ch) * 144, 144).ToArray());
    }

    [Fact]
    public void Labels_are_remapped_to_contiguous_classes()
    {
        var m = ClassMapping.Parse("3,1,2+4");
        Assert.Equal(4, m.NumClasses);
        Assert.Equal([0, 2, 3, 1, 3, 0], new[] { 0, 1, 2, 3, 4, 5 }.Select(m.Map).ToArray());
        Assert.Equal("3,1,2+4", m.ToString());
        Assert.Equal(3, m.ValueOf(1));
        Assert.Throws<FormatException>(() => ClassMapping.Parse("1,1"));
        Assert.Throws<FormatException>(() => ClassMapping.Parse("0,1"));
        Assert.Throws<FormatException>(() => ClassMapping.Parse("a"));

        var (img, lbl) = Coded(4, 4, 8); // label = k % 4
        var p = new SamplePipeline(Plain(4, 1), ClassMapping.Parse("3,1"));
        var v = p.Prepare("c", img, lbl);
        int[] expected = [0, 2, 0, 1]; // 0 → 0, 1 → 2, 2 → bg, 3 → 1
        for (int k = 0; k < 8; k++) Assert.Equal(expected[k % 4], p.NativeStack(v, k).Label![0]);
        Assert.Equal([1, 3, 5, 7], v.ForegroundSlices);
    }

    [Fact]
    public void Batches_are_sample_major_slice_minor()
    {
        var (img, lbl) = Coded(4, 4, 10);
        var p = new SamplePipeline(Plain(4, 3) with { BatchSize = 2 }, ClassMapping.Parse("1,2,3"));
        var v = p.Prepare("c", img, lbl);
        var a = p.ModelStack(v, 2);
        var b = p.ModelStack(v, 7);
        var batch = TrainingBatch.FromSamples([a, b], [new("c", 2, 0), new("c", 7, 1)]);
        Assert.Equal([6L, 3, 4, 4], batch.ImageShape);
        Assert.Equal([6L, 4, 4], batch.LabelShape);
        int[] slices = [1, 2, 3, 6, 7, 8]; // row b·D + d = slice d of stack b
        for (int row = 0; row < 6; row++)
        {
            for (int ch = 0; ch < 3; ch++) Assert.Equal(1000 * slices[row], batch.Image[(row * 3 + ch) * 16]);
            Assert.Equal(slices[row] % 4, batch.Label![row * 16]);
        }
        using var scope = DisposeScope.Begin();
        var ti = batch.ImageTensor();
        var tl = batch.LabelTensor();
        Assert.Equal([6L, 3, 4, 4], ti.shape);
        Assert.Equal(DType.Float32, ti.dtype);
        Assert.Equal(DType.Int64, tl.dtype);
        // view (B, D, ...) as the adapters do: stack 1, slice 2 is volume slice 8
        Assert.Equal(8000f, ti.view(2, 3, 3, 4, 4).ToArray<float>()[((1 * 3 + 2) * 3 + 0) * 16]);
    }

    [Fact]
    public void Split_is_deterministic_and_by_case()
    {
        var ids = Enumerable.Range(0, 10).Select(i => $"case{i:00}").ToList();
        var a = DatasetSplit.Create(ids, null, 0.2, 7);
        var b = DatasetSplit.Create(ids.AsEnumerable().Reverse(), null, 0.2, 7);
        Assert.Equal(a.ValidationCases, b.ValidationCases);
        Assert.Equal(2, a.ValidationCases.Count);
        Assert.Equal(8, a.TrainCases.Count);
        Assert.Empty(a.TrainCases.Intersect(a.ValidationCases));
        var seeds = Enumerable.Range(0, 10).Select(s => string.Join(",", DatasetSplit.Create(ids, null, 0.2, s).ValidationCases)).Distinct().Count();
        Assert.True(seeds > 3);
        Assert.Single(DatasetSplit.Create(ids.Take(2), null, 0.01, 1).ValidationCases);
        Assert.Empty(DatasetSplit.Create(ids.Take(1), null, 0.5, 1).ValidationCases);
        Assert.Empty(DatasetSplit.Create(ids, null, 0, 1).ValidationCases);
        var byId = DatasetSplit.Create(ids, ["case03", "case01"]);
        Assert.Equal(["case01", "case03"], byId.ValidationCases);
        var e = Assert.Throws<ArgumentException>(() => DatasetSplit.Create(ids, ["case99"]));
        Assert.Contains("case99", e.Message);
    }

    private string SyntheticDataset(int cases = 4)
    {
        var root = Path.Combine(_tmp.Path, "Dataset001_Synth");
        Directory.CreateDirectory(Path.Combine(root, "imagesTr"));
        Directory.CreateDirectory(Path.Combine(root, "labelsTr"));
        File.WriteAllText(Path.Combine(root, "dataset.json"),
            $$"""{"channel_names": {"0": "CT"}, "labels": {"background": 0, "liver": 1, "spleen": 2}, "numTraining": {{cases}}, "file_ending": ".nii.gz"}""");
        for (int c = 0; c < cases; c++)
        {
            int ni = 20 + 2 * c, nj = 16, nk = 6 + c;
            var img = new short[ni * nj * nk];
            var lbl = new byte[ni * nj * nk];
            for (int k = 0; k < nk; k++)
                for (int j = 0; j < nj; j++)
                    for (int i = 0; i < ni; i++)
                    {
                        int x = i + ni * (j + nj * k);
                        bool organ = k >= 2 && k < nk - 1 && i >= 4 && i < 12 && j >= 4 && j < 10;
                        bool organ2 = k == 3 && i >= 14 && j >= 10;
                        lbl[x] = (byte)(organ ? 1 : organ2 ? 2 : 0);
                        img[x] = (short)(organ ? 100 : organ2 ? 200 : -500);
                    }
            var id = $"synth_{c:000}";
            NiftiWriter.Write(new Volume([ni, nj, nk], VoxelType.Int16, img, [0.8, 0, 0, 0, 0, 0.8, 0, 0, 0, 0, 3, 0, 0, 0, 0, 1]), Path.Combine(root, "imagesTr", id + "_0000.nii.gz"));
            NiftiWriter.Write(new Volume([ni, nj, nk], VoxelType.UInt8, lbl, [0.8, 0, 0, 0, 0, 0.8, 0, 0, 0, 0, 3, 0, 0, 0, 0, 1]), Path.Combine(root, "labelsTr", id + ".nii.gz"));
        }
        return root;
    }

    [Fact]
    public void Synthetic_nnunet_dataset_end_to_end()
    {
        var ds = SegmentationDataset.Load(SyntheticDataset());
        Assert.False(new DatasetValidator().Validate(ds).HasProblems);
        var opts = new SampleOptions { ImageSize = 32, Slices = 5, BatchSize = 3, Intensity = IntensityTransform.Parse("ct-window:-500,500"), Seed = 11 };
        var data = TrainingData.Load(ds, opts, validationFraction: 0.25);
        Assert.Equal(["synth_000", "synth_001", "synth_002", "synth_003"], data.Split.TrainCases.Concat(data.Split.ValidationCases).Order());
        Assert.Single(data.ValidationVolumes);
        Assert.Equal(["background", "liver", "spleen"], data.Classes.ClassNames);
        long n = data.TrainVolumes.Sum(v => v.SliceCount);
        Assert.Equal(n, data.SamplesPerEpoch);
        Assert.Equal((int)(n / 3), data.BatchesPerEpoch);

        var batch = data.GetBatch(0, 1);
        Assert.Equal([15L, 3, 32, 32], batch.ImageShape);
        Assert.Equal(15 * 32 * 32, batch.Label!.Length);
        Assert.All(batch.Image, v => Assert.InRange(v, 0f, 1f));
        Assert.All(batch.Label, v => Assert.InRange(v, 0L, 2L));
        Assert.Equal(3, batch.Samples.Count);

        // an epoch visits every slice once
        var visited = Enumerable.Range(0, (int)n).Select(pos => data.SampleAt(2, pos)).ToList();
        Assert.Equal((int)n, visited.Distinct().Count());
        Assert.NotEqual(visited, Enumerable.Range(0, (int)n).Select(pos => data.SampleAt(3, pos)).ToList());

        // resume: the same batch from a fresh loader, from the enumerator or by iteration number
        var again = TrainingData.Load(ds, opts, validationFraction: 0.25);
        Assert.Equal(batch.Image, again.GetBatch(0, 1).Image);
        Assert.Equal(batch.Label, again.GetBatch(0, 1).Label);
        var enumerated = data.Batches(0, startBatch: 1).First();
        Assert.Equal(batch.Image, enumerated.Image);
        Assert.Equal(batch.Image, data.GetBatchForIteration(1).Image);
        Assert.Equal((1, 0), data.Locate(data.BatchesPerEpoch));
        Assert.Equal(data.BatchesPerEpoch, data.Batches(0, prefetch: 2).Count());

        // validation batches cover every validation slice, unaugmented
        var vb = data.ValidationBatches(4).ToList();
        Assert.Equal(data.ValidationVolumes[0].SliceCount, vb.Sum(b => b.BatchSize));

        // foreground bias: p = 1 always yields foreground slices
        var fg = TrainingData.Load(ds, opts with { ForegroundProbability = 1 }, validationFraction: 0.25);
        for (int pos = 0; pos < 20; pos++)
        {
            var (vol, slice) = fg.SampleAt(0, pos);
            Assert.Contains(slice, fg.TrainVolumes[vol].ForegroundSlices);
        }
        var cfg = opts.ToDictionary();
        Assert.Equal("ct-window:-500,500", cfg["intensity"]);
        Assert.Equal(AugmentationPipeline.MaSam.ToString(), cfg["augmentation"]);
    }

    [Fact]
    public void Per_stack_min_max_for_the_exact_ma_sam_preset()
    {
        var (img, lbl) = Coded(4, 4, 8);
        var p = new SamplePipeline(Plain(4, 3) with { Intensity = IntensityTransform.Parse("ct-window-minmax:0,100000") }, ClassMapping.Parse("1,2,3"));
        Assert.Equal(IntensityScope.Stack, p.Options.EffectiveScope);
        var v = p.Prepare("c", img, lbl);
        var s = p.NativeStack(v, 5); // slices 4..6: values 4000..6033
        Assert.Equal(0f, s.Image.Min());
        Assert.Equal(1f, s.Image.Max());
    }

    [Fact]
    public void Half_precision_cache_stays_close()
    {
        var (img, lbl) = Coded(6, 5, 4);
        var o = Plain(8, 3) with { Intensity = IntensityTransform.Parse("ct-window:0,4000") };
        var full = new SamplePipeline(o, ClassMapping.Parse("1")).Prepare("c", img, lbl);
        var half = new SamplePipeline(o with { Cache = CachePrecision.Float16 }, ClassMapping.Parse("1")).Prepare("c", img, lbl);
        Assert.True(half.MemoryBytes < full.MemoryBytes);
        var a = new SamplePipeline(o, ClassMapping.Parse("1")).NativeStack(full, 1);
        var b = new SamplePipeline(o, ClassMapping.Parse("1")).NativeStack(half, 1);
        for (int i = 0; i < a.Image.Length; i++) Assert.Equal(a.Image[i], b.Image[i], 1e-3f);
    }
}
