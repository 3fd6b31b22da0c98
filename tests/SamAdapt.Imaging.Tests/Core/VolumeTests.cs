using SamAdapt.Imaging;

namespace SamAdapt.Imaging.Tests.Core;

public class VolumeTests
{
    [Fact]
    public void SignedVoxelsReadAsSigned()
    {
        // short[] is also `is ushort[]` to the CLR: values must come back negative, not wrapped
        var v = new Volume([2, 1, 1], VoxelType.Int16, new short[] { -849, 1200 }, Geometry.Identity());
        Assert.Equal(-849, v.Get(0));
        Assert.Equal(new float[] { -849, 1200 }, v.ToFloat32());
        var b = new Volume([1], VoxelType.Int8, new sbyte[] { -5 }, Geometry.Identity());
        Assert.Equal(-5, b.GetRaw(0));
        var i = new Volume([1], VoxelType.Int32, new int[] { -70000 }, Geometry.Identity()) { Slope = 2, Intercept = 1 };
        Assert.Equal(-139999, i.Get(0));
    }

    [Fact]
    public void WrongArrayTypeForVoxelTypeIsRejected()
    {
        var e = Assert.Throws<ArgumentException>(() => new Volume([2], VoxelType.Int16, new ushort[2], Geometry.Identity()));
        Assert.Contains("Int16", e.Message);
    }
}
