using System.Globalization;
using System.Text.RegularExpressions;

namespace SamAdapt.Imaging.Datasets;

/// <summary>
/// Case ids and nnU-Net's channel suffix, in one place: an image file of case CASE, channel c is <c>CASE_XXXX{ending}</c> with
/// XXXX = c in four digits (<c>CASE_0000.nii.gz</c> for single-channel data); label files are <c>CASE{ending}</c>.
/// </summary>
public static partial class CaseIds
{
    [GeneratedRegex(@"^(?<id>.+)_(?<ch>\d{4})$", RegexOptions.CultureInvariant)]
    private static partial Regex ChannelSuffix();

    /// <summary>Splits a file stem into case id and channel when it ends with a 4-digit <c>_XXXX</c> suffix; null otherwise.</summary>
    public static (string Id, int Channel)? SplitChannel(string stem)
    {
        var m = ChannelSuffix().Match(stem);
        return m.Success ? (m.Groups["id"].Value, int.Parse(m.Groups["ch"].Value, CultureInfo.InvariantCulture)) : null;
    }

    /// <summary>The file name of channel <paramref name="channel"/> of case <paramref name="id"/>: <c>id_XXXX{ending}</c>.</summary>
    public static string ImageFileName(string id, int channel, string ending = ".nii.gz") =>
        string.Create(CultureInfo.InvariantCulture, $"{id}_{channel:0000}{ending}");

    /// <summary>A file name without its image extension (.nii.gz, or the last extension otherwise).</summary>
    public static string Stem(string fileName) =>
        fileName.EndsWith(".nii.gz", StringComparison.OrdinalIgnoreCase) ? fileName[..^7] : Path.GetFileNameWithoutExtension(fileName);

    /// <summary>Case id and channel of an image file name: its stem without an nnU-Net <c>_XXXX</c> suffix (channel 0 when there is none).</summary>
    public static (string Id, int Channel) Parse(string fileName)
    {
        var stem = Stem(fileName);
        return SplitChannel(stem) ?? (stem, 0);
    }
}
