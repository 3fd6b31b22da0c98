using SamAdapt.Sam.Adapters;
using SamAdapt.Sam.Modeling;
using SamAdapt.Torch;

namespace SamAdapt.Sam.Tests.Modeling;

/// <summary>
/// <see cref="Attention.ForwardWindowed"/> (qkv on the real tokens, the padding tokens' qkv from one zero token, proj after
/// cropping) against the plain windowed form of docs/sam.md (zero-pad, partition, attention per window, unpartition, crop):
/// outputs and gradients, without a qkv delta and with a token-wise one (LoRA), on a grid that needs padding on both sides.
/// </summary>
public class WindowedAttentionTests
{
    private const int Dim = 16, Heads = 2, Window = 4, H = 9, W = 11;

    private static Attention Make(bool lora)
    {
        var attn = new Attention(Dim, Heads, useRelPos: true, inputSize: (Window, Window)) { UseFusedAttention = false };
        if (lora) attn.AttachQkvDelta("lora", new LoraQkvDelta(Dim, 3));
        using (torch.no_grad())
            foreach (var (_, p) in attn.named_parameters()) p.normal_(0, 0.5); // LoRA's B and the rel-pos tables start at zero
        return attn;
    }

    private static Tensor Plain(Attention attn, Tensor x)
    {
        using var scope = DisposeScope.Begin();
        var (windows, padded) = Block.WindowPartition(x, Window);
        return Block.WindowUnpartition(attn.forward(windows), Window, padded, (H, W)).MoveToOuterScope();
    }

    private static double RelDiff(Tensor a, Tensor b) => (a - b).abs().max().item() / Math.Max(b.abs().max().item(), 1e-12);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Windowed_attention_without_projecting_the_padding_equals_the_padded_windows(bool lora)
    {
        using var scope = DisposeScope.Begin();
        torch.manual_seed(23);
        using var attn = Make(lora);
        var x = torch.randn(2, H, W, Dim).requires_grad_(true);
        var weight = torch.randn(2, H, W, Dim);
        var parameters = attn.named_parameters().ToList();

        (Tensor Out, Tensor[] Grads) Run(Func<Tensor> f)
        {
            x.grad = null;
            attn.zero_grad();
            var y = f();
            (y * weight).sum().backward();
            return (y.detach(), [x.grad!.clone(), .. parameters.Select(p => p.Value.grad!.clone())]);
        }

        var (plain, plainGrads) = Run(() => Plain(attn, x));
        var (fast, fastGrads) = Run(() => attn.ForwardWindowed(x, Window));
        Assert.Equal(plain.shape, fast.shape);
        Assert.True(plain.abs().max().item() > 0.1, "the attention output is ~0: the comparison would be vacuous");
        Assert.True(RelDiff(fast, plain) <= 1e-6, $"output differs by {RelDiff(fast, plain):E2}");
        string[] names = ["x", .. parameters.Select(p => p.Name)];
        for (int i = 0; i < names.Length; i++)
        {
            double d = RelDiff(fastGrads[i], plainGrads[i]);
            Assert.True(d <= 1e-5, $"gradient of {names[i]} differs by {d:E2}");
        }
    }
}
