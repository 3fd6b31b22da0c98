using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Training.Engine.TestHost;

/// <summary>A tiny segmentation net: a frozen stem, a trainable body with dropout (so the RNG matters), a 1×1 head.</summary>
public sealed class TinyNet : UnaryModule
{
    public readonly Conv stem, body, head;
    public readonly Dropout drop;

    public TinyNet(int classes, int ballastFloats, double dropout = 0.1)
    {
        stem = register_module("stem", Conv.Conv2d(1, 8, 3, padding: 1));
        body = register_module("body", Conv.Conv2d(8, 8, 3, padding: 1));
        drop = register_module("drop", new Dropout(dropout));
        head = register_module("head", Conv.Conv2d(8, classes, 1));
        stem.freeze();
        // a large trainable-but-unused tensor makes checkpoints big enough that a kill often lands mid-write
        if (ballastFloats > 0) register_parameter("ballast", torch.zeros([ballastFloats]), requiresGrad: true);
    }

    public override Tensor forward(Tensor x) => head.forward(drop.forward(F.relu(body.forward(F.relu(stem.forward(x))))));
}

public sealed record TinyConfig
{
    public int Classes { get; init; } = 3;
    public int Size { get; init; } = 24;
    public string Dataset { get; init; } = "synthetic";
    public int BallastFloats { get; init; }
    public double Dropout { get; init; } = 0.1;
}

public sealed class TinyTask : ITrainingTask, IDisposable
{
    private readonly SegmentationLoss _loss;
    private readonly SyntheticSource _val;
    private readonly TinyNet _net;

    public TinyTask(TinyConfig config, TrainerOptions options, IReadOnlySet<long>? nanAtSteps = null)
    {
        TaskConfig = config;
        _net = new TinyNet(config.Classes, config.BallastFloats, config.Dropout);
        _loss = SegmentationLoss.FromOptions(options);
        _val = new SyntheticSource(seed: 999, batchSize: 4, size: config.Size, batches: 2);
        NanAtSteps = nanAtSteps ?? new HashSet<long>();
        ParameterGroups =
        [
            ParameterGroupSpec.FromPrefix("stem (frozen)", _net, "stem."),
            ParameterGroupSpec.FromPrefix("body", _net, "body."),
            ParameterGroupSpec.FromPrefix("head", _net, "head.", lrScale: 2),
        ];
    }

    public TinyConfig TaskConfig { get; }
    public IReadOnlySet<long> NanAtSteps { get; }

    /// <summary>The step at which <see cref="Loss"/> hangs (sleeps for a long time), or −1.</summary>
    public long StallAtStep { get; init; } = -1;

    /// <summary>The first <c>Calls</c> calls of <see cref="Loss"/> take <c>DelayMs</c> longer (a slow start that a time-budget
    /// calibration sees and the later iterations do not).</summary>
    public (int Calls, int DelayMs) SlowFirstCalls { get; init; }
    /// <summary>Calls of <see cref="Loss"/> from the <c>FromCall</c>-th on (0-based) take <c>DelayMs</c> longer (a machine that got busier).</summary>
    public (int FromCall, int DelayMs) SlowLaterCalls { get; init; } = (int.MaxValue, 0);

    /// <summary>Every call of <see cref="Loss"/> takes this much longer (a uniformly slow rank).</summary>
    public int StepDelayMs { get; init; }
    private int _lossCalls;
    public string Method => "tiny";
    public Module Model => _net;
    public IReadOnlyList<string> ClassNames { get; } = ["background", "disk", "square"];
    public IReadOnlyList<ParameterGroupSpec> ParameterGroups { get; }
    public object Config => TaskConfig;
    public IReadOnlyDictionary<string, string> AdapterMetadata => new Dictionary<string, string> { ["tiny.classes"] = "3" };
    public bool Prepared { get; private set; }

    public void Prepare(TrainingContext context)
    {
        _net.to(context.Device);
        Prepared = true;
    }

    public Tensor Loss(Batch batch, TrainingContext context)
    {
        if (context.Step == StallAtStep) Thread.Sleep(TimeSpan.FromMinutes(10));
        if (_lossCalls >= SlowLaterCalls.FromCall) Thread.Sleep(SlowLaterCalls.DelayMs);
        if (_lossCalls++ < SlowFirstCalls.Calls) Thread.Sleep(SlowFirstCalls.DelayMs);
        if (StepDelayMs > 0) Thread.Sleep(StepDelayMs);
        var logits = _net.forward(batch.Input);
        var loss = _loss.Forward(logits, batch.Target);
        return NanAtSteps.Contains(context.Step) ? loss.mul(double.NaN) : loss;
    }

    public ValidationResult? Validate(TrainingContext context)
    {
        var acc = new DiceAccumulator(ClassNames);
        for (int i = 0; i < _val.BatchesPerEpoch; i++)
        {
            using var b = _val.GetBatch(0, i);
            acc.Add(_net.forward(b.Input.to(context.Device)).argmax(1), b.Target.to(context.Device));
        }
        return acc.Result();
    }

    public void Dispose() => _net.Dispose();
}

/// <summary>Synthetic images: a disk (class 1) and a square (class 2) on noise; a pure function of (seed, epoch, index).</summary>
public sealed class SyntheticSource(int seed, int batchSize, int size, int batches) : IBatchSource
{
    public int BatchesPerEpoch => batches;

    public Batch GetBatch(long epoch, int index)
    {
        var rng = new Random(unchecked(seed * 1_000_003 + (int)epoch * 10_007 + index));
        var img = new float[batchSize * size * size];
        var lab = new long[batchSize * size * size];
        for (int b = 0; b < batchSize; b++)
        {
            int cx = rng.Next(5, size - 5), cy = rng.Next(5, size - 5), r = rng.Next(2, 5);
            int sx = rng.Next(0, size - 6), sy = rng.Next(0, size - 6), s = rng.Next(3, 6);
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++)
                {
                    int i = (b * size + y) * size + x;
                    long l = 0;
                    if (x >= sx && x < sx + s && y >= sy && y < sy + s) l = 2;
                    if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r) l = 1;
                    lab[i] = l;
                    img[i] = (float)(l * 0.4 + rng.NextDouble() * 0.3);
                }
        }
        return new Batch(Tensor.FromArray<float>(img, [batchSize, 1, size, size]), Tensor.FromArray<long>(lab, [batchSize, size, size]), batchSize);
    }
}
