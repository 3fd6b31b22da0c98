using SamAdapt.Imaging;
using SamAdapt.Imaging.Nifti;

namespace SamAdapt.Tests;

/// <summary>
/// A synthetic nnU-Net raw dataset (shared by the method and CLI tests): <c>cases</c> volumes of 24×20×(6+c), labels liver = 1 (a
/// box) and spleen = 2 (a smaller box), int16 CT-like values; <c>broken</c> gives case 1 a label map of the wrong size.
/// </summary>
internal static class SyntheticDataset
{
    public static readonly double[] Affine = [0.8, 0, 0, 10, 0, 0.8, 0, -20, 0, 0, 3, 5, 0, 0, 0, 1];

    public static string Write(string parent, int cases = 4, bool broken = false)
    {
        var root = Path.Combine(parent, broken ? "Dataset002_Broken" : "Dataset001_Synth");
        Directory.CreateDirectory(Path.Combine(root, "imagesTr"));
        Directory.CreateDirectory(Path.Combine(root, "labelsTr"));
        File.WriteAllText(Path.Combine(root, "dataset.json"),
            $$"""{"channel_names": {"0": "CT"}, "labels": {"background": 0, "liver": 1, "spleen": 2}, "numTraining": {{cases}}, "file_ending": ".nii.gz"}""");
        for (int c = 0; c < cases; c++)
        {
            int ni = 24, nj = 20, nk = 6 + c;
            var img = new short[ni * nj * nk];
            var lbl = new byte[ni * nj * nk];
            for (int k = 0; k < nk; k++)
                for (int j = 0; j < nj; j++)
                    for (int i = 0; i < ni; i++)
                    {
                        int x = i + ni * (j + nj * k);
                        bool organ = k >= 1 && k < nk - 1 && i >= 3 + c && i < 12 + c && j >= 4 && j < 12;
                        bool organ2 = k >= 2 && i >= 15 && i < 21 && j >= 12 && j < 18;
                        lbl[x] = (byte)(organ ? 1 : organ2 ? 2 : 0);
                        img[x] = (short)(organ ? 100 : organ2 ? 200 : -500);
                    }
            var id = $"synth_{c:000}";
            NiftiWriter.Write(new Volume([ni, nj, nk], VoxelType.Int16, img, Affine), Path.Combine(root, "imagesTr", id + "_0000.nii.gz"));
            var lshape = broken && c == 1 ? new[] { ni, nj, nk + 1 } : new[] { ni, nj, nk };
            var ldata = broken && c == 1 ? new byte[ni * nj * (nk + 1)] : lbl;
            NiftiWriter.Write(new Volume(lshape, VoxelType.UInt8, ldata, Affine), Path.Combine(root, "labelsTr", id + ".nii.gz"));
        }
        return root;
    }
}
