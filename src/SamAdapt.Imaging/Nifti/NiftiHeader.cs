using System.Buffers.Binary;
using System.Text;

namespace SamAdapt.Imaging.Nifti;

/// <summary>
/// All fields of a NIfTI-1 (348-byte) or NIfTI-2 (540-byte) header, widened to the NIfTI-2 types
/// (64-bit integers, double floats). <see cref="Parse"/> accepts either version in either byte order;
/// <see cref="ToBytes"/> writes little-endian.
/// </summary>
public sealed class NiftiHeader
{
    public const int Nifti1Size = 348, Nifti2Size = 540;

    /// <summary>1 or 2.</summary>
    public int Version { get; set; } = 1;
    /// <summary>True when the file was big-endian (data share the header's byte order).</summary>
    public bool BigEndian { get; set; }
    /// <summary>"n+1", "ni1", "n+2" or "ni2" (without the NUL).</summary>
    public string Magic { get; set; } = "n+1";
    /// <summary>Single-file magic (n+1 / n+2) rather than a .hdr/.img pair (ni1 / ni2).</summary>
    public bool IsSingleFile => Magic.StartsWith("n+", StringComparison.Ordinal);

    /// <summary>dim[0..7]: dim[0] is the rank.</summary>
    public long[] Dim { get; set; } = [3, 1, 1, 1, 1, 1, 1, 1];
    public double IntentP1 { get; set; }
    public double IntentP2 { get; set; }
    public double IntentP3 { get; set; }
    public int IntentCode { get; set; }
    public string IntentName { get; set; } = "";
    public int DataType { get; set; }
    public int BitPix { get; set; }
    public long SliceStart { get; set; }
    public long SliceEnd { get; set; }
    public int SliceCode { get; set; }
    /// <summary>pixdim[0..7]: pixdim[0] is qfac.</summary>
    public double[] PixDim { get; set; } = [1, 1, 1, 1, 1, 1, 1, 1];
    public double VoxOffset { get; set; }
    public double SclSlope { get; set; }
    public double SclInter { get; set; }
    public int XyztUnits { get; set; }
    public double CalMax { get; set; }
    public double CalMin { get; set; }
    public double SliceDuration { get; set; }
    public double TOffset { get; set; }
    public int GlMax { get; set; }
    public int GlMin { get; set; }
    public int DimInfo { get; set; }
    public string Descrip { get; set; } = "";
    public string AuxFile { get; set; } = "";
    public int QFormCode { get; set; }
    public int SFormCode { get; set; }
    public double QuaternB { get; set; }
    public double QuaternC { get; set; }
    public double QuaternD { get; set; }
    public double QOffsetX { get; set; }
    public double QOffsetY { get; set; }
    public double QOffsetZ { get; set; }
    /// <summary>srow_x, srow_y, srow_z concatenated (12 values).</summary>
    public double[] SRow { get; set; } = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0];

    /// <summary>Header extensions (filled by the reader; the writer ignores them).</summary>
    public List<VolumeExtension> Extensions { get; } = [];

    public int Rank => (int)Dim[0];

    /// <summary>dim[1..dim[0]].</summary>
    public long[] Shape => Dim.Skip(1).Take(Rank).ToArray();

    /// <summary>
    /// Identifies the version and byte order from the first four bytes (sizeof_hdr: 348 or 540, possibly byte-swapped).
    /// Returns (0, false) when neither matches.
    /// </summary>
    public static (int Version, bool BigEndian) Identify(ReadOnlySpan<byte> first4)
    {
        int le = BinaryPrimitives.ReadInt32LittleEndian(first4), be = BinaryPrimitives.ReadInt32BigEndian(first4);
        if (le == Nifti1Size) return (1, false);
        if (be == Nifti1Size) return (1, true);
        if (le == Nifti2Size) return (2, false);
        if (be == Nifti2Size) return (2, true);
        return (0, false);
    }

    /// <summary>
    /// Parses a header (exactly 348 or 540 bytes as given by sizeof_hdr). Checks magic, the NIfTI-2 EOL bytes and
    /// dim[0]; everything else is validated by the reader. <paramref name="source"/> names the file in messages.
    /// </summary>
    public static NiftiHeader Parse(ReadOnlySpan<byte> b, string source)
    {
        if (b.Length < 4) throw new InvalidDataException($"{source}: file too short for a NIfTI header ({b.Length} bytes)");
        var (version, big) = Identify(b);
        if (version == 0)
            throw new InvalidDataException($"{source}: not a NIfTI file: sizeof_hdr is {BinaryPrimitives.ReadInt32LittleEndian(b)} " +
                                           "(expected 348 for NIfTI-1 or 540 for NIfTI-2, in either byte order)");
        int size = version == 1 ? Nifti1Size : Nifti2Size;
        if (b.Length < size)
            throw new InvalidDataException($"{source}: truncated NIfTI-{version} header ({b.Length} of {size} bytes)");
        var r = new FieldReader(b[..size], big);
        var h = new NiftiHeader { Version = version, BigEndian = big };
        if (version == 1)
        {
            string magic = Ascii(b.Slice(344, 4));
            if (magic is not ("n+1" or "ni1"))
                throw new InvalidDataException($"{source}: bad NIfTI-1 magic {Quote(b.Slice(344, 4))} at offset 344 (expected \"n+1\" or \"ni1\")");
            h.Magic = magic;
            h.DimInfo = b[39];
            for (int i = 0; i < 8; i++) h.Dim[i] = r.I16(40 + 2 * i);
            h.IntentP1 = r.F32(56); h.IntentP2 = r.F32(60); h.IntentP3 = r.F32(64);
            h.IntentCode = r.I16(68); h.DataType = r.I16(70); h.BitPix = r.I16(72); h.SliceStart = r.I16(74);
            for (int i = 0; i < 8; i++) h.PixDim[i] = r.F32(76 + 4 * i);
            h.VoxOffset = r.F32(108); h.SclSlope = r.F32(112); h.SclInter = r.F32(116);
            h.SliceEnd = r.I16(120); h.SliceCode = b[122]; h.XyztUnits = b[123];
            h.CalMax = r.F32(124); h.CalMin = r.F32(128); h.SliceDuration = r.F32(132); h.TOffset = r.F32(136);
            h.GlMax = r.I32(140); h.GlMin = r.I32(144);
            h.Descrip = Ascii(b.Slice(148, 80)); h.AuxFile = Ascii(b.Slice(228, 24));
            h.QFormCode = r.I16(252); h.SFormCode = r.I16(254);
            h.QuaternB = r.F32(256); h.QuaternC = r.F32(260); h.QuaternD = r.F32(264);
            h.QOffsetX = r.F32(268); h.QOffsetY = r.F32(272); h.QOffsetZ = r.F32(276);
            for (int i = 0; i < 12; i++) h.SRow[i] = r.F32(280 + 4 * i);
            h.IntentName = Ascii(b.Slice(328, 16));
        }
        else
        {
            string magic = Ascii(b.Slice(4, 4));
            if (magic is not ("n+2" or "ni2"))
                throw new InvalidDataException($"{source}: bad NIfTI-2 magic {Quote(b.Slice(4, 4))} at offset 4 (expected \"n+2\" or \"ni2\")");
            var eol = b.Slice(8, 4);
            bool eolOk = eol.SequenceEqual((ReadOnlySpan<byte>)[0x0D, 0x0A, 0x1A, 0x0A]);
            bool eolZero = eol.SequenceEqual((ReadOnlySpan<byte>)[0, 0, 0, 0]);
            if (!eolOk && !eolZero)
                throw new InvalidDataException($"{source}: NIfTI-2 EOL check bytes are {Convert.ToHexString(eol)} instead of 0D0A1A0A " +
                                               "(file damaged, e.g. transferred in text mode)");
            h.Magic = magic;
            h.DataType = r.I16(12); h.BitPix = r.I16(14);
            for (int i = 0; i < 8; i++) h.Dim[i] = r.I64(16 + 8 * i);
            h.IntentP1 = r.F64(80); h.IntentP2 = r.F64(88); h.IntentP3 = r.F64(96);
            for (int i = 0; i < 8; i++) h.PixDim[i] = r.F64(104 + 8 * i);
            h.VoxOffset = r.I64(168); h.SclSlope = r.F64(176); h.SclInter = r.F64(184);
            h.CalMax = r.F64(192); h.CalMin = r.F64(200); h.SliceDuration = r.F64(208); h.TOffset = r.F64(216);
            h.SliceStart = r.I64(224); h.SliceEnd = r.I64(232);
            h.Descrip = Ascii(b.Slice(240, 80)); h.AuxFile = Ascii(b.Slice(320, 24));
            h.QFormCode = r.I32(344); h.SFormCode = r.I32(348);
            h.QuaternB = r.F64(352); h.QuaternC = r.F64(360); h.QuaternD = r.F64(368);
            h.QOffsetX = r.F64(376); h.QOffsetY = r.F64(384); h.QOffsetZ = r.F64(392);
            for (int i = 0; i < 12; i++) h.SRow[i] = r.F64(400 + 8 * i);
            h.SliceCode = r.I32(496); h.XyztUnits = r.I32(500); h.IntentCode = r.I32(504);
            h.IntentName = Ascii(b.Slice(508, 16)); h.DimInfo = b[524];
        }
        if (h.Dim[0] is < 1 or > 7)
            throw new InvalidDataException($"{source}: dim[0] = {h.Dim[0]} is out of range (the number of dimensions must be 1..7)");
        return h;
    }

    /// <summary>Serializes little-endian: 348 bytes (NIfTI-1) or 540 bytes (NIfTI-2), without the extension flag.</summary>
    public byte[] ToBytes()
    {
        if (Version == 1)
        {
            var b = new byte[Nifti1Size];
            var w = new FieldWriter(b);
            w.I32(0, Nifti1Size);
            b[38] = (byte)'r'; // "regular", as ANALYZE readers expect
            b[39] = (byte)DimInfo;
            for (int i = 0; i < 8; i++) w.I16(40 + 2 * i, checked((short)Dim[i]));
            w.F32(56, IntentP1); w.F32(60, IntentP2); w.F32(64, IntentP3);
            w.I16(68, checked((short)IntentCode)); w.I16(70, checked((short)DataType)); w.I16(72, checked((short)BitPix));
            w.I16(74, checked((short)SliceStart));
            for (int i = 0; i < 8; i++) w.F32(76 + 4 * i, PixDim[i]);
            w.F32(108, VoxOffset); w.F32(112, SclSlope); w.F32(116, SclInter);
            w.I16(120, checked((short)SliceEnd)); b[122] = (byte)SliceCode; b[123] = (byte)XyztUnits;
            w.F32(124, CalMax); w.F32(128, CalMin); w.F32(132, SliceDuration); w.F32(136, TOffset);
            w.I32(140, GlMax); w.I32(144, GlMin);
            PutAscii(b.AsSpan(148, 80), Descrip); PutAscii(b.AsSpan(228, 24), AuxFile);
            w.I16(252, checked((short)QFormCode)); w.I16(254, checked((short)SFormCode));
            w.F32(256, QuaternB); w.F32(260, QuaternC); w.F32(264, QuaternD);
            w.F32(268, QOffsetX); w.F32(272, QOffsetY); w.F32(276, QOffsetZ);
            for (int i = 0; i < 12; i++) w.F32(280 + 4 * i, SRow[i]);
            PutAscii(b.AsSpan(328, 16), IntentName);
            PutAscii(b.AsSpan(344, 4), IsSingleFile ? "n+1" : "ni1");
            return b;
        }
        else
        {
            var b = new byte[Nifti2Size];
            var w = new FieldWriter(b);
            w.I32(0, Nifti2Size);
            PutAscii(b.AsSpan(4, 4), IsSingleFile ? "n+2" : "ni2");
            b[8] = 0x0D; b[9] = 0x0A; b[10] = 0x1A; b[11] = 0x0A;
            w.I16(12, checked((short)DataType)); w.I16(14, checked((short)BitPix));
            for (int i = 0; i < 8; i++) w.I64(16 + 8 * i, Dim[i]);
            w.F64(80, IntentP1); w.F64(88, IntentP2); w.F64(96, IntentP3);
            for (int i = 0; i < 8; i++) w.F64(104 + 8 * i, PixDim[i]);
            w.I64(168, (long)VoxOffset); w.F64(176, SclSlope); w.F64(184, SclInter);
            w.F64(192, CalMax); w.F64(200, CalMin); w.F64(208, SliceDuration); w.F64(216, TOffset);
            w.I64(224, SliceStart); w.I64(232, SliceEnd);
            PutAscii(b.AsSpan(240, 80), Descrip); PutAscii(b.AsSpan(320, 24), AuxFile);
            w.I32(344, QFormCode); w.I32(348, SFormCode);
            w.F64(352, QuaternB); w.F64(360, QuaternC); w.F64(368, QuaternD);
            w.F64(376, QOffsetX); w.F64(384, QOffsetY); w.F64(392, QOffsetZ);
            for (int i = 0; i < 12; i++) w.F64(400 + 8 * i, SRow[i]);
            w.I32(496, SliceCode); w.I32(500, XyztUnits); w.I32(504, IntentCode);
            PutAscii(b.AsSpan(508, 16), IntentName); b[524] = (byte)DimInfo;
            return b;
        }
    }

    // ---------------------------------------------------------------- transforms

    /// <summary>qfac from pixdim[0]: −1 when negative, otherwise +1 (0 is treated as 1, as nifti1.h prescribes).</summary>
    public double QFac => PixDim[0] < 0 ? -1.0 : 1.0;

    /// <summary>
    /// The quaternion (a, b, c, d) of the qform: a = sqrt(1 − b² − c² − d²). When 1 − |bcd|² is negative but within
    /// 3 float epsilons of zero (rounding in a stored unit quaternion), a = 0. Throws when clearly negative.
    /// </summary>
    public (double A, double B, double C, double D) Quaternion(string source)
    {
        double b = QuaternB, c = QuaternC, d = QuaternD;
        double w2 = 1.0 - (b * b + c * c + d * d);
        double thresh = 3 * (Version == 1 ? 1.1920928955078125e-07 : 2.220446049250313e-16); // 3·eps of the stored float type
        if (w2 < 0)
        {
            if (w2 < -thresh)
                throw new InvalidDataException($"{source}: invalid qform quaternion (b, c, d) = ({b:G9}, {c:G9}, {d:G9}): b² + c² + d² exceeds 1");
            return (0, b, c, d);
        }
        return (Math.Sqrt(w2), b, c, d);
    }

    /// <summary>The qform affine (method 2): R·diag(pixdim1, pixdim2, qfac·pixdim3) plus qoffset.</summary>
    public double[] QFormAffine(string source)
    {
        var (a, b, c, d) = Quaternion(source);
        var r = QuaternionToMatrix(a, b, c, d);
        var z = SpatialZooms(source, forQForm: true);
        z[2] *= QFac;
        return
        [
            r[0] * z[0], r[1] * z[1], r[2] * z[2], QOffsetX,
            r[3] * z[0], r[4] * z[1], r[5] * z[2], QOffsetY,
            r[6] * z[0], r[7] * z[1], r[8] * z[2], QOffsetZ,
            0, 0, 0, 1,
        ];
    }

    /// <summary>The sform affine (method 3): srow_x, srow_y, srow_z.</summary>
    public double[] SFormAffine() => [.. SRow, 0, 0, 0, 1];

    /// <summary>
    /// nibabel's fallback when neither transform is set: diag(−pixdim1, pixdim2, pixdim3) with the image centre
    /// ((dim−1)/2 voxels) at world 0 (ANALYZE convention, x flipped).
    /// </summary>
    public double[] BaseAffine(string source)
    {
        var z = SpatialZooms(source, forQForm: false);
        var n = new double[3];
        for (int i = 0; i < 3; i++) n[i] = i < Rank ? Dim[i + 1] : 1;
        return
        [
            -z[0], 0, 0, z[0] * (n[0] - 1) / 2,
            0, z[1], 0, -z[1] * (n[1] - 1) / 2,
            0, 0, z[2], -z[2] * (n[2] - 1) / 2,
            0, 0, 0, 1,
        ];
    }

    /// <summary>NIfTI method 1 (ANALYZE-compatible): x = pixdim1·i, y = pixdim2·j, z = pixdim3·k, no centring.</summary>
    public double[] ScannerAffine(string source)
    {
        var z = SpatialZooms(source, forQForm: false);
        return [z[0], 0, 0, 0, 0, z[1], 0, 0, 0, 0, z[2], 0, 0, 0, 0, 1];
    }

    /// <summary>Valid transform codes are 0..5 (unknown, scanner, aligned, Talairach, MNI152, template-other).</summary>
    public static bool IsValidXformCode(int code) => code is >= 0 and <= 5;

    /// <summary>pixdim[1..3] for the spatial axes that exist (1 for absent axes). Negative values are an error for the qform; 0 is read as 1.</summary>
    private double[] SpatialZooms(string source, bool forQForm)
    {
        var z = new double[3];
        for (int i = 0; i < 3; i++)
        {
            double p = i < Rank ? PixDim[i + 1] : 1.0;
            if (!double.IsFinite(p)) throw new InvalidDataException($"{source}: pixdim[{i + 1}] is {p} (NaN/inf in the voxel size)");
            if (p < 0 && forQForm) throw new InvalidDataException($"{source}: pixdim[{i + 1}] = {p} is negative; the qform needs positive voxel sizes");
            if (p == 0) p = 1;
            z[i] = Math.Abs(p);
        }
        return z;
    }

    /// <summary>Rotation matrix (row-major 3×3) of a quaternion; normalises, so a slightly non-unit quaternion still gives a rotation.</summary>
    public static double[] QuaternionToMatrix(double a, double b, double c, double d)
    {
        double n = a * a + b * b + c * c + d * d;
        if (n < 1e-12) return [1, 0, 0, 0, 1, 0, 0, 0, 1];
        double s = 2.0 / n;
        double bs = b * s, cs = c * s, ds = d * s;
        double ab = a * bs, ac = a * cs, ad = a * ds, bb = b * bs, bc = b * cs, bd = b * ds, cc = c * cs, cd = c * ds, dd = d * ds;
        return
        [
            1 - (cc + dd), bc - ad, bd + ac,
            bc + ad, 1 - (bb + dd), cd - ab,
            bd - ac, cd + ab, 1 - (bb + cc),
        ];
    }

    /// <summary>
    /// Sets the qform fields from an affine: voxel sizes are the column norms, qfac = −1 when the direction matrix is
    /// a reflection (its third column is then negated), and the nearest rotation (polar decomposition, which strips
    /// any shear) gives the quaternion with a ≥ 0. Returns false (and leaves the fields alone) when the linear part is
    /// singular or not finite.
    /// </summary>
    public bool SetQForm(double[] affine, int code)
    {
        if (!Geometry.IsFinite(affine)) return false;
        var m = Geometry.Linear(affine);
        var zooms = Geometry.SpacingFromAffine(affine);
        if (zooms.Any(z => z == 0)) return false;
        var r = new double[9];
        for (int row = 0; row < 3; row++) for (int col = 0; col < 3; col++) r[row * 3 + col] = m[row * 3 + col] / zooms[col];
        double qfac = 1;
        if (Geometry.Det3(r) < 0) { qfac = -1; r[2] = -r[2]; r[5] = -r[5]; r[8] = -r[8]; }
        double[] q;
        try { q = Geometry.PolarOrthogonal(r); }
        catch (ArgumentException) { return false; }
        var (a, b, c, d) = MatrixToQuaternion(q);
        QuaternB = b; QuaternC = c; QuaternD = d;
        QOffsetX = affine[3]; QOffsetY = affine[7]; QOffsetZ = affine[11];
        PixDim[0] = qfac;
        for (int i = 0; i < 3; i++) PixDim[i + 1] = zooms[i];
        QFormCode = code;
        return true;
    }

    /// <summary>Sets srow_x/y/z to the first three rows of the affine.</summary>
    public void SetSForm(double[] affine, int code)
    {
        for (int i = 0; i < 12; i++) SRow[i] = affine[i];
        SFormCode = code;
    }

    /// <summary>Unit quaternion (a ≥ 0) of a proper rotation matrix (row-major), by Shepperd's method.</summary>
    public static (double A, double B, double C, double D) MatrixToQuaternion(double[] q)
    {
        double t = q[0] + q[4] + q[8];
        double a, b, c, d;
        if (t > 0)
        {
            double s = Math.Sqrt(t + 1) * 2;
            a = 0.25 * s; b = (q[7] - q[5]) / s; c = (q[2] - q[6]) / s; d = (q[3] - q[1]) / s;
        }
        else if (q[0] > q[4] && q[0] > q[8])
        {
            double s = Math.Sqrt(1 + q[0] - q[4] - q[8]) * 2;
            a = (q[7] - q[5]) / s; b = 0.25 * s; c = (q[1] + q[3]) / s; d = (q[2] + q[6]) / s;
        }
        else if (q[4] > q[8])
        {
            double s = Math.Sqrt(1 + q[4] - q[0] - q[8]) * 2;
            a = (q[2] - q[6]) / s; b = (q[1] + q[3]) / s; c = 0.25 * s; d = (q[5] + q[7]) / s;
        }
        else
        {
            double s = Math.Sqrt(1 + q[8] - q[0] - q[4]) * 2;
            a = (q[3] - q[1]) / s; b = (q[2] + q[6]) / s; c = (q[5] + q[7]) / s; d = 0.25 * s;
        }
        double n = Math.Sqrt(a * a + b * b + c * c + d * d);
        a /= n; b /= n; c /= n; d /= n;
        if (a < 0) { a = -a; b = -b; c = -c; d = -d; }
        return (a, b, c, d);
    }

    // ---------------------------------------------------------------- units

    /// <summary>Spatial unit name from xyzt_units bits 0-2: "m", "mm", "um" or "" (unknown).</summary>
    public string SpatialUnitName => (XyztUnits & 7) switch { 1 => "m", 2 => "mm", 3 => "um", _ => "" };

    /// <summary>Temporal unit name from xyzt_units bits 3-5: "s", "ms", "us", "Hz", "ppm", "rad/s" or "" (unknown).</summary>
    public string TimeUnitName => (XyztUnits & 56) switch { 8 => "s", 16 => "ms", 24 => "us", 32 => "Hz", 40 => "ppm", 48 => "rad/s", _ => "" };

    /// <summary>Factor converting the spatial unit to millimetres (1 for mm and for unknown).</summary>
    public double SpatialUnitToMm => (XyztUnits & 7) switch { 1 => 1000.0, 3 => 0.001, _ => 1.0 };

    public static int SpatialUnitCode(string unit) => unit switch { "m" => 1, "mm" => 2, "um" or "µm" => 3, _ => 0 };

    public static int TimeUnitCode(string unit) => unit switch
    {
        "s" => 8, "ms" => 16, "us" or "µs" => 24, "Hz" => 32, "ppm" => 40, "rad/s" => 48, _ => 0,
    };

    // ---------------------------------------------------------------- helpers

    private static string Ascii(ReadOnlySpan<byte> s)
    {
        int n = s.IndexOf((byte)0);
        if (n < 0) n = s.Length;
        var chars = new char[n];
        for (int i = 0; i < n; i++) chars[i] = s[i] is >= 32 and < 127 ? (char)s[i] : '?';
        return new string(chars).TrimEnd();
    }

    private static string Quote(ReadOnlySpan<byte> s)
    {
        var sb = new StringBuilder("\"");
        foreach (var c in s) sb.Append(c is >= 32 and < 127 ? ((char)c).ToString() : $"\\x{c:X2}");
        return sb.Append('"').ToString();
    }

    private static void PutAscii(Span<byte> dst, string s)
    {
        dst.Clear();
        int n = Math.Min(s.Length, dst.Length - 1);
        for (int i = 0; i < n; i++) dst[i] = s[i] < 128 ? (byte)s[i] : (byte)'?';
    }

    private readonly ref struct FieldReader(ReadOnlySpan<byte> b, bool big)
    {
        private readonly ReadOnlySpan<byte> _b = b;
        public short I16(int o) => big ? BinaryPrimitives.ReadInt16BigEndian(_b[o..]) : BinaryPrimitives.ReadInt16LittleEndian(_b[o..]);
        public int I32(int o) => big ? BinaryPrimitives.ReadInt32BigEndian(_b[o..]) : BinaryPrimitives.ReadInt32LittleEndian(_b[o..]);
        public long I64(int o) => big ? BinaryPrimitives.ReadInt64BigEndian(_b[o..]) : BinaryPrimitives.ReadInt64LittleEndian(_b[o..]);
        public double F32(int o) => big ? BinaryPrimitives.ReadSingleBigEndian(_b[o..]) : BinaryPrimitives.ReadSingleLittleEndian(_b[o..]);
        public double F64(int o) => big ? BinaryPrimitives.ReadDoubleBigEndian(_b[o..]) : BinaryPrimitives.ReadDoubleLittleEndian(_b[o..]);
    }

    private readonly struct FieldWriter(byte[] b)
    {
        public void I16(int o, short v) => BinaryPrimitives.WriteInt16LittleEndian(b.AsSpan(o), v);
        public void I32(int o, int v) => BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(o), v);
        public void I64(int o, long v) => BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(o), v);
        public void F32(int o, double v) => BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(o), (float)v);
        public void F64(int o, double v) => BinaryPrimitives.WriteDoubleLittleEndian(b.AsSpan(o), v);
    }
}
