namespace SamAdapt.Torch.NN;

/// <summary>PyTorch's default initialisation (kaiming_uniform with a=√5, i.e. U(−1/√fan_in, 1/√fan_in)).</summary>
public static class Init
{
    public static Tensor DefaultUniform(long[] shape, long fanIn)
    {
        var bound = fanIn > 0 ? 1.0 / Math.Sqrt(fanIn) : 0;
        using var _ = torch.no_grad();
        return torch.empty(shape).uniform_(-bound, bound);
    }

    public static Tensor TruncNormal(long[] shape, double std)
    {
        using var _ = torch.no_grad();
        using var scope = DisposeScope.Begin();
        var t = torch.randn(shape).mul_(std).clamp_(-2 * std, 2 * std);
        return t.MoveToOuterScope();
    }

    public static long Product(ReadOnlySpan<long> xs) { long p = 1; foreach (var x in xs) p *= x; return p; }
}

/// <summary>y = x·Wᵀ + b. Parameters: weight (out, in), bias (out).</summary>
public sealed class Linear : UnaryModule
{
    public readonly Tensor weight;
    public readonly Tensor? bias;

    public Linear(long inFeatures, long outFeatures, bool hasBias = true)
    {
        weight = register_parameter("weight", Init.DefaultUniform([outFeatures, inFeatures], inFeatures));
        if (hasBias) bias = register_parameter("bias", Init.DefaultUniform([outFeatures], inFeatures));
    }

    public long in_features => weight.size(1);
    public long out_features => weight.size(0);
    public override Tensor forward(Tensor x) => F.linear(x, weight, bias);
}

/// <summary>N-d convolution (1 to 3 spatial dims). Parameters: weight (out, in/groups, k...), bias (out).</summary>
public sealed class Conv : UnaryModule
{
    public readonly Tensor weight;
    public readonly Tensor? bias;
    private readonly long[] _stride, _padding, _dilation;
    private readonly long _groups;
    private readonly PaddingMode _mode;

    public Conv(int dims, long inChannels, long outChannels, long[] kernel, long[]? stride = null, long[]? padding = null,
        long[]? dilation = null, long groups = 1, bool hasBias = true, PaddingMode paddingMode = PaddingMode.Zeros)
    {
        if (kernel.Length != dims) throw new ArgumentException($"kernel needs {dims} sizes, got {kernel.Length}");
        if (inChannels % groups != 0 || outChannels % groups != 0)
            throw new ArgumentException($"channels ({inChannels} in, {outChannels} out) must be divisible by groups ({groups})");
        _stride = stride ?? Enumerable.Repeat(1L, dims).ToArray();
        _padding = padding ?? Enumerable.Repeat(0L, dims).ToArray();
        _dilation = dilation ?? Enumerable.Repeat(1L, dims).ToArray();
        _groups = groups;
        _mode = paddingMode;
        long fanIn = inChannels / groups * Init.Product(kernel);
        weight = register_parameter("weight", Init.DefaultUniform([outChannels, inChannels / groups, .. kernel], fanIn));
        if (hasBias) bias = register_parameter("bias", Init.DefaultUniform([outChannels], fanIn));
    }

    public override Tensor forward(Tensor x)
    {
        var pad = _padding;
        if (_mode != PaddingMode.Zeros && _padding.Any(p => p != 0))
        {
            // explicit padding in the requested mode, then an unpadded convolution (as PyTorch does)
            var pairs = new long[_padding.Length * 2];
            for (int i = 0; i < _padding.Length; i++) pairs[2 * i] = pairs[2 * i + 1] = _padding[_padding.Length - 1 - i];
            x = F.pad(x, pairs, _mode);
            pad = new long[_padding.Length];
        }
        return _padding.Length switch
        {
            1 => F.conv1d(x, weight, bias, _stride, pad, _dilation, _groups),
            2 => F.conv2d(x, weight, bias, _stride, pad, _dilation, _groups),
            _ => F.conv3d(x, weight, bias, _stride, pad, _dilation, _groups),
        };
    }

    public static Conv Conv2d(long inC, long outC, long kernel, long stride = 1, long padding = 0, long groups = 1, bool bias = true, PaddingMode mode = PaddingMode.Zeros) =>
        new(2, inC, outC, [kernel, kernel], [stride, stride], [padding, padding], null, groups, bias, mode);

    public static Conv Conv3d(long inC, long outC, long[] kernel, long[]? stride = null, long[]? padding = null, long groups = 1, bool bias = true, PaddingMode mode = PaddingMode.Zeros) =>
        new(3, inC, outC, kernel, stride, padding, null, groups, bias, mode);
}

/// <summary>Transposed convolution (2 or 3 spatial dims). weight has shape (in, out/groups, k...).</summary>
public sealed class ConvTranspose : UnaryModule
{
    public readonly Tensor weight;
    public readonly Tensor? bias;
    private readonly long[] _stride, _padding, _outputPadding;
    private readonly long _groups;

    public ConvTranspose(int dims, long inChannels, long outChannels, long[] kernel, long[]? stride = null, long[]? padding = null,
        long[]? outputPadding = null, long groups = 1, bool hasBias = true)
    {
        if (dims is not (2 or 3)) throw new ArgumentException("transposed convolution supports 2 or 3 spatial dims");
        _stride = stride ?? Enumerable.Repeat(1L, dims).ToArray();
        _padding = padding ?? Enumerable.Repeat(0L, dims).ToArray();
        _outputPadding = outputPadding ?? Enumerable.Repeat(0L, dims).ToArray();
        _groups = groups;
        long fanIn = outChannels / groups * Init.Product(kernel); // PyTorch takes fan_in from weight.size(1)
        weight = register_parameter("weight", Init.DefaultUniform([inChannels, outChannels / groups, .. kernel], fanIn));
        if (hasBias) bias = register_parameter("bias", Init.DefaultUniform([outChannels], fanIn));
    }

    public override Tensor forward(Tensor x) => _stride.Length == 2
        ? F.conv_transpose2d(x, weight, bias, _stride, _padding, _outputPadding, _groups)
        : F.conv_transpose3d(x, weight, bias, _stride, _padding, _outputPadding, _groups);

    public static ConvTranspose ConvTranspose2d(long inC, long outC, long kernel, long stride = 1, bool bias = true) =>
        new(2, inC, outC, [kernel, kernel], [stride, stride], null, null, 1, bias);
}

/// <summary>LayerNorm over the last dims (fused ATen kernel). weight/bias have the normalised shape.</summary>
public sealed class LayerNorm : UnaryModule
{
    public readonly Tensor weight, bias;
    public readonly double eps;
    private readonly long[] _shape;

    public LayerNorm(long dim, double eps = 1e-5) : this([dim], eps) { }

    public LayerNorm(long[] normalizedShape, double eps = 1e-5)
    {
        _shape = normalizedShape;
        this.eps = eps;
        weight = register_parameter("weight", torch.ones(normalizedShape));
        bias = register_parameter("bias", torch.zeros(normalizedShape));
    }

    public override Tensor forward(Tensor x) => F.layer_norm(x, _shape, weight, bias, eps);
}

public sealed class GroupNorm : UnaryModule
{
    public readonly Tensor weight, bias;
    private readonly long _groups;
    private readonly double _eps;

    public GroupNorm(long numGroups, long numChannels, double eps = 1e-5)
    {
        if (numChannels % numGroups != 0) throw new ArgumentException($"{numChannels} channels are not divisible into {numGroups} groups");
        _groups = numGroups;
        _eps = eps;
        weight = register_parameter("weight", torch.ones(numChannels));
        bias = register_parameter("bias", torch.zeros(numChannels));
    }

    public override Tensor forward(Tensor x) => F.group_norm(x, _groups, weight, bias, _eps);
}

/// <summary>Lookup table: weight (num, dim), initialised N(0, 1) like PyTorch.</summary>
public sealed class Embedding : UnaryModule
{
    public readonly Tensor weight;

    public Embedding(long num, long dim)
    {
        using (torch.no_grad()) weight = register_parameter("weight", torch.randn(num, dim));
    }

    public override Tensor forward(Tensor indices) => F.embedding(indices, weight);
}

public sealed class Dropout(double p = 0.5) : UnaryModule
{
    public double p { get; } = p;
    public override Tensor forward(Tensor x) => p == 0 || !training ? x.alias() : F.dropout(x, p, true);
}

public sealed class GELU(string approximate = "none") : UnaryModule
{
    public override Tensor forward(Tensor x) => F.gelu(x, approximate);
}

public sealed class ReLU : UnaryModule
{
    public override Tensor forward(Tensor x) => F.relu(x);
}

public sealed class Sigmoid : UnaryModule
{
    public override Tensor forward(Tensor x) => x.sigmoid();
}

public sealed class Identity : UnaryModule
{
    public override Tensor forward(Tensor x) => x.alias();
}

/// <summary>Applies its children in order; children are named "0", "1", ... like nn.Sequential.</summary>
public sealed class Sequential : UnaryModule
{
    private readonly List<UnaryModule> _layers = new();

    public Sequential(params UnaryModule[] layers)
    {
        foreach (var l in layers) Add(l);
    }

    public void Add(UnaryModule layer) => _layers.Add(register_module(_layers.Count.ToString(), layer));
    public int Count => _layers.Count;
    public UnaryModule this[int i] => _layers[i];

    public override Tensor forward(Tensor x)
    {
        if (_layers.Count == 0) return x.alias();
        var y = _layers[0].forward(x);
        for (int i = 1; i < _layers.Count; i++) y = _layers[i].forward(y);
        return y;
    }
}

/// <summary>An indexed list of submodules named "0", "1", ... like nn.ModuleList.</summary>
public sealed class ModuleList<T> : Module, IReadOnlyList<T> where T : Module
{
    private readonly List<T> _items = new();

    public ModuleList(IEnumerable<T>? items = null)
    {
        if (items != null) foreach (var m in items) Add(m);
    }

    public void Add(T m) => _items.Add(register_module(_items.Count.ToString(), m));
    public T this[int i] => _items[i];
    public int Count => _items.Count;
    public IEnumerator<T> GetEnumerator() => _items.GetEnumerator();
    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
