using SamAdapt.Imaging;
using SamAdapt.Imaging.Datasets;

namespace SamAdapt.Training.Data;

/// <summary>How many image channels a dataset's cases hold, and the input mapping that follows from it.</summary>
public static class DatasetChannels
{
    /// <summary>
    /// C of the dataset, from the first labelled training case's files (headers only): per file 3 for an RGB(A) image (alpha
    /// dropped), else the product of the dimensions beyond the third (a 4-D image's channels), summed over the case's channel
    /// files. Falls back to the channels dataset.json declares when that case's files cannot be read (dataset check reports why).
    /// </summary>
    public static int Count(SegmentationDataset ds, IDatasetVolumeReader? reader = null)
    {
        reader ??= DatasetVolumeReader.Default;
        var first = ds.TrainingCases.Where(c => c.LabelPath is not null).OrderBy(c => c.Id, StringComparer.Ordinal).FirstOrDefault()
            ?? ds.AllCases.FirstOrDefault();
        if (first is null) return Math.Max(1, ds.ChannelNames.Count);
        try
        {
            int total = 0;
            foreach (var path in first.ImagePaths)
            {
                if (reader == DatasetVolumeReader.Default && Imaging.Nifti.NiftiReader.IsNiftiPath(path))
                {
                    // the header is enough here (dataset check verifies the data)
                    var info = Imaging.Nifti.NiftiReader.ReadInfo(path);
                    total += Of(info.Shape, info.Type);
                    continue;
                }
                var h = reader.ReadHeader(path);
                total += Of(h.Shape, h.Type);
            }
            return total;
        }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or ArgumentException)
        {
            return Math.Max(1, ds.ChannelNames.Count);
        }
    }

    /// <summary>Channels of an image of <paramref name="shape"/> and <paramref name="type"/>.</summary>
    public static int Of(int[] shape, VoxelType type)
    {
        if (type is VoxelType.Rgb24 or VoxelType.Rgba32) return 3;
        int c = 1;
        for (int i = 3; i < shape.Length; i++) c *= shape[i];
        return c;
    }

    /// <summary>
    /// The input mapping of a new run on <paramref name="ds"/>: <c>--input-projection</c> (<paramref name="setting"/>) resolved
    /// for the dataset's channel count (<see cref="InputMapping.Resolve"/>: grey for C = 1, RGB for C = 3, learned otherwise).
    /// </summary>
    public static InputMapping Mapping(SegmentationDataset ds, string? setting) => InputMapping.Resolve(setting, Count(ds));
}
