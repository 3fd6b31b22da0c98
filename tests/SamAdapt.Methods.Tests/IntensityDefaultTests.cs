using SamAdapt.Imaging;
using SamAdapt.Imaging.Datasets;
using SamAdapt.Imaging.Nifti;
using SamAdapt.Imaging.Preprocessing;
using SamAdapt.Tests;
using SamAdapt.Methods.Semantic;

namespace SamAdapt.Methods.Tests;

/// <summary>The intensity transform used when --intensity is not given: chosen from dataset.json's channel name as nnU-Net does.</summary>
public class IntensityDefaultTests : IDisposable
{
    private readonly TempDir _tmp = TestPaths.NewTempDir();
    public void Dispose() => _tmp.Dispose();

    /// <summary>Two cases of 12×12×4: foreground (label 1) holds the values 100…243, background −1000.</summary>
    private SegmentationDataset Dataset(string channel)
    {
        var root = Path.Combine(_tmp.Path, "Dataset020_" + channel);
        Directory.CreateDirectory(Path.Combine(root, "imagesTr"));
        Directory.CreateDirectory(Path.Combine(root, "labelsTr"));
        File.WriteAllText(Path.Combine(root, "dataset.json"),
            $$"""{"channel_names": {"0": "{{channel}}"}, "labels": {"background": 0, "organ": 1}, "numTraining": 2, "file_ending": ".nii.gz"}""");
        double[] affine = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
        for (int c = 0; c < 2; c++)
        {
            var img = new float[12 * 12 * 4];
            var lbl = new byte[img.Length];
            for (int i = 0; i < img.Length; i++)
            {
                bool fg = i % 12 < 6;
                lbl[i] = (byte)(fg ? 1 : 0);
                img[i] = fg ? 100 + (i + c) % 144 : -1000;
            }
            NiftiWriter.Write(new Volume([12, 12, 4], VoxelType.Float32, img, affine), Path.Combine(root, "imagesTr", $"c{c}_0000.nii.gz"));
            NiftiWriter.Write(new Volume([12, 12, 4], VoxelType.UInt8, lbl, affine), Path.Combine(root, "labelsTr", $"c{c}.nii.gz"));
        }
        return SegmentationDataset.Load(root);
    }

    [Fact]
    public void Ct_gets_nnunet_ct_normalisation_from_the_training_foreground()
    {
        var (text, reason) = SemanticSamSetup.DefaultIntensity(Dataset("CT"));
        var t = Assert.IsType<NnUNetCtNormalization>(IntensityTransform.Parse(text));
        Assert.Contains("CT", reason);
        // statistics of the foreground only (100…243), not of the −1000 background
        Assert.InRange(t.Percentile00_5, 100, 110);
        Assert.InRange(t.Percentile99_5, 230, 243);
        Assert.InRange(t.Mean, 150, 190);
        // deterministic: the same dataset gives the same text
        Assert.Equal(text, SemanticSamSetup.DefaultIntensity(Dataset("CT")).Transform);
    }

    [Theory]
    [InlineData("T1")]
    [InlineData("T2")]
    [InlineData("FLAIR")]
    [InlineData("MRI")]
    public void Mri_and_other_channels_get_a_per_volume_zscore(string channel)
    {
        var (text, reason) = SemanticSamSetup.DefaultIntensity(Dataset(channel));
        Assert.Equal("zscore", text);
        Assert.Contains(channel, reason);
    }

    [Fact]
    public void NoNorm_gets_none() => Assert.Equal("none", SemanticSamSetup.DefaultIntensity(Dataset("noNorm")).Transform);
}
