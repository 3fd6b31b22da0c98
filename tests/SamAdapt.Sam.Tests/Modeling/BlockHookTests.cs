using SamAdapt.Sam.Modeling;
using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Sam.Tests.Modeling;

/// <summary>The encoder block's extension points: where each hook acts, the per-call context, and SAM unchanged without hooks.</summary>
public class BlockHookTests
{
    private sealed class ConstantHook(double value) : BlockHook
    {
        public int? SeenDepth { get; private set; }
        public Tensor? SeenInput { get; private set; }

        public override Tensor forward(Tensor x, EncoderContext context)
        {
            SeenDepth = context.Depth;
            SeenInput = x.clone().DetachFromScope();
            return torch.zeros_like(x) + value;
        }
    }

    /// <summary>A block with random weights, or with <paramref name="like"/>'s weights. Copying (not re-seeding) keeps the
    /// blocks identical while other test classes draw from libtorch's global generator in parallel.</summary>
    private static Block NewBlock(int window, Block? like = null)
    {
        var b = new Block(16, 2, 2.0, window, (6, 6));
        using var _ = torch.no_grad();
        if (like is not null) b.load_state_dict(like.state_dict());
        else foreach (var (_, p) in b.named_parameters()) p.copy_(torch.randn(p.shape) * 0.2);
        return b;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(4)]
    public void Hooks_act_where_documented_and_zero_hooks_leave_sams_block_bit_exact(int window)
    {
        using var scope = DisposeScope.Begin();
        using var _ = torch.no_grad();
        torch.manual_seed(3);
        var x = torch.randn(4, 6, 6, 16);
        using var plain = NewBlock(window);
        var reference = plain.forward(x);

        // zero hooks at the residual points change nothing, bit for bit
        using (var zeros = NewBlock(window, plain))
        {
            zeros.Attach(BlockHookPoint.BeforeAttention, "a", new ConstantHook(0));
            zeros.Attach(BlockHookPoint.BeforeMlp, "b", new ConstantHook(0));
            Assert.True(torch.equal(reference, zeros.forward(x)));
        }

        // parallel to the MLP: the hook's output is added to the block output; it sees norm2 of the attention result
        using (var par = NewBlock(window, plain))
        {
            var hook = par.Attach(BlockHookPoint.ParallelToMlp, "mlp_adapter", new ConstantHook(1));
            var y = par.forward(x, new EncoderContext(2));
            Assert.True(torch.allclose(y, reference + 1, 1e-5, 1e-5));
            Assert.Equal(2, hook.SeenDepth);
            var afterAttention = x + AttentionBranch(par, x);
            Assert.True(torch.allclose(hook.SeenInput!, par.norm2.forward(afterAttention), 1e-5, 1e-5));
            Assert.Contains("mlp_adapter", par.named_modules().Select(m => m.Name));
        }

        // after attention: a hook returning zeros removes the attention branch
        using (var after = NewBlock(window, plain))
        {
            after.Attach(BlockHookPoint.AfterAttention, "space_adapter", new ConstantHook(0));
            var y = after.forward(x);
            Assert.True(torch.allclose(y, x + after.mlp.forward(after.norm2.forward(x)), 1e-5, 1e-5));
        }

        using var twice = NewBlock(window, plain);
        twice.Attach(BlockHookPoint.BeforeMlp, "h", new ConstantHook(0));
        Assert.Throws<InvalidOperationException>(() => twice.Attach(BlockHookPoint.AfterAttention, "h", new ConstantHook(0)));
    }

    /// <summary>attn(norm1(x)) with the block's windowing, as the block computes it.</summary>
    private static Tensor AttentionBranch(Block b, Tensor x)
    {
        var h = b.norm1.forward(x);
        if (b.window_size == 0) return b.attn.forward(h);
        var (w, pad) = Block.WindowPartition(h, b.window_size);
        return Block.WindowUnpartition(b.attn.forward(w), b.window_size, pad, ((int)x.size(1), (int)x.size(2)));
    }
}

/// <summary>Hooks in the prompt encoder and the two-way transformer: they act on the documented outputs and change nothing when absent.</summary>
public class DecoderHookTests
{
    private sealed class AddOne : UnaryModule
    {
        public int Calls { get; private set; }
        public override Tensor forward(Tensor x)
        {
            Calls++;
            return x + 1;
        }
    }

    private sealed class Double : UnaryModule
    {
        public int Calls { get; private set; }
        public override Tensor forward(Tensor x)
        {
            Calls++;
            return x * 2;
        }
    }

    [Fact]
    public void Prompt_encoder_and_two_way_hooks_transform_their_outputs()
    {
        using var scope = DisposeScope.Begin();
        using var _ = torch.no_grad();
        var cfg = SamTinyFixture.Config;
        torch.manual_seed(4);
        using var plain = new PromptEncoder(cfg);
        using var hooked = new PromptEncoder(cfg);
        hooked.load_state_dict(plain.state_dict());
        var dense = hooked.Attach(PromptHookPoint.Dense, "dense_adapter", new AddOne());
        var boxes = Tensor.FromArray<float>([10f, 12f, 40f, 50f], [1, 4]);
        var (s0, d0) = plain.forward(null, boxes, null);
        var (s1, d1) = hooked.forward(null, boxes, null);
        Assert.True(torch.equal(s0, s1));
        Assert.True(torch.equal(d0 + 1, d1));
        Assert.Equal(1, dense.Calls);

        torch.manual_seed(6);
        using var block = new TwoWayAttentionBlock(32, 2, 64);
        var q = torch.randn(2, 5, 32);
        var k = torch.randn(2, 9, 32);
        var (q0, k0) = block.forward(q, k, q, k);
        var mlpHook = block.Attach(TwoWayHookPoint.Mlp, "mlp_adapter", new Double());
        var (q1, k1) = block.forward(q, k, q, k);
        Assert.Equal(1, mlpHook.Calls);
        Assert.True(torch.allclose(q1, block.norm3.forward(Before(block, q, k) + block.mlp.forward(Before(block, q, k)) * 2), 1e-5, 1e-5)); // the MLP output doubled before norm3
        Assert.Contains("mlp_adapter", block.named_modules().Select(m => m.Name));
        Assert.False(torch.allclose(q0, q1, 1e-4, 1e-4));
    }

    /// <summary>The queries entering the block's MLP (after self-attention and token→image attention).</summary>
    private static Tensor Before(TwoWayAttentionBlock b, Tensor q, Tensor k)
    {
        var q0 = q + q;
        var x = b.norm1.forward(q + b.self_attn.forward(q0, q0, q));
        return b.norm2.forward(x + b.cross_attn_token_to_image.forward(x + q, k + k, k));
    }
}
