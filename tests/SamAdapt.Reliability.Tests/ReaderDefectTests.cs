using SamAdapt.Common;
using System.Buffers.Binary;
using System.Text;
using SamAdapt.Cli;
using SamAdapt.Imaging;
using SamAdapt.Imaging.Dicom;
using SamAdapt.Reliability.Tests.Fuzz;
using SamAdapt.Tests;
using SamAdapt.Torch.Serialization;

namespace SamAdapt.Reliability.Tests;

/// <summary>The reader defects of the reliability issue, each as a class: DICOM files that made GDCM abort the process,
/// silent wrong values, and the output-set / temporary-file rules of <see cref="AtomicFile"/>.</summary>
public class ReaderDefectTests : IDisposable
{
    private readonly TempDir _tmp = TestPaths.NewTempDir();
    public void Dispose() => _tmp.Dispose();

    private static byte[] CtSmall() => File.ReadAllBytes(Path.Combine(Corpus.Pydicom, "CT_small.dcm"));

    private (int Code, string Err) Info(byte[] bytes, string name = "x.dcm")
    {
        var p = _tmp.File(name);
        File.WriteAllBytes(p, bytes);
        var e = new StringWriter();
        int code = CliApp.Run(["info", p], new StringWriter(), e);
        return (code, e.ToString());
    }

    [Fact]
    public void Dicom_truncated_at_every_offset_is_refused_in_process_never_an_abort()
    {
        var ct = CtSmall();
        // 64 offsets over the whole file, plus one byte short: GDCM aborted on 12 of 54 such cuts before the preflight
        var offsets = Enumerable.Range(0, 64).Select(i => (int)((long)ct.Length * i / 64)).Append(ct.Length - 1).Distinct();
        foreach (var at in offsets)
        {
            var (code, err) = Info(ct[..at]);
            Assert.True(code == 2, $"cut at {at}: exit {code}\n{err}");
            Assert.StartsWith("samadapt: error:", err);
        }
        Assert.Equal(0, Info(ct).Code);
    }

    /// <summary>The value of the first element with this tag (explicit VR little endian, short form).</summary>
    private static byte[] SetShortValue(byte[] file, ushort g, ushort e, byte[] value)
    {
        Span<byte> tag = [(byte)g, (byte)(g >> 8), (byte)e, (byte)(e >> 8)];
        int at = file.AsSpan().IndexOf(tag);
        Assert.True(at > 0, $"({g:X4},{e:X4}) not found");
        int len = BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(at + 6));
        var r = new List<byte>(file[..(at + 6)]);
        r.AddRange(BitConverter.GetBytes((ushort)value.Length));
        r.AddRange(value);
        r.AddRange(file[(at + 8 + len)..]);
        return [.. r];
    }

    [Theory]
    [InlineData(0x0028, 0x0100, "12", "BitsAllocated")]
    [InlineData(0x0028, 0x0100, "32", "PixelData")]
    [InlineData(0x0020, 0x0032, "abc\\def\\ghi", "ImagePositionPatient")]
    [InlineData(0x0028, 0x1053, "NaN", "RescaleSlope")]
    [InlineData(0x0028, 0x0010, "65535", "PixelData")]
    public void Dicom_inconsistent_fields_are_refused_naming_the_field(ushort g, ushort e, string value, string field)
    {
        var ct = CtSmall();
        byte[] v = g == 0x0028 && e is 0x0100 or 0x0010
            ? BitConverter.GetBytes(ushort.Parse(value, System.Globalization.CultureInfo.InvariantCulture))
            : Encoding.ASCII.GetBytes(value.Length % 2 == 1 ? value + " " : value);
        var (code, err) = Info(SetShortValue(ct, g, e, v));
        Assert.Equal(2, code);
        Assert.Contains(field, err);
        Assert.DoesNotContain("   at ", err);
    }

    [Fact]
    public void Dicom_preflight_passes_the_real_test_files_it_should()
    {
        foreach (var name in new[] { "CT_small.dcm", "MR_small.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm", "MR_small_RLE.dcm", "JPEG-lossy.dcm", "image_dfl.dcm" })
            Assert.Equal(DicomPreflight.Verdict.Ok, DicomPreflight.Check(Path.Combine(Corpus.Pydicom, name)).Verdict);
        Assert.Equal(DicomPreflight.Verdict.NotDicom, DicomPreflight.Check(Path.Combine(Corpus.Mricron, "aal.nii.lut")).Verdict);
        // rtdose_1frame.dcm (one frame, 15 grid offsets) made GDCM abort: refused, the field named
        var r = DicomPreflight.Check(Path.Combine(Corpus.Pydicom, "rtdose_1frame.dcm"));
        Assert.Equal(DicomPreflight.Verdict.Invalid, r.Verdict);
        Assert.Contains("GridFrameOffsetVector", r.Problem);
    }

    [Fact]
    public void Singular_sform_and_truncated_images_are_errors_not_silent_values()
    {
        var nii = Corpus.Gunzip(File.ReadAllBytes(Path.Combine(Corpus.Mricron, "JHU-WhiteMatter-labels-2mm.nii.gz")));
        for (int i = 0; i < 12; i++) BinaryPrimitives.WriteSingleLittleEndian(nii.AsSpan(280 + 4 * i), 0);
        BinaryPrimitives.WriteInt16LittleEndian(nii.AsSpan(252), 0); // no qform to fall back on
        BinaryPrimitives.WriteInt16LittleEndian(nii.AsSpan(254), 1);
        var (code, err) = Info(nii, "zero_sform.nii");
        Assert.Equal(2, code);
        Assert.Contains("sform", err);

        var bmp = Corpus.Bmp(24, 17);
        (code, err) = Info(bmp[..33], "short.bmp");
        Assert.Equal(2, code);
        (code, err) = Info(bmp[..(bmp.Length - 40)], "cut.bmp");
        Assert.Equal(2, code);
        Assert.Contains("truncated BMP", err);
        Assert.Equal(0, Info(bmp, "ok.bmp").Code);

        // a .nii.gz cut inside its gzip trailer decodes without a deflate error: the trailer length catches it
        var gz = File.ReadAllBytes(Path.Combine(Corpus.Mricron, "JHU-WhiteMatter-labels-2mm.nii.gz"));
        (code, err) = Info(gz[..^1], "cut.nii.gz");
        Assert.Equal(2, code);
        Assert.Contains("ISIZE", err);
    }

    /// <summary>BGZF (bgzip): the data in gzip members of at most <paramref name="blockBytes"/> bytes, each with its
    /// size in a "BC" extra subfield, then bgzip's empty end-of-file block.</summary>
    private static byte[] Bgzf(byte[] data, int blockBytes)
    {
        var file = new MemoryStream();
        void Block(ReadOnlySpan<byte> chunk)
        {
            var deflated = new MemoryStream();
            using (var z = new System.IO.Compression.DeflateStream(deflated, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
                z.Write(chunk);
            // .NET writes nothing for empty input; a deflate stream needs at least its final empty block (bgzip's EOF block)
            var cdata = chunk.IsEmpty ? new byte[] { 3, 0 } : deflated.ToArray();
            var header = new byte[] { 0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0xff, 6, 0, (byte)'B', (byte)'C', 2, 0, 0, 0 };
            BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(16), (ushort)(header.Length + cdata.Length + 8 - 1));
            file.Write(header);
            file.Write(cdata);
            Span<byte> trailer = stackalloc byte[8];
            BinaryPrimitives.WriteUInt32LittleEndian(trailer, Crc32.Compute(chunk));
            BinaryPrimitives.WriteUInt32LittleEndian(trailer[4..], (uint)chunk.Length);
            file.Write(trailer);
        }
        for (int o = 0; o < data.Length; o += blockBytes) Block(data.AsSpan(o, Math.Min(blockBytes, data.Length - o)));
        Block([]);
        return file.ToArray();
    }

    [Fact]
    public void A_bgzip_compressed_nifti_reads_and_a_cut_one_is_refused()
    {
        var gz = File.ReadAllBytes(Path.Combine(Corpus.Mricron, "JHU-WhiteMatter-labels-2mm.nii.gz"));
        byte[] raw;
        using (var z = new System.IO.Compression.GZipStream(new MemoryStream(gz), System.IO.Compression.CompressionMode.Decompress))
        using (var m = new MemoryStream()) { z.CopyTo(m); raw = m.ToArray(); }
        var bgzf = Bgzf(raw, 20_000);
        Assert.True(bgzf.Length > 3 * 26, "several blocks");
        var (code, err) = Info(bgzf, "blocks.nii.gz");
        Assert.True(code == 0, err);
        var expected = VolumeIO.Read(WriteTemp(gz, "plain.nii.gz"));
        var actual = VolumeIO.Read(WriteTemp(bgzf, "blocks2.nii.gz"));
        Assert.Equal(expected.Shape, actual.Shape);
        Assert.Equal(expected.Affine, actual.Affine);
        for (long i = 0; i < expected.VoxelCount; i += 97) Assert.Equal(expected.Get(i), actual.Get(i));
        (code, err) = Info(bgzf[..^1], "blocks_cut.nii.gz");
        Assert.Equal(2, code);
        Assert.Contains("BGZF", err);
        (code, err) = Info(bgzf[..^30], "blocks_cut_more.nii.gz"); // the end-of-file block is gone and the last data block cut
        Assert.Equal(2, code);
    }

    private string WriteTemp(byte[] bytes, string name)
    {
        var p = _tmp.File(name);
        File.WriteAllBytes(p, bytes);
        return p;
    }

    [Fact]
    public void Dataset_check_finds_truncated_compressed_image_data_that_a_header_read_misses()
    {
        var ds = Directory.CreateDirectory(_tmp.File("ds")).FullName;
        Directory.CreateDirectory(Path.Combine(ds, "imagesTr"));
        Directory.CreateDirectory(Path.Combine(ds, "labelsTr"));
        File.WriteAllText(Path.Combine(ds, "dataset.json"), Corpus.DatasetJson);
        var atlas = File.ReadAllBytes(Path.Combine(Corpus.Mricron, "JHU-WhiteMatter-labels-2mm.nii.gz"));
        File.WriteAllBytes(Path.Combine(ds, "labelsTr", "case.nii.gz"), atlas);
        File.WriteAllBytes(Path.Combine(ds, "imagesTr", "case_0000.nii.gz"), atlas);
        var err = new StringWriter();
        Assert.True(CliApp.Run(["dataset", "check", ds], new StringWriter(), err) == 0, err.ToString());

        File.WriteAllBytes(Path.Combine(ds, "imagesTr", "case_0000.nii.gz"), atlas[..(atlas.Length / 2)]); // the header survives
        var output = new StringWriter();
        err = new StringWriter();
        Assert.Equal(2, CliApp.Run(["dataset", "check", ds], output, err));
        Assert.Contains("truncated", output.ToString() + err);
    }

    [Fact]
    public void Label_values_that_do_not_fit_the_output_type_are_errors_not_wrapped()
    {
        var v = new Volume([2, 1, 1], VoxelType.Int32, new[] { 70000, -1 }, [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]);
        Assert.Throws<InvalidDataException>(() => v.ConvertTo(VoxelType.UInt16));
        Assert.Throws<InvalidDataException>(() => v.ConvertTo(VoxelType.UInt8));
        Assert.Throws<InvalidDataException>(() => v.ToLabelMap());
    }

    [Fact]
    public void An_output_set_appears_all_or_none_and_stale_temporary_files_are_cleaned_on_the_next_write()
    {
        string a = _tmp.File("a.json"), b = _tmp.File("b.csv");
        Assert.Throws<IOException>(() =>
        {
            using var set = AtomicFile.BeginSet();
            AtomicFile.Write(a, s => s.Write("{}"u8));
            AtomicFile.Write(b, _ => throw new IOException("No space left on device"));
            set.Commit();
        });
        Assert.False(File.Exists(a), "the first file of a failed set appeared");
        Assert.False(File.Exists(b));
        Assert.Empty(Directory.GetFiles(_tmp.Path, "*.tmp"));

        using (var set = AtomicFile.BeginSet())
        {
            AtomicFile.Write(a, s => s.Write("{}"u8));
            Assert.False(File.Exists(a), "a file of an uncommitted set is visible");
            AtomicFile.Write(b, s => s.Write("x"u8));
            set.Commit();
        }
        Assert.True(File.Exists(a) && File.Exists(b));

        // a temporary file of a killed writer (its PID is gone) is removed by the next write of the same target;
        // one of a live process (this one) is kept
        string stale = _tmp.File($".a.json.{int.MaxValue - 7}.{Guid.NewGuid():N}.tmp");
        string live = _tmp.File($".a.json.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        File.WriteAllText(stale, "partial");
        File.WriteAllText(live, "in progress");
        AtomicFile.Write(a, s => s.Write("{\"v\": 2}"u8));
        Assert.False(File.Exists(stale));
        Assert.True(File.Exists(live));
        Assert.Equal("{\"v\": 2}", File.ReadAllText(a));
    }

    [Fact]
    public void A_disk_error_names_the_output_not_the_temporary_file()
    {
        var target = _tmp.File("report.json");
        var e = Assert.Throws<IOException>(() => AtomicFile.Write(target, s => throw new IOException($"No space left on device : '{((FileStream)s).Name}'")));
        Assert.Contains("report.json", e.Message);
        Assert.DoesNotContain(".tmp", e.Message);
    }
}
