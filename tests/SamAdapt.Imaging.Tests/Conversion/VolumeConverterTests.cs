using SamAdapt.Common;
using SamAdapt.Imaging.Conversion;
using SamAdapt.Imaging.Nifti;
using SamAdapt.Tests;

namespace SamAdapt.Imaging.Tests.Conversion;

/// <summary><see cref="VolumeConverter"/>: `convert` as a library call.</summary>
public sealed class VolumeConverterTests : IDisposable
{
    private readonly TempDir _tmp = TestPaths.NewTempDir();

    public void Dispose() => _tmp.Dispose();

    [Fact]
    public void Converts_a_slice_to_uint8_and_reports_it()
    {
        var d = new short[4 * 3 * 2];
        for (int i = 0; i < d.Length; i++) d[i] = (short)(i % 3);
        var input = _tmp.File("in.nii");
        NiftiWriter.Write(new Volume([4, 3, 2], VoxelType.Int16, d, Geometry.Identity()), input);
        var report = VolumeConverter.Convert(input, _tmp.File("out.nii.gz"), new ConvertOptions { Slice = 1, DType = VoxelType.UInt8 });
        var v = NiftiReader.Read(_tmp.File("out.nii.gz"));
        Assert.Equal([4, 3, 1], v.Shape);
        Assert.Equal(VoxelType.UInt8, v.Type);
        Assert.Equal(d[12 + 5], v.Get(5)); // slice 1 starts at voxel 4 × 3
        Assert.Contains("slice 1 of 2", report);
        Assert.Contains("converted to uint8", report);
    }

    [Fact]
    public void Bad_settings_are_settings_errors_and_nothing_is_written()
    {
        var input = _tmp.File("in.nii");
        NiftiWriter.Write(new Volume([2, 2, 2], VoxelType.UInt8, new byte[8], Geometry.Identity()), input);
        var e = Assert.Throws<SettingsException>(() => VolumeConverter.Convert(input, _tmp.File("o.nii"), new ConvertOptions { Like = input, Spacing = [1, 1, 1] }));
        Assert.Contains("--like and --spacing cannot be combined", e.Message);
        e = Assert.Throws<SettingsException>(() => VolumeConverter.Convert(input, _tmp.File("o.nii"), new ConvertOptions { Slice = 2 }));
        Assert.Contains("--slice 2", e.Message);
        Assert.Contains("2 slice(s)", e.Message);
        e = Assert.Throws<SettingsException>(() => VolumeConverter.ParseSpacing("1,2"));
        Assert.Contains("three comma-separated values", e.Message);
        Assert.Equal([0.5, 0.5, 0.5], VolumeConverter.ParseSpacing("0.5"));
        Assert.False(File.Exists(_tmp.File("o.nii")));
    }
}
