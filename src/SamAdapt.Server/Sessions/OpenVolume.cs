using SamAdapt.Imaging;
using SamAdapt.Imaging.Preprocessing;

namespace SamAdapt.Server.Sessions;

/// <summary>
/// A volume open in a session: the image as read (the grid every output is written on), its display/model intensities and,
/// for a DICOM series, the folder and series the SEG output references.
/// </summary>
public sealed class OpenVolume
{
    public OpenVolume(Volume image, string name, string? dicomFolder, string? dicomSeries)
    {
        if (image.Shape.Length > 3 && image.Shape.Skip(3).Any(d => d != 1))
            throw new ArgumentException($"{name}: a {image.Shape.Length}-D volume [{string.Join(", ", image.Shape)}]; the viewer opens 3-D volumes and 2-D images");
        Shape = [image.Shape[0], image.Shape.Length > 1 ? image.Shape[1] : 1, image.Shape.Length > 2 ? image.Shape[2] : 1];
        Values = image.ToFloat32();
        Image = image.IsRgb ? image.With((int[])Shape.Clone(), VoxelType.Float32, Values, (double[])image.Affine.Clone(), keepScaling: false) : image;
        Name = name;
        DicomFolder = dicomFolder;
        DicomSeries = dicomSeries;
        // model input intensities: the volume's 0.5–99.5 percentiles → 0..255 (robust to outliers, same for every slice)
        var sample = Values.Length > 2_000_000 ? Values.Where((_, i) => i % (Values.Length / 1_000_000) == 0).ToArray() : Values;
        var p = Percentile.Of(sample, 0.5, 99.5);
        (Low, High) = (p[0], p[1] > p[0] ? p[1] : p[0] + 1);
    }

    public Volume Image { get; }
    /// <summary>(X, Y, Z): columns i, rows j, slices k.</summary>
    public int[] Shape { get; }
    public float[] Values { get; }
    public string Name { get; }
    public string? DicomFolder { get; }
    public string? DicomSeries { get; }
    public double Low { get; }
    public double High { get; }
    public int SliceCount => Shape[2];
    public int PlaneSize => Shape[0] * Shape[1];

    /// <summary>Slice k as grey 8-bit, row-major (rows j, columns i: x = i, y = j).</summary>
    public byte[] GreySlice(int k)
    {
        int plane = PlaneSize;
        var grey = new byte[plane];
        double scale = 255.0 / (High - Low);
        for (int p = 0; p < plane; p++)
            grey[p] = (byte)Math.Clamp(Math.Round((Values[(long)k * plane + p] - Low) * scale), 0, 255);
        return grey;
    }
}
