using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Training.Data;

/// <summary>
/// The learned input projection of multi-channel runs (<see cref="InputMappingKind.Learned"/>): a 1×1 convolution
/// (N, C, H, W) → (N, 3, H, W) in front of SAM's image encoder, trained with the method's trainable parameters. Parameters:
/// weight (3, C, 1, 1), bias (3), stored in a run's weights under <see cref="Prefix"/> (<c>input_projection.weight</c>,
/// <c>input_projection.bias</c>). Initialised to the channel mean (every output = the mean of the C inputs, bias 0), so training
/// starts from a grey image of all channels and no random numbers are drawn.
/// </summary>
public sealed class LearnedInputProjection : UnaryModule
{
    /// <summary>State-dict prefix of the projection's tensors in a run's weights files.</summary>
    public const string Prefix = "input_projection.";

    public readonly Tensor weight;
    public readonly Tensor bias;

    public LearnedInputProjection(int channels)
    {
        if (channels < 1) throw new ArgumentException($"a learned input projection needs at least one channel, got {channels}");
        Channels = channels;
        using (torch.no_grad())
        {
            weight = register_parameter("weight", torch.full([3, channels, 1, 1], 1.0 / channels));
            bias = register_parameter("bias", torch.zeros([3]));
        }
    }

    /// <summary>C, the input channels.</summary>
    public int Channels { get; }

    /// <summary>(N, C, H, W) → (N, 3, H, W).</summary>
    public override Tensor forward(Tensor x)
    {
        if (x.dim() != 4 || x.size(1) != Channels)
            throw new ArgumentException($"the input projection expects (N, {Channels}, H, W), got [{string.Join(", ", x.shape)}]");
        return F.conv2d(x, weight, bias);
    }

    /// <summary>The tensors under their run-folder keys (<see cref="Prefix"/> + name).</summary>
    public IReadOnlyDictionary<string, Tensor> State() => new Dictionary<string, Tensor>
    {
        [Prefix + "weight"] = weight,
        [Prefix + "bias"] = bias,
    };

    /// <summary>A projection with the weights stored in <paramref name="tensors"/> (keys with <see cref="Prefix"/>).</summary>
    public static LearnedInputProjection FromState(int channels, IReadOnlyDictionary<string, Tensor> tensors, string source)
    {
        var p = new LearnedInputProjection(channels);
        try
        {
            foreach (var (k, dst) in p.State())
            {
                if (!tensors.TryGetValue(k, out var src))
                    throw new InvalidDataException($"{source}: the run uses a learned input projection but '{k}' is missing");
                if (!src.shape.SequenceEqual(dst.shape))
                    throw new InvalidDataException($"{source}: '{k}' has shape [{string.Join(", ", src.shape)}], expected [{string.Join(", ", dst.shape)}]");
                using var _ = torch.no_grad();
                dst.copy_(src);
            }
            return p;
        }
        catch
        {
            p.Dispose();
            throw;
        }
    }
}
