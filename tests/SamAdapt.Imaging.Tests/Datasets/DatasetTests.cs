using SamAdapt.Imaging.Datasets;
using SamAdapt.Imaging.Images2D;
using SamAdapt.Imaging.Nifti;
using SamAdapt.Tests;

namespace SamAdapt.Imaging.Tests.Datasets;

public class DatasetTests
{
    private static readonly int[] Shape = [6, 5, 4];
    private static readonly double[] Aff = TestNifti.Affine(0.8, 0.8, 2.5, -10, 20, 30);

    /// <summary>nnU-Net v2 raw dataset: 2 channels, labels 0..2, cases a/b/c training + t test.</summary>
    private static TempDir NnUNet(int numTraining = 3, string labelsJson = """{"background": 0, "liver": 1, "tumor": 2}""")
    {
        var dir = TestPaths.NewTempDir();
        Directory.CreateDirectory(dir.File("imagesTr"));
        Directory.CreateDirectory(dir.File("labelsTr"));
        Directory.CreateDirectory(dir.File("imagesTs"));
        File.WriteAllText(dir.File("dataset.json"), $$"""
            {
              "channel_names": {"0": "CT", "1": "PET"},
              "labels": {{labelsJson}},
              "numTraining": {{numTraining}},
              "file_ending": ".nii.gz",
              "name": "Dataset901_Test"
            }
            """);
        foreach (var id in new[] { "case_a", "case_b", "case_c" })
        {
            TestNifti.Image(dir.File($"imagesTr/{id}_0000.nii.gz"), Shape, Aff);
            TestNifti.Image(dir.File($"imagesTr/{id}_0001.nii.gz"), Shape, Aff);
            TestNifti.Labels(dir.File($"labelsTr/{id}.nii.gz"), Shape, Aff, 0, 1, 0, 2);
        }
        TestNifti.Image(dir.File("imagesTs/case_t_0000.nii.gz"), Shape, Aff);
        TestNifti.Image(dir.File("imagesTs/case_t_0001.nii.gz"), Shape, Aff);
        return dir;
    }

    private static DatasetReport Check(string root) => DatasetValidator.Check(root);

    private static DatasetProblem Single(DatasetReport r, DatasetProblemKind kind)
    {
        var all = r.AllProblems.ToList();
        Assert.True(all.Count == 1, "expected exactly one problem, got:\n" + string.Join("\n", all));
        Assert.Equal(kind, all[0].Kind);
        return all[0];
    }

    [Fact]
    public void NnUNet_ValidDataset_LoadsAndHasNoProblems()
    {
        using var dir = NnUNet();
        var ds = SegmentationDataset.Load(dir.Path);
        Assert.Equal(DatasetFormat.NnUNetV2, ds.Format);
        Assert.Equal(["CT", "PET"], ds.ChannelNames);
        Assert.Equal(["background", "liver", "tumor"], ds.Labels.Select(l => l.Name));
        Assert.Equal(".nii.gz", ds.FileEnding);
        Assert.Equal(["case_a", "case_b", "case_c"], ds.TrainingCases.Select(c => c.Id));
        Assert.Equal(dir.File("imagesTr/case_b_0001.nii.gz"), ds.TrainingCases[1].ImagePaths[1]);
        Assert.Equal(dir.File("labelsTr/case_b.nii.gz"), ds.TrainingCases[1].LabelPath);
        Assert.Equal(["case_t"], ds.TestCases.Select(c => c.Id));
        Assert.Null(ds.TestCases[0].LabelPath);
        Assert.Equal("liver", ds.LabelName(1));

        var r = new DatasetValidator().Validate(ds);
        Assert.False(r.HasProblems, string.Join("\n", r.AllProblems));
        Assert.Equal(4, r.Cases.Count);
        var a = r.Cases[0];
        Assert.Equal(Shape, a.Shape);
        Assert.Equal(0.8, a.Spacing![0], 5);
        Assert.Equal(2.5, a.Spacing[2], 5);
        Assert.Equal([0, 1, 2], a.LabelsPresent);
        Assert.Equal("ok", a.Status);
        Assert.True(r.Cases[3].IsTest);
        Assert.Null(r.Cases[3].LabelsPresent);
    }

    [Fact]
    public void NnUNet_MissingChannelAndMissingLabel_ReportedWithCaseId()
    {
        using var dir = NnUNet();
        File.Delete(dir.File("imagesTr/case_b_0001.nii.gz"));
        var p = Single(Check(dir.Path), DatasetProblemKind.MissingFile);
        Assert.Equal("case_b", p.CaseId);
        Assert.Contains("channel 1 (PET)", p.Message);

        using var dir2 = NnUNet();
        File.Delete(dir2.File("labelsTr/case_c.nii.gz"));
        var p2 = Single(Check(dir2.Path), DatasetProblemKind.MissingFile);
        Assert.Equal("case_c", p2.CaseId);
        Assert.Contains("labelsTr/case_c.nii.gz", p2.Message);
    }

    [Fact]
    public void NnUNet_GeometryMismatch_ShapeAndAffineBeyondTolerance()
    {
        using var dir = NnUNet();
        TestNifti.Labels(dir.File("labelsTr/case_a.nii.gz"), [6, 5, 3], Aff, 0, 1);
        var p = Single(Check(dir.Path), DatasetProblemKind.GeometryMismatch);
        Assert.Equal("case_a", p.CaseId);
        Assert.Contains("shape", p.Message);

        using var dir2 = NnUNet();
        TestNifti.Image(dir2.File("imagesTr/case_b_0001.nii.gz"), Shape, TestNifti.Affine(0.8, 0.8, 2.5, -10, 20.01, 30));
        var p2 = Single(Check(dir2.Path), DatasetProblemKind.GeometryMismatch);
        Assert.Equal("case_b", p2.CaseId);
        Assert.Contains("affine", p2.Message);

        // within tolerance (float32 rounding-level differences) is fine
        using var dir3 = NnUNet();
        TestNifti.Labels(dir3.File("labelsTr/case_b.nii.gz"), Shape, TestNifti.Affine(0.8, 0.8, 2.5, -10, 20.0004, 30), 0, 1);
        Assert.False(Check(dir3.Path).HasProblems);
    }

    [Fact]
    public void NnUNet_UnknownAndNonIntegerLabels()
    {
        using var dir = NnUNet();
        TestNifti.Labels(dir.File("labelsTr/case_c.nii.gz"), Shape, Aff, 0, 1, 5);
        var r = Check(dir.Path);
        var p = Single(r, DatasetProblemKind.UnknownLabel);
        Assert.Equal("case_c", p.CaseId);
        Assert.Contains("5", p.Message);
        Assert.Equal([0, 1, 5], r.Cases.Single(c => c.CaseId == "case_c").LabelsPresent);
        Assert.Equal("UnknownLabel", r.Cases.Single(c => c.CaseId == "case_c").Status);

        using var dir2 = NnUNet();
        var f = new float[Shape.Aggregate(1, (a, b) => a * b)];
        f[3] = 1;
        f[7] = 0.5f;
        TestNifti.Write(dir2.File("labelsTr/case_a.nii.gz"), Shape, VoxelType.Float32, f, Aff);
        var p2 = Single(Check(dir2.Path), DatasetProblemKind.NonIntegerLabels);
        Assert.Equal("case_a", p2.CaseId);
        Assert.Contains("0.5", p2.Message);

        // float label maps holding integers are accepted
        using var dir3 = NnUNet();
        f[7] = 2;
        TestNifti.Write(dir3.File("labelsTr/case_a.nii.gz"), Shape, VoxelType.Float32, f, Aff);
        Assert.False(Check(dir3.Path).HasProblems);
    }

    [Fact]
    public void NnUNet_NumTrainingMismatch_AndLabelDefinitionRules()
    {
        using var dir = NnUNet(numTraining: 5);
        var p = Single(Check(dir.Path), DatasetProblemKind.NumTrainingMismatch);
        Assert.Null(p.CaseId);
        Assert.Contains("numTraining = 5", p.Message);

        using var dir2 = NnUNet(labelsJson: """{"background": 0, "liver": 1, "tumor": 3}""");
        var r2 = Check(dir2.Path);
        Assert.Contains(r2.AllProblems, x => x.Kind == DatasetProblemKind.InvalidLabelDefinition && x.Message.Contains("consecutive"));
        Assert.Contains(r2.AllProblems, x => x.Kind == DatasetProblemKind.UnknownLabel && x.Message.Contains('2'));

        // regions: name → list; allowed values are the union
        using var dir3 = NnUNet(labelsJson: """{"background": 0, "whole": [1, 2], "core": 2}""");
        var r3 = Check(dir3.Path);
        Assert.False(r3.HasProblems, string.Join("\n", r3.AllProblems));
        Assert.True(r3.Dataset.Labels[1].IsRegion);
    }

    [Fact]
    public void NnUNet_BadFileNamesAndStrayChannels_AreReported()
    {
        using var dir = NnUNet();
        TestNifti.Image(dir.File("imagesTr/case_a.nii.gz"), Shape, Aff); // no _XXXX suffix
        TestNifti.Image(dir.File("imagesTr/case_b_0002.nii.gz"), Shape, Aff); // channel 2 of 2
        File.WriteAllText(dir.File("imagesTr/.DS_Store"), "");
        var r = Check(dir.Path);
        var problems = r.AllProblems.ToList();
        Assert.Equal(2, problems.Count);
        Assert.All(problems, x => Assert.Equal(DatasetProblemKind.UnexpectedFile, x.Kind));
        Assert.Contains(problems, x => x.CaseId is null && x.Message.Contains("case_a.nii.gz"));
        Assert.Contains(problems, x => x.CaseId == "case_b" && x.Message.Contains("channel 2"));
    }

    [Fact]
    public void NnUNet_PngDataset_IsReadThroughTheImageCodec()
    {
        using var dir = TestPaths.NewTempDir();
        Directory.CreateDirectory(dir.File("imagesTr"));
        Directory.CreateDirectory(dir.File("labelsTr"));
        File.WriteAllText(dir.File("dataset.json"), """
            {"channel_names": {"0": "R", "1": "G", "2": "B"}, "labels": {"background": 0, "road": 1},
             "numTraining": 1, "file_ending": ".png"}
            """);
        for (int c = 0; c < 3; c++)
            ImageFile.WriteMaskPng(dir.File($"imagesTr/img_{c:0000}.png"), 4, 3, Enumerable.Range(0, 12).Select(i => (byte)(i * 20 + c)).ToArray());
        ImageFile.WriteMaskPng(dir.File("labelsTr/img.png"), 4, 3, Enumerable.Range(0, 12).Select(i => (byte)(i % 2)).ToArray());
        var r = Check(dir.Path);
        Assert.False(r.HasProblems, string.Join("\n", r.AllProblems));
        Assert.Equal([4, 3, 1], r.Cases[0].Shape!);
        Assert.Equal([0, 1], r.Cases[0].LabelsPresent);

        ImageFile.WriteMaskPng(dir.File("labelsTr/img.png"), 3, 4, new byte[12]);
        Assert.Equal(DatasetProblemKind.GeometryMismatch, Single(Check(dir.Path), DatasetProblemKind.GeometryMismatch).Kind);
    }

    // ------------------------------------------------------------ MSD

    /// <summary>MSD Task: 2 modalities in 4-D images, labels "0"/"1"/"2".</summary>
    private static TempDir Msd(int numTraining = 2, int channels = 2)
    {
        var dir = TestPaths.NewTempDir();
        Directory.CreateDirectory(dir.File("imagesTr"));
        Directory.CreateDirectory(dir.File("labelsTr"));
        Directory.CreateDirectory(dir.File("imagesTs"));
        File.WriteAllText(dir.File("dataset.json"), $$"""
            {
              "name": "BrainTumour", "tensorImageSize": "4D",
              "modality": {"0": "FLAIR", "1": "T1w"},
              "labels": {"0": "background", "1": "edema", "2": "tumour"},
              "numTraining": {{numTraining}}, "numTest": 1,
              "training": [
                {"image": "./imagesTr/BRATS_001.nii.gz", "label": "./labelsTr/BRATS_001.nii.gz"},
                {"image": "./imagesTr/BRATS_002.nii.gz", "label": "./labelsTr/BRATS_002.nii.gz"}
              ],
              "test": ["./imagesTs/BRATS_101.nii.gz"]
            }
            """);
        int[] shape4 = [.. Shape, channels];
        foreach (var id in new[] { "BRATS_001", "BRATS_002" })
        {
            TestNifti.Image(dir.File($"imagesTr/{id}.nii.gz"), shape4, Aff);
            TestNifti.Labels(dir.File($"labelsTr/{id}.nii.gz"), Shape, Aff, 0, 2, 1);
        }
        TestNifti.Image(dir.File("imagesTs/BRATS_101.nii.gz"), shape4, Aff);
        return dir;
    }

    [Fact]
    public void Msd_ValidDataset_LoadsAndHasNoProblems()
    {
        using var dir = Msd();
        var ds = SegmentationDataset.Load(dir.Path);
        Assert.Equal(DatasetFormat.Msd, ds.Format);
        Assert.Equal("BrainTumour", ds.Name);
        Assert.Equal(["FLAIR", "T1w"], ds.ChannelNames);
        Assert.Equal([0, 1, 2], ds.Labels.Select(l => l.Values[0]));
        Assert.Equal("edema", ds.LabelName(1));
        Assert.Equal(["BRATS_001", "BRATS_002"], ds.TrainingCases.Select(c => c.Id));
        Assert.Equal(dir.File("imagesTr/BRATS_001.nii.gz"), ds.TrainingCases[0].ImagePaths.Single());
        Assert.Equal(["BRATS_101"], ds.TestCases.Select(c => c.Id));
        Assert.Equal(".nii.gz", ds.FileEnding);
        var r = new DatasetValidator().Validate(ds);
        Assert.False(r.HasProblems, string.Join("\n", r.AllProblems));
        Assert.Equal(Shape, r.Cases[0].Shape);
        Assert.Equal([0, 1, 2], r.Cases[0].LabelsPresent);
    }

    [Fact]
    public void Msd_EachErrorKind_IsReportedWithCaseId()
    {
        using var a = Msd(channels: 1);
        var r = Check(a.Path);
        Assert.Equal(3, r.AllProblems.Count());
        Assert.All(r.AllProblems, p => Assert.Equal(DatasetProblemKind.ChannelCountMismatch, p.Kind));
        Assert.Contains(r.AllProblems, p => p.CaseId == "BRATS_101");

        using var b = Msd(numTraining: 3);
        Assert.Null(Single(Check(b.Path), DatasetProblemKind.NumTrainingMismatch).CaseId);

        using var c = Msd();
        File.Delete(c.File("labelsTr/BRATS_002.nii.gz"));
        Assert.Equal("BRATS_002", Single(Check(c.Path), DatasetProblemKind.MissingFile).CaseId);

        using var d = Msd();
        TestNifti.Labels(d.File("labelsTr/BRATS_001.nii.gz"), Shape, Aff, 0, 4);
        Assert.Equal("BRATS_001", Single(Check(d.Path), DatasetProblemKind.UnknownLabel).CaseId);

        using var e = Msd();
        TestNifti.Labels(e.File("labelsTr/BRATS_002.nii.gz"), Shape, TestNifti.Affine(0.8, 0.8, 2.5, -10, 20, 31), 0, 1);
        Assert.Equal("BRATS_002", Single(Check(e.Path), DatasetProblemKind.GeometryMismatch).CaseId);

        using var f = Msd();
        File.WriteAllBytes(f.File("labelsTr/BRATS_001.nii.gz"), [1, 2, 3]);
        Assert.Equal("BRATS_001", Single(Check(f.Path), DatasetProblemKind.UnreadableFile).CaseId);

        using var g = Msd();
        var data = new short[Shape.Aggregate(1, (x, y) => x * y)];
        data[0] = 2;
        data[1] = -3;
        TestNifti.Write(g.File("labelsTr/BRATS_002.nii.gz"), Shape, VoxelType.Int16, data, Aff);
        var pg = Single(Check(g.Path), DatasetProblemKind.UnknownLabel);
        Assert.Contains("-3", pg.Message);
    }

    [Fact]
    public void Load_FormatErrors()
    {
        using var dir = TestPaths.NewTempDir();
        Assert.Throws<FileNotFoundException>(() => SegmentationDataset.Load(dir.Path));
        Assert.Throws<DirectoryNotFoundException>(() => SegmentationDataset.Load(dir.File("nope")));
        File.WriteAllText(dir.File("dataset.json"), "{ not json");
        Assert.Contains("invalid JSON", Assert.Throws<InvalidDataException>(() => SegmentationDataset.Load(dir.Path)).Message);
        File.WriteAllText(dir.File("dataset.json"), """{"foo": 1}""");
        Assert.Contains("neither", Assert.Throws<InvalidDataException>(() => SegmentationDataset.Load(dir.Path)).Message);
        // MSD-style labels in an nnU-Net v2 file
        File.WriteAllText(dir.File("dataset.json"), """{"channel_names": {"0": "CT"}, "labels": {"0": "background"}, "file_ending": ".nii.gz", "numTraining": 0}""");
        Assert.Contains("name → integer", Assert.Throws<InvalidDataException>(() => SegmentationDataset.Load(dir.Path)).Message);
    }

    [Fact]
    public void DefaultReader_UsesTheNiftiReader_HeaderOnlyForImages_QformAndSform()
    {
        using var dir = TestPaths.NewTempDir();
        var data = new short[24];
        for (int i = 0; i < 24; i++) data[i] = (short)(i - 5);
        // qform only: 90° about z (b = c = 0, d = sin 45°), pixdim (2, 3, 4), qfac −1 (written by the test-side writer)
        double s = Math.Sqrt(0.5);
        TestNifti.Write(dir.File("q.nii"), [2, 3, 4], VoxelType.Int16, data, TestNifti.Affine(2, 3, 4), (0, 0, s, -1, [1, 2, 3]));
        var reader = DatasetVolumeReader.Default;
        var v = reader.Read(dir.File("q.nii"));
        Assert.Equal([2, 3, 4], v.Shape);
        Assert.Equal(data, (short[])v.Data);
        double[] expected = [0, -3, 0, 1, 2, 0, 0, 2, 0, 0, -4, 3, 0, 0, 0, 1];
        for (int i = 0; i < 16; i++) Assert.Equal(expected[i], v.Affine[i], 5);
        // the header-only path reports exactly what the full reader does
        var hq = reader.ReadHeader(dir.File("q.nii"));
        Assert.Equal(v.Shape, hq.Shape);
        Assert.Equal(v.Affine, hq.Affine);
        Assert.Equal(VoxelType.Int16, hq.Type);

        var aff = TestNifti.Affine(-0.5, 0.75, 1.25, 10, -20, 30);
        TestNifti.Write(dir.File("s.nii.gz"), [2, 3, 4], VoxelType.Int16, data, aff);
        var h = reader.ReadHeader(dir.File("s.nii.gz"));
        Assert.Equal(VoxelType.Int16, h.Type);
        Assert.Equal(NiftiReader.Read(dir.File("s.nii.gz")).Affine, h.Affine);
        for (int i = 0; i < 16; i++) Assert.Equal(aff[i], h.Affine[i], 5);

        // damaged files: the full reader's specific errors, naming the file
        var bytes = File.ReadAllBytes(dir.File("q.nii"));
        File.WriteAllBytes(dir.File("cut.nii"), bytes[..380]);
        Assert.Contains("cut.nii", Assert.Throws<InvalidDataException>(() => reader.Read(dir.File("cut.nii"))).Message);
        // header-only reads still catch an uncompressed file that is too short for its dims
        var e = Assert.Throws<InvalidDataException>(() => reader.ReadHeader(dir.File("cut.nii")));
        Assert.Contains("cut.nii", e.Message);
        Assert.Contains("too short", e.Message);
        var nan = (byte[])bytes.Clone();
        BitConverter.GetBytes(float.NaN).CopyTo(nan, 268); // qoffset_x
        File.WriteAllBytes(dir.File("nan.nii"), nan);
        Assert.Contains("NaN", Assert.Throws<InvalidDataException>(() => reader.ReadHeader(dir.File("nan.nii"))).Message);
    }

    [Fact]
    public void DatasetCheck_OnRealMricronTemplate_ReadsThroughNiftiReader()
    {
        // a real NIfTI file (mricron-data) as the image, a label map on its grid written by NiftiWriter
        var src = Path.Combine(SamAdapt.Imaging.Tests.Nifti.MricronConformanceTests.Root, "templates", "ch2.nii.gz");
        SamAdapt.Imaging.Tests.Nifti.MricronConformanceTests.RequireFile(src);
        var image = NiftiReader.Read(src);
        using var dir = TestPaths.NewTempDir();
        Directory.CreateDirectory(dir.File("imagesTr"));
        Directory.CreateDirectory(dir.File("labelsTr"));
        File.WriteAllText(dir.File("dataset.json"), """
            {"channel_names": {"0": "T1"}, "labels": {"background": 0, "brain": 1}, "numTraining": 1, "file_ending": ".nii.gz"}
            """);
        File.Copy(src, dir.File("imagesTr/ch2_0000.nii.gz"));
        var lab = new byte[image.VoxelCount];
        for (long i = 0; i < lab.LongLength; i++) lab[i] = image.Get(i) > 50 ? (byte)1 : (byte)0;
        NiftiWriter.Write(new Volume(image.Shape, VoxelType.UInt8, lab, image.Affine), dir.File("labelsTr/ch2.nii.gz"));
        var r = Check(dir.Path);
        Assert.False(r.HasProblems, string.Join("\n", r.AllProblems));
        Assert.Equal(image.Shape, r.Cases[0].Shape);
        Assert.Equal([0, 1], r.Cases[0].LabelsPresent);
    }
}
