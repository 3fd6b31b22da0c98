using System.CommandLine;
using System.Diagnostics;
using SamAdapt.Torch;
using SamAdapt.Torch.NN;
using SamAdapt.Torch.Optim;
using SamAdapt.Torch.Serialization;

namespace SamAdapt.Cli.Commands;

/// <summary>
/// `samadapt demo --self-check`: a quick check of the whole stack (native bridge, tensors, autograd, a small training
/// run, checkpoint round trip) on synthetic data.
/// </summary>
internal static class SelfCheck
{
    public static int Run(int steps, int seed)
    {
        if (steps < 1) throw new CliException($"--steps must be at least 1, got {steps}");
        Console.WriteLine(VersionInfo.Describe());
        Console.WriteLine();
        torch.manual_seed((ulong)seed);
        var total = Stopwatch.StartNew();

        // 1. a tensor computation through the bridge
        using (DisposeScope.Begin())
        {
            var a = torch.rand(512, 512);
            var sw = Stopwatch.StartNew();
            var c = a.matmul(a);
            var gflops = 2.0 * 512 * 512 * 512 / sw.Elapsed.TotalSeconds / 1e9;
            Console.WriteLine($"matmul 512x512: sum {c.sum().item():F1}, {gflops:F1} GFLOP/s");
        }

        // 2. train a small classifier on two interleaved spirals (synthetic, generated here)
        using var model = new Sequential(new Linear(2, 64), new GELU(), new Linear(64, 64), new GELU(), new Linear(64, 2));
        using var opt = new AdamW(model.parameters(), lr: 1e-2, weightDecay: 1e-4);
        var schedule = new WarmupPolyDecay(20, steps, 1.0);
        var (x, y) = Spirals(512, seed);
        double firstLoss = 0, lastLoss = 0;
        for (int step = 0; step < steps; step++)
        {
            using var scope = DisposeScope.Begin();
            schedule.Apply(opt, step);
            opt.zero_grad();
            var loss = F.cross_entropy(model.forward(x), y);
            loss.backward();
            GradClip.ClipGradNorm(model.parameters(), 1.0);
            opt.step();
            lastLoss = loss.item();
            if (step == 0) firstLoss = lastLoss;
        }
        double accuracy;
        using (DisposeScope.Begin())
        using (torch.no_grad())
            accuracy = model.forward(x).argmax(1).eq(y).to(DType.Float32).mean().item();
        Console.WriteLine($"training ({steps} steps, AdamW, warm-up + poly decay): loss {firstLoss:F3} -> {lastLoss:F3}, accuracy {accuracy:P1}");

        // 3. checkpoint round trip
        var path = Path.Combine(Path.GetTempPath(), $"samadapt-selfcheck-{Environment.ProcessId}.safetensors");
        try
        {
            model.save(path);
            using var copy = new Sequential(new Linear(2, 64), new GELU(), new Linear(64, 64), new GELU(), new Linear(64, 2));
            copy.load(path);
            bool same = model.state_dict().All(kv => torch.equal(kv.Value, copy.state_dict()[kv.Key]));
            Console.WriteLine($"checkpoint round trip ({new FileInfo(path).Length} bytes): {(same ? "identical" : "DIFFERENT")}");
            if (!same) return 1;
        }
        finally { File.Delete(path); }

        bool ok = lastLoss < firstLoss * 0.5 && accuracy > 0.9;
        Console.WriteLine($"\nself-check {(ok ? "passed" : "FAILED")} in {total.Elapsed.TotalSeconds:F1} s");
        return ok ? 0 : 1;
    }

    private static (Tensor X, Tensor Y) Spirals(int perClass, int seed)
    {
        var rng = new Random(seed);
        var xs = new float[perClass * 4];
        var ys = new long[perClass * 2];
        for (int c = 0; c < 2; c++)
            for (int i = 0; i < perClass; i++)
            {
                double t = 0.25 + 3.0 * i / perClass, angle = t * 2.2 + c * Math.PI;
                int k = c * perClass + i;
                xs[2 * k] = (float)(t * Math.Cos(angle) / 3 + rng.NextDouble() * 0.04);
                xs[2 * k + 1] = (float)(t * Math.Sin(angle) / 3 + rng.NextDouble() * 0.04);
                ys[k] = c;
            }
        return (Tensor.FromArray<float>(xs, [perClass * 2, 2]).DetachFromScope(), Tensor.FromArray<long>(ys, [perClass * 2]).DetachFromScope());
    }
}
