using System.Diagnostics;
using SamAdapt.Bench;
using SamAdapt.Torch;

// Benchmarks run by command (bench/run.sh), never as timed tests. Each prints one JSON line per measurement so the
// runner can put C# and Python side by side.
var which = args.Length > 0 ? args[0] : "all";
int threads = args.Length > 1 ? int.Parse(args[1]) : Environment.ProcessorCount;
torch.set_num_threads(threads);

if (which is "dispatch" or "all") DispatchBench.Run();
if (which is "matmul" or "all") MatmulBench.Run();
if (which is "detail") DispatchBench.Detail();
// sam [threads] [workdir] [warmup] [repeats]: vit_b encoder + decoder (bench/run.sh sam; compared with bench/python/sam_bench.py)
// train-step [threads] [demo|vitb512] [warmup] [steps] [profile] [train-base]: one MA-SAM training step (forward, loss, backward, AdamW)
if (which is "train-step")
    TrainStepBench.Run(args.Length > 2 ? args[2] : "demo", args.Length > 3 ? int.Parse(args[3]) : 2, args.Length > 4 ? int.Parse(args[4]) : 5,
        args.Contains("profile"), args.Contains("train-base"));
// encoder [threads] [workdir] [warmup] [repeats] [profile] [against=FILE.npy] [block=ELEMENTS (0: unchunked)]: the vit_b image encoder alone, checked against an embedding
if (which is "encoder")
    SamBench.Encoder(args.Length > 2 ? args[2] : Path.Combine("bench", ".work"), args.Length > 3 ? int.Parse(args[3]) : 1,
        args.Length > 4 ? int.Parse(args[4]) : 3, args.Contains("profile"),
        args.FirstOrDefault(a => a.StartsWith("against=", StringComparison.Ordinal))?["against=".Length..],
        args.FirstOrDefault(a => a.StartsWith("block=", StringComparison.Ordinal)) is { } blockArg
            ? long.Parse(blockArg["block=".Length..]) is var bl && bl > 0 ? bl : long.MaxValue : null);
// click [threads] [workdir] [clicks]: vit_b decoder latency per interactive click through PromptedPredictor (cached embedding)
if (which is "click")
    ClickBench.Run(args.Length > 2 ? args[2] : Path.Combine("bench", ".work"), args.Length > 3 ? int.Parse(args[3]) : 30);
if (which is "sam")
    SamBench.Run(args.Length > 2 ? args[2] : Path.Combine("bench", ".work"), args.Length > 3 ? int.Parse(args[3]) : 1, args.Length > 4 ? int.Parse(args[4]) : 3);

namespace SamAdapt.Bench
{
    internal static class Timing
    {
        /// <summary>Minimum (the least-disturbed run) of <paramref name="repeats"/> timings of <paramref name="iterations"/> calls, in microseconds per call.</summary>
        public static double MicrosPerCall(Action body, int iterations, int repeats = 15, int warmup = 2000)
        {
            for (int i = 0; i < warmup; i++) body();
            var samples = new double[repeats];
            for (int r = 0; r < repeats; r++)
            {
                var sw = Stopwatch.StartNew();
                for (int i = 0; i < iterations; i++) body();
                sw.Stop();
                samples[r] = sw.Elapsed.TotalMicroseconds / iterations;
            }
            return samples.Min();
        }

        public static void Report(string name, double value, string unit) =>
            Console.WriteLine($"{{\"lang\":\"csharp\",\"bench\":\"{name}\",\"value\":{value:G6},\"unit\":\"{unit}\"}}");

        public static void ReportUnit(string name, double value, string unit) =>
            Console.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"{{\"lang\":\"csharp\",\"bench\":\"{name}\",\"value\":{value:G6},\"unit\":\"{unit}\"}}"));
    }

    internal static partial class DispatchBench
    {
        public static void Run()
        {
            using var keep = DisposeScope.Begin();
            var a = torch.rand(4);
            var b = torch.rand(4);
            var x = torch.rand(1, 64);
            var w = torch.rand(64, 64);
            var bias = torch.rand(64);
            using var ng = torch.no_grad();
            // each iteration frees its result, as a training step's scope would
            Timing.Report("add_4", Timing.MicrosPerCall(() => { using var r = a.add(b); }, 20000), "us/op");
            Timing.Report("linear_64", Timing.MicrosPerCall(() => { using var r = SamAdapt.Torch.NN.F.linear(x, w, bias); }, 20000), "us/op");
            Timing.Report("add_4_scoped", Timing.MicrosPerCall(() => { using var s = DisposeScope.Begin(); _ = a + b; }, 20000), "us/op");
        }
    }

    internal static partial class DispatchBench
    {
        /// <summary>Breaks the per-op cost down (no scope open).</summary>
        public static void Detail()
        {
            var a = torch.rand(4).DetachFromScope();
            var b = torch.rand(4).DetachFromScope();
            using var ng = torch.no_grad();
            Timing.Report("add_inplace", Timing.MicrosPerCall(() => a.add_(b), 20000), "us/op");
            Timing.Report("add_dispose_noscope", Timing.MicrosPerCall(() => { using var r = a.add(b); }, 20000), "us/op");
            Timing.Report("pinvoke_threads", Timing.MicrosPerCall(() => torch.get_num_threads(), 20000), "us/op");
            Timing.Report("dtype_query", Timing.MicrosPerCall(() => { using var r = a.add(b); _ = r.shape; }, 20000), "us/op");
        }
    }

    internal static class MatmulBench
    {
        public static void Run()
        {
            using var keep = DisposeScope.Begin();
            const int n = 1024;
            var a = torch.rand(n, n);
            var b = torch.rand(n, n);
            using var ng = torch.no_grad();
            var us = Timing.MicrosPerCall(() => { using var r = a.matmul(b); }, 5, 5, 3);
            Timing.Report("matmul_1024_gflops", 2.0 * n * n * n / (us * 1e-6) / 1e9, "GFLOP/s");
        }
    }
}
