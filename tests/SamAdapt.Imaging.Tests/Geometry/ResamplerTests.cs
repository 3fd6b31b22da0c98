using SamAdapt.Imaging.Tests.Nifti;

namespace SamAdapt.Imaging.Tests.Spatial;

public class ResamplerTests
{
    private static double F(double x, double y, double z) => 0.5 * x - 0.25 * y + 0.125 * z + 3;

    /// <summary>A float64 volume whose value at each voxel is F(world coordinate of the voxel centre).</summary>
    private static Volume Linear(int[] shape, double[] affine, VoxelType type = VoxelType.Float64)
    {
        var d = new double[shape[0] * shape[1] * shape[2]];
        for (int k = 0, o = 0; k < shape[2]; k++)
            for (int j = 0; j < shape[1]; j++)
                for (int i = 0; i < shape[0]; i++, o++)
                {
                    var (x, y, z) = Geometry.Apply(affine, i, j, k);
                    d[o] = F(x, y, z);
                }
        var v = new Volume(shape, VoxelType.Float64, d, affine);
        return type == VoxelType.Float64 ? v : v.ConvertTo(type);
    }

    private static void AssertReproducesF(Volume input, Volume output, double tol)
    {
        var inv = Geometry.Inverse(input.Affine);
        int inside = 0;
        for (int k = 0; k < output.Shape[2]; k++)
            for (int j = 0; j < output.Shape[1]; j++)
                for (int i = 0; i < output.Shape[0]; i++)
                {
                    var (x, y, z) = Geometry.Apply(output.Affine, i, j, k);
                    var (a, b, c) = Geometry.Apply(inv, x, y, z);
                    bool within = a >= 0 && b >= 0 && c >= 0 && a <= input.Shape[0] - 1 && b <= input.Shape[1] - 1 && c <= input.Shape[2] - 1;
                    if (!within) continue;
                    inside++;
                    double got = output.Get(i, j, k), want = F(x, y, z);
                    Assert.True(Math.Abs(got - want) < tol, $"voxel ({i},{j},{k}) world ({x:F3},{y:F3},{z:F3}): got {got}, want {want}");
                }
        Assert.True(inside > 100, $"only {inside} output voxels inside the input");
    }

    [Fact]
    public void Linear_to_spacing_reproduces_a_linear_function()
    {
        var v = Linear([20, 18, 12], [-0.9, 0, 0, 30, 0, 1.1, 0, -12, 0, 0, 2.5, 7, 0, 0, 0, 1]);
        var r = Resampler.ToSpacing(v, [0.7, 1.6, 1.9], Interpolation.Linear);
        Assert.Equal([(int)Math.Round(20 * 0.9 / 0.7), (int)Math.Round(18 * 1.1 / 1.6), (int)Math.Round(12 * 2.5 / 1.9)], r.Shape);
        Assert.Equal(VoxelType.Float32, r.Type);
        for (int c = 0; c < 3; c++) Assert.Equal(new[] { 0.7, 1.6, 1.9 }[c], r.Spacing[c], 12);
        AssertReproducesF(v, r, 1e-5);
        Assert.Equal("LAS", Orientation.AxisCodes(r.Affine));
    }

    [Fact]
    public void Spacing_grid_keeps_the_field_of_view_centre()
    {
        double[] a = [1.5, 0, 0, -10, 0, 1.5, 0, 20, 0, 0, 3, 5, 0, 0, 0, 1];
        var (shape, affine) = Resampler.SpacingGrid([101, 80, 33], a, [1, 1, 1]);
        Assert.Equal([152, 120, 99], shape); // round(151.5) = 152 (half away from zero), 120, 99
        for (int c = 0; c < 3; c++)
        {
            int[] oldN = [101, 80, 33];
            var oldCentre = Geometry.Apply(a, (oldN[0] - 1) / 2.0, (oldN[1] - 1) / 2.0, (oldN[2] - 1) / 2.0);
            var newCentre = Geometry.Apply(affine, (shape[0] - 1) / 2.0, (shape[1] - 1) / 2.0, (shape[2] - 1) / 2.0);
            Assert.Equal(oldCentre.X, newCentre.X, 9); Assert.Equal(oldCentre.Y, newCentre.Y, 9); Assert.Equal(oldCentre.Z, newCentre.Z, 9);
        }
        // exact when the extent divides: corners of the FOV coincide
        var (s2, a2) = Resampler.SpacingGrid([10, 10, 10], Geometry.Identity(), [2, 2, 2]);
        Assert.Equal([5, 5, 5], s2);
        Assert.Equal(-0.5, Geometry.Apply(a2, -0.5, 0, 0).X, 12);
        Assert.Equal(9.5, Geometry.Apply(a2, 4.5, 0, 0).X, 12);
    }

    [Fact]
    public void Linear_onto_an_oblique_grid_reproduces_a_linear_function()
    {
        var v = Linear([24, 22, 20], [1.2, 0, 0, -14, 0, -1.0, 0, 11, 0, 0, 1.3, -13, 0, 0, 0, 1]);
        var rot = Nifti.NiftiWriterTests.Rotation(0.4, -0.3, 0.2);
        double[] target = Geometry.FromLinear(rot.Select((x, i) => x * new[] { 0.9, 1.4, 1.1 }[i % 3]).ToArray(), -8, -6, -7);
        var r = Resampler.ToGrid(v, [16, 12, 14], target, Interpolation.Linear);
        Assert.Equal(target, r.Affine);
        AssertReproducesF(v, r, 1e-5);
    }

    [Fact]
    public void Like_uses_the_reference_grid_and_int16_input_works()
    {
        var v = Linear([30, 30, 30], [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
        // int16 with slope 1/1000: values exact enough for the linear check after scaling
        var scaled = new Volume(v.Shape, VoxelType.Int32, ((double[])v.Data).Select(x => (int)Math.Round(x * 1e6)).ToArray(), v.Affine) { Slope = 1e-6 };
        var reference = new Volume([10, 12, 8], VoxelType.UInt8, new byte[960], [-2, 0, 0, 25, 0, 0, 2, 3, 0, 2.5, 0, 4, 0, 0, 0, 1]) { SFormCode = 4, QFormCode = 4 };
        var r = Resampler.Like(scaled, reference, Interpolation.Linear);
        Assert.Equal(reference.Shape, r.Shape);
        Assert.Equal(reference.Affine, r.Affine);
        Assert.Equal(4, r.SFormCode);
        AssertReproducesF(v, r, 2e-6);
    }

    [Fact]
    public void Identity_grid_is_exact_for_both_interpolations()
    {
        var v = Nifti.NiftiWriterTests.Sample(VoxelType.Int16, [7, 6, 5]);
        var near = Resampler.ToGrid(v, [7, 6, 5], v.Affine, Interpolation.Nearest);
        Assert.Equal((short[])v.Data, (short[])near.Data);
        var lin = Resampler.ToGrid(v, [7, 6, 5], v.Affine, Interpolation.Linear);
        Assert.Equal(((short[])v.Data).Select(x => (float)x), (float[])lin.Data);
    }

    [Fact]
    public void Nearest_keeps_label_values_type_and_scaling()
    {
        var labels = new byte[16 * 16 * 8];
        for (int k = 0; k < 8; k++) for (int j = 0; j < 16; j++) for (int i = 0; i < 16; i++)
            labels[i + 16 * (j + 16 * k)] = (byte)(i < 8 ? (j < 8 ? 1 : 2) : (k < 4 ? 7 : 0));
        var v = new Volume([16, 16, 8], VoxelType.UInt8, labels, [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1]) { IntentCode = 1002 };
        Assert.True(Resampler.LooksLikeLabelMap(v));
        Assert.Equal(Interpolation.Nearest, Resampler.DefaultInterpolation(v));
        var r = Resampler.ToSpacing(v, [0.5, 0.5, 0.5], Interpolation.Nearest);
        Assert.Equal([32, 32, 32], r.Shape);
        Assert.Equal(VoxelType.UInt8, r.Type);
        Assert.Equal(1002, r.IntentCode);
        Assert.Equal(new byte[] { 0, 1, 2, 7 }, ((byte[])r.Data).Distinct().Order().ToArray());
        // every output voxel carries the label of the input voxel containing its centre
        var inv = Geometry.Inverse(v.Affine);
        for (int k = 0; k < 32; k++) for (int j = 0; j < 32; j++) for (int i = 0; i < 32; i++)
        {
            var (x, y, z) = Geometry.Apply(r.Affine, i, j, k);
            var (a, b, c) = Geometry.Apply(inv, x, y, z);
            Assert.Equal(v.Get((int)Math.Floor(a + 0.5), (int)Math.Floor(b + 0.5), (int)Math.Floor(c + 0.5)), r.Get(i, j, k));
        }
    }

    [Fact]
    public void Outside_the_input_is_filled_with_zero()
    {
        var v = new Volume([4, 4, 4], VoxelType.Float32, Enumerable.Repeat(5f, 64).ToArray(), Geometry.Identity());
        double[] shifted = [1, 0, 0, 10, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
        Assert.All((float[])Resampler.ToGrid(v, [4, 4, 4], shifted, Interpolation.Linear).Data, x => Assert.Equal(0f, x));
        double[] half = [1, 0, 0, -0.4, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]; // within half a voxel: edge value
        Assert.All((float[])Resampler.ToGrid(v, [4, 4, 4], half, Interpolation.Linear).Data, x => Assert.Equal(5f, x));
    }

    [Fact]
    public void Four_d_frames_are_resampled_independently()
    {
        var d = new float[4 * 4 * 4 * 2];
        for (int i = 0; i < 64; i++) { d[i] = 1; d[64 + i] = 2; }
        var v = new Volume([4, 4, 4, 2], VoxelType.Float32, d, Geometry.Identity());
        var r = Resampler.ToSpacing(v, [2, 2, 2], Interpolation.Linear);
        Assert.Equal([2, 2, 2, 2], r.Shape);
        Assert.Equal(new float[] { 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2 }, (float[])r.Data);
    }

    [Fact]
    public void Label_heuristic_separates_images_from_label_maps()
    {
        var rng = new Random(3);
        var noisy = new Volume([20, 20, 20], VoxelType.UInt8, Enumerable.Range(0, 8000).Select(_ => (byte)rng.Next(1, 200)).ToArray(), Geometry.Identity());
        Assert.False(Resampler.LooksLikeLabelMap(noisy));
        var blocks = new Volume([20, 20, 20], VoxelType.Int32, Enumerable.Range(0, 8000).Select(i => i % 20 / 5).ToArray(), Geometry.Identity());
        Assert.True(Resampler.LooksLikeLabelMap(blocks));
        var floats = new Volume([2, 1, 1], VoxelType.Float32, new float[] { 1, 1 }, Geometry.Identity());
        Assert.False(Resampler.LooksLikeLabelMap(floats));
        var many = new Volume([3000, 1, 1], VoxelType.Int16, Enumerable.Range(0, 3000).Select(i => (short)(i / 2)).ToArray(), Geometry.Identity());
        Assert.False(Resampler.LooksLikeLabelMap(many)); // 1000+ distinct values
    }
}
