using SamAdapt.Imaging;
using SamAdapt.Imaging.Nifti;

namespace SamAdapt.Methods.Tests;

/// <summary>A small nnU-Net raw dataset: <c>cases</c> volumes of 20×16×(5+c), liver = 1 and spleen = 2 as boxes, CT-like int16 values.</summary>
internal static class SyntheticDataset
{
    public static string Write(string parent, int cases = 4)
    {
        var root = Path.Combine(parent, "Dataset001_Synth");
        Directory.CreateDirectory(Path.Combine(root, "imagesTr"));
        Directory.CreateDirectory(Path.Combine(root, "labelsTr"));
        File.WriteAllText(Path.Combine(root, "dataset.json"),
            $$"""{"channel_names": {"0": "CT"}, "labels": {"background": 0, "liver": 1, "spleen": 2}, "numTraining": {{cases}}, "file_ending": ".nii.gz"}""");
        double[] affine = [0.8, 0, 0, 10, 0, 0.8, 0, -20, 0, 0, 3, 5, 0, 0, 0, 1];
        for (int c = 0; c < cases; c++)
        {
            int ni = 20, nj = 16, nk = 5 + c;
            var img = new short[ni * nj * nk];
            var lbl = new byte[ni * nj * nk];
            for (int k = 0; k < nk; k++)
                for (int j = 0; j < nj; j++)
                    for (int i = 0; i < ni; i++)
                    {
                        int x = i + ni * (j + nj * k);
                        bool organ = k >= 1 && i >= 2 + c && i < 10 + c && j >= 3 && j < 10;
                        bool organ2 = k >= 1 && i >= 13 && i < 18 && j >= 10 && j < 15;
                        lbl[x] = (byte)(organ ? 1 : organ2 ? 2 : 0);
                        img[x] = (short)(organ ? 100 : organ2 ? 200 : -500);
                    }
            var id = $"synth_{c:000}";
            NiftiWriter.Write(new Volume([ni, nj, nk], VoxelType.Int16, img, affine), Path.Combine(root, "imagesTr", id + "_0000.nii.gz"));
            NiftiWriter.Write(new Volume([ni, nj, nk], VoxelType.UInt8, lbl, affine), Path.Combine(root, "labelsTr", id + ".nii.gz"));
        }
        return root;
    }
}
