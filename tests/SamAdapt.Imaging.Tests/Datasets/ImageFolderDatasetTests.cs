using SamAdapt.Imaging;
using SamAdapt.Imaging.Datasets;
using SamAdapt.Imaging.Images2D;
using SamAdapt.Tests;

namespace SamAdapt.Imaging.Tests.Datasets;

/// <summary>2-D datasets as users keep them (images/ + masks/) and nnU-Net 2-D datasets: layout detection, class names and
/// values, the composed label maps, and the problems `dataset check` reports.</summary>
public class ImageFolderDatasetTests : IDisposable
{
    private readonly TempDir _tmp = TestPaths.NewTempDir();
    public void Dispose() => _tmp.Dispose();

    [Theory]
    [InlineData(Synthetic2D.Layout.LabelMap, false)]
    [InlineData(Synthetic2D.Layout.ClassSuffix, false)]
    [InlineData(Synthetic2D.Layout.ClassFolders, false)]
    [InlineData(Synthetic2D.Layout.ClassSuffix, true)]
    public void Every_mask_layout_loads_with_its_classes_and_composes_the_label_map(Synthetic2D.Layout layout, bool rgb)
    {
        var root = Synthetic2D.WriteImageFolder(_tmp.Path, $"ds_{layout}_{rgb}", layout, cases: 3, rgb: rgb, classesJson: true);
        var ds = SegmentationDataset.Load(root);
        Assert.Equal(DatasetFormat.ImageFolder, ds.Format);
        Assert.Equal((MaskLayout)(int)layout, ds.MaskLayout);
        Assert.Equal(rgb ? ["R", "G", "B"] : ["grey"], ds.ChannelNames);
        Assert.Equal(["case0", "case1", "case2"], ds.TrainingCases.Select(c => c.Id));
        Assert.Equal(1, ds.Labels.Single(l => l.Name == "tumour").Values[0]);
        Assert.Equal(2, ds.Labels.Single(l => l.Name == "organ").Values[0]);
        foreach (var c in ds.TrainingCases)
        {
            var label = DatasetLabelReader.Read(c);
            Assert.Equal([Synthetic2D.Width, Synthetic2D.Height, 1], label.Shape);
            var expected = Synthetic2D.LabelOf(int.Parse(c.Id[4..]));
            // pixel (x, y) of the PNG is voxel i = x, j = y
            for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], (int)label.Get(i));
        }
        var report = new DatasetValidator().Validate(ds);
        Assert.False(report.HasProblems, string.Join("\n", report.AllProblems));
    }

    [Fact]
    public void Without_classes_json_names_come_from_mask_values_or_class_names()
    {
        var maps = SegmentationDataset.Load(Synthetic2D.WriteImageFolder(_tmp.Path, "maps", Synthetic2D.Layout.LabelMap, cases: 2));
        Assert.Equal(["background", "class 1", "class 2"], maps.Labels.Select(l => l.Name));
        Assert.Equal([0, 1, 2], maps.Labels.Select(l => l.Values[0]));
        // per-class masks without classes.json: the names in sorted order get 1, 2, …
        var folders = SegmentationDataset.Load(Synthetic2D.WriteImageFolder(_tmp.Path, "folders", Synthetic2D.Layout.ClassFolders, cases: 2));
        Assert.Equal(["background", "organ", "tumour"], folders.Labels.Select(l => l.Name));
        Assert.Equal([0, 1, 2], folders.Labels.Select(l => l.Values[0]));
        var label = DatasetLabelReader.Read(folders.TrainingCases[0]);
        var truth = Synthetic2D.LabelOf(0);
        for (int i = 0; i < truth.Length; i++) Assert.Equal(truth[i] switch { 1 => 2, 2 => 1, _ => 0 }, (int)label.Get(i));
    }

    [Fact]
    public void Check_reports_missing_masks_size_mismatch_unknown_values_colour_and_orphan_masks()
    {
        var root = Synthetic2D.WriteImageFolder(_tmp.Path, "bad", Synthetic2D.Layout.LabelMap, cases: 5, classesJson: true);
        File.Delete(Path.Combine(root, "masks", "case1.png"));
        ImageFile.WritePng(Path.Combine(root, "masks", "case2.png"), new Image2D(20, 20, 1, new byte[400]));
        var seven = Synthetic2D.LabelOf(3).Select(v => v == 1 ? (byte)7 : v).ToArray();
        ImageFile.WritePng(Path.Combine(root, "masks", "case3.png"), new Image2D(Synthetic2D.Width, Synthetic2D.Height, 1, seven));
        var colour = Synthetic2D.LabelOf(4).SelectMany(v => new[] { (byte)(v * 100), v, v }).ToArray();
        ImageFile.WritePng(Path.Combine(root, "masks", "case4.png"), new Image2D(Synthetic2D.Width, Synthetic2D.Height, 3, colour));
        ImageFile.WritePng(Path.Combine(root, "masks", "orphan.png"), new Image2D(Synthetic2D.Width, Synthetic2D.Height, 1, Synthetic2D.LabelOf(0)));

        var check = DatasetCheck.Run(root);
        var p = check.Problems;
        Assert.Contains(p, x => x is { CaseId: "case1", Kind: DatasetProblemKind.MissingFile } && x.Message.Contains("masks/case1.png"));
        Assert.Contains(p, x => x is { CaseId: "case2", Kind: DatasetProblemKind.GeometryMismatch } && x.Message.Contains("[20,20,1]"));
        Assert.Contains(p, x => x is { CaseId: "case3", Kind: DatasetProblemKind.UnknownLabel } && x.Message.Contains("7") && x.Message.Contains("classes.json"));
        Assert.Contains(p, x => x is { CaseId: "case4", Kind: DatasetProblemKind.InvalidMask } && x.Message.Contains("RGB (colour) mask") && x.Message.Contains("masks/case4.png"));
        Assert.Contains(p, x => x is { Kind: DatasetProblemKind.UnexpectedFile } && x.Message.Contains("orphan.png") && x.Message.Contains("without an image"));
        Assert.DoesNotContain(p, x => x.CaseId == "case0");
        Assert.NotNull(check.Failure(root));
    }

    [Fact]
    public void Per_class_masks_must_be_binary_and_must_not_overlap()
    {
        var root = Synthetic2D.WriteImageFolder(_tmp.Path, "perclass", Synthetic2D.Layout.ClassSuffix, cases: 3);
        // case1: a grey-level (not binary) mask; case2: the organ mask covers the tumour too
        var grey = Synthetic2D.GreyOf(1);
        ImageFile.WritePng(Path.Combine(root, "masks", "case1_tumour.png"), new Image2D(Synthetic2D.Width, Synthetic2D.Height, 1, grey));
        ImageFile.WritePng(Path.Combine(root, "masks", "case2_organ.png"), new Image2D(Synthetic2D.Width, Synthetic2D.Height, 1,
            Synthetic2D.LabelOf(2).Select(v => v > 0 ? (byte)255 : (byte)0).ToArray()));
        File.Copy(Path.Combine(root, "images", "case0.png"), Path.Combine(root, "images", "nomask.png"));
        var p = DatasetCheck.Run(root).Problems;
        Assert.Contains(p, x => x is { CaseId: "case1", Kind: DatasetProblemKind.InvalidMask } && x.Message.Contains("must be binary"));
        Assert.Contains(p, x => x is { CaseId: "case2", Kind: DatasetProblemKind.InvalidMask } && x.Message.Contains("also in the mask of class 'organ'"));
        Assert.Contains(p, x => x is { CaseId: "nomask", Kind: DatasetProblemKind.MissingFile } && x.Message.Contains("has no mask"));
        Assert.DoesNotContain(p, x => x.CaseId == "case0");
    }

    [Fact]
    public void NnUNet_2D_datasets_with_channel_files_or_one_RGB_file_validate()
    {
        var four = SegmentationDataset.Load(Synthetic2D.WriteNnUNet2D(_tmp.Path, "Dataset010_Four", channels: 4, signalChannel: 2, cases: 2));
        Assert.Equal(4, four.TrainingCases[0].ImagePaths.Count);
        Assert.False(new DatasetValidator().Validate(four).HasProblems);

        // nnU-Net's natural images: one RGB CASE_0000.png with three channel names
        var root = Path.Combine(_tmp.Path, "Dataset011_Rgb");
        Directory.CreateDirectory(Path.Combine(root, "imagesTr"));
        Directory.CreateDirectory(Path.Combine(root, "labelsTr"));
        File.WriteAllText(Path.Combine(root, "dataset.json"),
            """{"channel_names": {"0": "R", "1": "G", "2": "B"}, "labels": {"background": 0, "tumour": 1, "organ": 2}, "numTraining": 1, "file_ending": ".png"}""");
        ImageFile.WritePng(Path.Combine(root, "imagesTr", "a_0000.png"), Synthetic2D.Rgb(Synthetic2D.GreyOf(0)));
        ImageFile.WritePng(Path.Combine(root, "labelsTr", "a.png"), new Image2D(Synthetic2D.Width, Synthetic2D.Height, 1, Synthetic2D.LabelOf(0)));
        var rgb = SegmentationDataset.Load(root);
        Assert.Single(rgb.TrainingCases[0].ImagePaths);
        var report = new DatasetValidator().Validate(rgb);
        Assert.False(report.HasProblems, string.Join("\n", report.AllProblems));
        // a grey file where three channels are declared is named
        ImageFile.WritePng(Path.Combine(root, "imagesTr", "a_0000.png"), new Image2D(Synthetic2D.Width, Synthetic2D.Height, 1, Synthetic2D.GreyOf(0)));
        Assert.Contains(new DatasetValidator().Validate(SegmentationDataset.Load(root)).AllProblems,
            x => x.Kind == DatasetProblemKind.ChannelCountMismatch && x.Message.Contains("1 channel(s), dataset.json declares 3"));
    }
}
