namespace SamAdapt.Sam.Automatic;

/// <summary>
/// An integer XYXY box. Crop boxes are half-open pixel ranges [X0, X1) × [Y0, Y1); mask boxes from
/// <see cref="AmgUtils.MaskToBox"/> hold the inclusive min and max pixel coordinates (the reference convention).
/// </summary>
public readonly record struct IntBox(int X0, int Y0, int X1, int Y1)
{
    public int Width => X1 - X0;
    public int Height => Y1 - Y0;

    /// <summary>(x1 − x0)·(y1 − y0), the torchvision <c>box_area</c> convention (no +1).</summary>
    public long Area => (long)(X1 - X0) * (Y1 - Y0);

    /// <summary>The reference's XYWH form: [x0, y0, x1 − x0, y1 − y0].</summary>
    public (int X, int Y, int W, int H) ToXywh() => (X0, Y0, X1 - X0, Y1 - Y0);

    public override string ToString() => $"[{X0}, {Y0}, {X1}, {Y1}]";
}
