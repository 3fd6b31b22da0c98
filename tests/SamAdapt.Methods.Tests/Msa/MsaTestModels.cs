using SamAdapt.Imaging;
using SamAdapt.Imaging.Nifti;
using SamAdapt.Sam;

namespace SamAdapt.Methods.Tests.Msa;

/// <summary>Model sizes shared by the MSA tests.</summary>
internal static class MsaTestModels
{
    /// <summary>A SAM small enough to build and run in milliseconds: 64² input, patch 16 (a 4×4 token grid), 2 encoder blocks of width
    /// 24 (block 1 global, block 0 windowed 2×2), prompt/decoder width 16.</summary>
    public static SamConfig Tiny => new()
    {
        ImageSize = 64, PatchSize = 16, EncoderEmbedDim = 24, EncoderDepth = 2, EncoderNumHeads = 2, GlobalAttnIndexes = [1], WindowSize = 2,
        PromptEmbedDim = 16, DecoderMlpDim = 32, DecoderNumHeads = 2, IouHeadHiddenDim = 16,
    };

    /// <summary>One 32×32×6 slab: a bright disc (class 1) growing with the slice and a darker bar (class 2) on a noisy background.</summary>
    public static string OneSlab(string dir)
    {
        var root = System.IO.Path.Combine(dir, "Dataset011_MsaSlab");
        Directory.CreateDirectory(System.IO.Path.Combine(root, "imagesTr"));
        Directory.CreateDirectory(System.IO.Path.Combine(root, "labelsTr"));
        File.WriteAllText(System.IO.Path.Combine(root, "dataset.json"),
            """{"channel_names": {"0": "MRI"}, "labels": {"background": 0, "disc": 1, "bar": 2}, "numTraining": 1, "file_ending": ".nii.gz"}""");
        int ni = 32, nj = 32, nk = 6;
        var img = new float[ni * nj * nk];
        var lbl = new byte[ni * nj * nk];
        var rng = new Random(5);
        for (int k = 0; k < nk; k++)
            for (int j = 0; j < nj; j++)
                for (int i = 0; i < ni; i++)
                {
                    int x = i + ni * (j + nj * k);
                    double r = 5 + 0.8 * k;
                    bool disc = (i - 11) * (i - 11) + (j - 12) * (j - 12) < r * r;
                    bool bar = i >= 22 && i < 28 && j >= 4 && j < 26;
                    lbl[x] = (byte)(disc ? 1 : bar ? 2 : 0);
                    img[x] = (float)((disc ? 180 : bar ? 120 : 40 + 15 * Math.Sin(i * 0.7) * Math.Cos(j * 0.5)) + rng.NextDouble() * 20);
                }
        double[] affine = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1];
        NiftiWriter.Write(new Volume([ni, nj, nk], VoxelType.Float32, img, affine), System.IO.Path.Combine(root, "imagesTr", "slab_0000.nii.gz"));
        NiftiWriter.Write(new Volume([ni, nj, nk], VoxelType.UInt8, lbl, affine), System.IO.Path.Combine(root, "labelsTr", "slab.nii.gz"));
        return root;
    }

    /// <summary>A from-scratch SAM configuration for 32² inputs (patch 4: an 8×8 token grid), written to <paramref name="dir"/>.</summary>
    public static string SmallConfig(string dir)
    {
        var path = System.IO.Path.Combine(dir, "small.json");
        File.WriteAllText(path, """
            {"img_size": 32, "patch": 4, "embed": 32, "depth": 2, "heads": 2, "global_idx": [1], "window": 4,
             "prompt_dim": 32, "dec_mlp": 64, "dec_heads": 4, "iou_hidden": 32}
            """);
        return path;
    }
}
