namespace SamAdapt.Imaging.Dicom.Seg;

/// <summary>
/// The colours of label classes, shared by DICOM SEG segments (as CIELab, <see cref="ToDicomLab"/>) and the web viewer's
/// overlay and legend, so a class has the same colour everywhere.
/// </summary>
public static class SegmentPalette
{
    private static readonly byte[][] Colors =
    [
        [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48], [145, 30, 180], [70, 240, 240],
        [240, 50, 230], [210, 245, 60], [250, 190, 212], [0, 128, 128], [220, 190, 255], [170, 110, 40], [255, 250, 200],
        [128, 0, 0], [170, 255, 195], [128, 128, 0], [255, 215, 180], [0, 0, 128], [128, 128, 128],
    ];

    /// <summary>sRGB colour of the class at <paramref name="index"/> (1 = first foreground class; the list repeats).</summary>
    public static byte[] Rgb(int index) => Colors[(Math.Max(1, index) - 1) % Colors.Length];

    /// <summary>An sRGB colour as DICOM's RecommendedDisplayCIELabValue (PS3.3 C.10.7.1.1: CIE L*a*b*, D65 white point;
    /// L* 0..100 and a*, b* −128..127 scaled linearly to 0..65535).</summary>
    public static ushort[] ToDicomLab(byte[] rgb)
    {
        static double Linear(byte c)
        {
            double v = c / 255.0;
            return v <= 0.04045 ? v / 12.92 : Math.Pow((v + 0.055) / 1.055, 2.4);
        }
        double r = Linear(rgb[0]), g = Linear(rgb[1]), b = Linear(rgb[2]);
        double x = 0.4124564 * r + 0.3575761 * g + 0.1804375 * b;
        double y = 0.2126729 * r + 0.7151522 * g + 0.0721750 * b;
        double z = 0.0193339 * r + 0.1191920 * g + 0.9503041 * b;
        static double F(double t) => t > 216.0 / 24389 ? Math.Cbrt(t) : (24389.0 / 27 * t + 16) / 116;
        double fx = F(x / 0.95047), fy = F(y / 1.0), fz = F(z / 1.08883);
        double l = 116 * fy - 16, a = 500 * (fx - fy), bb = 200 * (fy - fz);
        static ushort Scale(double v, double lo, double hi) => (ushort)Math.Clamp(Math.Round((v - lo) / (hi - lo) * 65535), 0, 65535);
        return [Scale(l, 0, 100), Scale(a, -128, 127), Scale(bb, -128, 127)];
    }

    /// <summary>"#rrggbb" for the page.</summary>
    public static string Hex(int index)
    {
        var c = Rgb(index);
        return $"#{c[0]:x2}{c[1]:x2}{c[2]:x2}";
    }
}
