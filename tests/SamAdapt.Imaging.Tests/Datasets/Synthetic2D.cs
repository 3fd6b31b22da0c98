using SamAdapt.Imaging.Images2D;

namespace SamAdapt.Tests;

/// <summary>
/// Small generated 2-D datasets as PNG files (shared by the imaging, training and CLI tests). Each case is an image of
/// <see cref="Width"/>×<see cref="Height"/> holding class 1 ("tumour", a bright 10×12 box at a case-dependent place) and class 2
/// ("organ", a fixed mid-grey 4×8 strip), on a noisy background; <see cref="LabelOf"/> is its label map.
/// </summary>
public static class Synthetic2D
{
    public const int Width = 32, Height = 40;

    /// <summary>Class index per pixel (row-major, y then x) of case <paramref name="c"/>.</summary>
    public static byte[] LabelOf(int c)
    {
        var lab = new byte[Width * Height];
        int cy = 10 + (c * 7) % 20, cx = 8 + (c * 5) % 14;
        for (int y = cy - 5; y < cy + 5; y++)
            for (int x = cx - 6; x < cx + 6; x++) lab[y * Width + x] = 1;
        for (int y = 2; y < 6; y++)
            for (int x = 2; x < 10; x++) lab[y * Width + x] = 2;
        return lab;
    }

    /// <summary>Grey intensities of case <paramref name="c"/>: the classes stand out of seeded noise (signal = true), or noise only.</summary>
    public static byte[] GreyOf(int c, int seed = 0, bool signal = true)
    {
        var rng = new Random(1000 * c + seed);
        var lab = LabelOf(c);
        var img = new byte[Width * Height];
        for (int i = 0; i < img.Length; i++)
            img[i] = (byte)Math.Clamp(60 + rng.Next(-12, 13) + (signal ? lab[i] switch { 1 => 120, 2 => 60, _ => 0 } : 0), 0, 255);
        return img;
    }

    public enum Layout { LabelMap, ClassSuffix, ClassFolders }

    public static readonly string[] ClassNames = ["tumour", "organ"];

    /// <summary>An image-folder dataset under <paramref name="parent"/>/<paramref name="name"/>: images/caseN.png (grey or RGB)
    /// and masks in <paramref name="layout"/>; returns its root.</summary>
    public static string WriteImageFolder(string parent, string name, Layout layout, int cases = 6, bool rgb = false, bool classesJson = false)
    {
        var root = Path.Combine(parent, name);
        Directory.CreateDirectory(Path.Combine(root, "images"));
        Directory.CreateDirectory(Path.Combine(root, "masks"));
        for (int c = 0; c < cases; c++)
        {
            var grey = GreyOf(c);
            ImageFile.WritePng(Path.Combine(root, "images", $"case{c}.png"), rgb ? Rgb(grey) : new Image2D(Width, Height, 1, grey));
            var lab = LabelOf(c);
            switch (layout)
            {
                case Layout.LabelMap:
                    ImageFile.WritePng(Path.Combine(root, "masks", $"case{c}.png"), new Image2D(Width, Height, 1, lab));
                    break;
                case Layout.ClassSuffix:
                    for (int k = 1; k <= 2; k++)
                        ImageFile.WritePng(Path.Combine(root, "masks", $"case{c}_{ClassNames[k - 1]}.png"), Binary(lab, k));
                    break;
                default:
                    for (int k = 1; k <= 2; k++)
                    {
                        Directory.CreateDirectory(Path.Combine(root, "masks", ClassNames[k - 1]));
                        ImageFile.WritePng(Path.Combine(root, "masks", ClassNames[k - 1], $"case{c}.png"), Binary(lab, k));
                    }
                    break;
            }
        }
        if (classesJson) File.WriteAllText(Path.Combine(root, "classes.json"), """{"labels": {"background": 0, "tumour": 1, "organ": 2}}""");
        return root;
    }

    /// <summary>
    /// An nnU-Net v2 2-D dataset (file_ending ".png") with <paramref name="channels"/> grey channel files per case
    /// (<c>caseN_0000.png</c> …); only channel <paramref name="signalChannel"/> shows the classes, the others are noise.
    /// </summary>
    public static string WriteNnUNet2D(string parent, string name, int channels, int signalChannel, int cases = 6)
    {
        var root = Path.Combine(parent, name);
        Directory.CreateDirectory(Path.Combine(root, "imagesTr"));
        Directory.CreateDirectory(Path.Combine(root, "labelsTr"));
        var names = string.Join(", ", Enumerable.Range(0, channels).Select(i => $"\"{i}\": \"MR{i}\""));
        File.WriteAllText(Path.Combine(root, "dataset.json"),
            $$"""{"channel_names": {{{names}}}, "labels": {"background": 0, "tumour": 1, "organ": 2}, "numTraining": {{cases}}, "file_ending": ".png"}""");
        for (int c = 0; c < cases; c++)
        {
            for (int ch = 0; ch < channels; ch++)
                ImageFile.WritePng(Path.Combine(root, "imagesTr", $"case{c}_{ch:0000}.png"), new Image2D(Width, Height, 1, GreyOf(c, ch, ch == signalChannel)));
            ImageFile.WritePng(Path.Combine(root, "labelsTr", $"case{c}.png"), new Image2D(Width, Height, 1, LabelOf(c)));
        }
        return root;
    }

    public static Image2D Binary(byte[] lab, int k) => new(Width, Height, 1, lab.Select(v => v == k ? (byte)255 : (byte)0).ToArray());

    /// <summary>An RGB image whose channels are the grey value, its inverse and its half.</summary>
    public static Image2D Rgb(byte[] grey) =>
        new(Width, Height, 3, grey.SelectMany(g => new[] { g, (byte)(255 - g), (byte)(g / 2) }).ToArray());
}
