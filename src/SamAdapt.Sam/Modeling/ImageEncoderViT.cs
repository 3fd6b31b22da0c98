using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Sam.Modeling;

/// <summary>
/// SAM's ViT image encoder (docs/sam.md, "Image encoder"): patch embedding, absolute position embedding, <c>depth</c> blocks with windowed
/// or global attention, and the neck (1×1 conv → LayerNorm2d → 3×3 conv → LayerNorm2d).
/// <para><see cref="forward"/>: (B, 3, S, S) normalised, padded images → (B, out_chans, S/p, S/p) image embeddings.</para>
/// Members: pos_embed (1, S/p, S/p, E), patch_embed, blocks.{i}, neck.{0..3}.
/// <para>Extension points: <see cref="AttachShared"/> registers a module shared by the blocks' adapters (e.g. FacT's U/V factors,
/// keys <c>image_encoder.{name}.*</c>); <see cref="GradientCheckpointing"/> recomputes each block's activations during backward.</para>
/// </summary>
public sealed class ImageEncoderViT : UnaryModule
{
    public readonly PatchEmbed patch_embed;
    public readonly Tensor pos_embed;
    public readonly ModuleList<Block> blocks;
    public readonly Sequential neck;
    public readonly int img_size;

    /// <summary>
    /// When true (and grad mode is on), each block runs under <see cref="Checkpoint.Run(Func{Tensor, Tensor}, Tensor)"/>: its
    /// activations are recomputed in backward instead of stored (same results, less memory, about one more forward of compute).
    /// </summary>
    public bool GradientCheckpointing { get; set; }

    /// <summary>Registers <paramref name="module"/> as member <paramref name="name"/> (not called by the forward: blocks' adapters use it).</summary>
    public T AttachShared<T>(string name, T module) where T : Module => register_module(name, module);

    public ImageEncoderViT(SamConfig config)
    {
        config.Validate();
        img_size = config.ImageSize;
        int grid = config.ImageEmbeddingSize;
        int e = config.EncoderEmbedDim;
        patch_embed = register_module("patch_embed", new PatchEmbed(config.PatchSize, 3, e));
        pos_embed = register_parameter("pos_embed", torch.zeros(1, grid, grid, e));
        blocks = register_module("blocks", new ModuleList<Block>());
        for (int i = 0; i < config.EncoderDepth; i++)
        {
            bool global = config.GlobalAttnIndexes.Contains(i);
            blocks.Add(new Block(e, config.EncoderNumHeads, config.MlpRatio, global ? 0 : config.WindowSize, (grid, grid)));
        }
        int outChans = config.PromptEmbedDim;
        neck = register_module("neck", new Sequential(
            Conv.Conv2d(e, outChans, 1, bias: false),
            new ChannelLayerNorm(outChans),
            Conv.Conv2d(outChans, outChans, 3, padding: 1, bias: false),
            new ChannelLayerNorm(outChans)));
    }

    public override Tensor forward(Tensor x) => forward(x, EncoderContext.Single);

    /// <summary>The encoder with a per-call <paramref name="context"/> (slices per stack) for the blocks' hooks.</summary>
    public Tensor forward(Tensor x, EncoderContext context)
    {
        if (x.dim() != 4 || x.size(1) != 3 || x.size(2) != img_size || x.size(3) != img_size)
            throw new ArgumentException($"the image encoder takes (B, 3, {img_size}, {img_size}) input, got [{string.Join(", ", x.shape)}]");
        using var scope = DisposeScope.Begin();
        var patches = patch_embed.forward(x);
        var h = patches + pos_embed;
        patches.Dispose();
        foreach (var blk in blocks)
        {
            var next = GradientCheckpointing && torch.is_grad_enabled() ? Checkpoint.Run(t => blk.forward(t, context), h) : blk.forward(h, context);
            h.Dispose(); // keep peak memory at one activation per block
            h = next;
        }
        return neck.forward(h.permute(0, 3, 1, 2)).MoveToOuterScope();
    }
}
