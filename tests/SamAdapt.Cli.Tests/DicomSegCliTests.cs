using System.CommandLine;
using System.Text.Json;
using SamAdapt.Cli.Commands;
using SamAdapt.Imaging;
using SamAdapt.Imaging.Dicom;
using SamAdapt.Imaging.Tests.Dicom;
using SamAdapt.Tests;

namespace SamAdapt.Cli.Tests;

/// <summary>`convert --to dicom-seg` and `predict --dicom-seg`: the SEG read back with pydicom matches the label map.</summary>
public class DicomSegCliTests : IDisposable
{
    private readonly TempDir _tmp = TestPaths.NewTempDir();
    public void Dispose() => _tmp.Dispose();

    private const int Size = 24;

    private string Series(string name, int slices = 3)
    {
        var folder = Path.Combine(_tmp.Path, name);
        Directory.CreateDirectory(folder);
        var specs = Enumerable.Range(0, slices).Select(k => new SyntheticDicom.SliceSpec($"s{k}.dcm", [5, 7, 2.0 * k],
            Enumerable.Range(0, Size * Size).Select(p => (short)((p % Size > 8 && p % Size < 16 ? 200 : -100) + k)).ToArray()));
        SyntheticDicom.WriteSeries(folder, "1.2.826.0.1.3680043.9.7777.77", Size, Size, [1, 0, 0, 0, 1, 0], 1.5, 1.5, specs);
        return folder;
    }

    private static (int Code, string Out, string Err) Invoke(params string[] args)
    {
        var root = new RootCommand { new TrainCommand().Build(), new PredictCommand().Build(), new ConvertCommand().Build() };
        var sw = new StringWriter();
        var err = new StringWriter();
        int code;
        try { code = root.Parse(args).Invoke(new InvocationConfiguration { Output = sw, Error = err, EnableDefaultExceptionHandler = false }); }
        catch (CliException e) { return (2, sw.ToString(), e.Message); }
        return (code, sw.ToString(), err.ToString());
    }

    /// <summary>(segment labels in order, per frame: segment number, source slice index, count of set pixels that are also set in the NIfTI for that value, count set).</summary>
    private const string ReadBack = """
        import sys, json, os
        import numpy as np, pydicom
        seg = pydicom.dcmread(sys.argv[1])
        sops = {}
        for f in os.listdir(sys.argv[2]):
            d = pydicom.dcmread(os.path.join(sys.argv[2], f), stop_before_pixels=True)
            sops[d.SOPInstanceUID] = float(d.ImagePositionPatient[2])
        px = seg.pixel_array
        if px.ndim == 2: px = px[None]
        frames = []
        for i, fg in enumerate(seg.PerFrameFunctionalGroupsSequence):
            sop = fg.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
            frames.append({'segment': int(fg.SegmentIdentificationSequence[0].ReferencedSegmentNumber), 'z': sops[sop],
                           'pixels': px[i].astype(int).ravel().tolist()})
        print(json.dumps({'labels': [s.SegmentLabel for s in seg.SegmentSequence], 'frames': frames}))
        """;

    /// <summary>Every frame equals the label map's slice (z = 2k mm) for its segment's value, and every present (value, slice) has a frame.</summary>
    private static List<string> CheckAgainst(string segFile, string series, Volume labels, int[] values)
    {
        using var doc = JsonDocument.Parse(DebianPython.Run(ReadBack, segFile, series));
        var r = doc.RootElement;
        var frames = new HashSet<(int, int)>();
        int plane = Size * Size;
        foreach (var f in r.GetProperty("frames").EnumerateArray())
        {
            int seg = f.GetProperty("segment").GetInt32(), k = (int)Math.Round(f.GetProperty("z").GetDouble() / 2);
            frames.Add((seg, k));
            var px = f.GetProperty("pixels").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            for (int p = 0; p < plane; p++)
                Assert.Equal(labels.Get((long)k * plane + p) == values[seg - 1] ? 1 : 0, px[p]);
        }
        for (int s = 0; s < values.Length; s++)
            for (int k = 0; k < labels.Shape[2]; k++)
                if (Enumerable.Range(0, plane).Any(p => labels.Get((long)k * plane + p) == values[s])) Assert.Contains((s + 1, k), frames);
        return r.GetProperty("labels").EnumerateArray().Select(e => e.GetString()!).ToList();
    }

    [Fact]
    public void Convert_ToDicomSeg_WritesNamedSegmentsOnTheReferenceSlices()
    {
        DebianPython.RequireModule("pydicom", "python3-pydicom");
        var series = Series("ct");
        var image = DicomSeriesReader.Read(series);
        var data = new byte[image.VoxelCount];
        for (int i = 0; i < data.Length; i++) data[i] = (byte)(i % Size > 8 && i % Size < 16 ? (i / (Size * Size) == 1 ? 4 : 2) : 0);
        var labels = new Volume(image.Shape, VoxelType.UInt8, data, image.Affine) { IntentCode = Volume.IntentLabel };
        var nifti = Path.Combine(_tmp.Path, "labels.nii.gz");
        VolumeIO.Write(labels, nifti);
        var outFile = Path.Combine(_tmp.Path, "labels.seg.dcm");
        var (code, output, err) = Invoke("convert", nifti, outFile, "--to", "dicom-seg", "--reference", series, "--names", "2=kidney,4=cyst");
        Assert.True(code == 0, err);
        Assert.Contains("2 segment(s)", output);
        Assert.Equal(["kidney", "cyst"], CheckAgainst(outFile, series, VolumeIO.Read(nifti), [2, 4]));

        // off-grid labels, a missing --reference and options that change the grid are refused, naming the problem
        var shifted = new Volume(image.Shape, VoxelType.UInt8, data, image.Affine.Select((v, i) => i == 3 ? v + 3 : v).ToArray());
        var bad = Path.Combine(_tmp.Path, "shifted.nii.gz");
        VolumeIO.Write(shifted, bad);
        (code, _, err) = Invoke("convert", bad, Path.Combine(_tmp.Path, "x.dcm"), "--to", "dicom-seg", "--reference", series);
        Assert.Equal(2, code);
        Assert.Contains("affine does not match", err);
        Assert.False(File.Exists(Path.Combine(_tmp.Path, "x.dcm")));
        (code, _, err) = Invoke("convert", nifti, Path.Combine(_tmp.Path, "x.dcm"), "--to", "dicom-seg");
        Assert.Equal(2, code);
        Assert.Contains("--reference", err);
        (code, _, err) = Invoke("convert", nifti, Path.Combine(_tmp.Path, "x.dcm"), "--to", "dicom-seg", "--reference", series, "--orient", "LPS");
        Assert.Equal(2, code);
        Assert.Contains("--orient", err);
    }

    [Fact]
    public void Predict_DicomSeg_WritesASegBesideTheNiftiForADicomSeries()
    {
        DebianPython.RequireModule("pydicom", "python3-pydicom");
        var ds = SyntheticDataset.Write(_tmp.Path, 4, false);
        var run = Path.Combine(_tmp.Path, "run");
        var (code, _, err) = Invoke("train", "--dataset", ds, "--method", "ma-sam", "--out", run, "--model", "tiny", "--img-size", "32", "--slices", "3",
            "--intensity", "ct-window:-500,300", "--iterations", "2", "--batch", "2", "--warmup", "1", "--seed", "7", "--threads", "1");
        Assert.True(code == 0, err);
        var series = Series("ct", 4);
        var outFile = Path.Combine(_tmp.Path, "pred", "case.nii.gz");
        (code, _, err) = Invoke("predict", "--run", run, "--input", series, "--out", outFile, "--dicom-seg", "--threads", "1");
        Assert.True(code == 0, err);
        var segFile = Path.Combine(_tmp.Path, "pred", "case.seg.dcm");
        Assert.True(File.Exists(segFile));
        var pred = VolumeIO.Read(outFile);
        var present = Enumerable.Range(0, (int)pred.VoxelCount).Select(i => (int)pred.Get(i)).Where(v => v != 0).Distinct().Order().ToArray();
        // an empty prediction still gets the run's classes as segments (and one empty frame)
        var names = CheckAgainst(segFile, series, pred, present.Length == 0 ? [1, 2] : present);
        var all = new Dictionary<int, string> { [1] = "liver", [2] = "spleen" };
        Assert.Equal(present.Length == 0 ? ["liver"] : present.Select(v => all[v]).ToList(), names.Take(Math.Max(1, present.Length)).ToList());

        // a NIfTI input cannot carry a SEG
        (code, _, err) = Invoke("predict", "--run", run, "--input", Path.Combine(ds, "imagesTr", "synth_000_0000.nii.gz"), "--out",
            Path.Combine(_tmp.Path, "p2.nii.gz"), "--dicom-seg", "--threads", "1");
        Assert.Equal(2, code);
        Assert.Contains("--dicom-seg", err);
    }
}
