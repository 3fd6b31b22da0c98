using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using SamAdapt.Imaging.Npy;
using SamAdapt.Sam;
using SamAdapt.Sam.Prediction;
using SamAdapt.Torch;
using SamAdapt.Torch.Serialization;

namespace SamAdapt.Bench;

/// <summary>
/// SAM vit_b at 1024 on CPU: image encoder (one 1024² input) and decoder (10 prompts on the cached embedding, each a full
/// <see cref="SamPredictor.Predict"/>: prompt encoder, mask decoder, post-processing to the original size, host copies). The random
/// weights are saved as a .pth in the work folder (created once, seed 0) together with the image, the prompts and the C# outputs, so
/// bench/python/sam_bench.py runs the same computation on the same inputs and checks that it agrees. Each time is the minimum of
/// <c>repeats</c> runs after <c>warmup</c> runs (the machine may be shared).
/// </summary>
internal static class SamBench
{
    public const int ImageH = 600, ImageW = 800, Prompts = 10;

    public static void Run(string workDir, int warmup, int repeats)
    {
        Directory.CreateDirectory(workDir);
        var ckpt = Path.Combine(workDir, "sam_vit_b_random.pth");
        if (!File.Exists(ckpt))
        {
            torch.manual_seed(0);
            using var fresh = SamCheckpoint.Build("vit_b");
            using var scope = DisposeScope.Begin();
            var sd = fresh.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.contiguous().ToHost());
            PthWriter.Save(ckpt, sd);
            Console.Error.WriteLine($"[sam] wrote random vit_b weights to {ckpt} ({new FileInfo(ckpt).Length / 1e6:F0} MB)");
        }
        var (image, prompts) = Inputs(workDir);

        using var predictor = new SamPredictor(SamCheckpoint.Load(ckpt, "vit_b"), ownsModel: true);
        var model = predictor.Model;

        // encoder: image_encoder.forward on the preprocessed (1, 3, 1024, 1024) input
        using (DisposeScope.Begin())
        using (torch.no_grad())
        {
            var (input, _, _) = predictor.Preprocess(image, ImageH, ImageW);
            var ms = MinMillis(() =>
            {
                using var s = DisposeScope.Begin();
                model.image_encoder.forward(input);
            }, warmup, repeats);
            Timing.ReportUnit("sam_vit_b_encoder", ms, "ms");
        }

        // decoder: 10 prompts, each a full Predict (multimask) on the cached embedding
        predictor.SetImage(image, ImageH, ImageW);
        NpyFile.Write(Path.Combine(workDir, "csharp_embedding.npy"), NpyArray.FromArray(predictor.Features.ToArray<float>(), predictor.Features.shape));
        var low = new List<float>();
        foreach (var p in prompts) low.AddRange(predictor.Predict(p, multimaskOutput: true).LowResLogits);
        NpyFile.Write(Path.Combine(workDir, "csharp_low_res_logits.npy"), NpyArray.FromArray(low.ToArray(), Prompts, 3, 256, 256));
        var dec = MinMillis(() => { foreach (var p in prompts) predictor.Predict(p, multimaskOutput: true); }, warmup, repeats);
        Timing.ReportUnit("sam_vit_b_decoder_10_prompts", dec, "ms");
    }

    /// <summary>
    /// The image encoder alone (the <c>sam</c> mode must have run once: it writes the weights and the image): minimum of
    /// <paramref name="repeats"/> timed forwards after <paramref name="warmup"/>, then the embedding's relative error against
    /// the one the <c>sam</c> mode saved (<c>csharp_embedding.npy</c>, or <paramref name="against"/>); <paramref name="maxLogitsBlock"/>
    /// sets the attention's logits block (Attention.MaxLogitsBlock; 0 = all at once); with
    /// <paramref name="profile"/>, one more forward with time per op.
    /// </summary>
    public static void Encoder(string workDir, int warmup, int repeats, bool profile, string? against, long? maxLogitsBlock)
    {
        var ckpt = Path.Combine(workDir, "sam_vit_b_random.pth");
        var (image, _) = Inputs(workDir);
        using var predictor = new SamPredictor(SamCheckpoint.Load(ckpt, "vit_b"), ownsModel: true);
        var model = predictor.Model;
        if (maxLogitsBlock is { } m) foreach (var blk in model.image_encoder.blocks) blk.attn.MaxLogitsBlock = m;
        using var scope = DisposeScope.Begin();
        using var ng = torch.no_grad();
        var (input, _, _) = predictor.Preprocess(image, ImageH, ImageW);
        Tensor? last = null;
        var ms = MinMillis(() =>
        {
            last?.Dispose();
            last = model.image_encoder.forward(input);
        }, warmup, repeats);
        Timing.ReportUnit("sam_vit_b_encoder", ms, "ms");
        var reference = NpyFile.Read(against ?? Path.Combine(workDir, "csharp_embedding.npy")).AsFloat32();
        var got = last!.ToArray<float>();
        double num = 0, den = 0, maxAbs = 0;
        for (int i = 0; i < got.Length; i++)
        {
            double d = got[i] - (double)reference[i];
            num += d * d;
            den += (double)reference[i] * reference[i];
            maxAbs = Math.Max(maxAbs, Math.Abs(d));
        }
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"# encoder output vs reference: rel err {Math.Sqrt(num / den):E2}, max abs {maxAbs:E2}"));
        if (profile)
        {
            last.Dispose();
            OpProfiler.Start();
            last = model.image_encoder.forward(input);
            OpProfiler.Stop();
            Console.Error.Write(OpProfiler.Format(OpProfiler.Report(), 30, 1, byCpu: torch.get_num_threads() == 1));
        }
    }

    private static double MinMillis(Action body, int warmup, int repeats)
    {
        for (int i = 0; i < warmup; i++) body();
        double best = double.MaxValue;
        for (int r = 0; r < repeats; r++)
        {
            var sw = Stopwatch.StartNew();
            body();
            best = Math.Min(best, sw.Elapsed.TotalMilliseconds);
        }
        return best;
    }

    /// <summary>A deterministic 600×800 RGB image (smooth shapes plus noise) and 10 prompts (points, boxes, both), written for Python.</summary>
    private static (byte[] Image, SamPrompt[] Prompts) Inputs(string dir)
    {
        var rng = new Random(7);
        var img = new byte[ImageH * ImageW * 3];
        for (int y = 0; y < ImageH; y++)
            for (int x = 0; x < ImageW; x++)
            {
                double d1 = Math.Sqrt((x - 250.0) * (x - 250.0) + (y - 300.0) * (y - 300.0));
                double d2 = Math.Abs(x - 560.0) + Math.Abs(y - 200.0);
                for (int c = 0; c < 3; c++)
                {
                    double v = 60 + 40 * Math.Sin(x / 37.0 + c) + (d1 < 120 ? 90 : 0) + (d2 < 100 ? 60 + 20 * c : 0) + rng.Next(-12, 13);
                    img[(y * ImageW + x) * 3 + c] = (byte)Math.Clamp(v, 0, 255);
                }
            }
        NpyFile.Write(Path.Combine(dir, "image.npy"), NpyArray.FromArray(img, ImageH, ImageW, 3));
        var prompts = new SamPrompt[Prompts];
        var json = new List<Dictionary<string, object?>>();
        for (int i = 0; i < Prompts; i++)
        {
            double px = rng.Next(0, ImageW), py = rng.Next(0, ImageH);
            double bx0 = rng.Next(0, ImageW / 2), by0 = rng.Next(0, ImageH / 2);
            double[] box = [bx0, by0, bx0 + rng.Next(50, ImageW / 2), by0 + rng.Next(50, ImageH / 2)];
            prompts[i] = (i % 3) switch
            {
                0 => new SamPrompt { PointCoords = [px, py], PointLabels = [1] },
                1 => new SamPrompt { Box = box },
                _ => new SamPrompt { PointCoords = [px, py, rng.Next(0, ImageW), rng.Next(0, ImageH)], PointLabels = [1, 0], Box = box },
            };
            json.Add(new Dictionary<string, object?>
            {
                ["point_coords"] = prompts[i].PointCoords, ["point_labels"] = prompts[i].PointLabels, ["box"] = prompts[i].Box,
            });
        }
        File.WriteAllText(Path.Combine(dir, "prompts.json"), JsonSerializer.Serialize(json));
        return (img, prompts);
    }
}
