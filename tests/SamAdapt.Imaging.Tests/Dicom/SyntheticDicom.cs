using System.Globalization;
using System.Text;
using SamAdapt.Imaging.Dicom;

namespace SamAdapt.Imaging.Tests.Dicom;

/// <summary>Writes single-frame CT slices with GDCM's ImageWriter, with exactly the geometry tags asked for.</summary>
internal static class SyntheticDicom
{
    public sealed record SliceSpec(
        string FileName, double[] Position, short[] Pixels, double Slope = 1, double Intercept = 0);

    public static void WriteSeries(string folder, string seriesUid, int rows, int cols, double[] orientation,
        double rowSpacing, double colSpacing, IEnumerable<SliceSpec> slices, string description = "synthetic")
    {
        int instance = 1;
        foreach (var s in slices)
            WriteSlice(Path.Combine(folder, s.FileName), seriesUid, rows, cols, orientation, rowSpacing, colSpacing, s,
                description, instance++);
    }

    public static void WriteSlice(string path, string seriesUid, int rows, int cols, double[] orientation,
        double rowSpacing, double colSpacing, SliceSpec s, string description, int instanceNumber)
    {
        GdcmRuntime.Ensure();
        Assert.Equal(rows * cols, s.Pixels.Length);
        // gdcm.Image is reference counted on the C++ side: once handed to the writer (SetImage), the writer's smart
        // pointer deletes it. So the C# wrapper must neither Dispose it nor let its finalizer delete it again.
        var image = new gdcm.Image();
        image.SetNumberOfDimensions(2);
        image.SetDimension(0, (uint)cols);
        image.SetDimension(1, (uint)rows);
        using (var pf = new gdcm.PixelFormat(gdcm.PixelFormat.ScalarType.INT16)) image.SetPixelFormat(pf);
        using (var pi = new gdcm.PhotometricInterpretation(gdcm.PhotometricInterpretation.PIType.MONOCHROME2))
            image.SetPhotometricInterpretation(pi);
        for (uint d = 0; d < 3; d++) image.SetOrigin(d, s.Position[d]); // SetOrigin(double[]) copies only NumberOfDimensions values
        image.SetDirectionCosines(orientation);
        image.SetSpacing(0, colSpacing);
        image.SetSpacing(1, rowSpacing);
        image.SetSlope(s.Slope);
        image.SetIntercept(s.Intercept);
        var bytes = new byte[s.Pixels.Length * 2];
        Buffer.BlockCopy(s.Pixels, 0, bytes, 0, bytes.Length);
        using var pixelData = new gdcm.DataElement(new gdcm.Tag(0x7fe0, 0x0010));
        pixelData.SetByteValue(bytes, new gdcm.VL((uint)bytes.Length));
        image.SetDataElement(pixelData);

        using var writer = new gdcm.ImageWriter();
        writer.SetFileName(path);
        writer.SetImage(image);
        GC.SuppressFinalize(image);
        var ds = writer.GetFile().GetDataSet();
        Put(ds, 0x0008, 0x0016, gdcm.VR.VRType.UI, "1.2.840.10008.5.1.4.1.1.2"); // CT Image Storage
        Put(ds, 0x0008, 0x0060, gdcm.VR.VRType.CS, "CT");
        Put(ds, 0x0008, 0x103e, gdcm.VR.VRType.LO, description);
        Put(ds, 0x0020, 0x000d, gdcm.VR.VRType.UI, "1.2.826.0.1.3680043.9.7777.1");
        Put(ds, 0x0020, 0x000e, gdcm.VR.VRType.UI, seriesUid);
        Put(ds, 0x0020, 0x0013, gdcm.VR.VRType.IS, instanceNumber.ToString(CultureInfo.InvariantCulture));
        Put(ds, 0x0018, 0x0050, gdcm.VR.VRType.DS, "1");
        Assert.True(writer.Write(), $"GDCM could not write {path}");

        // The file must hold exactly the geometry we meant (GDCM's spacing order is easy to get wrong).
        using var reader = new gdcm.Reader();
        reader.SetFileName(path);
        Assert.True(reader.Read());
        using var sf = new gdcm.StringFilter();
        sf.SetFile(reader.GetFile());
        var ps = Doubles(sf.ToString(new gdcm.Tag(0x0028, 0x0030)));
        Assert.Equal(rowSpacing, ps[0], 6);
        Assert.Equal(colSpacing, ps[1], 6);
        var ipp = Doubles(sf.ToString(new gdcm.Tag(0x0020, 0x0032)));
        for (int i = 0; i < 3; i++) Assert.Equal(s.Position[i], ipp[i], 4);
        var iop = Doubles(sf.ToString(new gdcm.Tag(0x0020, 0x0037)));
        for (int i = 0; i < 6; i++) Assert.Equal(orientation[i], iop[i], 5);
    }

    private static double[] Doubles(string s) =>
        s.Trim('\0', ' ').Split('\\').Select(x => double.Parse(x.Trim(), CultureInfo.InvariantCulture)).ToArray();

    private static void Put(gdcm.DataSet ds, ushort group, ushort element, gdcm.VR.VRType vr, string value)
    {
        if (value.Length % 2 == 1) value += vr == gdcm.VR.VRType.UI ? "\0" : " ";
        var bytes = Encoding.ASCII.GetBytes(value);
        using var de = new gdcm.DataElement(new gdcm.Tag(group, element));
        using (var v = new gdcm.VR(vr)) de.SetVR(v);
        de.SetByteValue(bytes, new gdcm.VL((uint)bytes.Length));
        ds.Replace(de);
    }
}
