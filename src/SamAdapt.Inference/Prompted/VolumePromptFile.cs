using System.Text.Json;

namespace SamAdapt.Inference.Prompted;

/// <summary>A point prompt in voxel indices (i, j, k) of the input volume; label 1 positive, 0 negative.</summary>
public readonly record struct VoxelPoint(double I, double J, double K, int Label);

/// <summary>A box in voxel indices: i0..i1 × j0..j1 on every slice k0..k1 it covers (a 2D box has k0 = k1).</summary>
public readonly record struct VoxelBox(double I0, double J0, double K0, double I1, double J1, double K1);

/// <summary>The prompts of one class: its label value in the output, its points and its boxes.</summary>
public sealed record ClassPrompts(int Value, IReadOnlyList<VoxelPoint> Points, IReadOnlyList<VoxelBox> Boxes);

/// <summary>
/// The prompt file of <c>samadapt predict --prompts</c> (docs/methods/msa.md, "Prompt file"):
/// <code>{"coordinates": "voxel" | "world", "classes": [{"value": 1, "points": [[x, y, z, label], …], "boxes": [[x0, y0, z0, x1, y1, z1], …]}]}</code>
/// Voxel coordinates are indices (i, j, k) of the input volume; world coordinates are millimetres in the volume's RAS frame (mapped
/// through the inverse affine). A point prompts the slice it lies on (k rounded); a 3D box becomes the 2D box (i0, j0, i1, j1) on every
/// slice k0..k1; "box" with 4 numbers [i0, j0, i1, j1] is a box on slice 0 (2D images). Label defaults to 1.
/// </summary>
public static class VolumePromptFile
{
    public static IReadOnlyList<ClassPrompts> Read(string path, double[] affine)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"--prompts: no such file: {path}");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(File.ReadAllText(path)); }
        catch (JsonException e) { throw new InvalidDataException($"--prompts {path}: not valid JSON ({e.Message})", e); }
        using (doc) return Parse(doc.RootElement, affine, path);
    }

    public static IReadOnlyList<ClassPrompts> Parse(JsonElement root, double[] affine, string source)
    {
        InvalidDataException Bad(string field, string expected, string found) => new($"--prompts {source}: field {field}: expected {expected}, found {found}");
        if (root.ValueKind != JsonValueKind.Object) throw Bad("(root)", "an object", root.ValueKind.ToString());
        string frame = root.TryGetProperty("coordinates", out var f) ? f.GetString() ?? "" : "voxel";
        if (frame is not ("voxel" or "world")) throw Bad("coordinates", "\"voxel\" or \"world\"", $"\"{frame}\"");
        var inverse = frame == "world" ? Invert(affine) : null;
        (double, double, double) ToVoxel(double x, double y, double z) => inverse is null ? (x, y, z) : Apply(inverse, x, y, z);
        if (!root.TryGetProperty("classes", out var classes) || classes.ValueKind != JsonValueKind.Array || classes.GetArrayLength() == 0)
            throw Bad("classes", "a non-empty array", root.TryGetProperty("classes", out var c0) ? c0.ValueKind.ToString() : "nothing");
        var result = new List<ClassPrompts>();
        int ci = 0;
        foreach (var c in classes.EnumerateArray())
        {
            string at = $"classes[{ci++}]";
            if (!c.TryGetProperty("value", out var v) || v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int value) || value is < 1 or > short.MaxValue)
                throw Bad($"{at}.value", $"a label value 1..{short.MaxValue}", c.TryGetProperty("value", out var vv) ? vv.GetRawText() : "nothing");
            var points = new List<VoxelPoint>();
            if (c.TryGetProperty("points", out var ps))
            {
                int pi = 0;
                foreach (var p in ps.EnumerateArray())
                {
                    var n = Numbers(p);
                    if (n is null || n.Length is not (3 or 4)) throw Bad($"{at}.points[{pi}]", "[x, y, z] or [x, y, z, label]", p.GetRawText());
                    int label = n.Length == 4 ? (int)n[3] : 1;
                    if (label is not (0 or 1)) throw Bad($"{at}.points[{pi}] label", "1 (positive) or 0 (negative)", n[3].ToString(System.Globalization.CultureInfo.InvariantCulture));
                    var (i, j, k) = ToVoxel(n[0], n[1], n[2]);
                    points.Add(new VoxelPoint(i, j, k, label));
                    pi++;
                }
            }
            var boxes = new List<VoxelBox>();
            if (c.TryGetProperty("boxes", out var bs))
            {
                int bi = 0;
                foreach (var b in bs.EnumerateArray())
                {
                    var n = Numbers(b);
                    if (n is null || n.Length is not (4 or 6)) throw Bad($"{at}.boxes[{bi}]", "[x0, y0, z0, x1, y1, z1] or [x0, y0, x1, y1]", b.GetRawText());
                    var (i0, j0, k0) = n.Length == 6 ? ToVoxel(n[0], n[1], n[2]) : ToVoxel(n[0], n[1], 0);
                    var (i1, j1, k1) = n.Length == 6 ? ToVoxel(n[3], n[4], n[5]) : ToVoxel(n[2], n[3], 0);
                    boxes.Add(new VoxelBox(Math.Min(i0, i1), Math.Min(j0, j1), Math.Min(k0, k1), Math.Max(i0, i1), Math.Max(j0, j1), Math.Max(k0, k1)));
                    bi++;
                }
            }
            if (points.Count == 0 && boxes.Count == 0) throw Bad(at, "at least one point or box", "none");
            result.Add(new ClassPrompts(value, points, boxes));
        }
        return result;
    }

    private static double[]? Numbers(JsonElement e) =>
        e.ValueKind == JsonValueKind.Array && e.EnumerateArray().All(x => x.ValueKind == JsonValueKind.Number)
            ? e.EnumerateArray().Select(x => x.GetDouble()).ToArray() : null;

    /// <summary>Inverse of a 4×4 row-major affine (voxel → world), as a 3×4 row-major world → voxel map.</summary>
    public static double[] Invert(double[] a)
    {
        double m00 = a[0], m01 = a[1], m02 = a[2], m10 = a[4], m11 = a[5], m12 = a[6], m20 = a[8], m21 = a[9], m22 = a[10];
        double det = m00 * (m11 * m22 - m12 * m21) - m01 * (m10 * m22 - m12 * m20) + m02 * (m10 * m21 - m11 * m20);
        if (Math.Abs(det) < 1e-12) throw new InvalidDataException("the volume's affine is singular; world coordinates cannot be mapped to voxels");
        double[] r =
        [
            (m11 * m22 - m12 * m21) / det, (m02 * m21 - m01 * m22) / det, (m01 * m12 - m02 * m11) / det,
            (m12 * m20 - m10 * m22) / det, (m00 * m22 - m02 * m20) / det, (m02 * m10 - m00 * m12) / det,
            (m10 * m21 - m11 * m20) / det, (m01 * m20 - m00 * m21) / det, (m00 * m11 - m01 * m10) / det,
        ];
        double tx = a[3], ty = a[7], tz = a[11];
        return
        [
            r[0], r[1], r[2], -(r[0] * tx + r[1] * ty + r[2] * tz),
            r[3], r[4], r[5], -(r[3] * tx + r[4] * ty + r[5] * tz),
            r[6], r[7], r[8], -(r[6] * tx + r[7] * ty + r[8] * tz),
        ];
    }

    private static (double, double, double) Apply(double[] m, double x, double y, double z) =>
        (m[0] * x + m[1] * y + m[2] * z + m[3], m[4] * x + m[5] * y + m[6] * z + m[7], m[8] * x + m[9] * y + m[10] * z + m[11]);
}
