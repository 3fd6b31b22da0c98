using SamAdapt.Torch.Native;

namespace SamAdapt.Torch.NN;

public enum Reduction { None = 0, Mean = 1, Sum = 2 }
public enum InterpolationMode { Nearest, Linear, Bilinear, Bicubic, Trilinear }
public enum PaddingMode { Zeros, Reflect, Replicate, Circular }

/// <summary>torch.nn.functional: stateless layers, activations, losses, resampling.</summary>
public static class F
{
    private static readonly Op OpLinear = new("aten::linear"), OpConv1d = new("aten::conv1d"), OpConv2d = new("aten::conv2d"),
        OpConv3d = new("aten::conv3d"), OpConvT2d = new("aten::conv_transpose2d", "input"), OpConvT3d = new("aten::conv_transpose3d", "input"),
        OpLayerNorm = new("aten::layer_norm"), OpGroupNorm = new("aten::group_norm"), OpInstanceNorm = new("aten::instance_norm"),
        OpBatchNorm = new("aten::batch_norm"), OpGelu = new("samadapt::gelu"), OpRelu = new("aten::relu"), OpLeakyRelu = new("aten::leaky_relu"),
        OpSilu = new("aten::silu"), OpSoftmax = new("aten::softmax", "int"), OpLogSoftmax = new("aten::log_softmax", "int"),
        OpDropout = new("aten::dropout"), OpEmbedding = new("aten::embedding"), OpOneHot = new("aten::one_hot"),
        OpCrossEntropy = new("aten::cross_entropy_loss"), OpBceLogits = new("aten::binary_cross_entropy_with_logits"),
        OpMse = new("aten::mse_loss"), OpL1 = new("aten::l1_loss"), OpNll = new("aten::nll_loss"),
        OpConstantPad = new("aten::constant_pad_nd"), OpGridSampler = new("aten::grid_sampler"),
        OpReflPad1 = new("aten::reflection_pad1d"), OpReflPad2 = new("aten::reflection_pad2d"), OpReflPad3 = new("aten::reflection_pad3d"),
        OpReplPad1 = new("aten::replication_pad1d"), OpReplPad2 = new("aten::replication_pad2d"), OpReplPad3 = new("aten::replication_pad3d"),
        OpUpNearest1 = new("aten::upsample_nearest1d", "vec"), OpUpNearest2 = new("aten::upsample_nearest2d", "vec"),
        OpUpNearest3 = new("aten::upsample_nearest3d", "vec"), OpUpLinear1 = new("aten::upsample_linear1d", "vec"),
        OpUpBilinear2 = new("aten::upsample_bilinear2d", "vec"), OpUpBicubic2 = new("aten::upsample_bicubic2d", "vec"),
        OpUpTrilinear3 = new("aten::upsample_trilinear3d", "vec"), OpUpBilinearAA = new("aten::_upsample_bilinear2d_aa", "vec"),
        OpUpBicubicAA = new("aten::_upsample_bicubic2d_aa", "vec"), OpMaxPool2d = new("aten::max_pool2d"),
        OpAvgPool2d = new("aten::avg_pool2d"), OpAdaptiveAvgPool2d = new("aten::adaptive_avg_pool2d"),
        OpRelPosAttention = new("samadapt::rel_pos_attention"), OpRelPosAttentionQkv = new("samadapt::rel_pos_attention_qkv");

    private static readonly Lazy<Op?> OpSdpa = new(() =>
    {
        var op = new Op("aten::scaled_dot_product_attention");
        try { _ = op.Handle; return op; }
        catch (TorchException) { return null; } // libtorch 1.13 has no fused attention: use the composite fallback
    });

    private static long[] Rep(long v, int n) { var r = new long[n]; Array.Fill(r, v); return r; }

    public static Tensor linear(Tensor input, Tensor weight, Tensor? bias = null)
    {
        var a = new OpArgs(stackalloc SaValue[3], default);
        a.Add(input); a.Add(weight); a.AddOptional(bias);
        return OpLinear.Call(ref a);
    }

    private static Tensor Conv(Op op, int nd, Tensor input, Tensor weight, Tensor? bias, long[]? stride, long[]? padding, long[]? dilation, long groups)
    {
        var a = new OpArgs(stackalloc SaValue[7], stackalloc long[16]);
        a.Add(input); a.Add(weight); a.AddOptional(bias);
        a.Add(stride ?? Rep(1, nd)); a.Add(padding ?? Rep(0, nd)); a.Add(dilation ?? Rep(1, nd)); a.Add(groups);
        return op.Call(ref a);
    }

    public static Tensor conv1d(Tensor input, Tensor weight, Tensor? bias = null, long[]? stride = null, long[]? padding = null, long[]? dilation = null, long groups = 1)
        => Conv(OpConv1d, 1, input, weight, bias, stride, padding, dilation, groups);
    public static Tensor conv2d(Tensor input, Tensor weight, Tensor? bias = null, long[]? stride = null, long[]? padding = null, long[]? dilation = null, long groups = 1)
        => Conv(OpConv2d, 2, input, weight, bias, stride, padding, dilation, groups);
    public static Tensor conv3d(Tensor input, Tensor weight, Tensor? bias = null, long[]? stride = null, long[]? padding = null, long[]? dilation = null, long groups = 1)
        => Conv(OpConv3d, 3, input, weight, bias, stride, padding, dilation, groups);

    private static Tensor ConvT(Op op, int nd, Tensor input, Tensor weight, Tensor? bias, long[]? stride, long[]? padding, long[]? outputPadding, long groups, long[]? dilation)
    {
        var a = new OpArgs(stackalloc SaValue[8], stackalloc long[16]);
        a.Add(input); a.Add(weight); a.AddOptional(bias);
        a.Add(stride ?? Rep(1, nd)); a.Add(padding ?? Rep(0, nd)); a.Add(outputPadding ?? Rep(0, nd)); a.Add(groups); a.Add(dilation ?? Rep(1, nd));
        return op.Call(ref a);
    }

    public static Tensor conv_transpose2d(Tensor input, Tensor weight, Tensor? bias = null, long[]? stride = null, long[]? padding = null, long[]? outputPadding = null, long groups = 1, long[]? dilation = null)
        => ConvT(OpConvT2d, 2, input, weight, bias, stride, padding, outputPadding, groups, dilation);
    public static Tensor conv_transpose3d(Tensor input, Tensor weight, Tensor? bias = null, long[]? stride = null, long[]? padding = null, long[]? outputPadding = null, long groups = 1, long[]? dilation = null)
        => ConvT(OpConvT3d, 3, input, weight, bias, stride, padding, outputPadding, groups, dilation);

    /// <summary>Pads the last dims (pairs listed from the last dim backwards, as in PyTorch) with a mode.</summary>
    public static Tensor pad(Tensor input, long[] pad, PaddingMode mode = PaddingMode.Zeros, double value = 0)
    {
        if (pad.Length % 2 != 0) throw new ArgumentException($"pad needs pairs of values, got {pad.Length}");
        if (mode == PaddingMode.Zeros)
        {
            var a = new OpArgs(stackalloc SaValue[3], stackalloc long[12]);
            a.Add(input); a.Add(pad); a.AddScalar(value);
            return OpConstantPad.Call(ref a);
        }
        int nd = pad.Length / 2;
        if (mode == PaddingMode.Circular)
        {
            // wrap: concatenate slices from the opposite ends, dim by dim
            var x = input;
            for (int i = 0; i < nd; i++)
            {
                long dim = input.dim() - 1 - i, lo = pad[2 * i], hi = pad[2 * i + 1];
                var parts = new List<Tensor>();
                if (lo > 0) parts.Add(x.slice(dim, -lo, null));
                parts.Add(x);
                if (hi > 0) parts.Add(x.slice(dim, 0, hi));
                x = torch.cat(parts.ToArray(), dim);
            }
            return x;
        }
        var op = (mode, nd) switch
        {
            (PaddingMode.Reflect, 1) => OpReflPad1, (PaddingMode.Reflect, 2) => OpReflPad2, (PaddingMode.Reflect, 3) => OpReflPad3,
            (PaddingMode.Replicate, 1) => OpReplPad1, (PaddingMode.Replicate, 2) => OpReplPad2, (PaddingMode.Replicate, 3) => OpReplPad3,
            _ => throw new ArgumentException($"{mode} padding supports 1 to 3 padded dims, got {nd}"),
        };
        var b = new OpArgs(stackalloc SaValue[2], stackalloc long[6]);
        b.Add(input); b.Add(pad);
        return op.Call(ref b);
    }

    public static Tensor layer_norm(Tensor input, long[] normalizedShape, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5)
    {
        var a = new OpArgs(stackalloc SaValue[6], stackalloc long[4]);
        a.Add(input); a.Add(normalizedShape); a.AddOptional(weight); a.AddOptional(bias); a.Add(eps); a.Add(true);
        return OpLayerNorm.Call(ref a);
    }

    public static Tensor group_norm(Tensor input, long numGroups, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5)
    {
        var a = new OpArgs(stackalloc SaValue[6], default);
        a.Add(input); a.Add(numGroups); a.AddOptional(weight); a.AddOptional(bias); a.Add(eps); a.Add(true);
        return OpGroupNorm.Call(ref a);
    }

    public static Tensor instance_norm(Tensor input, Tensor? weight = null, Tensor? bias = null, Tensor? runningMean = null, Tensor? runningVar = null,
        bool useInputStats = true, double momentum = 0.1, double eps = 1e-5)
    {
        var a = new OpArgs(stackalloc SaValue[9], default);
        a.Add(input); a.AddOptional(weight); a.AddOptional(bias); a.AddOptional(runningMean); a.AddOptional(runningVar);
        a.Add(useInputStats); a.Add(momentum); a.Add(eps); a.Add(true);
        return OpInstanceNorm.Call(ref a);
    }

    public static Tensor batch_norm(Tensor input, Tensor? runningMean, Tensor? runningVar, Tensor? weight = null, Tensor? bias = null,
        bool training = false, double momentum = 0.1, double eps = 1e-5)
    {
        var a = new OpArgs(stackalloc SaValue[9], default);
        a.Add(input); a.AddOptional(weight); a.AddOptional(bias); a.AddOptional(runningMean); a.AddOptional(runningVar);
        a.Add(training); a.Add(momentum); a.Add(eps); a.Add(true);
        return OpBatchNorm.Call(ref a);
    }

    /// <summary>GELU; exact (erf) by default, "tanh" for the approximation. Forward is aten::gelu; the backward works around a
    /// libtorch 1.13 defect with differently strided gradients (native/src/fixes.cpp).</summary>
    public static Tensor gelu(Tensor input, string approximate = "none")
    {
        var a = new OpArgs(stackalloc SaValue[2], default);
        a.Add(input); a.Add(approximate);
        return OpGelu.Call(ref a);
    }

    public static Tensor relu(Tensor input)
    {
        var a = new OpArgs(stackalloc SaValue[1], default);
        a.Add(input);
        return OpRelu.Call(ref a);
    }

    public static Tensor silu(Tensor input)
    {
        var a = new OpArgs(stackalloc SaValue[1], default);
        a.Add(input);
        return OpSilu.Call(ref a);
    }

    public static Tensor leaky_relu(Tensor input, double negativeSlope = 0.01)
    {
        var a = new OpArgs(stackalloc SaValue[2], default);
        a.Add(input); a.Add(negativeSlope);
        return OpLeakyRelu.Call(ref a);
    }

    public static Tensor sigmoid(Tensor input) => input.sigmoid();

    public static Tensor softmax(Tensor input, long dim, DType? dtype = null)
    {
        var a = new OpArgs(stackalloc SaValue[3], default);
        a.Add(input); a.Add(dim); a.AddOptional(dtype);
        return OpSoftmax.Call(ref a);
    }

    public static Tensor log_softmax(Tensor input, long dim, DType? dtype = null)
    {
        var a = new OpArgs(stackalloc SaValue[3], default);
        a.Add(input); a.Add(dim); a.AddOptional(dtype);
        return OpLogSoftmax.Call(ref a);
    }

    public static Tensor dropout(Tensor input, double p, bool training)
    {
        if (p < 0 || p > 1) throw new ArgumentOutOfRangeException(nameof(p), p, "dropout probability must be in [0, 1]");
        var a = new OpArgs(stackalloc SaValue[3], default);
        a.Add(input); a.Add(p); a.Add(training);
        return OpDropout.Call(ref a);
    }

    public static Tensor embedding(Tensor indices, Tensor weight, long paddingIdx = -1)
    {
        var a = new OpArgs(stackalloc SaValue[5], default);
        a.Add(weight); a.Add(indices); a.Add(paddingIdx); a.Add(false); a.Add(false);
        return OpEmbedding.Call(ref a);
    }

    public static Tensor one_hot(Tensor indices, long numClasses = -1)
    {
        var a = new OpArgs(stackalloc SaValue[2], default);
        a.Add(indices); a.Add(numClasses);
        return OpOneHot.Call(ref a);
    }

    /// <summary>Cross-entropy over class dim 1 with integer targets (or class probabilities of the input's shape).</summary>
    public static Tensor cross_entropy(Tensor input, Tensor target, Tensor? weight = null, Reduction reduction = Reduction.Mean,
        long ignoreIndex = -100, double labelSmoothing = 0)
    {
        var a = new OpArgs(stackalloc SaValue[6], default);
        a.Add(input); a.Add(target); a.AddOptional(weight); a.Add((long)reduction); a.Add(ignoreIndex); a.Add(labelSmoothing);
        return OpCrossEntropy.Call(ref a);
    }

    public static Tensor nll_loss(Tensor input, Tensor target, Tensor? weight = null, Reduction reduction = Reduction.Mean, long ignoreIndex = -100)
    {
        var a = new OpArgs(stackalloc SaValue[5], default);
        a.Add(input); a.Add(target); a.AddOptional(weight); a.Add((long)reduction); a.Add(ignoreIndex);
        return OpNll.Call(ref a);
    }

    public static Tensor binary_cross_entropy_with_logits(Tensor input, Tensor target, Tensor? weight = null, Tensor? posWeight = null,
        Reduction reduction = Reduction.Mean)
    {
        var a = new OpArgs(stackalloc SaValue[5], default);
        a.Add(input); a.Add(target); a.AddOptional(weight); a.AddOptional(posWeight); a.Add((long)reduction);
        return OpBceLogits.Call(ref a);
    }

    public static Tensor mse_loss(Tensor input, Tensor target, Reduction reduction = Reduction.Mean)
    {
        var a = new OpArgs(stackalloc SaValue[3], default);
        a.Add(input); a.Add(target); a.Add((long)reduction);
        return OpMse.Call(ref a);
    }

    public static Tensor l1_loss(Tensor input, Tensor target, Reduction reduction = Reduction.Mean)
    {
        var a = new OpArgs(stackalloc SaValue[3], default);
        a.Add(input); a.Add(target); a.Add((long)reduction);
        return OpL1.Call(ref a);
    }

    /// <summary>
    /// F.interpolate with an output size (spatial dims only). Modes: nearest (1-3D), linear (1D), bilinear/bicubic (2D),
    /// trilinear (3D). antialias is available for bilinear/bicubic downsampling.
    /// </summary>
    public static Tensor interpolate(Tensor input, long[] size, InterpolationMode mode = InterpolationMode.Nearest, bool? alignCorners = null, bool antialias = false)
    {
        int nd = input.dim() - 2;
        if (size.Length != nd)
            throw new ArgumentException($"interpolate: input has {nd} spatial dims ({input}), size has {size.Length}");
        if (mode == InterpolationMode.Nearest && alignCorners != null)
            throw new ArgumentException("interpolate: align_corners only applies to linear modes");
        bool needsLinear = mode is InterpolationMode.Linear or InterpolationMode.Bilinear or InterpolationMode.Bicubic or InterpolationMode.Trilinear;
        var op = (mode, nd) switch
        {
            (InterpolationMode.Nearest, 1) => OpUpNearest1, (InterpolationMode.Nearest, 2) => OpUpNearest2, (InterpolationMode.Nearest, 3) => OpUpNearest3,
            (InterpolationMode.Linear, 1) => OpUpLinear1,
            (InterpolationMode.Bilinear, 2) => antialias ? OpUpBilinearAA : OpUpBilinear2,
            (InterpolationMode.Bicubic, 2) => antialias ? OpUpBicubicAA : OpUpBicubic2,
            (InterpolationMode.Trilinear, 3) => OpUpTrilinear3,
            _ => throw new ArgumentException($"interpolate: mode {mode} does not apply to {nd}-D spatial input"),
        };
        if (antialias && mode is not (InterpolationMode.Bilinear or InterpolationMode.Bicubic))
            throw new ArgumentException("interpolate: antialias is only available for bilinear and bicubic");
        var a = new OpArgs(stackalloc SaValue[4], stackalloc long[4]);
        a.Add(input); a.Add(size);
        if (needsLinear) a.Add(alignCorners ?? false);
        a.AddNone(); // scale_factors
        return op.Call(ref a);
    }

    /// <summary>grid_sample: bilinear/nearest/bicubic sampling of input at normalised grid coordinates.</summary>
    public static Tensor grid_sample(Tensor input, Tensor grid, string mode = "bilinear", string paddingMode = "zeros", bool alignCorners = false)
    {
        long m = mode switch { "bilinear" => 0, "nearest" => 1, "bicubic" => 2, _ => throw new ArgumentException($"grid_sample mode '{mode}'") };
        long p = paddingMode switch { "zeros" => 0, "border" => 1, "reflection" => 2, _ => throw new ArgumentException($"grid_sample padding '{paddingMode}'") };
        var a = new OpArgs(stackalloc SaValue[5], default);
        a.Add(input); a.Add(grid); a.Add(m); a.Add(p); a.Add(alignCorners);
        return OpGridSampler.Call(ref a);
    }

    public static Tensor max_pool2d(Tensor input, long kernel, long? stride = null, long padding = 0)
    {
        var a = new OpArgs(stackalloc SaValue[6], stackalloc long[8]);
        a.Add(input); a.Add([kernel, kernel]); a.Add([stride ?? kernel, stride ?? kernel]); a.Add([padding, padding]); a.Add([1L, 1L]); a.Add(false);
        return OpMaxPool2d.Call(ref a);
    }

    public static Tensor avg_pool2d(Tensor input, long kernel, long? stride = null, long padding = 0)
    {
        var a = new OpArgs(stackalloc SaValue[4], stackalloc long[6]);
        a.Add(input); a.Add([kernel, kernel]); a.Add([stride ?? kernel, stride ?? kernel]); a.Add([padding, padding]);
        return OpAvgPool2d.Call(ref a);
    }

    public static Tensor adaptive_avg_pool2d(Tensor input, long[] outputSize)
    {
        var a = new OpArgs(stackalloc SaValue[2], stackalloc long[2]);
        a.Add(input); a.Add(outputSize);
        return OpAdaptiveAvgPool2d.Call(ref a);
    }

    /// <summary>
    /// The image encoder's attention <c>softmax(q·scale·kᵀ + rel_h + rel_w)·v</c> with decomposed relative-position terms
    /// (native/src/attention.cpp): q (B', N, d) unscaled, k (B', Nk, d), v (B', Nk, dv), rel_h (B', N, kh) and rel_w (B', N, kw)
    /// with kh·kw = Nk, or both null → (B', N, dv). On the CPU in float32 without autograd: one parallel pass over blocks of
    /// <paramref name="blockRows"/> query rows (0: a cache-sized block), each block's logits kept in cache. Otherwise the
    /// composite form (differentiable, any device). The CPU kernel fuses the additions and softmax per row with its own exp
    /// (about 1e-7 relative from ATen's); <paramref name="atenSoftmax"/> uses ATen's softmax kernel instead.
    /// </summary>
    public static Tensor rel_pos_attention(Tensor q, Tensor k, Tensor v, Tensor? relH, Tensor? relW, double scale, long blockRows = 0,
        bool atenSoftmax = false)
    {
        var a = new OpArgs(stackalloc SaValue[8], default);
        a.Add(q); a.Add(k); a.Add(v); a.AddOptional(relH); a.AddOptional(relW); a.Add(scale); a.Add(blockRows); a.Add(atenSoftmax);
        return OpRelPosAttention.Call(ref a);
    }

    /// <summary>
    /// <see cref="rel_pos_attention"/> on an attention layer's fused projection (native/src/attention.cpp): <paramref name="qkv"/>
    /// (B, H, W, 3E) laid out [q | k | v], each <paramref name="numHeads"/> heads of E / heads channels; <paramref name="relHTable"/>
    /// (H, H, d) and <paramref name="relWTable"/> (W, W, d), the relative-position embeddings gathered per (query, key) offset, or
    /// both null → (B, H, W, E), heads side by side. On the CPU in float32 without autograd the kernel reads q, k and v in place,
    /// computes the relative-position terms inside its tasks and writes the output in place; otherwise the composite form.
    /// </summary>
    public static Tensor rel_pos_attention_qkv(Tensor qkv, long numHeads, Tensor? relHTable, Tensor? relWTable, double scale,
        bool atenSoftmax = false)
    {
        var a = new OpArgs(stackalloc SaValue[6], default);
        a.Add(qkv); a.Add(numHeads); a.AddOptional(relHTable); a.AddOptional(relWTable); a.Add(scale); a.Add(atenSoftmax);
        return OpRelPosAttentionQkv.Call(ref a);
    }

    /// <summary>True where libtorch has the fused <c>aten::scaled_dot_product_attention</c> kernel (2.x; not 1.13).</summary>
    public static bool fused_attention_available => OpSdpa.Value != null;

    /// <summary>
    /// softmax(q·kᵀ·scale + mask)·v over the last two dims. Uses libtorch's fused kernel where it exists (2.x) and
    /// an equivalent composite on libtorch 1.13. <paramref name="scale"/> defaults to 1/sqrt(head_dim).
    /// </summary>
    public static Tensor scaled_dot_product_attention(Tensor q, Tensor k, Tensor v, Tensor? attnMask = null, double dropoutP = 0,
        bool isCausal = false, double? scale = null, bool forceComposite = false)
    {
        var fused = forceComposite ? null : OpSdpa.Value;
        if (fused != null)
        {
            var a = new OpArgs(stackalloc SaValue[7], default);
            a.Add(q); a.Add(k); a.Add(v); a.AddOptional(attnMask); a.Add(dropoutP); a.Add(isCausal);
            a.AddOptional(scale);
            return fused.Call(ref a);
        }
        var s = scale ?? 1.0 / Math.Sqrt(q.size(-1));
        using var scope = DisposeScope.Begin();
        var attn = (q * s).matmul(k.transpose(-2, -1));
        if (isCausal)
        {
            long l = q.size(-2), sLen = k.size(-2);
            var causal = torch.ones([l, sLen], DType.Bool, q.device).triu(1);
            attn = attn.masked_fill(causal, double.NegativeInfinity);
        }
        if (attnMask is not null)
            attn = attnMask.dtype == DType.Bool ? attn.masked_fill(attnMask.logical_not(), double.NegativeInfinity) : attn + attnMask;
        attn = softmax(attn, -1);
        if (dropoutP > 0) attn = dropout(attn, dropoutP, true);
        return attn.matmul(v).MoveToOuterScope();
    }
}
