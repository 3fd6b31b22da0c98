using SamAdapt.Sam.Modeling;
using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Sam.Tests.Modeling;

/// <summary>
/// The encoder attention computed a block of logits at a time (<see cref="ChunkedAttention"/>) against the plain form of
/// docs/sam.md §1.3 (all logits, <see cref="RelativePosition.AddDecomposedRelPos"/>, softmax, · v): outputs and the
/// gradients of q, k, v and both relative-position tables, for blocks of query rows (global attention) and of batch
/// entries (windowed attention), with sizes that do not divide evenly.
/// </summary>
public class ChunkedAttentionTests
{
    private const int Qh = 5, Qw = 6, Entries = 6, Dim = 8;

    private sealed record Inputs(Tensor Q, Tensor K, Tensor V, Tensor RelPosH, Tensor RelPosW) : IDisposable
    {
        public Tensor[] All => [Q, K, V, RelPosH, RelPosW];
        public void Dispose() { foreach (var t in All) t.Dispose(); }
    }

    private static Inputs Make(int seed)
    {
        var g = new Random(seed);
        Tensor R(params long[] shape)
        {
            long n = shape.Aggregate(1L, (a, b) => a * b);
            var values = new float[n];
            for (int i = 0; i < n; i++) values[i] = (float)(g.NextDouble() * 2 - 1);
            return torch.tensor(values).view(shape).requires_grad_(true);
        }
        int n = Qh * Qw;
        return new Inputs(R(Entries, n, Dim), R(Entries, n, Dim), R(Entries, n, Dim), R(2 * Qh - 1, Dim), R(2 * Qw - 1, Dim));
    }

    private static Tensor Plain(Inputs x, double scale)
    {
        using var scope = DisposeScope.Begin();
        var attn = (x.Q * scale).matmul(x.K.transpose(-2, -1));
        attn = RelativePosition.AddDecomposedRelPos(attn, x.Q, x.RelPosH, x.RelPosW, (Qh, Qw), (Qh, Qw));
        return F.softmax(attn, -1).matmul(x.V).MoveToOuterScope();
    }

    private static Tensor Chunked(Inputs x, double scale, long maxLogits)
    {
        using var scope = DisposeScope.Begin();
        var (relH, relW) = RelativePosition.DecomposedRelPosTerms(x.Q, x.RelPosH, x.RelPosW, (Qh, Qw), (Qh, Qw));
        return ChunkedAttention.Forward(x.Q, x.K, x.V, scale, relH, relW, maxLogits).MoveToOuterScope();
    }

    private static (Tensor Out, Tensor[] Grads) Run(Inputs x, Func<Tensor> forward, Tensor weight)
    {
        foreach (var t in x.All) t.grad = null;
        var y = forward();
        (y * weight).sum().backward();
        return (y.detach(), x.All.Select(t => t.grad!.clone()).ToArray());
    }

    private static double RelDiff(Tensor a, Tensor b) =>
        (a - b).abs().max().item() / Math.Max(b.abs().max().item(), 1e-12);

    [Theory]
    [InlineData(1L)]          // one query row per block
    [InlineData(7L * 30)]     // 7 rows per block: 30 rows in 5 blocks, the last of 2
    [InlineData(30L * 30)]    // one batch entry per block
    [InlineData(4L * 30 * 30)] // 4 entries then 2
    [InlineData(long.MaxValue)] // everything at once
    public void Blocks_of_logits_equal_the_plain_attention_with_gradients(long maxLogits)
    {
        using var scope = DisposeScope.Begin();
        using var x = Make(5);
        double scale = Math.Pow(Dim, -0.5);
        var weight = torch.randn(Entries, Qh * Qw, Dim);
        var (plain, plainGrads) = Run(x, () => Plain(x, scale), weight);
        var (chunked, chunkedGrads) = Run(x, () => Chunked(x, scale, maxLogits), weight);
        Assert.Equal(plain.shape, chunked.shape);
        Assert.True(RelDiff(chunked, plain) <= 1e-6, $"output differs by {RelDiff(chunked, plain):E2}");
        string[] names = ["q", "k", "v", "rel_pos_h", "rel_pos_w"];
        for (int i = 0; i < names.Length; i++)
        {
            Assert.True(plainGrads[i].abs().max().item() > 1e-3, $"the gradient of {names[i]} is ~0: the comparison would be vacuous");
            double d = RelDiff(chunkedGrads[i], plainGrads[i]);
            Assert.True(d <= 1e-5, $"gradient of {names[i]} differs by {d:E2}");
        }
        // without grad mode the blocks take the in-place path: same result
        using (torch.no_grad())
        {
            var noGrad = Chunked(x, scale, maxLogits);
            Assert.True(RelDiff(noGrad, plain) <= 1e-6, $"no-grad output differs by {RelDiff(noGrad, plain):E2}");
        }
    }

    [Fact]
    public void Attention_layer_gives_the_same_output_whatever_its_logits_block()
    {
        using var scope = DisposeScope.Begin();
        torch.manual_seed(17);
        using var attn = new Attention(dim: 16, numHeads: 2, useRelPos: true, inputSize: (5, 6)) { UseFusedAttention = false };
        using (torch.no_grad())
            foreach (var (_, p) in attn.named_parameters()) p.normal_(0, 0.5);
        var input = torch.randn(3, 5, 6, 16);
        using var ng = torch.no_grad();
        attn.MaxLogitsBlock = long.MaxValue;
        var whole = attn.forward(input);
        attn.MaxLogitsBlock = 4 * 30;
        var blocks = attn.forward(input);
        Assert.True(RelDiff(blocks, whole) <= 1e-6, $"differs by {RelDiff(blocks, whole):E2}");
        Assert.True(whole.abs().max().item() > 0.1);
    }

    [Fact]
    public void Mismatched_relative_terms_are_refused()
    {
        using var scope = DisposeScope.Begin();
        using var x = Make(1);
        var (relH, _) = RelativePosition.DecomposedRelPosTerms(x.Q, x.RelPosH, x.RelPosW, (Qh, Qw), (Qh, Qw));
        Assert.Throws<ArgumentException>(() => ChunkedAttention.Forward(x.Q, x.K, x.V, 1.0, relH, null));
    }
}
