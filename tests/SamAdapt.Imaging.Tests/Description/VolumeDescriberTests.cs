using System.Text.Json;
using SamAdapt.Imaging.Description;
using SamAdapt.Imaging.Dicom;

namespace SamAdapt.Imaging.Tests.Description;

public class VolumeDescriberTests
{
    [Fact]
    public void Json_has_exactly_the_info_keys_integral_numbers_as_integers_and_non_finite_as_null()
    {
        var affine = Geometry.Identity();
        affine[3] = 2.5e15; // integral below 9e15: written as an integer, not 2.5E+15
        affine[7] = -12.25;
        var v = new Volume([3, 1, 1], VoxelType.Float32, new float[] { float.NaN, 1.5f, float.PositiveInfinity }, affine);
        var s = VolumeDescriber.Summarize(v, "x.nii");
        Assert.Equal(1.5, s.Min);
        Assert.True(double.IsPositiveInfinity(s.Max!.Value));

        var json = VolumeDescriber.ToJson(s);
        using var doc = JsonDocument.Parse(json);
        Assert.Equal(["shape", "dtype", "spacing", "affine", "orientation", "min", "max", "labels"],
            doc.RootElement.EnumerateObject().Select(p => p.Name).ToArray());
        Assert.Equal("float32", doc.RootElement.GetProperty("dtype").GetString());
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("max").ValueKind);
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("labels").ValueKind);
        Assert.Equal(1.5, doc.RootElement.GetProperty("min").GetDouble());
        Assert.Contains("2500000000000000", json);
        Assert.DoesNotContain("E+", json);
        Assert.Contains("-12.25", json);
        Assert.Equal("1", doc.RootElement.GetProperty("spacing")[0].GetRawText());
    }

    [Fact]
    public void Labels_of_an_integer_volume_are_sorted_distinct_values()
    {
        var v = new Volume([4, 1, 1], VoxelType.Int16, new short[] { 3, 0, 3, 1 }, Geometry.Identity());
        using var doc = JsonDocument.Parse(VolumeDescriber.ToJson(VolumeDescriber.Summarize(v, "l.nii")));
        Assert.Equal("[0,1,3]", string.Concat(doc.RootElement.GetProperty("labels").GetRawText().Where(c => !char.IsWhiteSpace(c))));
        Assert.Equal(0, doc.RootElement.GetProperty("min").GetInt32());
        Assert.Equal(3, doc.RootElement.GetProperty("max").GetInt32());
    }

    [Fact]
    public void Series_json_lists_each_series_in_snake_case()
    {
        var list = new[]
        {
            new DicomSeriesInfo("1", "1.2.3", "CT", "chest", 512, 256, ["a.dcm", "b.dcm"], null),
            new DicomSeriesInfo("2", "1.2.4", "MR", "head", 64, 64, ["c.dcm"], "mixed sizes"),
        };
        using var doc = JsonDocument.Parse(VolumeDescriber.SeriesJson(list));
        var series = doc.RootElement.GetProperty("series");
        Assert.Equal(2, series.GetArrayLength());
        Assert.Equal(["id", "series_instance_uid", "modality", "description", "columns", "rows", "files", "problem"],
            series[0].EnumerateObject().Select(p => p.Name).ToArray());
        Assert.Equal(256, series[0].GetProperty("columns").GetInt32());
        Assert.Equal(512, series[0].GetProperty("rows").GetInt32());
        Assert.Equal(2, series[0].GetProperty("files").GetInt32());
        Assert.Equal(JsonValueKind.Null, series[0].GetProperty("problem").ValueKind);
        Assert.Equal("mixed sizes", series[1].GetProperty("problem").GetString());
    }
}
