using SamAdapt.Imaging;
using SamAdapt.Imaging.Nifti;

namespace SamAdapt.Methods.Tests;

/// <summary>
/// A one-case nnU-Net dataset the learning tests train on: one slab of <see cref="Size"/>² × <see cref="Slices"/> voxels (spacing 1 × 1 × 2 mm),
/// a bright disc (class 1, value 180) whose radius grows with the slice, a darker bar (class 2, <see cref="BarValue"/>) and optionally a small
/// dim blob (class 3, value 90, about 2 % of a 32² slice) on a textured background (40 ± 15) with uniform noise (0–20, seeded). Geometry is given
/// for 32² and scales with <see cref="Size"/> / 32.
/// </summary>
public sealed record SyntheticSlab
{
    public string Name { get; init; } = "Dataset010_Slab";
    public string Channel { get; init; } = "MRI";
    public int Size { get; init; } = 32;
    public int Slices { get; init; } = 6;
    /// <summary>Disc radius growth per slice (the radius is 5 · Size / 32 on slice 0).</summary>
    public double RadiusGrowth { get; init; } = 0.8;
    public int BarValue { get; init; } = 120;
    public bool Blob { get; init; }

    /// <summary>Writes the dataset under <paramref name="dir"/>; returns its folder.</summary>
    public string Write(string dir)
    {
        var root = Path.Combine(dir, Name);
        Directory.CreateDirectory(Path.Combine(root, "imagesTr"));
        Directory.CreateDirectory(Path.Combine(root, "labelsTr"));
        string labels = "\"background\": 0, \"disc\": 1, \"bar\": 2" + (Blob ? ", \"blob\": 3" : "");
        File.WriteAllText(Path.Combine(root, "dataset.json"),
            $$"""{"channel_names": {"0": "{{Channel}}"}, "labels": {{{labels}}}, "numTraining": 1, "file_ending": ".nii.gz"}""");
        int n = Size, nk = Slices, s = Size / 32;
        var img = new float[n * n * nk];
        var lbl = new byte[n * n * nk];
        var rng = new Random(5);
        for (int k = 0; k < nk; k++)
            for (int j = 0; j < n; j++)
                for (int i = 0; i < n; i++)
                {
                    int x = i + n * (j + n * k);
                    double r = 5 * s + RadiusGrowth * k;
                    bool disc = (i - 11 * s) * (i - 11 * s) + (j - 12 * s) * (j - 12 * s) < r * r;
                    bool bar = i >= 22 * s && i < 28 * s && j >= 4 * s && j < 26 * s;
                    bool blob = Blob && (i - 24 * s) * (i - 24 * s) + (j - 29 * s) * (j - 29 * s) < 6 * s * s;
                    lbl[x] = (byte)(disc ? 1 : bar ? 2 : blob ? 3 : 0);
                    double v = disc ? 180 : bar ? BarValue : blob ? 90 : 40 + 15 * Math.Sin(i * (0.7 / s)) * Math.Cos(j * (0.5 / s));
                    img[x] = (float)(v + rng.NextDouble() * 20);
                }
        double[] affine = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 1];
        NiftiWriter.Write(new Volume([n, n, nk], VoxelType.Float32, img, affine), Path.Combine(root, "imagesTr", "slab_0000.nii.gz"));
        NiftiWriter.Write(new Volume([n, n, nk], VoxelType.UInt8, lbl, affine), Path.Combine(root, "labelsTr", "slab.nii.gz"));
        return root;
    }
}
