using SamAdapt.Common;
using System.IO.Compression;

namespace SamAdapt.Imaging.Nifti;

public sealed class NiftiWriteOptions
{
    public static NiftiWriteOptions Default { get; } = new();

    /// <summary>1, 2, or 0 = automatic (NIfTI-1 unless a dimension exceeds 32767).</summary>
    public int Version { get; init; }

    /// <summary>Overrides the qform/sform codes (otherwise: the volume's codes when positive, else 2 = aligned).</summary>
    public int? QFormCode { get; init; }
    public int? SFormCode { get; init; }

    public CompressionLevel GzipLevel { get; init; } = CompressionLevel.Optimal;
}

/// <summary>
/// Writes NIfTI little-endian: .nii / .nii.gz (vox_offset 352, or 544 for NIfTI-2) and .hdr/.img pairs
/// (.hdr.gz/.img.gz gzip both). The data bytes are the volume's raw voxels with its slope/intercept (1/0 when
/// unscaled), so read → write → read is exact. qform and sform both encode <see cref="Volume.Affine"/>: the sform
/// exactly (to float32 for NIfTI-1), the qform via polar decomposition (shear is dropped there; qform_code 0 when
/// the affine is singular). Codes: the volume's when positive, else 2 (aligned). Writes are atomic: data go to a
/// temporary file beside the target, renamed over it only when complete.
/// </summary>
public static class NiftiWriter
{
    public static void Write(Volume volume, string path, NiftiWriteOptions? options = null)
    {
        options ??= NiftiWriteOptions.Default;
        string lower = path.ToLowerInvariant();
        bool gz = lower.EndsWith(".gz");
        string stem;
        bool pair;
        if (lower.EndsWith(".nii") || lower.EndsWith(".nii.gz")) { pair = false; stem = ""; }
        else if (lower.EndsWith(".hdr") || lower.EndsWith(".hdr.gz") || lower.EndsWith(".img") || lower.EndsWith(".img.gz"))
        { pair = true; stem = path[..^(gz ? 7 : 4)]; }
        else throw new NotSupportedException($"{path}: cannot write NIfTI to this name (use .nii, .nii.gz, .hdr or .img, optionally .gz)");

        // the header stores the geometry as float32: a value beyond its range would write a file no reader accepts
        foreach (var x in volume.Affine)
            if (!double.IsFinite(x) || Math.Abs(x) > float.MaxValue || !float.IsFinite((float)x))
                throw new InvalidDataException(
                    $"{path}: field affine/pixdim: expected finite values within float32 range (±3.4e38), found {x.ToString("G6", System.Globalization.CultureInfo.InvariantCulture)}");
        var header = BuildHeader(volume, singleFile: !pair, options, path);
        var headerBytes = header.ToBytes();
        if (!pair)
        {
            AtomicFile.Write(path, s =>
            {
                using var z = gz ? new GZipStream(s, options.GzipLevel, leaveOpen: true) : null;
                Stream o = z ?? s;
                o.Write(headerBytes);
                o.Write(new byte[(int)header.VoxOffset - headerBytes.Length]); // extension flag 0 + padding
                VoxelBuffer.WriteFrom(o, volume.Data);
            });
        }
        else
        {
            string ext = gz ? ".gz" : "";
            AtomicFile.WritePair(stem + ".hdr" + ext, s =>
            {
                using var z = gz ? new GZipStream(s, options.GzipLevel, leaveOpen: true) : null;
                Stream o = z ?? s;
                o.Write(headerBytes);
                o.Write(new byte[4]);
            }, stem + ".img" + ext, s =>
            {
                using var z = gz ? new GZipStream(s, options.GzipLevel, leaveOpen: true) : null;
                VoxelBuffer.WriteFrom(z ?? s, volume.Data);
            });
        }
    }

    /// <summary>The header <see cref="Write"/> would produce (little-endian fields, codes and transforms set).</summary>
    public static NiftiHeader BuildHeader(Volume v, bool singleFile, NiftiWriteOptions? options = null, string? target = null)
    {
        options ??= NiftiWriteOptions.Default;
        string name = target ?? (string.IsNullOrEmpty(v.Source) ? "volume" : v.Source);
        if (!Geometry.IsFinite(v.Affine))
            throw new InvalidDataException($"{name}: cannot write: the affine contains NaN or infinite values: {Geometry.Format(v.Affine)}");
        if (v.Affine[12] != 0 || v.Affine[13] != 0 || v.Affine[14] != 0 || v.Affine[15] != 1)
            throw new InvalidDataException($"{name}: cannot write: the affine's last row must be [0, 0, 0, 1]: {Geometry.Format(v.Affine)}");
        if (!double.IsFinite(v.Slope) || v.Slope == 0 || !double.IsFinite(v.Intercept))
            throw new InvalidDataException($"{name}: cannot write: invalid scaling slope {v.Slope}, intercept {v.Intercept}");

        int version = options.Version;
        if (version == 0) version = v.Shape.Any(d => d > short.MaxValue) ? 2 : 1;
        if (version is not (1 or 2)) throw new ArgumentException($"NIfTI version must be 1 or 2, not {version}");
        if (version == 1 && v.Shape.Any(d => d > short.MaxValue))
            throw new InvalidDataException($"{name}: dimension {v.Shape.Max()} exceeds NIfTI-1's limit of 32767; write NIfTI-2");

        var h = new NiftiHeader { Version = version, Magic = (singleFile ? "n+" : "ni") + version };
        h.Dim[0] = v.Shape.Length;
        for (int i = 0; i < 7; i++) h.Dim[i + 1] = i < v.Shape.Length ? v.Shape[i] : 1;
        h.DataType = NiftiDataType.FromVoxelType(v.Type);
        h.BitPix = NiftiDataType.BitPix(v.Type);
        h.IntentCode = v.IntentCode;
        h.IntentName = v.IntentName;
        h.Descrip = v.Description;
        h.VoxOffset = singleFile ? (version == 1 ? 352 : 544) : 0;
        h.SclSlope = v.Slope;
        h.SclInter = v.Intercept;
        if (v.IsRgb) { h.SclSlope = 0; h.SclInter = 0; }
        h.XyztUnits = NiftiHeader.SpatialUnitCode(v.SpatialUnit) | NiftiHeader.TimeUnitCode(v.TimeUnit);
        for (int i = 0; i < 8; i++) h.PixDim[i] = 1;
        if (v.Shape.Length >= 4 && v.TimeStep > 0) h.PixDim[4] = v.TimeStep;

        int scode = options.SFormCode ?? (v.SFormCode > 0 ? v.SFormCode : v.QFormCode > 0 ? v.QFormCode : 2);
        int qcode = options.QFormCode ?? (v.QFormCode > 0 ? v.QFormCode : scode);
        h.SetSForm(v.Affine, scode);
        if (!h.SetQForm(v.Affine, qcode))
        {
            // singular direction matrix: no valid quaternion; keep pixdim as the column norms (nonzero)
            h.QFormCode = 0;
            var z = Geometry.SpacingFromAffine(v.Affine);
            for (int i = 0; i < 3; i++) h.PixDim[i + 1] = z[i] > 0 ? z[i] : 1;
        }
        return h;
    }
}
