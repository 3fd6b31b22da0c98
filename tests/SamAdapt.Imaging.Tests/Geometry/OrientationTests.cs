using SamAdapt.Imaging.Tests.Nifti;

namespace SamAdapt.Imaging.Tests.Spatial;

public class OrientationTests
{
    [Theory]
    [InlineData(new double[] { 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1 }, "RAS")]
    [InlineData(new double[] { -1, 0, 0, 0, 0, -1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1 }, "LPS")]
    [InlineData(new double[] { -2, 0, 0, 90, 0, 2, 0, -126, 0, 0, 2, -72, 0, 0, 0, 1 }, "LAS")]
    [InlineData(new double[] { 0, 0, 3, 0, -2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1 }, "PSR")]
    [InlineData(new double[] { 0.9, 0.3, 0, 0, -0.3, 0.9, 0, 0, 0, 0, -1, 0, 0, 0, 0, 1 }, "RAI")]
    [InlineData(new double[] { 0.6, 0.8, 0, 0, 0.8, -0.6, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1 }, "ARS")] // 53° oblique: column strength decides
    public void Axis_codes(double[] affine, string code) => Assert.Equal(code, Orientation.AxisCodes(affine));

    [Fact]
    public void Strongly_oblique_axes_get_distinct_codes()
    {
        // both columns point mostly along +x; the assignment must still be a permutation
        double[] a = [0.8, 0.7, 0, 0, 0.6, -0.71, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
        var code = Orientation.AxisCodes(a);
        Assert.Equal(3, code.Select(c => "RLAPSI".IndexOf(c) / 2).Distinct().Count());
    }

    [Theory]
    [InlineData("RA")]
    [InlineData("RAX")]
    [InlineData("RLS")]
    [InlineData("SAS")]
    public void Bad_codes_are_rejected(string code) => Assert.Throws<FormatException>(() => Orientation.ParseCode(code));

    public static IEnumerable<object[]> AllCodes()
    {
        var axes = new[] { "RL", "AP", "SI" };
        foreach (var p in new[] { new[] { 0, 1, 2 }, [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0] })
            for (int s = 0; s < 8; s++)
                yield return [new string(Enumerable.Range(0, 3).Select(i => axes[p[i]][(s >> i) & 1]).ToArray())];
    }

    [Theory]
    [MemberData(nameof(AllCodes))]
    public void Reorient_to_every_code_keeps_world_coordinates_and_is_reversible(string code)
    {
        var v = Nifti.NiftiWriterTests.Sample(VoxelType.Int16, [5, 4, 3]);
        var from = Orientation.AxisCodes(v.Affine);
        var r = Orientation.Reorient(v, code);
        Assert.Equal(code, Orientation.AxisCodes(r.Affine));
        // every voxel: same value at the same world position
        var inv = Geometry.Inverse(v.Affine);
        for (int k = 0; k < r.Shape[2]; k++)
            for (int j = 0; j < r.Shape[1]; j++)
                for (int i = 0; i < r.Shape[0]; i++)
                {
                    var (x, y, z) = Geometry.Apply(r.Affine, i, j, k);
                    var (si, sj, sk) = Geometry.Apply(inv, x, y, z);
                    int ii = (int)Math.Round(si), jj = (int)Math.Round(sj), kk = (int)Math.Round(sk);
                    Assert.True(Math.Abs(si - ii) < 1e-9 && Math.Abs(sj - jj) < 1e-9 && Math.Abs(sk - kk) < 1e-9);
                    Assert.Equal(v.Get(ii, jj, kk), r.Get(i, j, k));
                }
        var back = Orientation.Reorient(r, from);
        Assert.Equal(v.Shape, back.Shape);
        Assert.Equal((short[])v.Data, (short[])back.Data);
        RawNifti.AssertAffine(v.Affine, back.Affine, 1e-12);
    }

    [Fact]
    public void Reorient_carries_time_and_rgb_along()
    {
        var v = Nifti.NiftiWriterTests.Sample(VoxelType.Float32, [4, 3, 2, 3]);
        var r = Orientation.Reorient(v, "SLP");
        Assert.Equal([2, 4, 3, 3], r.Shape);
        var back = Orientation.Reorient(r, Orientation.AxisCodes(v.Affine));
        Assert.Equal((float[])v.Data, (float[])back.Data);

        var rgb = Nifti.NiftiWriterTests.Sample(VoxelType.Rgb24, [4, 3, 2]);
        var rr = Orientation.Reorient(rgb, "IPL");
        var rb = Orientation.Reorient(rr, Orientation.AxisCodes(rgb.Affine));
        Assert.Equal((byte[])rgb.Data, (byte[])rb.Data);
        // a specific voxel keeps its three channels together
        var flipped = Orientation.Permute(rgb, [0, 1, 2], [true, false, false]);
        var src = (byte[])rgb.Data; var dst = (byte[])flipped.Data;
        Assert.Equal(src[..3], dst[9..12]); // voxel (0,0,0) → (3,0,0)
    }

    [Fact]
    public void Reorient_flip_affine_is_exact()
    {
        var v = new Volume([3, 2, 2], VoxelType.UInt8, Enumerable.Range(0, 12).Select(i => (byte)i).ToArray(),
            [-2, 0, 0, 10, 0, 3, 0, -5, 0, 0, 4, 1, 0, 0, 0, 1]);
        var r = Orientation.Reorient(v, "RAS");
        Assert.Equal(new double[] { 2, 0, 0, 6, 0, 3, 0, -5, 0, 0, 4, 1, 0, 0, 0, 1 }, r.Affine);
        Assert.Equal(new byte[] { 2, 1, 0, 5, 4, 3, 8, 7, 6, 11, 10, 9 }, (byte[])r.Data);
    }

    [Fact]
    public void Two_d_volumes_become_three_d()
    {
        var v = new Volume([3, 2], VoxelType.UInt8, new byte[6] { 1, 2, 3, 4, 5, 6 }, Geometry.Identity());
        var r = Orientation.Reorient(v, "SAR");
        Assert.Equal([1, 2, 3], r.Shape);
        Assert.Equal(new byte[] { 1, 4, 2, 5, 3, 6 }, (byte[])r.Data);
    }
}
