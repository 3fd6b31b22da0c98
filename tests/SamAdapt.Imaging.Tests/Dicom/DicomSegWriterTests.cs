using System.Text.Json;
using SamAdapt.Imaging.Dicom;
using SamAdapt.Imaging.Dicom.Seg;
using SamAdapt.Tests;

namespace SamAdapt.Imaging.Tests.Dicom;

/// <summary>DICOM SEG written by <see cref="DicomSegWriter"/>, read back independently with pydicom (Debian's python3-pydicom).</summary>
public class DicomSegWriterTests
{
    private const int Rows = 6, Cols = 9;
    // oblique orientation, slices written in shuffled file order: the SEG must follow the reader's voxel order, not the file order
    private static readonly double[] Orientation = [0.8, 0.6, 0, -0.6, 0.8, 0];

    private static (Volume Image, string[] FileAtSlice) WriteSeries(string folder, string uid)
    {
        var n = new[] { 0.0, 0.0, 1.0 };
        string[] names = ["c.dcm", "a.dcm", "d.dcm", "b.dcm"]; // slice k is file names[k]
        var specs = names.Select((name, k) => new SyntheticDicom.SliceSpec(name,
            [10 + 2.5 * k * n[0], -20 + 2.5 * k * n[1], 30 + 2.5 * k * n[2]],
            Enumerable.Range(0, Rows * Cols).Select(p => (short)(p + 100 * k)).ToArray())).Reverse().ToList();
        SyntheticDicom.WriteSeries(folder, uid, Rows, Cols, Orientation, 0.7, 0.9, specs);
        return (DicomSeriesReader.Read(folder), names);
    }

    private static Volume Labels(Volume image, Func<int, int, int, byte> f)
    {
        var data = new byte[image.VoxelCount];
        for (int k = 0; k < image.Shape[2]; k++)
            for (int j = 0; j < Rows; j++)
                for (int i = 0; i < Cols; i++)
                    data[i + Cols * (j + Rows * k)] = f(i, j, k);
        return new Volume((int[])image.Shape.Clone(), VoxelType.UInt8, data, (double[])image.Affine.Clone());
    }

    private const string ReadBack = """
        import sys, json, os
        import numpy as np, pydicom
        seg = pydicom.dcmread(sys.argv[1])
        src = {}
        for f in os.listdir(sys.argv[2]):
            d = pydicom.dcmread(os.path.join(sys.argv[2], f), stop_before_pixels=True)
            src[d.SOPInstanceUID] = (f, [float(x) for x in d.ImagePositionPatient], d.StudyInstanceUID, d.SeriesInstanceUID)
        px = seg.pixel_array
        if px.ndim == 2: px = px[None]
        frames = []
        for i, fg in enumerate(seg.PerFrameFunctionalGroupsSequence):
            sop = fg.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
            frames.append({'segment': int(fg.SegmentIdentificationSequence[0].ReferencedSegmentNumber),
                           'file': src[sop][0], 'ipp': [float(x) for x in fg.PlanePositionSequence[0].ImagePositionPatient],
                           'source_ipp': src[sop][1], 'pixels': px[i].astype(int).ravel().tolist()})
        refs = [r.ReferencedSOPInstanceUID for r in seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence]
        print(json.dumps({
            'sop_class': seg.SOPClassUID, 'modality': seg.Modality, 'type': seg.SegmentationType,
            'rows': int(seg.Rows), 'cols': int(seg.Columns), 'bits': int(seg.BitsAllocated),
            'study_ok': seg.StudyInstanceUID == next(iter(src.values()))[2],
            'series_ref': seg.ReferencedSeriesSequence[0].SeriesInstanceUID,
            'refs_ok': sorted(refs) == sorted(src.keys()),
            'segments': [{'number': int(s.SegmentNumber), 'label': s.SegmentLabel,
                          'lab': [int(v) for v in s.RecommendedDisplayCIELabValue]} for s in seg.SegmentSequence],
            'frames': frames}))
        """;

    [Fact]
    public void Seg_ReadBackWithPydicom_FramesMatchTheLabelMapOnTheSourceSlices()
    {
        DebianPython.RequireModule("pydicom", "python3-pydicom");
        using var dir = TestPaths.NewTempDir();
        var series = Path.Combine(dir.Path, "series");
        Directory.CreateDirectory(series);
        var (image, fileAt) = WriteSeries(series, "1.2.826.0.1.3680043.9.7777.42");
        // class 1: a block on slices 0..2; class 3: a diagonal on slices 1 and 3 only (slice 2 empty of it)
        var labels = Labels(image, (i, j, k) => (byte)(k <= 2 && i >= 2 && i < 6 && j >= 1 && j < 4 ? 1 : (k % 2 == 1 && i == j + 2 ? 3 : 0)));
        var reference = DicomSeriesReference.Read(series);
        var segments = DicomSegWriter.SegmentsFor(labels, new Dictionary<int, string> { [1] = "liver", [3] = "tumour" });
        var outFile = dir.File("seg.dcm");
        DicomSegWriter.Write(outFile, labels, reference, segments);

        var json = DebianPython.Run(ReadBack, outFile, series);
        using var doc = JsonDocument.Parse(json);
        var r = doc.RootElement;
        Assert.Equal(DicomSegWriter.SegmentationStorage, r.GetProperty("sop_class").GetString());
        Assert.Equal("SEG", r.GetProperty("modality").GetString());
        Assert.Equal("BINARY", r.GetProperty("type").GetString());
        Assert.Equal(1, r.GetProperty("bits").GetInt32());
        Assert.Equal(Rows, r.GetProperty("rows").GetInt32());
        Assert.Equal(Cols, r.GetProperty("cols").GetInt32());
        Assert.True(r.GetProperty("study_ok").GetBoolean());
        Assert.True(r.GetProperty("refs_ok").GetBoolean());
        Assert.Equal("1.2.826.0.1.3680043.9.7777.42", r.GetProperty("series_ref").GetString());
        var segs = r.GetProperty("segments").EnumerateArray().ToList();
        Assert.Equal(["liver", "tumour"], segs.Select(s => s.GetProperty("label").GetString()));
        Assert.Equal([1, 2], segs.Select(s => s.GetProperty("number").GetInt32()));
        Assert.NotEqual(segs[0].GetProperty("lab").ToString(), segs[1].GetProperty("lab").ToString());

        int[] values = [1, 3];
        var seen = new HashSet<(int, int)>();
        foreach (var f in r.GetProperty("frames").EnumerateArray())
        {
            int seg = f.GetProperty("segment").GetInt32();
            int k = Array.IndexOf(fileAt, f.GetProperty("file").GetString());
            Assert.True(k >= 0);
            Assert.True(seen.Add((seg, k)), $"segment {seg} has two frames on slice {k}");
            var ipp = f.GetProperty("ipp").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            var src = f.GetProperty("source_ipp").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            for (int d = 0; d < 3; d++) Assert.Equal(src[d], ipp[d], 4);
            var px = f.GetProperty("pixels").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            Assert.Equal(Rows * Cols, px.Length);
            for (int j = 0; j < Rows; j++)
                for (int i = 0; i < Cols; i++)
                {
                    int expected = ((byte[])labels.Data)[i + Cols * (j + Rows * k)] == values[seg - 1] ? 1 : 0;
                    if (px[j * Cols + i] != expected) Assert.Fail($"segment {seg}, slice {k}, pixel ({i}, {j}): SEG {px[j * Cols + i]}, labels {expected}");
                }
        }
        // every (segment, slice) where the class is present has a frame, and no other
        var expectedFrames = new HashSet<(int, int)>();
        for (int k = 0; k < 4; k++)
            for (int s = 0; s < 2; s++)
                if (Enumerable.Range(0, Rows * Cols).Any(p => ((byte[])labels.Data)[k * Rows * Cols + p] == values[s])) expectedFrames.Add((s + 1, k));
        Assert.Equal(expectedFrames.Order(), seen.Order());
        Assert.DoesNotContain((2, 2), seen);
    }

    [Fact]
    public void LabelsOffTheSeriesGrid_AreRefusedWithTheReason()
    {
        using var dir = TestPaths.NewTempDir();
        var (image, _) = WriteSeries(dir.Path, "1.2.826.0.1.3680043.9.7777.43");
        var reference = DicomSeriesReference.Read(dir.Path);
        var shifted = Labels(image, (_, _, _) => 1);
        shifted.Affine[3] += 5;
        var e = Assert.Throws<ArgumentException>(() => DicomSegWriter.Encode(shifted, reference, DicomSegWriter.SegmentsFor(shifted, null)));
        Assert.Contains("affine does not match", e.Message);
        var wrongShape = new Volume([Cols, Rows, 3], VoxelType.UInt8, new byte[Cols * Rows * 3], image.Affine);
        e = Assert.Throws<ArgumentException>(() => DicomSegWriter.Encode(wrongShape, reference, [new SegmentDefinition(1, "a", [1, 2, 3])]));
        Assert.Contains("shape", e.Message);
        var stray = Labels(image, (i, _, _) => (byte)(i == 0 ? 7 : 0));
        e = Assert.Throws<ArgumentException>(() => DicomSegWriter.Encode(stray, reference, [new SegmentDefinition(1, "a", [1, 2, 3])]));
        Assert.Contains("value 7", e.Message);
    }

    [Fact]
    public void CieLab_OfPrimaries_MatchesTheStandardValues()
    {
        // white: L* 100, a* = b* = 0 → (65535, 128/255·65535, same); pure sRGB red: L* 53.24, a* 80.09, b* 67.20 (D65)
        var white = SegmentPalette.ToDicomLab([255, 255, 255]);
        Assert.Equal(65535, white[0]);
        Assert.InRange(white[1], 32895 - 40, 32895 + 40);
        var red = SegmentPalette.ToDicomLab([255, 0, 0]);
        Assert.InRange(red[0] / 65535.0 * 100, 53.0, 53.5);
        Assert.InRange(red[1] / 65535.0 * 255 - 128, 79.8, 80.4);
        Assert.InRange(red[2] / 65535.0 * 255 - 128, 66.9, 67.5);
    }
}
