using System.Text.Json;
using SamAdapt.Imaging.Preprocessing;
using SamAdapt.Tests;

namespace SamAdapt.Imaging.Tests.Preprocessing;

public class SliceAndResizeTests
{
    // value = i + 10 j + 100 k on a 4×3×5 grid
    private static readonly int[] Shape = [4, 3, 5];
    private static int[] Coded()
    {
        var d = new int[60];
        for (int k = 0; k < 5; k++) for (int j = 0; j < 3; j++) for (int i = 0; i < 4; i++) d[i + 4 * (j + 3 * k)] = i + 10 * j + 100 * k;
        return d;
    }

    [Fact]
    public void Slices_follow_the_memory_layout()
    {
        var d = Coded();
        var ax = SliceExtractor.Extract<int>(d, Shape, 2, 3);          // [j, i]
        Assert.Equal((3, 4), (ax.GetLength(0), ax.GetLength(1)));
        Assert.Equal(321, ax[2, 1]);
        var co = SliceExtractor.Extract<int>(d, Shape, 1, 2);          // [k, i]
        Assert.Equal((5, 4), (co.GetLength(0), co.GetLength(1)));
        Assert.Equal(423, co[4, 3]);
        var sa = SliceExtractor.Extract<int>(d, Shape, 0, 1);          // [k, j]
        Assert.Equal((5, 3), (sa.GetLength(0), sa.GetLength(1)));
        Assert.Equal(221, sa[2, 2]);
        var nib = SliceExtractor.Extract<int>(d, Shape, 2, 3, SliceLayout.Nibabel); // [i, j]
        Assert.Equal((4, 3), (nib.GetLength(0), nib.GetLength(1)));
        Assert.Equal(321, nib[1, 2]);
        Assert.Equal((5, 3), SliceExtractor.SliceSize(Shape, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => SliceExtractor.Extract<int>(d, Shape, 2, 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => SliceExtractor.Extract<int>(d, Shape, 3, 0));
    }

    [Fact]
    public void Volume_slices_apply_slope_and_intercept()
    {
        var raw = Coded().Select(v => (short)v).ToArray();
        var vol = new Volume(Shape, VoxelType.Int16, raw, Geometry.Identity()) { Slope = 2, Intercept = -1 };
        var s = SliceExtractor.Extract(vol, 2, 3);
        Assert.Equal(2 * 321 - 1, s[2, 1]);
        var stack = SliceExtractor.ExtractStack(vol, 0, 3, 3);
        Assert.Equal((3, 5, 3), (stack.GetLength(0), stack.GetLength(1), stack.GetLength(2)));
        Assert.Equal(2 * (3 + 10 * 2 + 100 * 4) - 1, stack[2, 4, 2]); // slice i = min(4, 3) = 3
        // a 2D volume is one slice along axis 2
        var flat = new Volume([2, 2], VoxelType.Float32, new float[] { 1, 2, 3, 4 }, Geometry.Identity());
        Assert.Equal(3f, SliceExtractor.Extract(flat, 2, 0)[1, 0]);
    }

    [Fact]
    public void Stack_indices_replicate_edges()
    {
        Assert.Equal([0, 0, 0, 1, 2], SliceExtractor.StackIndices(0, 5, 10));
        Assert.Equal([0, 0, 1, 2, 3], SliceExtractor.StackIndices(1, 5, 10));
        Assert.Equal([3, 4, 5, 6, 7], SliceExtractor.StackIndices(5, 5, 10));
        Assert.Equal([7, 8, 9, 9, 9], SliceExtractor.StackIndices(9, 5, 10));
        Assert.Equal([0, 0, 0, 0, 0], SliceExtractor.StackIndices(0, 5, 1));
        Assert.Equal([4], SliceExtractor.StackIndices(4, 1, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => SliceExtractor.StackIndices(0, 4, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => SliceExtractor.StackIndices(10, 5, 10));
    }

    [Fact]
    public void Five_slice_stacks_at_both_ends()
    {
        var d = Coded();
        var first = SliceExtractor.ExtractStack<int>(d, Shape, 2, 0, 5);
        var last = SliceExtractor.ExtractStack<int>(d, Shape, 2, 4, 5);
        int[] kFirst = [0, 0, 0, 1, 2], kLast = [2, 3, 4, 4, 4];
        for (int t = 0; t < 5; t++)
        {
            Assert.Equal(100 * kFirst[t] + 10 * 2 + 3, first[t, 2, 3]);
            Assert.Equal(100 * kLast[t] + 10 * 1 + 0, last[t, 1, 0]);
        }
    }

    [Fact]
    public void Insert_is_the_inverse_of_extract()
    {
        var d = Coded();
        foreach (var layout in new[] { SliceLayout.Memory, SliceLayout.Nibabel })
            for (int axis = 0; axis < 3; axis++)
            {
                var copy = new int[d.Length];
                for (int s = 0; s < Shape[axis]; s++)
                    SliceExtractor.Insert<int>(copy, Shape, axis, s, SliceExtractor.Extract<int>(d, Shape, axis, s, layout), layout);
                Assert.Equal(d, copy);
            }
        Assert.Throws<ArgumentException>(() => SliceExtractor.Insert<int>(new int[60], Shape, 2, 0, new int[4, 3]));
    }

    [Fact]
    public void Bilinear_matches_the_analytic_align_corners_false_result()
    {
        // a 1×4 ramp to 1×8: src = max(0.5·(o + 0.5) − 0.5, 0) = [0, .25, .75, ..., 2.75, 3.25→clamped to the last]
        var up = Resize2D.Bilinear(new float[,] { { 0, 1, 2, 3 } }, 1, 8);
        Assert.Equal([0f, 0.25f, 0.75f, 1.25f, 1.75f, 2.25f, 2.75f, 3f], Row(up, 0));
        // 1×4 → 1×2: src = 2o + 0.5
        Assert.Equal([0.5f, 2.5f], Row(Resize2D.Bilinear(new float[,] { { 0, 1, 2, 3 } }, 1, 2), 0));
        // 2×2 → 4×4 of v = 2r + c: each axis samples [0, .25, .75, 1]
        var sq = Resize2D.Bilinear(new float[,] { { 0, 1 }, { 2, 3 } }, 4, 4);
        float[] pos = [0, 0.25f, 0.75f, 1];
        for (int y = 0; y < 4; y++) for (int x = 0; x < 4; x++) Assert.Equal(2 * pos[y] + pos[x], sq[y, x], 6);
        // same size copies
        var same = new float[,] { { 1, 2 }, { 3, 4 } };
        Assert.Equal(same, Resize2D.Bilinear(same, 2, 2));
        // per-channel version agrees
        var ch = Resize2D.Bilinear(new float[,,] { { { 0, 1, 2, 3 } }, { { 3, 2, 1, 0 } } }, 1, 8);
        Assert.Equal(up[0, 5], ch[0, 0, 5]);
        Assert.Equal(3 - up[0, 5], ch[1, 0, 5], 6);
    }

    private static float[] Row(float[,] a, int r) => Enumerable.Range(0, a.GetLength(1)).Select(c => a[r, c]).ToArray();

    [Fact]
    public void Nearest_matches_pytorch_index_rule()
    {
        Assert.Equal([0, 0, 0, 1, 1, 2, 2], Resize2D.NearestIndices(3, 7));
        Assert.Equal([0, 0, 1, 1, 2, 2, 3, 3], Resize2D.NearestIndices(4, 8));
        Assert.Equal([0, 2], Resize2D.NearestIndices(5, 2));
        Assert.Equal([0, 1, 2], Resize2D.NearestIndices(3, 3));
        var lab = Resize2D.Nearest(new byte[,] { { 1, 2, 3 } }, 2, 7);
        Assert.Equal(new byte[,] { { 1, 1, 1, 2, 2, 3, 3 }, { 1, 1, 1, 2, 2, 3, 3 } }, lab);
        // round trip 512 → 1024 → 512 is exact for nearest
        var big = new int[5, 512];
        for (int c = 0; c < 512; c++) big[2, c] = c;
        var back = Resize2D.Nearest(Resize2D.Nearest(big, 10, 1024), 5, 512);
        Assert.Equal(big, back);
    }

    [Fact]
    public void Resize_matches_torch_interpolate()
    {
        DebianPython.RequireModule("torch", "python3-torch"); // Debian's python3-torch is the reference
        var rng = new Random(17);
        (int, int, int, int)[] sizes = [(7, 5, 16, 11), (13, 9, 5, 4), (512, 3, 1024, 7), (6, 6, 6, 6), (5, 8, 10, 16), (31, 17, 8, 50), (3, 7, 224, 224)];
        var cases = sizes.Select(s => new
        {
            h = s.Item1, w = s.Item2, oh = s.Item3, ow = s.Item4,
            x = Enumerable.Range(0, s.Item1 * s.Item2).Select(_ => (float)(rng.NextDouble() * 200 - 100)).ToArray(),
        }).ToArray();
        const string script = """
import json, sys
import torch
import torch.nn.functional as F
out = []
for c in json.load(open(sys.argv[1])):
    x = torch.tensor(c["x"], dtype=torch.float32).reshape(1, 1, c["h"], c["w"])
    b = F.interpolate(x, size=(c["oh"], c["ow"]), mode="bilinear", align_corners=False)
    n = F.interpolate(x, size=(c["oh"], c["ow"]), mode="nearest")
    out.append({"b": [float(v) for v in b.flatten().tolist()], "n": [float(v) for v in n.flatten().tolist()]})
print(json.dumps(out))
""";
        var reference = JsonSerializer.Deserialize<JsonElement[]>(IntensityTransformTests.RunWithInput(script, JsonSerializer.Serialize(cases)))!;
        for (int t = 0; t < cases.Length; t++)
        {
            var c = cases[t];
            var src = new float[c.h, c.w];
            for (int y = 0; y < c.h; y++) for (int x = 0; x < c.w; x++) src[y, x] = c.x[y * c.w + x];
            var b = Resize2D.Bilinear(src, c.oh, c.ow);
            var n = Resize2D.Nearest(src, c.oh, c.ow);
            var rb = reference[t].GetProperty("b").EnumerateArray().Select(e => (float)e.GetDouble()).ToArray();
            var rn = reference[t].GetProperty("n").EnumerateArray().Select(e => (float)e.GetDouble()).ToArray();
            double worst = 0;
            for (int y = 0; y < c.oh; y++)
                for (int x = 0; x < c.ow; x++)
                {
                    worst = Math.Max(worst, Math.Abs(b[y, x] - rb[y * c.ow + x]) / c.x.Max(v => Math.Abs(v)));
                    Assert.Equal(rn[y * c.ow + x], n[y, x]);
                }
            // same indices and weights; libtorch's compiled kernel rounds differently (FMA contraction etc.): the error is a
            // few float32 ulp of the input magnitude
            Assert.True(worst <= 1e-6, $"case {t}: bilinear differs from torch by {worst} of the input range");
        }
    }
}
