using SamAdapt.Common;
using SamAdapt.Torch.Serialization;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using SamAdapt.Imaging;
using SamAdapt.Imaging.Datasets;
using SamAdapt.Imaging.Nifti;

namespace SamAdapt.Training.Demo;

/// <summary>One region of the AAL atlas as listed in <c>aal.nii.txt</c>: label value, name, AAL code.</summary>
public sealed record AalRegion(int Id, string Name, int Code);

/// <summary>A demo class: contiguous index (1..K), name, the AAL regions it merges.</summary>
public sealed record DemoClass(int Index, string Name, string Description, IReadOnlyList<int> AalIds);

/// <summary>A slab of consecutive sagittal slices written as one case.</summary>
public sealed record DemoSlab(string CaseId, int FirstSlice, int SliceCount, bool IsTest);

/// <summary>Settings of <see cref="DemoDataset.Build"/>.</summary>
public sealed record DemoOptions
{
    /// <summary>Folder holding ch2.nii.gz, aal.nii.gz and aal.nii.txt (Debian package mricron-data).</summary>
    public string TemplatesDir { get; init; } = DemoDataset.DefaultTemplatesDir;

    /// <summary>In-plane voxel size (mm) of the sagittal slices the volumes are resampled to (trilinear image, nearest
    /// labels); 1 or less keeps the native 1 mm grid (217×181). The default 2 mm gives 109×91 slices.</summary>
    public double Spacing { get; init; } = 2.0;

    /// <summary>Spacing (mm) across the sagittal slices (left–right); the default keeps the native 1 mm, which gives
    /// the model twice the training slices of a 2 mm grid at the same cost per slice; null: <see cref="Spacing"/>.</summary>
    public double? SliceSpacing { get; init; } = 1.0;

    /// <summary>Sagittal slices per slab (the default 8 slices of 1 mm make 8 mm slabs).</summary>
    public int SlabThickness { get; init; } = 8;

    /// <summary>Name of the dataset folder's dataset.json "name".</summary>
    public string Name { get; init; } = "Dataset900_Colin27AAL";
}

/// <summary>What <see cref="DemoDataset.Build"/> wrote.</summary>
public sealed record DemoDatasetInfo(
    string Root, IReadOnlyList<DemoClass> Classes, IReadOnlyList<long> ClassVoxels, IReadOnlyList<DemoSlab> Slabs,
    int[] Shape, double[] Affine)
{
    public IEnumerable<DemoSlab> TrainSlabs => Slabs.Where(s => !s.IsTest);
    public IEnumerable<DemoSlab> TestSlabs => Slabs.Where(s => s.IsTest);
    public string ImagesTs => Path.Combine(Root, "imagesTs");
    public string LabelsTs => Path.Combine(Root, "labelsTs");
    /// <summary>Intensity transform for the T1 template: its uint8 range [0, 255] mapped linearly to [0, 1]. A fixed
    /// window keeps slabs comparable (per-volume statistics would differ from slab to slab).</summary>
    public const string RecommendedIntensity = "ct-window:0,255";

    /// <summary>Voxel axis of every case along which the slabs are cut and the model's stacks run (left → right).</summary>
    public const int SliceAxis = 2;
}

/// <summary>
/// The built-in dataset of <c>samadapt demo</c>: Debian's <c>mricron-data</c> Colin27 T1 template (ch2) with the AAL
/// atlas on the same grid, AAL's 116 regions merged into eight anatomical classes (<see cref="GroupRegions"/>),
/// reoriented to <see cref="CaseOrientation"/> (voxel axes: anterior → posterior, inferior → superior, left → right) and
/// cut into sagittal slabs, of which one per hemisphere is held out (<see cref="ChooseHeldOut"/>), written as an
/// nnU-Net v2 raw dataset:
/// <c>imagesTr/colin27_sNN_0000.nii.gz</c>, <c>labelsTr/colin27_sNN.nii.gz</c>, and the held-out slabs in
/// <c>imagesTs/</c> with their labels in <c>labelsTs/</c> (not part of nnU-Net's format; nnU-Net ignores it).
/// Each slab's affine is the source affine shifted by its first slice, so every voxel keeps its world position.
/// See docs/demo.md for the class table.
/// </summary>
public static class DemoDataset
{
    public const string DefaultTemplatesDir = "/usr/share/mricron/templates";
    public const string ImageFile = "ch2.nii.gz";
    public const string AtlasFile = "aal.nii.gz";
    public const string AtlasNamesFile = "aal.nii.txt";

    /// <summary>Axis code of the written cases: i runs anterior → posterior, j inferior → superior, k left → right, so
    /// slice k is a sagittal image shown with the nose on the left and the top of the head up.</summary>
    public const string CaseOrientation = "PSR";

    /// <summary>Whether the mricron-data templates are installed in <paramref name="templatesDir"/>.</summary>
    public static bool Available(string templatesDir = DefaultTemplatesDir) =>
        new[] { ImageFile, AtlasFile, AtlasNamesFile }.All(f => File.Exists(Path.Combine(templatesDir, f)));

    /// <summary>The class definitions: name, description, and the AAL name pattern that selects its regions.</summary>
    public static IReadOnlyList<(string Name, string Description, Regex Pattern)> ClassRules { get; } =
    [
        ("frontal", "frontal lobe: precentral, frontal gyri, rolandic operculum, SMA, olfactory, rectus",
            new(@"^(Precentral|Frontal_|Rolandic_Oper|Supp_Motor_Area|Olfactory|Rectus)", RegexOptions.CultureInvariant)),
        ("parietal", "parietal lobe: postcentral, superior/inferior parietal, supramarginal, angular, precuneus, paracentral lobule",
            new(@"^(Postcentral|Parietal_|SupraMarginal|Angular|Precuneus|Paracentral_Lobule)", RegexOptions.CultureInvariant)),
        ("temporal", "temporal lobe: Heschl, temporal gyri and poles, parahippocampal gyrus",
            new(@"^(Heschl|Temporal_|ParaHippocampal)", RegexOptions.CultureInvariant)),
        ("occipital", "occipital lobe: calcarine, cuneus, lingual, occipital gyri, fusiform",
            new(@"^(Calcarine|Cuneus|Lingual|Occipital_|Fusiform)", RegexOptions.CultureInvariant)),
        ("insula_cingulate", "insula and cingulate gyrus (anterior, middle, posterior)",
            new(@"^(Insula|Cingulum_)", RegexOptions.CultureInvariant)),
        ("hippocampus_amygdala", "hippocampus and amygdala",
            new(@"^(Hippocampus|Amygdala)_", RegexOptions.CultureInvariant)),
        ("deep_grey", "deep grey nuclei: caudate, putamen, pallidum, thalamus",
            new(@"^(Caudate|Putamen|Pallidum|Thalamus)_", RegexOptions.CultureInvariant)),
        ("cerebellum", "cerebellar hemispheres and vermis",
            new(@"^(Cerebelum_|Vermis_)", RegexOptions.CultureInvariant)),
    ];

    /// <summary>Reads <c>aal.nii.txt</c> ("ID NAME CODE" per line).</summary>
    public static IReadOnlyList<AalRegion> ReadRegions(string path)
    {
        var r = new List<AalRegion>();
        foreach (var line in File.ReadLines(path))
        {
            var parts = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 0) continue;
            if (parts.Length < 2 || !int.TryParse(parts[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var id))
                throw new InvalidDataException($"{path}: unexpected line '{line}' (expected 'ID NAME CODE')");
            int code = parts.Length > 2 && int.TryParse(parts[2], NumberStyles.Integer, CultureInfo.InvariantCulture, out var c) ? c : 0;
            r.Add(new AalRegion(id, parts[1], code));
        }
        return r;
    }

    /// <summary>
    /// Groups AAL regions into the classes of <see cref="ClassRules"/> (classes numbered 1..K in that order). Every
    /// region must match exactly one rule; a region matching none or several is an error, so a changed atlas is
    /// noticed rather than silently mislabelled.
    /// </summary>
    public static IReadOnlyList<DemoClass> GroupRegions(IReadOnlyList<AalRegion> regions)
    {
        var members = ClassRules.Select(_ => new List<int>()).ToArray();
        var problems = new List<string>();
        foreach (var reg in regions)
        {
            var hits = ClassRules.Select((rule, i) => (rule, i)).Where(x => x.rule.Pattern.IsMatch(reg.Name)).ToList();
            if (hits.Count != 1) problems.Add($"{reg.Id} {reg.Name}: matches {(hits.Count == 0 ? "no class" : string.Join(" and ", hits.Select(h => h.rule.Name)))}");
            else members[hits[0].i].Add(reg.Id);
        }
        if (problems.Count > 0) throw new InvalidDataException("AAL regions not grouped exactly once: " + string.Join("; ", problems));
        return ClassRules.Select((rule, i) => new DemoClass(i + 1, rule.Name, rule.Description, members[i])).ToList();
    }

    /// <summary>Slabs of <paramref name="thickness"/> slices over [first, last]: ⌊n / thickness⌋ slabs, the remainder
    /// added to the last one; none held out yet (<see cref="ChooseHeldOut"/>).</summary>
    public static IReadOnlyList<DemoSlab> Slabs(int first, int last, int thickness, string prefix = "colin27_s")
    {
        if (thickness < 1) throw new ArgumentException($"slab thickness must be >= 1, got {thickness}");
        int n = last - first + 1;
        int m = n / thickness;
        if (m < 4) throw new ArgumentException($"{n} slices make {m} slab(s) of {thickness}; at least 4 are needed to hold two out");
        var r = new List<DemoSlab>();
        for (int i = 0; i < m; i++)
        {
            int start = first + i * thickness;
            int count = i == m - 1 ? last - start + 1 : thickness;
            r.Add(new DemoSlab(prefix + i.ToString("00", CultureInfo.InvariantCulture), start, count, false));
        }
        return r;
    }

    /// <summary>
    /// Marks one slab in each half of <paramref name="slabs"/> (each hemisphere, for sagittal slabs) as held out: the one
    /// whose smallest class is largest (<paramref name="classVoxels"/>[slab][class], class 0 = background ignored), so
    /// that every class is measured on a substantial amount of held-out tissue; ties go to the slab nearer the middle of
    /// its half. Slabs with a class missing are only chosen when no slab of the half holds every class.
    /// </summary>
    public static IReadOnlyList<DemoSlab> ChooseHeldOut(IReadOnlyList<DemoSlab> slabs, IReadOnlyList<long[]> classVoxels)
    {
        if (slabs.Count != classVoxels.Count) throw new ArgumentException($"{slabs.Count} slabs but {classVoxels.Count} class counts");
        if (slabs.Count < 4) throw new ArgumentException($"{slabs.Count} slabs; at least 4 are needed to hold two out");
        var result = slabs.ToArray();
        int half = slabs.Count / 2;
        foreach (var (lo, hi) in new[] { (0, half), (half, slabs.Count) })
        {
            double mid = (lo + hi - 1) / 2.0;
            int best = -1; long bestMin = -1; double bestDist = double.MaxValue;
            for (int i = lo; i < hi; i++)
            {
                long min = classVoxels[i].Skip(1).DefaultIfEmpty(0).Min();
                double dist = Math.Abs(i - mid);
                if (min > bestMin || (min == bestMin && dist < bestDist)) { best = i; bestMin = min; bestDist = dist; }
            }
            result[best] = result[best] with { IsTest = true };
        }
        return result;
    }

    /// <summary>Builds the dataset into <paramref name="outDir"/> (created; existing files are overwritten).</summary>
    public static DemoDatasetInfo Build(string outDir, DemoOptions? options = null)
    {
        var o = options ?? new DemoOptions();
        if (!Available(o.TemplatesDir))
            throw new FileNotFoundException($"the demo needs {ImageFile}, {AtlasFile} and {AtlasNamesFile} in {o.TemplatesDir} " +
                "(Debian/Ubuntu: sudo apt-get install mricron-data)");
        var classes = GroupRegions(ReadRegions(Path.Combine(o.TemplatesDir, AtlasNamesFile)));
        var image = VolumeIO.Read(Path.Combine(o.TemplatesDir, ImageFile));
        var atlas = VolumeIO.Read(Path.Combine(o.TemplatesDir, AtlasFile));
        if (!image.Shape.Take(3).SequenceEqual(atlas.Shape.Take(3)) || !SameAffine(image.Affine, atlas.Affine))
            atlas = Resampler.Like(atlas, image, Interpolation.Nearest);

        // AAL ids → class indices, on the native grid, then resample
        int maxId = classes.SelectMany(c => c.AalIds).Max();
        var lut = new byte[maxId + 1];
        foreach (var c in classes) foreach (var id in c.AalIds) lut[id] = (byte)c.Index;
        long n = atlas.VoxelCount;
        var lab = new byte[n];
        for (long i = 0; i < n; i++)
        {
            int v = (int)Math.Round(atlas.Get(i));
            lab[i] = v > 0 && v <= maxId ? lut[v] : (byte)0;
        }
        var label = atlas.With((int[])atlas.Shape.Clone(), VoxelType.UInt8, lab, (double[])image.Affine.Clone(), keepScaling: false);
        label.IntentCode = Volume.IntentLabel;
        var img = Orientation.Reorient(image.ConvertTo(VoxelType.Float32), CaseOrientation);
        label = Orientation.Reorient(label, CaseOrientation);
        double sliceSpacing = o.SliceSpacing ?? o.Spacing;
        if (o.Spacing > 1 || sliceSpacing > 1)
        {
            double[] spacing = [Math.Max(1, o.Spacing), Math.Max(1, o.Spacing), Math.Max(1, sliceSpacing)];
            img = Resampler.ToSpacing(img, spacing, Interpolation.Linear);
            label = Resampler.ToSpacing(label, spacing, Interpolation.Nearest);
        }
        label.IntentCode = Volume.IntentLabel;
        var shape = label.Shape.Take(3).ToArray();
        const int axis = DemoDatasetInfo.SliceAxis;
        var classVoxels = new long[classes.Count + 1];
        var ldata = (byte[])label.Data;
        foreach (var b in ldata) classVoxels[b]++;

        // left–right range holding labels, and each slice's class counts
        long plane = (long)shape[0] * shape[1];
        var perSlice = new long[shape[axis]][];
        int lo = int.MaxValue, hi = -1;
        for (int k = 0; k < shape[axis]; k++)
        {
            var counts = perSlice[k] = new long[classes.Count + 1];
            for (long i = k * plane; i < (k + 1) * plane; i++) counts[ldata[i]]++;
            if (counts.Skip(1).Any(c => c > 0)) { lo = Math.Min(lo, k); hi = k; }
        }
        if (hi < 0) throw new InvalidDataException("the atlas holds no labelled voxel");
        var cut = Slabs(lo, hi, o.SlabThickness);
        var slabCounts = cut.Select(sl => Enumerable.Range(0, classes.Count + 1)
            .Select(c => Enumerable.Range(sl.FirstSlice, sl.SliceCount).Sum(k => perSlice[k][c])).ToArray()).ToList();
        var slabs = ChooseHeldOut(cut, slabCounts);

        Directory.CreateDirectory(outDir);
        foreach (var d in new[] { "imagesTr", "labelsTr", "imagesTs", "labelsTs" })
        {
            var p = Path.Combine(outDir, d);
            if (Directory.Exists(p)) foreach (var f in Directory.EnumerateFiles(p, "*.nii.gz")) File.Delete(f);
            Directory.CreateDirectory(p);
        }
        foreach (var slab in slabs)
        {
            string imgDir = slab.IsTest ? "imagesTs" : "imagesTr", lblDir = slab.IsTest ? "labelsTs" : "labelsTr";
            NiftiWriter.Write(Crop(img, axis, slab.FirstSlice, slab.SliceCount), Path.Combine(outDir, imgDir, CaseIds.ImageFileName(slab.CaseId, 0)));
            var l = Crop(label, axis, slab.FirstSlice, slab.SliceCount);
            l.IntentCode = Volume.IntentLabel;
            NiftiWriter.Write(l, Path.Combine(outDir, lblDir, slab.CaseId + ".nii.gz"));
        }
        WriteDatasetJson(outDir, o, classes, classVoxels, slabs);
        return new DemoDatasetInfo(outDir, classes, classVoxels, slabs, shape, label.Affine);
    }

    /// <summary>Slices [first, first + count) along <paramref name="axis"/>, with the affine's origin moved to the first slice.</summary>
    public static Volume Crop(Volume v, int axis, int first, int count)
    {
        var s = v.Shape.Take(3).ToArray();
        if (first < 0 || count < 1 || first + count > s[axis]) throw new ArgumentOutOfRangeException(nameof(first), $"slices [{first}, {first + count}) outside [0, {s[axis]})");
        var ns = (int[])s.Clone();
        ns[axis] = count;
        int bpv = Volume.BytesPerVoxel(v.Type);
        var data = Volume.Allocate(v.Type, (long)ns[0] * ns[1] * ns[2]);
        for (int k = 0; k < ns[2]; k++)
            for (int j = 0; j < ns[1]; j++)
            {
                int sk = axis == 2 ? k + first : k, sj = axis == 1 ? j + first : j, si = axis == 0 ? first : 0;
                long src = si + (long)s[0] * (sj + (long)s[1] * sk), dst = (long)ns[0] * (j + (long)ns[1] * k);
                Buffer.BlockCopy(v.Data, (int)(src * bpv), data, (int)(dst * bpv), ns[0] * bpv);
            }
        var a = (double[])v.Affine.Clone();
        for (int r = 0; r < 3; r++) a[r * 4 + 3] += v.Affine[r * 4 + axis] * first;
        var result = v.With(ns, v.Type, data, a);
        result.SFormCode = Math.Max(v.SFormCode, 1);
        return result;
    }

    private static bool SameAffine(double[] a, double[] b) => a.Zip(b).All(p => Math.Abs(p.First - p.Second) <= 1e-3);

    private static void WriteDatasetJson(string root, DemoOptions o, IReadOnlyList<DemoClass> classes, long[] voxels, IReadOnlyList<DemoSlab> slabs)
    {
        var labels = new Dictionary<string, int> { ["background"] = 0 };
        foreach (var c in classes) labels.Add(c.Name, c.Index);
        var dto = new DemoDatasetJsonDto(
            Name: o.Name,
            Description: "Colin27 T1 template (mricron-data ch2.nii.gz) with AAL regions (aal.nii.gz) merged into " +
                $"{classes.Count} classes, reoriented to {CaseOrientation} and cut into sagittal slabs of {o.SlabThickness} slices; one slab per " +
                "hemisphere held out (imagesTs/, labels in labelsTs/). Built by samadapt demo; see docs/demo.md.",
            ChannelNames: new() { ["0"] = "T1" },
            Labels: labels,
            NumTraining: slabs.Count(s => !s.IsTest),
            FileEnding: ".nii.gz",
            SamadaptDemo: new DemoSectionDto(
                SpacingMm: Math.Max(1, o.Spacing),
                SliceSpacingMm: Math.Max(1, o.SliceSpacing ?? o.Spacing),
                SliceAxis: DemoDatasetInfo.SliceAxis,
                Orientation: CaseOrientation,
                Classes: classes.ToDictionary(c => c.Name, c => new DemoClassDto(c.Index, voxels[c.Index], c.AalIds)),
                Slabs: [.. slabs.Select(s => new DemoSlabDto(s.CaseId, s.FirstSlice, s.SliceCount, s.IsTest))]));
        var bytes = JsonSerializer.SerializeToUtf8Bytes(dto, DemoDatasetJsonContext.Default.DemoDatasetJsonDto);
        AtomicFile.Write(Path.Combine(root, "dataset.json"), st => st.Write(bytes));
    }
}
