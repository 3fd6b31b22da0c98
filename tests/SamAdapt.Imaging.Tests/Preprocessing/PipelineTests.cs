using SamAdapt.Imaging.Images2D;
using SamAdapt.Imaging.Npy;
using SamAdapt.Imaging.Preprocessing;
using SamAdapt.Imaging.Tests.Nifti;
using SamAdapt.Tests;

namespace SamAdapt.Imaging.Tests.Preprocessing;

/// <summary>
/// The model-input chain on volumes from every reader: named intensity transform (as recorded in a run manifest) →
/// 5-slice stack with edge replication → in-plane resize to 64² → resize back. Checked against an independent numpy +
/// torch (Debian's python3-torch) implementation of the same chain on a real mricron-data volume.
/// </summary>
public class PipelineTests
{
    private static (float[,,] Stack, float[,,] Small, float[,,] Back) Chain(Volume v, IntensityTransform t, int center, int rows, int cols)
    {
        var tv = t.ApplyToVolume(v);
        Assert.Equal(VoxelType.Float32, tv.Type);
        Assert.Equal(v.Shape, tv.Shape);
        Assert.Equal(v.Affine, tv.Affine);
        var stack = SliceExtractor.ExtractStack(tv, 2, center, 5);
        var small = Resize2D.Bilinear(stack, 64, 64);
        var back = Resize2D.Bilinear(small, rows, cols);
        return (stack, small, back);
    }

    private static float[] Flat(float[,,] a)
    {
        var r = new float[a.Length];
        Buffer.BlockCopy(a, 0, r, 0, a.Length * sizeof(float));
        return r;
    }

    [Theory]
    [InlineData("abdomen-btcv", "ct-window:-175,250", 0)]
    [InlineData("zscore:nonzero", "zscore:nonzero", -1)]
    [InlineData("zscore", "zscore", 1)]
    public void Mricron_volume_through_transform_stack_and_resize_matches_numpy_and_torch(string manifest, string canonical, int centerChoice)
    {
        var path = Path.Combine(MricronConformanceTests.Root, "templates", "ch2.nii.gz");
        MricronConformanceTests.RequireFile(path);
        DebianPython.RequireNumpy();
        DebianPython.RequireModule("torch", "python3-torch");

        // manifest round trip: presets resolve to their concrete numbers
        var t = IntensityTransform.Parse(manifest);
        Assert.Equal(canonical, t.ToString());
        Assert.Equal(t, IntensityTransform.Parse(t.ToString()));

        var v = VolumeIO.Read(path);
        int ni = v.Shape[0], nj = v.Shape[1], nk = v.Shape[2];
        int center = centerChoice switch { 0 => 0, 1 => nk - 1, _ => nk / 2 }; // edges exercise the replication
        var (stack, small, back) = Chain(v, t, center, nj, ni);
        Assert.Equal((5, nj, ni), (stack.GetLength(0), stack.GetLength(1), stack.GetLength(2)));
        Assert.Equal((5, 64, 64), (small.GetLength(0), small.GetLength(1), small.GetLength(2)));
        Assert.Equal((5, nj, ni), (back.GetLength(0), back.GetLength(1), back.GetLength(2)));

        using var tmp = TestPaths.NewTempDir();
        NpyFile.Write<float>(tmp.File("vol.npy"), v.ToFloat32(), nk, nj, ni);
        const string script = """
import sys, json
import numpy as np, torch
import torch.nn.functional as F
vol_path, out_dir, kind, params, center = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
x = np.load(vol_path).astype(np.float64)          # (k, j, i) physical values
if kind == "ct-window":
    lo, hi = map(float, params.split(","))
    y = (np.clip(x, lo, hi) - lo) / (hi - lo)
elif kind == "zscore":
    m = x != 0 if params == "nonzero" else np.ones_like(x, dtype=bool)
    mean, std = x[m].mean(), x[m].std()
    y = np.where(m, (x - mean) / max(std, 1e-8), 0.0) if params == "nonzero" else (x - mean) / max(std, 1e-8)
y = y.astype(np.float32)
n = y.shape[0]
idx = [min(max(center + d, 0), n - 1) for d in range(-2, 3)]
stack = torch.from_numpy(np.ascontiguousarray(y[idx]))[None]         # (1, 5, j, i)
small = F.interpolate(stack, size=(64, 64), mode="bilinear", align_corners=False)
back = F.interpolate(small, size=stack.shape[-2:], mode="bilinear", align_corners=False)
np.save(out_dir + "/stack.npy", stack[0].numpy())
np.save(out_dir + "/small.npy", small[0].numpy())
np.save(out_dir + "/back.npy", back[0].numpy())
print(json.dumps(idx))
""";
        var kind = t.Name;
        var output = DebianPython.Run(script, tmp.File("vol.npy"), tmp.Path, kind, t.Parameters == "" ? "-" : t.Parameters, center.ToString());
        Assert.Equal(SliceExtractor.StackIndices(center, 5, nk), System.Text.Json.JsonSerializer.Deserialize<int[]>(output)!);

        double scale = kind == "zscore" ? 1e-4 : 1e-5; // float32 rounding of the transformed values (z-scores reach ~5)
        Compare(NpyFile.Read(tmp.File("stack.npy")).ToArray<float>(), Flat(stack), scale, "stack");
        Compare(NpyFile.Read(tmp.File("small.npy")).ToArray<float>(), Flat(small), scale, "64² resize");
        Compare(NpyFile.Read(tmp.File("back.npy")).ToArray<float>(), Flat(back), scale, "resize back");

        // and the round trip stays close to the stack it came from (a 181×217 → 64² → back blur, not a geometry error)
        var s = Flat(stack); var b = Flat(back);
        double mad = s.Zip(b, (p, q) => Math.Abs(p - q)).Average(), spread = s.Max() - s.Min();
        Assert.True(mad <= 0.05 * spread, $"mean |stack − back| = {mad} of a {spread} range");
    }

    private static void Compare(float[] expected, float[] actual, double tol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double worst = 0; int at = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = Math.Abs(expected[i] - actual[i]);
            if (d > worst) { worst = d; at = i; }
        }
        Assert.True(worst <= tol, $"{what}: max |C# − numpy/torch| = {worst} at {at} ({actual[Math.Max(at, 0)]} vs {expected[Math.Max(at, 0)]})");
    }

    [Fact]
    public void Chain_works_on_dicom_and_png_volumes()
    {
        // DICOM (one slice): the 5-slice stack replicates it
        var ct = "/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm";
        if (!File.Exists(ct)) Assert.Fail($"{ct} is missing: install Debian's python3-pydicom");
        var d = VolumeIO.Read(ct);
        var (stack, small, back) = Chain(d, IntensityTransform.Parse("medsam"), 0, 128, 128);
        for (int t = 1; t < 5; t++)
            for (int r = 0; r < 128; r += 7)
                for (int c = 0; c < 128; c += 5) Assert.Equal(stack[0, r, c], stack[t, r, c]);
        // window [−160, 240]: values in [0, 1]; the centre slice is the windowed DICOM frame (row j, column i)
        Assert.Equal((float)((Math.Clamp(d.Get(17, 33, 0), -160, 240) + 160) / 400), stack[2, 33, 17], 6);
        Assert.InRange(Flat(small).Min(), 0f, 1f);
        Assert.InRange(Flat(back).Max(), 0f, 1f);

        // PNG (2-D): [W, H, 1], rows of the stack are image rows
        using var tmp = TestPaths.NewTempDir();
        var pixels = Enumerable.Range(0, 40 * 30).Select(i => (byte)(i % 40 * 6)).ToArray();
        ImageFile.WriteMaskPng(tmp.File("g.png"), 40, 30, pixels);
        var p = VolumeIO.Read(tmp.File("g.png"));
        var (ps, psmall, pback) = Chain(p, IntensityTransform.Parse("none"), 0, 30, 40);
        Assert.Equal(pixels[5 * 40 + 7], ps[4, 5, 7]);
        Assert.Equal((5, 64, 64), (psmall.GetLength(0), psmall.GetLength(1), psmall.GetLength(2)));
        // a horizontal ramp stays a ramp: column means increase left to right after the round trip
        Assert.True(pback[2, 10, 5] < pback[2, 10, 30]);
    }
}
