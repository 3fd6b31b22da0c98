namespace SamAdapt.Imaging.Dicom;

/// <summary>
/// Slice ordering and the voxel → RAS affine of a stack of DICOM slices (pure geometry, no I/O).
/// See <see cref="DicomSeriesReader"/> for the conventions.
/// </summary>
internal static class DicomGeometry
{
    public sealed record Slice(string Path, double[]? Position, double[]? Orientation, double[]? PixelSpacing);

    /// <summary><paramref name="Order"/>[k] is the index (into the input list) of the slice at voxel k.</summary>
    public sealed record Result(int[] Order, double[] Affine, double SliceSpacing, bool Tilted);

    public static Result Compute(IReadOnlyList<Slice> slices, double? singleSliceSpacing, DicomReadOptions options, string series)
    {
        var first = slices[0];
        if (first.Orientation is null)
            throw new DicomSeriesException($"series {series}: ImageOrientationPatient (0020,0037) is missing or malformed in {first.Path}; cannot place the image in space");
        if (first.PixelSpacing is null)
            throw new DicomSeriesException($"series {series}: PixelSpacing (0028,0030) is missing or malformed in {first.Path}");
        foreach (var s in slices)
            if (s.Position is null)
                throw new DicomSeriesException($"series {series}: ImagePositionPatient (0020,0032) is missing or malformed in {s.Path}");

        var o = first.Orientation;
        double[] r = [o[0], o[1], o[2]], c = [o[3], o[4], o[5]];
        double nr = Norm(r), nc = Norm(c);
        if (Math.Abs(nr - 1) > 1e-2 || Math.Abs(nc - 1) > 1e-2 || Math.Abs(Dot(r, c)) > 1e-2)
            throw new DicomSeriesException($"series {series}: ImageOrientationPatient [{string.Join(", ", o)}] is not two orthogonal unit vectors ({first.Path})");
        r = Scale(r, 1 / nr);
        c = Scale(c, 1 / nc);
        var n = Cross(r, c);
        n = Scale(n, 1 / Norm(n));
        double rowSpacing = first.PixelSpacing[0], colSpacing = first.PixelSpacing[1];
        if (rowSpacing <= 0 || colSpacing <= 0)
            throw new DicomSeriesException($"series {series}: PixelSpacing [{rowSpacing}, {colSpacing}] is not positive ({first.Path})");

        var proj = slices.Select(s => Dot(s.Position!, n)).ToArray();
        var order = Enumerable.Range(0, slices.Count).OrderBy(i => proj[i]).ThenBy(i => slices[i].Path, StringComparer.Ordinal).ToArray();
        int count = order.Length;
        double[] step;
        double spacing;
        bool tilted = false;
        if (count == 1)
        {
            spacing = singleSliceSpacing is > 0 ? singleSliceSpacing.Value : 1.0;
            step = Scale(n, spacing);
        }
        else
        {
            var p0 = slices[order[0]].Position!;
            var pl = slices[order[^1]].Position!;
            spacing = (proj[order[^1]] - proj[order[0]]) / (count - 1);
            var minGapAllowed = Math.Max(1e-4, 1e-3 * Math.Min(rowSpacing, colSpacing));
            for (int k = 1; k < count; k++)
            {
                var gap = proj[order[k]] - proj[order[k - 1]];
                if (gap < minGapAllowed)
                    throw new DicomSeriesException(
                        $"series {series}: {slices[order[k - 1]].Path} and {slices[order[k]].Path} lie at the same position " +
                        $"({gap:0.######} mm apart along the slice normal); the series holds several volumes (time points, " +
                        "echoes or repeated acquisitions) or duplicate files");
            }
            var tol = Math.Max(1e-3, options.SliceSpacingTolerance * spacing);
            var gaps = new List<string>();
            bool uniform = true;
            for (int k = 1; k < count; k++)
            {
                var gap = proj[order[k]] - proj[order[k - 1]];
                if (Math.Abs(gap - spacing) > tol) uniform = false;
            }
            if (!uniform)
            {
                for (int k = 1; k < count; k++)
                {
                    var gap = proj[order[k]] - proj[order[k - 1]];
                    if (Math.Abs(gap - spacing) > tol)
                        gaps.Add($"{gap:0.###} mm between {Path.GetFileName(slices[order[k - 1]].Path)} and {Path.GetFileName(slices[order[k]].Path)}");
                }
                throw new DicomSeriesException(
                    $"series {series}: non-uniform slice spacing (mean {spacing:0.###} mm; " +
                    $"{string.Join("; ", gaps.Take(5))}{(gaps.Count > 5 ? $"; … {gaps.Count - 5} more" : "")}). " +
                    "Slices are missing or the series mixes stacks; a single affine cannot describe it");
            }

            // In-plane drift of slice positions = gantry tilt (IPP deltas not parallel to the normal).
            step = Scale(Sub(pl, p0), 1.0 / (count - 1));
            var inPlaneTol = options.InPlaneTolerance * Math.Min(rowSpacing, colSpacing);
            double maxDrift = 0;
            for (int k = 1; k < count; k++)
            {
                var d = Sub(slices[order[k]].Position!, p0);
                var perp = Sub(d, Scale(n, Dot(d, n)));
                maxDrift = Math.Max(maxDrift, Norm(perp));
            }
            if (maxDrift > inPlaneTol)
            {
                var stepPerp = Sub(step, Scale(n, Dot(step, n)));
                var angle = Math.Atan2(Norm(stepPerp), Dot(step, n)) * 180 / Math.PI;
                if (!options.AllowGantryTilt)
                    throw new DicomSeriesException(
                        $"series {series}: gantry tilt — slice positions drift {maxDrift:0.###} mm in-plane across the stack " +
                        $"(slice direction {angle:0.##}° off the slice normal). The voxel grid is sheared; " +
                        "re-read with gantry tilt allowed to get an exact sheared affine, or resample the series (e.g. dcm2niix)");
                tilted = true;
                // Sheared grid: every slice must lie on p0 + k·step.
                for (int k = 1; k < count; k++)
                {
                    var expected = Add(p0, Scale(step, k));
                    var dev = Norm(Sub(slices[order[k]].Position!, expected));
                    if (dev > Math.Max(inPlaneTol, tol))
                        throw new DicomSeriesException(
                            $"series {series}: slice positions do not lie on a straight line ({Path.GetFileName(slices[order[k]].Path)} is " +
                            $"{dev:0.###} mm off); a single affine cannot describe this series");
                }
            }
            else
            {
                step = Scale(n, spacing);
            }
        }

        var origin = slices[order[0]].Position!;
        // LPS columns: i along r (column spacing), j along c (row spacing), k along step.
        double[] a =
        [
            r[0] * colSpacing, c[0] * rowSpacing, step[0], origin[0],
            r[1] * colSpacing, c[1] * rowSpacing, step[1], origin[1],
            r[2] * colSpacing, c[2] * rowSpacing, step[2], origin[2],
            0, 0, 0, 1,
        ];
        // LPS → RAS: negate the x and y rows.
        for (int col = 0; col < 4; col++)
        {
            a[col] = -a[col] + 0.0;
            a[4 + col] = -a[4 + col] + 0.0;
        }
        return new Result(order, a, spacing, tilted);
    }

    private static double Dot(double[] a, double[] b) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
    private static double Norm(double[] a) => Math.Sqrt(Dot(a, a));
    private static double[] Scale(double[] a, double s) => [a[0] * s, a[1] * s, a[2] * s];
    private static double[] Sub(double[] a, double[] b) => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
    private static double[] Add(double[] a, double[] b) => [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
    private static double[] Cross(double[] a, double[] b) =>
        [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}
