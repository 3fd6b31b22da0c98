using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Sam.Modeling;

/// <summary>
/// SAM's prompt encoder (docs/sam.md §2): points, boxes and a low-resolution mask become sparse tokens (B, N', D) and a dense
/// embedding (B, D, h, w). Members in registration order: pe_layer, point_embeddings.{0..3}, not_a_point_embed, mask_downscaling.{0,1,3,4,6},
/// no_mask_embed.
/// <para>Point labels: 1 = foreground, 0 = background, −1 = padding/ignored; 2 and 3 mark box corners (they receive no learned
/// embedding on the point path, as in the PyTorch reference).</para>
/// </summary>
public sealed class PromptEncoder : Module
{
    public readonly PositionEmbeddingRandom pe_layer;
    public readonly ModuleList<Embedding> point_embeddings;
    public readonly Embedding not_a_point_embed, no_mask_embed;
    public readonly Sequential mask_downscaling;

    /// <summary>Token/embedding dim D.</summary>
    public readonly int embed_dim;
    /// <summary>Image embedding grid (h, w) — S/16 for an S input.</summary>
    public readonly (int H, int W) image_embedding_size;
    /// <summary>Input frame (H, W) the point coordinates are given in (the padded model input, e.g. 1024×1024).</summary>
    public readonly (int H, int W) input_image_size;
    /// <summary>Size of the mask prompt: 4·image_embedding_size (256×256 at 1024).</summary>
    public readonly (int H, int W) mask_input_size;

    public const int NumPointEmbeddings = 4;

    private readonly List<UnaryModule> _sparseHooks = [], _denseHooks = [];

    /// <summary>
    /// Extension point (docs/sam.md, "Extension points"): attaches <paramref name="hook"/> as member <paramref name="name"/> on the
    /// sparse (B, N, D) or dense (B, D, h, w) output of <see cref="forward"/>; several run in attachment order. With none attached
    /// the encoder is SAM's, bit for bit.
    /// </summary>
    public T Attach<T>(PromptHookPoint point, string name, T hook) where T : UnaryModule
    {
        register_module(name, hook);
        (point == PromptHookPoint.Sparse ? _sparseHooks : _denseHooks).Add(hook);
        return hook;
    }

    public PromptEncoder(int embedDim, (int H, int W) imageEmbeddingSize, (int H, int W) inputImageSize, int maskInChans)
    {
        embed_dim = embedDim;
        image_embedding_size = imageEmbeddingSize;
        input_image_size = inputImageSize;
        mask_input_size = (4 * imageEmbeddingSize.H, 4 * imageEmbeddingSize.W);
        pe_layer = register_module("pe_layer", new PositionEmbeddingRandom(embedDim / 2));
        point_embeddings = register_module("point_embeddings", new ModuleList<Embedding>(Enumerable.Range(0, NumPointEmbeddings).Select(_ => new Embedding(1, embedDim))));
        not_a_point_embed = register_module("not_a_point_embed", new Embedding(1, embedDim));
        mask_downscaling = register_module("mask_downscaling", new Sequential(
            Conv.Conv2d(1, maskInChans / 4, 2, stride: 2),
            new ChannelLayerNorm(maskInChans / 4),
            new GELU(),
            Conv.Conv2d(maskInChans / 4, maskInChans, 2, stride: 2),
            new ChannelLayerNorm(maskInChans),
            new GELU(),
            Conv.Conv2d(maskInChans, embedDim, 1)));
        no_mask_embed = register_module("no_mask_embed", new Embedding(1, embedDim));
    }

    public PromptEncoder(SamConfig c)
        : this(c.PromptEmbedDim, (c.ImageEmbeddingSize, c.ImageEmbeddingSize), (c.ImageSize, c.ImageSize), c.MaskInChans) { }

    /// <summary>The dense positional encoding of the image embedding grid, (1, D, h, w). Input-independent (cacheable).</summary>
    public Tensor get_dense_pe()
    {
        using var scope = DisposeScope.Begin();
        return pe_layer.forward(image_embedding_size.H, image_embedding_size.W).unsqueeze(0).MoveToOuterScope();
    }

    /// <summary>Point tokens (B, N(+1), D): +0.5 pixel shift, optional padding point (label −1), Fourier PE, label embeddings.</summary>
    public Tensor EmbedPoints(Tensor points, Tensor labels, bool pad)
    {
        using var scope = DisposeScope.Begin();
        points = points + 0.5;
        if (pad)
        {
            var paddingPoint = torch.zeros([points.size(0), 1, 2], points.dtype, points.device);
            var paddingLabel = -torch.ones([labels.size(0), 1], labels.dtype, labels.device);
            points = torch.cat([points, paddingPoint], 1);
            labels = torch.cat([labels, paddingLabel], 1);
        }
        var pe = pe_layer.ForwardWithCoords(points, input_image_size);
        var lab = labels.unsqueeze(-1);
        pe = torch.where(lab.eq(-1.0), torch.zeros_like(pe) + not_a_point_embed.weight, pe);
        pe = torch.where(lab.eq(0.0), pe + point_embeddings[0].weight, pe);
        pe = torch.where(lab.eq(1.0), pe + point_embeddings[1].weight, pe);
        return pe.MoveToOuterScope();
    }

    /// <summary>Box tokens (B, 2, D) from XYXY boxes (B, 4) or (B, 1, 4): corners +0.5, PE, plus the corner embeddings 2 and 3.</summary>
    public Tensor EmbedBoxes(Tensor boxes)
    {
        using var scope = DisposeScope.Begin();
        boxes = boxes + 0.5;
        var coords = boxes.reshape(-1, 2, 2);
        var corner = pe_layer.ForwardWithCoords(coords, input_image_size);
        var topLeft = corner.slice(1, 0, 1) + point_embeddings[2].weight;
        var bottomRight = corner.slice(1, 1, 2) + point_embeddings[3].weight;
        return torch.cat([topLeft, bottomRight], 1).MoveToOuterScope();
    }

    /// <summary>Dense embedding of mask prompts (B, 1, 4h, 4w) → (B, D, h, w).</summary>
    public Tensor EmbedMasks(Tensor masks) => mask_downscaling.forward(masks);

    /// <summary>
    /// Embeds the prompts. <paramref name="points"/>: coordinates (B, N, 2) as (x, y) in input-frame pixels and labels (B, N);
    /// <paramref name="boxes"/>: (B, 4) XYXY in input-frame pixels; <paramref name="masks"/>: (B, 1, 4h, 4w) low-res logits.
    /// A padding point is appended to the points when no box is given. Returns sparse (B, N', D) — order [points…, pad, box TL, box BR] —
    /// and dense (B, D, h, w) (the no-mask embedding broadcast when no mask is given).
    /// </summary>
    public (Tensor Sparse, Tensor Dense) forward((Tensor Coords, Tensor Labels)? points, Tensor? boxes, Tensor? masks)
    {
        using var scope = DisposeScope.Begin();
        long bs = points is { } p0 ? p0.Coords.size(0) : boxes is not null ? boxes.size(0) : masks is not null ? masks.size(0) : 1;
        var device = not_a_point_embed.weight.device;
        var parts = new List<Tensor>();
        if (points is { } p) parts.Add(EmbedPoints(p.Coords, p.Labels, pad: boxes is null));
        if (boxes is not null) parts.Add(EmbedBoxes(boxes));
        var sparse = parts.Count switch
        {
            0 => torch.empty([bs, 0, embed_dim], DType.Float32, device),
            1 => parts[0],
            _ => torch.cat(parts.ToArray(), 1),
        };
        var dense = masks is not null
            ? EmbedMasks(masks)
            : no_mask_embed.weight.reshape(1, -1, 1, 1).expand(bs, -1, image_embedding_size.H, image_embedding_size.W);
        foreach (var h in _sparseHooks) sparse = h.forward(sparse);
        foreach (var h in _denseHooks) dense = h.forward(dense);
        return (sparse.MoveToOuterScope(), dense.MoveToOuterScope());
    }
}

/// <summary>Which output of the <see cref="PromptEncoder"/> a hook transforms.</summary>
public enum PromptHookPoint
{
    /// <summary>The sparse prompt tokens (B, N, D).</summary>
    Sparse,
    /// <summary>The dense prompt embedding (B, D, h, w).</summary>
    Dense,
}
