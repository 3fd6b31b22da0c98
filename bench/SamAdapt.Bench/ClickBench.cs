using System.Diagnostics;
using System.Globalization;
using SamAdapt.Inference;
using SamAdapt.Sam;
using SamAdapt.Sam.Contracts;
using SamAdapt.Sam.Prediction;
using SamAdapt.Torch;

namespace SamAdapt.Bench;

/// <summary>
/// Interactive-click latency: one vit_b decoder call through <see cref="PromptedPredictor"/> on a cached 1024² embedding, as a
/// server answers a click (prompt encoder + mask decoder, low-res logits and IoU to the caller; no host copy). The weights and
/// image are those of the <c>sam</c> mode (it must have run once). Prompts: one positive point, then three points and a box
/// (the state after a few corrections). Reports min, median and 95th percentile over <c>clicks</c> calls after 3 warm-up calls, and
/// the median process CPU time of a call (steadier than wall time on a shared machine; at one thread it is the idle latency).
/// </summary>
internal static class ClickBench
{
    public static void Run(string workDir, int clicks)
    {
        var ckpt = Path.Combine(workDir, "sam_vit_b_random.pth");
        using var sam = SamCheckpoint.Load(ckpt, "vit_b");
        sam.eval();
        using var predictor = new PromptedPredictor(sam);
        using var scope = DisposeScope.Begin();
        var rng = new Random(3);
        var image = torch.rand(1, 3, 1024, 1024);
        var sw = Stopwatch.StartNew();
        predictor.SetImage(image);
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"# embedding: {sw.Elapsed.TotalSeconds:F2} s"));

        PromptBatch OnePoint() => new(
            Tensor.FromArray<float>([(float)rng.Next(0, 1024), (float)rng.Next(0, 1024)], [1, 1, 2]),
            Tensor.FromArray<int>([1], [1, 1]));
        PromptBatch Corrected()
        {
            var pts = new float[6];
            for (int i = 0; i < 6; i++) pts[i] = rng.Next(0, 1024);
            float x0 = rng.Next(0, 512), y0 = rng.Next(0, 512);
            return new(Tensor.FromArray<float>(pts, [1, 3, 2]), Tensor.FromArray<int>([1, 0, 1], [1, 3]),
                Tensor.FromArray<float>([x0, y0, x0 + rng.Next(64, 512), y0 + rng.Next(64, 512)], [1, 4]));
        }

        foreach (var (name, make, multimask) in new (string, Func<PromptBatch>, bool)[]
                 { ("click_1_point", OnePoint, false), ("click_3_points_box", Corrected, false), ("click_1_point_multimask", OnePoint, true) })
        {
            var ms = new List<double>();
            var cpu = new List<double>();
            var proc = Process.GetCurrentProcess();
            for (int i = 0; i < clicks + 3; i++)
            {
                using var s = DisposeScope.Begin();
                var prompt = make();
                proc.Refresh();
                var cpu0 = proc.TotalProcessorTime;
                var t = Stopwatch.StartNew();
                var r = predictor.Predict(prompt, multimask);
                t.Stop();
                proc.Refresh();
                if (i >= 3) cpu.Add((proc.TotalProcessorTime - cpu0).TotalMilliseconds);
                r.LowResLogits.Dispose();
                r.IouPredictions.Dispose();
                if (i >= 3) ms.Add(t.Elapsed.TotalMilliseconds);
            }
            ms.Sort();
            Timing.ReportUnit($"{name}_min", ms[0], "ms");
            Timing.ReportUnit($"{name}_median", ms[ms.Count / 2], "ms");
            Timing.ReportUnit($"{name}_p95", ms[(int)Math.Ceiling(0.95 * ms.Count) - 1], "ms");
            cpu.Sort();
            Timing.ReportUnit($"{name}_cpu_median", cpu[cpu.Count / 2], "ms CPU (all threads of the process)");
        }
    }
}
