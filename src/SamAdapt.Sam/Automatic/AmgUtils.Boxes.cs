namespace SamAdapt.Sam.Automatic;

public static partial class AmgUtils
{
    /// <summary>
    /// Greedy non-maximum suppression with torchvision's semantics (<c>nms</c>, and <c>batched_nms</c> with a single
    /// category, which is how the mask generator calls it). <paramref name="boxesXyxy"/> holds N boxes of 4 float32
    /// values. Boxes are visited in descending score order (stable: equal scores keep their input order; NaN sorts
    /// first, as in torch); each visited, unsuppressed box is kept and suppresses every later box whose IoU with it is
    /// strictly greater than <paramref name="iouThreshold"/>.
    /// <para>Arithmetic follows the CPU kernel: area = (x1 − x0)·(y1 − y0) (no +1), intersection
    /// max(0, min(x1) − max(x0))·max(0, min(y1) − max(y0)), IoU = inter / (area_i + area_j − inter), all in float32, and
    /// the float32 IoU is compared with the float64 threshold.</para>
    /// </summary>
    /// <returns>Indices of kept boxes, in descending score order.</returns>
    public static int[] BoxNms(ReadOnlySpan<float> boxesXyxy, ReadOnlySpan<float> scores, double iouThreshold)
    {
        if (boxesXyxy.Length % 4 != 0) throw new ArgumentException($"boxes have 4 values each; got {boxesXyxy.Length}", nameof(boxesXyxy));
        int n = boxesXyxy.Length / 4;
        if (scores.Length != n) throw new ArgumentException($"{n} boxes but {scores.Length} scores", nameof(scores));
        if (n == 0) return [];

        var order = SortDescendingStable(scores);
        var x0 = new float[n]; var y0 = new float[n]; var x1 = new float[n]; var y1 = new float[n]; var area = new float[n];
        for (int i = 0; i < n; i++)
        {
            x0[i] = boxesXyxy[4 * i]; y0[i] = boxesXyxy[4 * i + 1]; x1[i] = boxesXyxy[4 * i + 2]; y1[i] = boxesXyxy[4 * i + 3];
            area[i] = (x1[i] - x0[i]) * (y1[i] - y0[i]);
        }
        var suppressed = new bool[n];
        var keep = new List<int>();
        for (int a = 0; a < n; a++)
        {
            int i = order[a];
            if (suppressed[i]) continue;
            keep.Add(i);
            float ix0 = x0[i], iy0 = y0[i], ix1 = x1[i], iy1 = y1[i], iarea = area[i];
            for (int b = a + 1; b < n; b++)
            {
                int j = order[b];
                if (suppressed[j]) continue;
                float xx0 = Math.Max(ix0, x0[j]), yy0 = Math.Max(iy0, y0[j]);
                float xx1 = Math.Min(ix1, x1[j]), yy1 = Math.Min(iy1, y1[j]);
                float w = Math.Max(0f, xx1 - xx0), h = Math.Max(0f, yy1 - yy0);
                float inter = w * h;
                float ovr = inter / (iarea + area[j] - inter);
                if (ovr > iouThreshold) suppressed[j] = true;
            }
        }
        return keep.ToArray();
    }

    /// <summary><see cref="BoxNms(ReadOnlySpan{float}, ReadOnlySpan{float}, double)"/> for integer boxes (converted to float32, as the generator does).</summary>
    public static int[] BoxNms(IReadOnlyList<IntBox> boxes, ReadOnlySpan<float> scores, double iouThreshold) =>
        BoxNms(ToFloat(boxes), scores, iouThreshold);

    /// <summary>
    /// Indices ordering <paramref name="scores"/> from largest to smallest, ties in input order, NaN first (torch's
    /// <c>sort(descending=True, stable=True)</c>).
    /// </summary>
    public static int[] SortDescendingStable(ReadOnlySpan<float> scores)
    {
        var s = scores.ToArray();
        var idx = new int[s.Length];
        for (int i = 0; i < idx.Length; i++) idx[i] = i;
        Array.Sort(idx, (a, b) =>
        {
            bool na = float.IsNaN(s[a]), nb = float.IsNaN(s[b]);
            int c = na || nb ? nb.CompareTo(na) : s[b].CompareTo(s[a]);
            return c != 0 ? c : a.CompareTo(b);
        });
        return idx;
    }

    /// <summary>
    /// For boxes given in a crop's frame, whether each lies within <paramref name="atol"/> pixels of an edge of the crop
    /// that is not also an edge of the original image (those masks are probably cut off by the crop and get dropped).
    /// Per coordinate, after shifting the box by the crop origin: near the crop edge = |b − crop| ≤ atol, near the image
    /// edge = |b − orig| ≤ atol (<c>torch.isclose</c> with rtol 0, in float32); a box is flagged if any coordinate is near
    /// the crop edge and not near the image edge.
    /// </summary>
    public static bool[] IsBoxNearCropEdge(ReadOnlySpan<float> boxesXyxy, IntBox cropBox, IntBox origBox, float atol = 20.0f)
    {
        if (boxesXyxy.Length % 4 != 0) throw new ArgumentException($"boxes have 4 values each; got {boxesXyxy.Length}", nameof(boxesXyxy));
        ReadOnlySpan<float> crop = [cropBox.X0, cropBox.Y0, cropBox.X1, cropBox.Y1];
        ReadOnlySpan<float> orig = [origBox.X0, origBox.Y0, origBox.X1, origBox.Y1];
        ReadOnlySpan<float> shift = [cropBox.X0, cropBox.Y0, cropBox.X0, cropBox.Y0];
        var r = new bool[boxesXyxy.Length / 4];
        for (int i = 0; i < r.Length; i++)
        {
            bool any = false;
            for (int k = 0; k < 4; k++)
            {
                float b = boxesXyxy[4 * i + k] + shift[k];
                bool nearCrop = b == crop[k] || Math.Abs(b - crop[k]) <= atol;
                bool nearImage = b == orig[k] || Math.Abs(b - orig[k]) <= atol;
                any |= nearCrop && !nearImage;
            }
            r[i] = any;
        }
        return r;
    }

    /// <inheritdoc cref="IsBoxNearCropEdge(ReadOnlySpan{float}, IntBox, IntBox, float)"/>
    public static bool[] IsBoxNearCropEdge(IReadOnlyList<IntBox> boxes, IntBox cropBox, IntBox origBox, float atol = 20.0f) =>
        IsBoxNearCropEdge(ToFloat(boxes), cropBox, origBox, atol);

    /// <summary>Shifts boxes from a crop's frame to the image frame (adds x0, y0, x0, y0).</summary>
    public static IntBox UncropBox(IntBox box, IntBox cropBox) =>
        new(box.X0 + cropBox.X0, box.Y0 + cropBox.Y0, box.X1 + cropBox.X0, box.Y1 + cropBox.Y0);

    /// <summary>Shifts XYXY float boxes from a crop's frame to the image frame.</summary>
    public static float[] UncropBoxes(ReadOnlySpan<float> boxesXyxy, IntBox cropBox)
    {
        if (boxesXyxy.Length % 4 != 0) throw new ArgumentException($"boxes have 4 values each; got {boxesXyxy.Length}", nameof(boxesXyxy));
        var r = new float[boxesXyxy.Length];
        for (int i = 0; i < r.Length; i += 4)
        {
            r[i] = boxesXyxy[i] + cropBox.X0;
            r[i + 1] = boxesXyxy[i + 1] + cropBox.Y0;
            r[i + 2] = boxesXyxy[i + 2] + cropBox.X0;
            r[i + 3] = boxesXyxy[i + 3] + cropBox.Y0;
        }
        return r;
    }

    /// <summary>Shifts interleaved (x, y) points from a crop's frame to the image frame (float64, as the reference's point arrays are).</summary>
    public static double[] UncropPoints(ReadOnlySpan<double> xy, IntBox cropBox)
    {
        if (xy.Length % 2 != 0) throw new ArgumentException("points come in (x, y) pairs", nameof(xy));
        var r = new double[xy.Length];
        for (int i = 0; i < r.Length; i += 2)
        {
            r[i] = xy[i] + cropBox.X0;
            r[i + 1] = xy[i + 1] + cropBox.Y0;
        }
        return r;
    }

    /// <summary>Box areas (x1 − x0)·(y1 − y0) in float32, torchvision's <c>box_area</c>.</summary>
    public static float[] BoxAreas(ReadOnlySpan<float> boxesXyxy)
    {
        if (boxesXyxy.Length % 4 != 0) throw new ArgumentException($"boxes have 4 values each; got {boxesXyxy.Length}", nameof(boxesXyxy));
        var r = new float[boxesXyxy.Length / 4];
        for (int i = 0; i < r.Length; i++)
            r[i] = (boxesXyxy[4 * i + 2] - boxesXyxy[4 * i]) * (boxesXyxy[4 * i + 3] - boxesXyxy[4 * i + 1]);
        return r;
    }

    /// <summary>Flattens integer boxes to XYXY float32 values.</summary>
    public static float[] ToFloat(IReadOnlyList<IntBox> boxes)
    {
        var r = new float[boxes.Count * 4];
        for (int i = 0; i < boxes.Count; i++)
        {
            r[4 * i] = boxes[i].X0; r[4 * i + 1] = boxes[i].Y0; r[4 * i + 2] = boxes[i].X1; r[4 * i + 3] = boxes[i].Y1;
        }
        return r;
    }
}
