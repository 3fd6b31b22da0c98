using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Sam.Modeling;

/// <summary>
/// Random Fourier positional encoding (docs/sam.md §2.1). The persistent buffer
/// <c>positional_encoding_gaussian_matrix</c> (2, F) comes from the checkpoint; encodings have 2F channels: sin first, then cos.
/// </summary>
public sealed class PositionEmbeddingRandom : Module
{
    public readonly Tensor positional_encoding_gaussian_matrix;

    public PositionEmbeddingRandom(int numPosFeats = 64, double? scale = null)
    {
        double s = scale is { } v && v > 0 ? v : 1.0;
        using var _ = torch.no_grad();
        using var scope = DisposeScope.Begin();
        var g = (torch.randn(2, numPosFeats) * s).MoveToOuterScope();
        positional_encoding_gaussian_matrix = register_buffer("positional_encoding_gaussian_matrix", g);
    }

    /// <summary>Encodes points normalised to [0, 1] (…, 2) as (…, 2F): c → 2c − 1 → c·G → 2π·c → [sin, cos].</summary>
    public Tensor PeEncoding(Tensor coords)
    {
        using var scope = DisposeScope.Begin();
        var c = coords * 2.0 - 1.0;
        c = c.matmul(positional_encoding_gaussian_matrix);
        c = c * (2 * Math.PI);
        return torch.cat([c.sin(), c.cos()], -1).MoveToOuterScope();
    }

    /// <summary>Dense encoding of an (h, w) grid of cell centres, x first: (2F, h, w).</summary>
    public Tensor forward(int h, int w)
    {
        using var scope = DisposeScope.Begin();
        var dev = positional_encoding_gaussian_matrix.device;
        var grid = torch.ones([h, w], DType.Float32, dev);
        var yEmbed = grid.cumsum(0) - 0.5;
        var xEmbed = grid.cumsum(1) - 0.5;
        yEmbed = yEmbed / (double)h;
        xEmbed = xEmbed / (double)w;
        var pe = PeEncoding(torch.stack([xEmbed, yEmbed], -1));
        return pe.permute(2, 0, 1).MoveToOuterScope();
    }

    /// <summary>
    /// Encodes unnormalised points (B, N, 2), (x, y) in pixels of an <paramref name="imageSize"/> (H, W) input: x/W, y/H, cast to
    /// float32, then <see cref="PeEncoding"/>. Float64 input is divided in float64 (as the automatic mask generator's path does).
    /// </summary>
    public Tensor ForwardWithCoords(Tensor coordsInput, (int H, int W) imageSize)
    {
        using var scope = DisposeScope.Begin();
        var x = coordsInput.select(-1, 0) / (double)imageSize.W;
        var y = coordsInput.select(-1, 1) / (double)imageSize.H;
        var coords = torch.stack([x, y], -1);
        if (coords.dtype != DType.Float32) coords = coords.to(DType.Float32);
        return PeEncoding(coords).MoveToOuterScope();
    }
}
