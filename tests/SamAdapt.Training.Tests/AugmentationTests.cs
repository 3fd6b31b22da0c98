using SamAdapt.Torch;
using SamAdapt.Training.Augmentation;
using SamAdapt.Training.Data;

namespace SamAdapt.Training.Tests;

public class AugmentationTests
{
    /// <summary>A (1, D, H, W) stack whose pixels are all distinct, with a label of regions 0..3.</summary>
    private static StackSample Pattern(int d, int h, int w, int seed = 1)
    {
        var rng = new Random(seed);
        var img = new float[d * h * w];
        for (int i = 0; i < img.Length; i++) img[i] = (i + 1) / (float)img.Length; // distinct, in (0, 1]
        var lbl = new int[d * h * w];
        for (int z = 0; z < d; z++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    lbl[(z * h + y) * w + x] = y < h / 2 ? (x < w / 3 ? 1 : 0) : (x < w / 2 ? 2 : 3);
        _ = rng;
        return new StackSample(1, d, h, w, img, lbl) { CaseId = "p", CenterSlice = 0 };
    }

    [Fact]
    public void All_probabilities_zero_is_the_identity()
    {
        var s = Pattern(5, 16, 16);
        var none = AugmentationPipeline.Parse(string.Join(";", AugmentationPipeline.MaSam.Steps.Select(x => x.ToString().Replace("p=0.5", "p=0").Replace("p=0.25", "p=0"))) + ";erase:p=0");
        Assert.True(none.IsEmpty);
        Assert.Equal(7, none.Steps.Count);
        for (int seed = 0; seed < 5; seed++)
        {
            var r = none.Apply(s, seed, 0, 3);
            Assert.Equal(s.Image, r.Image);
            Assert.Equal(s.Label, r.Label);
        }
        Assert.Equal(s.Image, AugmentationPipeline.None.Apply(s, 1, 2, 3).Image);
    }

    /// <summary>numpy semantics: rot90(m, 1)[i, j] = m[j, W−1−i]; flip axis 0 reverses rows, axis 1 columns.</summary>
    private static float[] NumpyRot90Flip(float[] src, int d, int n, int k, int axis)
    {
        var cur = (float[])src.Clone();
        for (int t = 0; t < k; t++)
        {
            var nxt = new float[cur.Length];
            for (int z = 0; z < d; z++)
                for (int i = 0; i < n; i++)
                    for (int j = 0; j < n; j++)
                        nxt[(z * n + i) * n + j] = cur[(z * n + j) * n + (n - 1 - i)];
            cur = nxt;
        }
        var r = new float[cur.Length];
        for (int z = 0; z < d; z++)
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                    r[(z * n + i) * n + j] = axis == 0 ? cur[(z * n + (n - 1 - i)) * n + j] : cur[(z * n + i) * n + (n - 1 - j)];
        return r;
    }

    [Theory]
    [InlineData(7)]
    [InlineData(8)]
    public void Rot90_and_flip_are_exact_and_match_numpy_and_torch(int n)
    {
        var s = Pattern(3, n, n);
        for (int k = 0; k < 4; k++)
            for (int axis = 0; axis < 2; axis++)
            {
                var r = AffineWarp.Apply(s, Affine2D.Rot90(k).Then(Affine2D.Flip(axis)));
                var expected = NumpyRot90Flip(s.Image, 3, n, k, axis);
                Assert.Equal(expected, r.Image); // bit-exact
                var expectedLabel = NumpyRot90Flip(s.Label!.Select(x => (float)x).ToArray(), 3, n, k, axis);
                Assert.Equal(expectedLabel, r.Label!.Select(x => (float)x).ToArray());
                using var scope = DisposeScope.Begin();
                var t = Tensor.FromArray<float>(s.Image, [1, 3, n, n]).rot90(k, [2, 3]).flip(axis + 2).contiguous();
                Assert.Equal(t.ToArray<float>(), r.Image);
            }
    }

    [Fact]
    public void Rot90_flip_step_moves_image_and_label_together()
    {
        var s = Pattern(5, 12, 12);
        var step = new AugmentationPipeline([new Rot90Flip(1.0)]);
        var seen = new HashSet<(int, int)>();
        for (int seed = 0; seed < 40; seed++)
        {
            var r = step.Apply(s, seed, 0, 0);
            bool found = false;
            for (int k = 0; k < 4 && !found; k++)
                for (int axis = 0; axis < 2 && !found; axis++)
                    if (NumpyRot90Flip(s.Image, 5, 12, k, axis).SequenceEqual(r.Image))
                    {
                        found = true;
                        seen.Add((k, axis));
                        Assert.Equal(NumpyRot90Flip(s.Label!.Select(x => (float)x).ToArray(), 5, 12, k, axis), r.Label!.Select(x => (float)x).ToArray());
                    }
            Assert.True(found, $"seed {seed}: output is not a rot90+flip of the input");
        }
        // rot90(k) followed by a flip is always a reflection: the 8 (k, axis) draws give the 4 reflections of the square
        Assert.Equal(4, seen.Count);
    }

    [Fact]
    public void Labels_stay_in_the_label_set_after_rotation_and_scale()
    {
        var s = Pattern(5, 40, 40);
        var p = new AugmentationPipeline([new RandomRotation(1, 15), new RandomScale(1, 0.8, 1.2)]);
        bool changed = false;
        for (int seed = 0; seed < 20; seed++)
        {
            var r = p.Apply(s, seed, 1, 2);
            Assert.All(r.Label!, v => Assert.Contains(v, new[] { 0, 1, 2, 3 }));
            changed |= !r.Label!.SequenceEqual(s.Label!);
            // the same map on every slice: slices of the pattern are identical, so the outputs are too
            int plane = 40 * 40;
            for (int z = 1; z < 5; z++)
                Assert.Equal(r.Label.AsSpan(0, plane).ToArray(), r.Label.AsSpan(z * plane, plane).ToArray());
            Assert.All(r.Image, v => Assert.InRange(v, 0f, 1f));
        }
        Assert.True(changed);
    }

    [Fact]
    public void Rotation_by_90_degrees_equals_rot90()
    {
        var s = Pattern(2, 9, 9);
        var a = AffineWarp.Apply(s, Affine2D.Rotation(90));
        var b = AffineWarp.Apply(s, Affine2D.Rot90(1));
        Assert.Equal(b.Label, a.Label);
        for (int i = 0; i < a.Image.Length; i++) Assert.Equal(b.Image[i], a.Image[i], 1e-5f);
    }

    [Fact]
    public void Same_seed_same_output_different_seed_different_output()
    {
        var s = Pattern(5, 32, 32);
        var p = AugmentationPipeline.Parse("rot90-flip:p=1;rotate:p=1,max=15;scale:p=1;gamma:p=1;brightness:p=1;contrast:p=1;erase:p=1");
        var a = p.Apply(s, 1234, 3, 17);
        var b = p.Apply(s, 1234, 3, 17);
        Assert.Equal(a.Image, b.Image);
        Assert.Equal(a.Label, b.Label);
        Assert.NotEqual(a.Image, p.Apply(s, 1235, 3, 17).Image);
        Assert.NotEqual(a.Image, p.Apply(s, 1234, 4, 17).Image);
        Assert.NotEqual(a.Image, p.Apply(s, 1234, 3, 18).Image);
        // the input is not modified
        Assert.Equal(Pattern(5, 32, 32).Image, s.Image);
        // deterministic under concurrency
        var parallel = new StackSample[8];
        Parallel.For(0, 8, i => parallel[i] = p.Apply(s, 1234, 3, 17));
        Assert.All(parallel, r => Assert.Equal(a.Image, r.Image));
    }

    [Fact]
    public void Gamma_is_x_to_the_gamma_on_unit_values()
    {
        var v = new float[] { 0, 0.25f, 0.5f, 0.9f, 1 };
        var r = (float[])v.Clone();
        RandomGamma.Apply(r, 2.5);
        for (int i = 0; i < v.Length; i++) Assert.Equal(MathF.Pow(v[i], 2.5f), r[i]);
        Assert.Equal(0.25f * 0.25f * 0.5f, r[1], 1e-7f);
        // in the pipeline: gamma fixed by min = max
        var s = new StackSample(1, 1, 1, 5, (float[])v.Clone(), null);
        var out1 = new AugmentationPipeline([new RandomGamma(1, 0.5, 0.5)]).Apply(s, 0, 0, 0);
        for (int i = 0; i < v.Length; i++) Assert.Equal(MathF.Sqrt(v[i]), out1.Image[i], 1e-7f);
        // outside [0, 1]: mapped by the stack's range
        var w = new float[] { -1, 0, 1 };
        RandomGamma.Apply(w, 2);
        Assert.Equal(new[] { -1f, -1 + 2 * 0.25f, 1f }, w);
    }

    [Fact]
    public void Erasing_clears_the_label_in_the_box()
    {
        var s = Pattern(3, 20, 20);
        for (int i = 0; i < s.Label!.Length; i++) s.Label[i] = 2;
        var r = new AugmentationPipeline([new RandomErasing(1, 0.04, 0.04, 1, 1)]).Apply(s, 5, 0, 0);
        int zeros = r.Label!.Count(x => x == 0);
        Assert.Equal(3 * 16, zeros); // 4×4 box (area 16 = 4% of 400) in each of 3 slices
        for (int z = 1; z < 3; z++)
            Assert.Equal(r.Label.AsSpan(0, 400).ToArray().Select(x => x == 0), r.Label.AsSpan(z * 400, 400).ToArray().Select(x => x == 0));
    }

    [Fact]
    public void Text_form_round_trips()
    {
        var p = AugmentationPipeline.MaSam;
        var text = p.ToString();
        Assert.Equal("rot90-flip:p=0.5;rotate:p=0.5,max=15;scale:p=0.25,min=0.8,max=1.2;gamma:p=0.5,min=0.5,max=3.5;brightness:p=0.25,min=0.7,max=1.3;contrast:p=0.25,min=0.7,max=1.3", text);
        Assert.Equal(p, AugmentationPipeline.Parse(text));
        Assert.Equal(p, AugmentationPipeline.Parse("ma-sam"));
        var custom = AugmentationPipeline.Parse("erase:p=0.3,area-max=0.1; gamma");
        Assert.Equal(new RandomErasing(0.3, 0.02, 0.1, 0.3, 3.3), custom.Steps[0]);
        Assert.Equal(new RandomGamma(0.5, 0.5, 3.5), custom.Steps[1]);
        Assert.Equal(custom, AugmentationPipeline.Parse(custom.ToString()));
        Assert.Equal("none", AugmentationPipeline.None.ToString());
        Assert.Throws<FormatException>(() => AugmentationPipeline.Parse("twist:p=1"));
        Assert.Throws<FormatException>(() => AugmentationPipeline.Parse("gamma:p=2"));
        Assert.Throws<FormatException>(() => AugmentationPipeline.Parse("gamma:q=1"));
    }

    [Fact]
    public void A_full_size_stack_goes_through_every_step_with_labels_kept_integral()
    {
        // Speed is measured by bench/ (never a timed test); this checks the full-size path functionally.
        const int n = 5 * 512 * 512;
        var image = Enumerable.Range(0, n).Select(i => (i % 1000) / 1000f).ToArray();
        var labels = Enumerable.Range(0, n).Select(i => (i / 512 % 512) > 256 ? 2 : 0).ToArray();
        var s = new StackSample(1, 5, 512, 512, image, labels);
        var p = AugmentationPipeline.Parse("rot90-flip:p=1;rotate:p=1;scale:p=1;gamma:p=1;brightness:p=1;contrast:p=1");
        var a = p.Apply(s, 0, 0, 3);
        var b = p.Apply(s, 0, 0, 3);
        Assert.Equal(a.Image, b.Image);
        Assert.Equal(a.Label, b.Label);
        Assert.NotEqual(image, a.Image);
        Assert.All(a.Label!, v => Assert.True(v is 0 or 2, $"label {v} is not in the label set"));
        Assert.Contains(2, a.Label!);
    }
}
