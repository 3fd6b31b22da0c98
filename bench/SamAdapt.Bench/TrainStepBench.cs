using System.Diagnostics;
using System.Globalization;
using SamAdapt.Sam;
using SamAdapt.Sam.Adapters;
using SamAdapt.Torch;
using SamAdapt.Torch.Optim;
using SamAdapt.Training.Engine;
using SamAdapt.Methods.Semantic;

namespace SamAdapt.Bench;

/// <summary>
/// One MA-SAM training step (forward, MA-SAM loss, backward, AdamW) on random data and random weights:
/// <c>demo</c> = the demo's configuration (preset tiny, 128², batch 2 × 5 slices, adapters and decoder trained);
/// <c>vitb512</c> = MA-SAM on vit_b at 512², batch 1 × 5 slices (the method's default adapter sizes, encoder frozen).
/// Reports the minimum step time of the timed steps and slices/s; with <c>profile</c>, time per op over the timed steps.
/// </summary>
internal static class TrainStepBench
{
    public static void Run(string config, int warmup, int steps, bool profile, bool trainBase = false)
    {
        var (sam, ad, batch) = config switch
        {
            "demo" => (SamPresets.Tiny, SamPresets.TinyAdapters(AdaptMethod.MaSam, 8, SamPresets.TinySlices), SamPresets.TinyBatch),
            "vitb512" => (SamConfig.VitB with { ImageSize = 512, PixelMean = [0f, 0f, 0f], PixelStd = [1f, 1f, 1f] },
                new AdapterConfig { Method = AdaptMethod.MaSam, NumClasses = 8, Slices = 5 }, 1),
            _ => throw new ArgumentException($"train-step: unknown configuration '{config}' (demo, vitb512)"),
        };
        torch.manual_seed(1234);
        using var model = AdaptedSam.FromConfig(sam, ad);
        if (trainBase) foreach (var (_, p) in model.named_parameters()) p.requires_grad_(true);
        model.train();
        var trainable = model.parameters().Where(p => p.requires_grad).ToList();
        using var opt = new AdamW(trainable, lr: 1e-4, weightDecay: 0.01);
        var loss = new SegmentationLoss();
        int s = sam.ImageSize, d = ad.Slices;
        long n = (long)batch * d;
        using var keep = DisposeScope.Begin();
        var x = torch.rand([n, 3, s, s]);
        var y = torch.randint(0, ad.NumClasses + 1, [n, s, s]);
        var times = new List<double>();
        var cpuTimes = new List<double>();
        var proc = Process.GetCurrentProcess();
        for (int i = 0; i < warmup + steps; i++)
        {
            if (i == warmup && profile) OpProfiler.Start();
            proc.Refresh();
            var cpu0 = proc.TotalProcessorTime;
            var sw = Stopwatch.StartNew();
            using (var scope = DisposeScope.Begin())
            {
                opt.zero_grad();
                var logits = model.forward(x, d).Logits;
                var l = loss.Forward(logits, y);
                l.backward();
                opt.step();
            }
            sw.Stop();
            proc.Refresh();
            double cpu = (proc.TotalProcessorTime - cpu0).TotalSeconds;
            if (i >= warmup) { times.Add(sw.Elapsed.TotalSeconds); cpuTimes.Add(cpu); }
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  step {i + 1}/{warmup + steps}: {sw.Elapsed.TotalSeconds:F3} s wall, {cpu:F3} s CPU{(i < warmup ? " (warm-up)" : "")}"));
        }
        if (profile)
        {
            OpProfiler.Stop();
            Console.Error.Write(OpProfiler.Format(OpProfiler.Report(), 30, steps, byCpu: torch.get_num_threads() == 1));
        }
        double best = times.Min(), median = times.Order().ElementAt(times.Count / 2);
        Timing.ReportUnit($"train_step_{config}", best, "s/step (min)");
        Timing.ReportUnit($"train_step_{config}_median", median, "s/step (median)");
        Timing.ReportUnit($"train_step_{config}_cpu", cpuTimes.Min(), "CPU s/step (min, all threads)");
        Timing.ReportUnit($"train_slices_{config}", n / best, "slices/s (best step)");
    }
}
