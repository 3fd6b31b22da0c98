using SamAdapt.Torch.Native;

namespace SamAdapt.Torch;

// Elementwise, shape, indexing and reduction ops as Tensor methods (PyTorch names). Each calls one ATen operator.
public sealed partial class Tensor
{
    private static readonly Op OpNeg = new("aten::neg"), OpExp = new("aten::exp"), OpLog = new("aten::log"),
        OpSqrt = new("aten::sqrt"), OpRsqrt = new("aten::rsqrt"), OpAbs = new("aten::abs"), OpSin = new("aten::sin"),
        OpCos = new("aten::cos"), OpTanh = new("aten::tanh"), OpSigmoid = new("aten::sigmoid"), OpErf = new("aten::erf"),
        OpFloor = new("aten::floor"), OpCeil = new("aten::ceil"), OpRound = new("aten::round"), OpSign = new("aten::sign"),
        OpReciprocal = new("aten::reciprocal"), OpLogicalNot = new("aten::logical_not"), OpIsNan = new("aten::isnan"),
        OpIsFinite = new("aten::isfinite"), OpDetach = new("aten::detach"), OpT = new("aten::t"),
        OpLog1p = new("aten::log1p"), OpSquare = new("aten::square");

    private static readonly Op OpAddT = new("aten::add", "Tensor"), OpAddS = new("aten::add", "Scalar"),
        OpSubT = new("aten::sub", "Tensor"), OpSubS = new("aten::sub", "Scalar"), OpRsubS = new("aten::rsub", "Scalar"),
        OpMulT = new("aten::mul", "Tensor"), OpMulS = new("aten::mul", "Scalar"),
        OpDivT = new("aten::div", "Tensor"), OpDivS = new("aten::div", "Scalar"), OpDivMode = new("aten::div", "Tensor_mode"),
        OpPowS = new("aten::pow", "Tensor_Scalar"), OpPowT = new("aten::pow", "Tensor_Tensor"),
        OpRemS = new("aten::remainder", "Scalar"), OpMaximum = new("aten::maximum"), OpMinimum = new("aten::minimum"),
        OpEqT = new("aten::eq", "Tensor"), OpEqS = new("aten::eq", "Scalar"), OpNeT = new("aten::ne", "Tensor"), OpNeS = new("aten::ne", "Scalar"),
        OpLtT = new("aten::lt", "Tensor"), OpLtS = new("aten::lt", "Scalar"), OpLeT = new("aten::le", "Tensor"), OpLeS = new("aten::le", "Scalar"),
        OpGtT = new("aten::gt", "Tensor"), OpGtS = new("aten::gt", "Scalar"), OpGeT = new("aten::ge", "Tensor"), OpGeS = new("aten::ge", "Scalar"),
        OpAnd = new("aten::logical_and"), OpOr = new("aten::logical_or"), OpXor = new("aten::logical_xor"),
        OpClamp = new("aten::clamp"), OpWhere = new("aten::where", "self"), OpMaskedFill = new("aten::masked_fill", "Scalar"),
        OpMaskedFillT = new("aten::masked_fill", "Tensor"), OpLerpS = new("aten::lerp", "Scalar");

    private static readonly Op OpAddT_ = new("aten::add_", "Tensor"), OpAddS_ = new("aten::add_", "Scalar"),
        OpSubT_ = new("aten::sub_", "Tensor"), OpMulT_ = new("aten::mul_", "Tensor"), OpMulS_ = new("aten::mul_", "Scalar"),
        OpDivT_ = new("aten::div_", "Tensor"), OpDivS_ = new("aten::div_", "Scalar"), OpCopy_ = new("aten::copy_"),
        OpZero_ = new("aten::zero_"), OpFillS_ = new("aten::fill_", "Scalar"), OpAddcmul_ = new("aten::addcmul_"),
        OpAddcdiv_ = new("aten::addcdiv_"), OpLerpS_ = new("aten::lerp_", "Scalar"), OpSqrt_ = new("aten::sqrt_"),
        OpClamp_ = new("aten::clamp_"), OpUniform_ = new("aten::uniform_"), OpNormal_ = new("aten::normal_"),
        OpMaskedFill_ = new("aten::masked_fill_", "Scalar"), OpIndexPut_ = new("aten::index_put_");

    private static readonly Op OpView = new("aten::view"), OpReshape = new("aten::reshape"), OpPermute = new("aten::permute"),
        OpTranspose = new("aten::transpose", "int"), OpUnsqueeze = new("aten::unsqueeze"), OpSqueezeDim = new("aten::squeeze", "dim"),
        OpSqueeze = new("aten::squeeze"), OpFlatten = new("aten::flatten", "using_ints"), OpExpand = new("aten::expand"),
        OpRepeat = new("aten::repeat"), OpSelect = new("aten::select", "int"), OpSlice = new("aten::slice", "Tensor"),
        OpNarrow = new("aten::narrow"), OpSplit = new("aten::split", "Tensor"), OpChunk = new("aten::chunk"),
        OpUnbind = new("aten::unbind", "int"), OpIndex = new("aten::index", "Tensor"), OpMaskedSelect = new("aten::masked_select"),
        OpNonzero = new("aten::nonzero"), OpFlip = new("aten::flip"), OpRoll = new("aten::roll"), OpRot90 = new("aten::rot90"),
        OpRepeatInterleave = new("aten::repeat_interleave", "self_int"), OpGather = new("aten::gather"),
        OpIndexSelect = new("aten::index_select"), OpContiguous = new("aten::contiguous"), OpClone = new("aten::clone"),
        OpAsStrided = new("aten::as_strided"), OpScatter = new("aten::scatter", "src"), OpScatterAdd = new("aten::scatter_add");

    private static readonly Op OpSum = new("aten::sum"), OpSumDim = new("aten::sum", "dim_IntList"), OpMean = new("aten::mean"),
        OpMeanDim = new("aten::mean", "dim"), OpMax = new("aten::max"), OpMaxDim = new("aten::max", "dim"), OpMin = new("aten::min"),
        OpMinDim = new("aten::min", "dim"), OpAmax = new("aten::amax"), OpAmin = new("aten::amin"), OpArgmax = new("aten::argmax"),
        OpArgmin = new("aten::argmin"), OpProd = new("aten::prod"), OpAny = new("aten::any"), OpAll = new("aten::all"),
        OpCumsum = new("aten::cumsum"), OpSort = new("aten::sort"), OpTopk = new("aten::topk"), OpLogsumexp = new("aten::logsumexp"),
        OpVarCorr = new("aten::var", "correction"), OpStdCorr = new("aten::std", "correction"), OpNorm = new("aten::linalg_vector_norm"),
        OpToDtype = new("aten::to", "dtype"), OpToDevice = new("aten::to", "device"), OpMatmul = new("aten::matmul"),
        OpBmm = new("samadapt::bmm"), OpMm = new("aten::mm");

    // ---- helpers: one tensor in, one out ----
    private Tensor U(Op op)
    {
        var a = new OpArgs(stackalloc SaValue[1], default);
        a.Add(this);
        return op.Call(ref a);
    }

    private Tensor B(Op op, Tensor other)
    {
        var a = new OpArgs(stackalloc SaValue[2], default);
        a.Add(this); a.Add(other);
        return op.Call(ref a);
    }

    private Tensor BS(Op op, double other)
    {
        var a = new OpArgs(stackalloc SaValue[2], default);
        a.Add(this); a.AddScalar(other);
        return op.Call(ref a);
    }

    private Tensor InPlace(Op op, Tensor other)
    {
        var a = new OpArgs(stackalloc SaValue[2], default);
        a.Add(this); a.Add(other);
        op.CallVoid(ref a);
        return this;
    }

    private Tensor InPlaceS(Op op, double other)
    {
        var a = new OpArgs(stackalloc SaValue[2], default);
        a.Add(this); a.AddScalar(other);
        op.CallVoid(ref a);
        return this;
    }

    // ---- unary ----
    public Tensor neg() => U(OpNeg);
    public Tensor exp() => U(OpExp);
    public Tensor log() => U(OpLog);
    public Tensor log1p() => U(OpLog1p);
    public Tensor sqrt() => U(OpSqrt);
    public Tensor rsqrt() => U(OpRsqrt);
    public Tensor abs() => U(OpAbs);
    public Tensor sin() => U(OpSin);
    public Tensor cos() => U(OpCos);
    public Tensor tanh() => U(OpTanh);
    public Tensor sigmoid() => U(OpSigmoid);
    public Tensor erf() => U(OpErf);
    public Tensor floor() => U(OpFloor);
    public Tensor ceil() => U(OpCeil);
    public Tensor round() => U(OpRound);
    public Tensor sign() => U(OpSign);
    public Tensor square() => U(OpSquare);
    public Tensor reciprocal() => U(OpReciprocal);
    public Tensor logical_not() => U(OpLogicalNot);
    public Tensor isnan() => U(OpIsNan);
    public Tensor isfinite() => U(OpIsFinite);
    /// <summary>A new tensor sharing storage, cut from the autograd graph.</summary>
    public Tensor detach() => U(OpDetach);
    public Tensor t() => U(OpT);

    // ---- binary ----
    public Tensor add(Tensor other, double alpha = 1)
    {
        var a = new OpArgs(stackalloc SaValue[3], default);
        a.Add(this); a.Add(other); a.AddScalar(alpha);
        return OpAddT.Call(ref a);
    }
    public Tensor add(double other) => BS(OpAddS, other);
    public Tensor sub(Tensor other, double alpha = 1)
    {
        var a = new OpArgs(stackalloc SaValue[3], default);
        a.Add(this); a.Add(other); a.AddScalar(alpha);
        return OpSubT.Call(ref a);
    }
    public Tensor sub(double other) => BS(OpSubS, other);
    public Tensor rsub(double other) => BS(OpRsubS, other);
    public Tensor mul(Tensor other) => B(OpMulT, other);
    public Tensor mul(double other) => BS(OpMulS, other);
    public Tensor div(Tensor other) => B(OpDivT, other);
    public Tensor div(double other) => BS(OpDivS, other);
    /// <summary>Division with rounding_mode "trunc" or "floor".</summary>
    public Tensor div(Tensor other, string roundingMode)
    {
        var a = new OpArgs(stackalloc SaValue[3], default);
        a.Add(this); a.Add(other); a.Add(roundingMode);
        return OpDivMode.Call(ref a);
    }
    public Tensor pow(double exponent) => BS(OpPowS, exponent);
    public Tensor pow(Tensor exponent) => B(OpPowT, exponent);
    public Tensor remainder(double other) => BS(OpRemS, other);
    public Tensor maximum(Tensor other) => B(OpMaximum, other);
    public Tensor minimum(Tensor other) => B(OpMinimum, other);
    public Tensor eq(Tensor other) => B(OpEqT, other);
    public Tensor eq(double other) => BS(OpEqS, other);
    public Tensor ne(Tensor other) => B(OpNeT, other);
    public Tensor ne(double other) => BS(OpNeS, other);
    public Tensor lt(Tensor other) => B(OpLtT, other);
    public Tensor lt(double other) => BS(OpLtS, other);
    public Tensor le(Tensor other) => B(OpLeT, other);
    public Tensor le(double other) => BS(OpLeS, other);
    public Tensor gt(Tensor other) => B(OpGtT, other);
    public Tensor gt(double other) => BS(OpGtS, other);
    public Tensor ge(Tensor other) => B(OpGeT, other);
    public Tensor ge(double other) => BS(OpGeS, other);
    public Tensor logical_and(Tensor other) => B(OpAnd, other);
    public Tensor logical_or(Tensor other) => B(OpOr, other);
    public Tensor logical_xor(Tensor other) => B(OpXor, other);
    /// <summary>torch.matmul. Products of (…, m, k) and (…, k, n) with the same batch dims (attention's) go through
    /// <see cref="bmm"/>; everything else through aten::matmul.</summary>
    public Tensor matmul(Tensor other)
    {
        int nd = dim();
        if (nd < 3 || other.dim() != nd) return B(OpMatmul, other);
        var sa = shape;
        var sb = other.shape;
        for (int i = 0; i < nd - 2; i++) if (sa[i] != sb[i]) return B(OpMatmul, other);
        if (nd == 3) return B(OpBmm, other);
        using var a3 = reshape(-1, sa[nd - 2], sa[nd - 1]);
        using var b3 = other.reshape(-1, sb[nd - 2], sb[nd - 1]);
        using var r = a3.B(OpBmm, b3);
        var outShape = (long[])sa.Clone();
        outShape[nd - 1] = sb[nd - 1];
        return r.view(outShape);
    }

    /// <summary>Batched matrix product (B, m, k)·(B, k, n). samadapt::bmm (native/src/bmm.cpp): on the CPU in float32/64 one
    /// BLAS call per batch entry, without libtorch 1.13's per-entry dispatch overhead; otherwise aten::bmm.</summary>
    public Tensor bmm(Tensor other) => B(OpBmm, other);
    public Tensor mm(Tensor other) => B(OpMm, other);

    public Tensor clamp(double? min = null, double? max = null)
    {
        var a = new OpArgs(stackalloc SaValue[3], default);
        a.Add(this);
        if (min is { } lo) a.AddScalar(lo); else a.AddNone();
        if (max is { } hi) a.AddScalar(hi); else a.AddNone();
        return OpClamp.Call(ref a);
    }

    public Tensor clamp_(double? min = null, double? max = null)
    {
        var a = new OpArgs(stackalloc SaValue[3], default);
        a.Add(this);
        if (min is { } lo) a.AddScalar(lo); else a.AddNone();
        if (max is { } hi) a.AddScalar(hi); else a.AddNone();
        OpClamp_.CallVoid(ref a);
        return this;
    }

    public Tensor masked_fill(Tensor mask, double value)
    {
        var a = new OpArgs(stackalloc SaValue[3], default);
        a.Add(this); a.Add(mask); a.AddScalar(value);
        return OpMaskedFill.Call(ref a);
    }

    public Tensor masked_fill(Tensor mask, Tensor value)
    {
        var a = new OpArgs(stackalloc SaValue[3], default);
        a.Add(this); a.Add(mask); a.Add(value);
        return OpMaskedFillT.Call(ref a);
    }

    public Tensor masked_fill_(Tensor mask, double value)
    {
        var a = new OpArgs(stackalloc SaValue[3], default);
        a.Add(this); a.Add(mask); a.AddScalar(value);
        OpMaskedFill_.CallVoid(ref a);
        return this;
    }

    public Tensor lerp(Tensor end, double weight)
    {
        var a = new OpArgs(stackalloc SaValue[3], default);
        a.Add(this); a.Add(end); a.Add(weight);
        return OpLerpS.Call(ref a);
    }

    // ---- in-place ----
    public Tensor add_(Tensor other, double alpha = 1)
    {
        var a = new OpArgs(stackalloc SaValue[3], default);
        a.Add(this); a.Add(other); a.AddScalar(alpha);
        OpAddT_.CallVoid(ref a);
        return this;
    }
    public Tensor add_(double other) => InPlaceS(OpAddS_, other);
    public Tensor sub_(Tensor other) => InPlace(OpSubT_, other);
    public Tensor mul_(Tensor other) => InPlace(OpMulT_, other);
    public Tensor mul_(double other) => InPlaceS(OpMulS_, other);
    public Tensor div_(Tensor other) => InPlace(OpDivT_, other);
    public Tensor div_(double other) => InPlaceS(OpDivS_, other);
    public Tensor sqrt_() { var a = new OpArgs(stackalloc SaValue[1], default); a.Add(this); OpSqrt_.CallVoid(ref a); return this; }
    public Tensor zero_() { var a = new OpArgs(stackalloc SaValue[1], default); a.Add(this); OpZero_.CallVoid(ref a); return this; }
    public Tensor fill_(double value) => InPlaceS(OpFillS_, value);
    /// <summary>Copies src (broadcast, any dtype/device) into this tensor.</summary>
    public Tensor copy_(Tensor src, bool nonBlocking = false)
    {
        var a = new OpArgs(stackalloc SaValue[3], default);
        a.Add(this); a.Add(src); a.Add(nonBlocking);
        OpCopy_.CallVoid(ref a);
        return this;
    }
    public Tensor addcmul_(Tensor t1, Tensor t2, double value = 1)
    {
        var a = new OpArgs(stackalloc SaValue[4], default);
        a.Add(this); a.Add(t1); a.Add(t2); a.AddScalar(value);
        OpAddcmul_.CallVoid(ref a);
        return this;
    }
    public Tensor addcdiv_(Tensor t1, Tensor t2, double value = 1)
    {
        var a = new OpArgs(stackalloc SaValue[4], default);
        a.Add(this); a.Add(t1); a.Add(t2); a.AddScalar(value);
        OpAddcdiv_.CallVoid(ref a);
        return this;
    }
    public Tensor lerp_(Tensor end, double weight)
    {
        var a = new OpArgs(stackalloc SaValue[3], default);
        a.Add(this); a.Add(end); a.Add(weight);
        OpLerpS_.CallVoid(ref a);
        return this;
    }
    public Tensor uniform_(double from = 0, double to = 1)
    {
        var a = new OpArgs(stackalloc SaValue[3], default);
        a.Add(this); a.Add(from); a.Add(to);
        OpUniform_.CallVoid(ref a);
        return this;
    }
    public Tensor normal_(double mean = 0, double std = 1)
    {
        var a = new OpArgs(stackalloc SaValue[3], default);
        a.Add(this); a.Add(mean); a.Add(std);
        OpNormal_.CallVoid(ref a);
        return this;
    }
    /// <summary>self[indices] = values (indices: one optional tensor per leading dim).</summary>
    public Tensor index_put_(Tensor?[] indices, Tensor values, bool accumulate = false)
    {
        var a = new OpArgs(stackalloc SaValue[4], default);
        a.Add(this); a.AddOptionalTensors(indices); a.Add(values); a.Add(accumulate);
        OpIndexPut_.CallVoid(ref a);
        return this;
    }

    // ---- shape ----
    private Tensor WithLongs(Op op, ReadOnlySpan<long> list)
    {
        var a = new OpArgs(stackalloc SaValue[2], stackalloc long[8]);
        a.Add(this); a.Add(list);
        return op.Call(ref a);
    }

    public Tensor view(params long[] shape) => WithLongs(OpView, shape);
    public Tensor reshape(params long[] shape) => WithLongs(OpReshape, shape);
    public Tensor permute(params long[] dims) => WithLongs(OpPermute, dims);
    public Tensor repeat(params long[] repeats) => WithLongs(OpRepeat, repeats);
    public Tensor flip(params long[] dims) => WithLongs(OpFlip, dims);

    public Tensor expand(params long[] shape)
    {
        var a = new OpArgs(stackalloc SaValue[3], stackalloc long[8]);
        a.Add(this); a.Add(shape); a.Add(false);
        return OpExpand.Call(ref a);
    }

    public Tensor expand_as(Tensor other) => expand(other.shape);
    public Tensor view_as(Tensor other) => view(other.shape);

    private Tensor WithInts(Op op, long x)
    {
        var a = new OpArgs(stackalloc SaValue[2], default);
        a.Add(this); a.Add(x);
        return op.Call(ref a);
    }

    private Tensor WithInts(Op op, long x, long y)
    {
        var a = new OpArgs(stackalloc SaValue[3], default);
        a.Add(this); a.Add(x); a.Add(y);
        return op.Call(ref a);
    }

    public Tensor transpose(long dim0, long dim1) => WithInts(OpTranspose, dim0, dim1);
    public Tensor unsqueeze(long dim) => WithInts(OpUnsqueeze, dim);
    public Tensor squeeze(long dim) => WithInts(OpSqueezeDim, dim);
    public Tensor squeeze() => U(OpSqueeze);
    public Tensor flatten(long startDim = 0, long endDim = -1) => WithInts(OpFlatten, startDim, endDim);
    public Tensor select(long dim, long index) => WithInts(OpSelect, dim, index);

    public Tensor narrow(long dim, long start, long length)
    {
        var a = new OpArgs(stackalloc SaValue[4], default);
        a.Add(this); a.Add(dim); a.Add(start); a.Add(length);
        return OpNarrow.Call(ref a);
    }

    /// <summary>x[start:end:step] along dim (null = open end, negatives count from the end).</summary>
    public Tensor slice(long dim, long? start, long? end, long step = 1)
    {
        var a = new OpArgs(stackalloc SaValue[5], default);
        a.Add(this); a.Add(dim); a.AddOptional(start); a.AddOptional(end); a.Add(step);
        return OpSlice.Call(ref a);
    }

    public Tensor[] split(long splitSize, long dim = 0)
    {
        var a = new OpArgs(stackalloc SaValue[3], default);
        a.Add(this); a.Add(splitSize); a.Add(dim);
        return OpSplit.CallMany(ref a, (int)Math.Max(16, size((int)dim) / Math.Max(1, splitSize) + 1));
    }

    public Tensor[] chunk(long chunks, long dim = 0)
    {
        var a = new OpArgs(stackalloc SaValue[3], default);
        a.Add(this); a.Add(chunks); a.Add(dim);
        return OpChunk.CallMany(ref a, (int)Math.Max(16, chunks));
    }

    public Tensor[] unbind(long dim = 0)
    {
        var a = new OpArgs(stackalloc SaValue[2], default);
        a.Add(this); a.Add(dim);
        return OpUnbind.CallMany(ref a, (int)Math.Max(16, size((int)dim)));
    }

    /// <summary>Advanced indexing x[i0, i1, ...] with index or boolean-mask tensors (null = full slice).</summary>
    public Tensor index(params Tensor?[] indices)
    {
        var a = new OpArgs(stackalloc SaValue[2], default);
        a.Add(this); a.AddOptionalTensors(indices);
        return OpIndex.Call(ref a);
    }

    /// <summary>The elements where <paramref name="mask"/> (broadcast) is true, in logical order. libtorch 1.13's backward
    /// scatters the gradient into a buffer of the input's layout in storage order, wrong for a non-contiguous input, so
    /// such an input that requires grad is made contiguous first (a copy with its own, correct backward).</summary>
    public Tensor masked_select(Tensor mask)
    {
        if (!requires_grad || is_contiguous()) return B(OpMaskedSelect, mask);
        using var c = contiguous();
        return c.B(OpMaskedSelect, mask);
    }
    public Tensor nonzero() => U(OpNonzero);

    public Tensor roll(long[] shifts, long[] dims)
    {
        var a = new OpArgs(stackalloc SaValue[3], stackalloc long[8]);
        a.Add(this); a.Add(shifts); a.Add(dims);
        return OpRoll.Call(ref a);
    }

    public Tensor rot90(long k, long[] dims)
    {
        var a = new OpArgs(stackalloc SaValue[3], stackalloc long[4]);
        a.Add(this); a.Add(k); a.Add(dims);
        return OpRot90.Call(ref a);
    }

    public Tensor repeat_interleave(long repeats, long? dim = null)
    {
        var a = new OpArgs(stackalloc SaValue[3], default);
        a.Add(this); a.Add(repeats); a.AddOptional(dim);
        return OpRepeatInterleave.Call(ref a);
    }

    public Tensor gather(long dim, Tensor index)
    {
        var a = new OpArgs(stackalloc SaValue[3], default);
        a.Add(this); a.Add(dim); a.Add(index);
        return OpGather.Call(ref a);
    }

    public Tensor scatter(long dim, Tensor index, Tensor src)
    {
        var a = new OpArgs(stackalloc SaValue[4], default);
        a.Add(this); a.Add(dim); a.Add(index); a.Add(src);
        return OpScatter.Call(ref a);
    }

    public Tensor scatter_add(long dim, Tensor index, Tensor src)
    {
        var a = new OpArgs(stackalloc SaValue[4], default);
        a.Add(this); a.Add(dim); a.Add(index); a.Add(src);
        return OpScatterAdd.Call(ref a);
    }

    public Tensor index_select(long dim, Tensor index)
    {
        var a = new OpArgs(stackalloc SaValue[3], default);
        a.Add(this); a.Add(dim); a.Add(index);
        return OpIndexSelect.Call(ref a);
    }

    public Tensor contiguous() => U(OpContiguous);
    public Tensor clone() => U(OpClone);

    public Tensor as_strided(long[] size, long[] stride, long? storageOffset = null)
    {
        var a = new OpArgs(stackalloc SaValue[4], stackalloc long[16]);
        a.Add(this); a.Add(size); a.Add(stride); a.AddOptional(storageOffset);
        return OpAsStrided.Call(ref a);
    }

    // ---- reductions ----
    private Tensor Reduce(Op opAll, Op opDim, long[]? dims, bool keepdim)
    {
        if (dims == null) return U(opAll);
        var a = new OpArgs(stackalloc SaValue[3], stackalloc long[8]);
        a.Add(this); a.Add(dims); a.Add(keepdim);
        return opDim.Call(ref a);
    }

    public Tensor sum() => U(OpSum);
    public Tensor sum(long dim, bool keepdim = false) => Reduce(OpSum, OpSumDim, [dim], keepdim);
    public Tensor sum(long[] dims, bool keepdim = false) => Reduce(OpSum, OpSumDim, dims, keepdim);
    public Tensor mean() => U(OpMean);
    public Tensor mean(long dim, bool keepdim = false) => Reduce(OpMean, OpMeanDim, [dim], keepdim);
    public Tensor mean(long[] dims, bool keepdim = false) => Reduce(OpMean, OpMeanDim, dims, keepdim);
    public Tensor amax(long[] dims, bool keepdim = false) => Reduce(OpMax, OpAmax, dims, keepdim);
    public Tensor amin(long[] dims, bool keepdim = false) => Reduce(OpMin, OpAmin, dims, keepdim);
    public Tensor max() => U(OpMax);
    public Tensor min() => U(OpMin);
    public Tensor prod() => U(OpProd);
    public Tensor any() => U(OpAny);
    public Tensor all() => U(OpAll);

    public (Tensor values, Tensor indices) max(long dim, bool keepdim = false)
    {
        var a = new OpArgs(stackalloc SaValue[3], default);
        a.Add(this); a.Add(dim); a.Add(keepdim);
        var r = OpMaxDim.CallMany(ref a);
        return (r[0], r[1]);
    }

    public (Tensor values, Tensor indices) min(long dim, bool keepdim = false)
    {
        var a = new OpArgs(stackalloc SaValue[3], default);
        a.Add(this); a.Add(dim); a.Add(keepdim);
        var r = OpMinDim.CallMany(ref a);
        return (r[0], r[1]);
    }

    public Tensor argmax(long? dim = null, bool keepdim = false)
    {
        var a = new OpArgs(stackalloc SaValue[3], default);
        a.Add(this); a.AddOptional(dim); a.Add(keepdim);
        return OpArgmax.Call(ref a);
    }

    public Tensor argmin(long? dim = null, bool keepdim = false)
    {
        var a = new OpArgs(stackalloc SaValue[3], default);
        a.Add(this); a.AddOptional(dim); a.Add(keepdim);
        return OpArgmin.Call(ref a);
    }

    public Tensor cumsum(long dim, DType? dtype = null)
    {
        var a = new OpArgs(stackalloc SaValue[3], default);
        a.Add(this); a.Add(dim); a.AddOptional(dtype);
        return OpCumsum.Call(ref a);
    }

    public (Tensor values, Tensor indices) sort(long dim = -1, bool descending = false)
    {
        var a = new OpArgs(stackalloc SaValue[3], default);
        a.Add(this); a.Add(dim); a.Add(descending);
        var r = OpSort.CallMany(ref a);
        return (r[0], r[1]);
    }

    public (Tensor values, Tensor indices) topk(long k, long dim = -1, bool largest = true, bool sorted = true)
    {
        var a = new OpArgs(stackalloc SaValue[5], default);
        a.Add(this); a.Add(k); a.Add(dim); a.Add(largest); a.Add(sorted);
        var r = OpTopk.CallMany(ref a);
        return (r[0], r[1]);
    }

    public Tensor logsumexp(long dim, bool keepdim = false)
    {
        var a = new OpArgs(stackalloc SaValue[3], stackalloc long[1]);
        a.Add(this); a.Add([dim]); a.Add(keepdim);
        return OpLogsumexp.Call(ref a);
    }

    /// <summary>Variance with the given correction (1 = unbiased, 0 = biased).</summary>
    public Tensor var(long[]? dims = null, long correction = 1, bool keepdim = false)
    {
        var a = new OpArgs(stackalloc SaValue[4], stackalloc long[8]);
        a.Add(this);
        if (dims == null) a.AddNone(); else a.Add(dims);
        a.Add(correction); a.Add(keepdim);
        return OpVarCorr.Call(ref a);
    }

    public Tensor std(long[]? dims = null, long correction = 1, bool keepdim = false)
    {
        var a = new OpArgs(stackalloc SaValue[4], stackalloc long[8]);
        a.Add(this);
        if (dims == null) a.AddNone(); else a.Add(dims);
        a.Add(correction); a.Add(keepdim);
        return OpStdCorr.Call(ref a);
    }

    /// <summary>Vector p-norm over all elements (or the given dims).</summary>
    public Tensor norm(double p = 2, long[]? dims = null, bool keepdim = false)
    {
        var a = new OpArgs(stackalloc SaValue[4], stackalloc long[8]);
        a.Add(this); a.Add(p);
        if (dims == null) a.AddNone(); else a.Add(dims);
        a.Add(keepdim);
        return OpNorm.Call(ref a);
    }

    // ---- conversion ----
    public Tensor to(DType dtype, bool copy = false)
    {
        var a = new OpArgs(stackalloc SaValue[4], default);
        a.Add(this); a.Add(dtype); a.Add(false); a.Add(copy);
        return OpToDtype.Call(ref a);
    }

    public Tensor to(Device device, DType? dtype = null, bool nonBlocking = false, bool copy = false)
    {
        var a = new OpArgs(stackalloc SaValue[5], default);
        a.Add(this); a.Add(device); a.Add(dtype ?? this.dtype); a.Add(nonBlocking); a.Add(copy);
        return OpToDevice.Call(ref a);
    }

    public Tensor cpu() => to(Device.CPU);
    public Tensor cuda(int index = 0) => to(Device.CUDA(index));
    public Tensor @float() => to(DType.Float32);
    public Tensor @long() => to(DType.Int64);

    // ---- operators ----
    public static Tensor operator +(Tensor a, Tensor b) => a.add(b);
    public static Tensor operator +(Tensor a, double b) => a.add(b);
    public static Tensor operator +(double a, Tensor b) => b.add(a);
    public static Tensor operator -(Tensor a, Tensor b) => a.sub(b);
    public static Tensor operator -(Tensor a, double b) => a.sub(b);
    public static Tensor operator -(double a, Tensor b) => b.rsub(a);
    public static Tensor operator *(Tensor a, Tensor b) => a.mul(b);
    public static Tensor operator *(Tensor a, double b) => a.mul(b);
    public static Tensor operator *(double a, Tensor b) => b.mul(a);
    public static Tensor operator /(Tensor a, Tensor b) => a.div(b);
    public static Tensor operator /(Tensor a, double b) => a.div(b);
    public static Tensor operator -(Tensor a) => a.neg();
    public static Tensor operator >(Tensor a, double b) => a.gt(b);
    public static Tensor operator <(Tensor a, double b) => a.lt(b);
    public static Tensor operator >=(Tensor a, double b) => a.ge(b);
    public static Tensor operator <=(Tensor a, double b) => a.le(b);
    public static Tensor operator >(Tensor a, Tensor b) => a.gt(b);
    public static Tensor operator <(Tensor a, Tensor b) => a.lt(b);
    public static Tensor operator >=(Tensor a, Tensor b) => a.ge(b);
    public static Tensor operator <=(Tensor a, Tensor b) => a.le(b);
    public static Tensor operator &(Tensor a, Tensor b) => a.logical_and(b);
    public static Tensor operator |(Tensor a, Tensor b) => a.logical_or(b);
    public static Tensor operator !(Tensor a) => a.logical_not();
}

public sealed partial class Tensor
{
    private static readonly Op OpTriu = new("aten::triu"), OpTril = new("aten::tril");

    public Tensor triu(long diagonal = 0) => WithInts(OpTriu, diagonal);
    public Tensor tril(long diagonal = 0) => WithInts(OpTril, diagonal);
}
