using System.Diagnostics;
using SamAdapt.Sam;
using SamAdapt.Sam.Adapters;
using SamAdapt.Sam.Modeling;
using SamAdapt.Torch;
using SamAdapt.Torch.NN;
using SamAdapt.Torch.Optim;
using SamAdapt.Training.Engine;

namespace SamAdapt.GpuChecks;

/// <summary>
/// Model-level CUDA checks (the issue's list): CUDA vs CPU parity of SAM and of each method's forward and train step,
/// the fused (libtorch 2.x) encoder attention against the reference form, bf16 training of MA-SAM vit_b at 512² with and
/// without gradient checkpointing (slices/s, peak memory), and SAM vit_b encoder images/s at batch 1 and 8, fp32 and bf16.
/// </summary>
public static class ModelChecks
{
    private static double RelErr(Tensor a, Tensor b)
    {
        var x = a.cpu().to(DType.Float64);
        var y = b.cpu().to(DType.Float64);
        return (x - y).norm().item() / Math.Max(y.norm().item(), 1e-30);
    }

    private static AdaptedSam Adapted(AdaptMethod method, int size, int classes, ulong seed)
    {
        torch.manual_seed(seed);
        // dropout off: the CPU and CUDA generators differ, parity needs the same function on both
        var cfg = new AdapterConfig { Method = method, NumClasses = classes, Slices = 5, FactDropout = 0 };
        return new AdaptedSam(SamConfig.FromName("vit_b", size), cfg);
    }

    /// <summary>(name, check) pairs; each check returns (ok, detail).</summary>
    public static IEnumerable<(string Name, Func<(bool Ok, string Detail)> Body)> All(Device cuda)
    {
        yield return ("cuda==cpu SAM vit_b encoder 256²", () =>
        {
            torch.manual_seed(7);
            using var cpuModel = new SamModel(SamConfig.FromName("vit_b", 256));
            torch.manual_seed(7);
            using var gpuModel = new SamModel(SamConfig.FromName("vit_b", 256));
            gpuModel.to(cuda);
            using var ng = torch.no_grad();
            var x = torch.randn(1, 3, 256, 256);
            var err = RelErr(gpuModel.image_encoder.forward(x.to(cuda)), cpuModel.image_encoder.forward(x));
            return (err <= 1e-3, $"rel err {err:E2}");
        });

        foreach (var method in new[] { AdaptMethod.MaSam, AdaptMethod.Lora })
        {
            string m = AdapterConfig.MethodToString(method);
            yield return ($"cuda==cpu {m} forward+train step", () =>
            {
                using var cpuModel = Adapted(method, 128, 3, 11);
                using var gpuModel = Adapted(method, 128, 3, 11);
                gpuModel.to(cuda);
                cpuModel.train();
                gpuModel.train();
                var x = torch.rand(10, 3, 128, 128);
                var loss = new SegmentationLoss(0.2, 0.8);
                (Tensor Logits, double Loss, Tensor Grads) Step(AdaptedSam model, Device d)
                {
                    var o = model.forward(x.to(d));
                    var target = torch.zeros([o.Logits.size(0), o.Logits.size(2), o.Logits.size(3)], DType.Int64, d);
                    var l = loss.Forward(o.Logits, target);
                    l.backward();
                    var grads = model.named_parameters().Where(p => p.Value.requires_grad).Select(p => p.Value.grad!.reshape(-1).cpu()).ToArray();
                    return (o.Logits, l.item(), torch.cat(grads));
                }
                var (lc, vc, gc) = Step(cpuModel, Device.CPU);
                var (lg, vg, gg) = Step(gpuModel, cuda);
                double eLogits = RelErr(lg, lc), eGrad = RelErr(gg, gc), eLoss = Math.Abs(vg - vc) / Math.Max(Math.Abs(vc), 1e-12);
                return (eLogits <= 1e-3 && eGrad <= 1e-3 && eLoss <= 1e-4, $"logits {eLogits:E2}, loss {eLoss:E2}, grads {eGrad:E2}");
            });
        }

        yield return ("fused attention == reference (cuda)", () =>
        {
            torch.manual_seed(5);
            using var attn = new Attention(768, 12, useRelPos: true, inputSize: (14, 14));
            using (torch.no_grad()) foreach (var (_, p) in attn.named_parameters()) p.normal_(0, 0.05);
            attn.to(cuda);
            using var ng = torch.no_grad();
            var x = torch.randn([25, 14, 14, 768], device: cuda);
            attn.UseFusedAttention = false;
            var reference = attn.forward(x);
            attn.UseFusedAttention = true;
            var fused = attn.forward(x);
            var err = RelErr(fused, reference);
            return (err <= 1e-4 && F.fused_attention_available, $"rel err {err:E2}, fused kernel available: {F.fused_attention_available}");
        });

        foreach (bool gcp in new[] { false, true })
            yield return ($"bf16 MA-SAM vit_b 512² train{(gcp ? " +gradckpt" : "")}", () => TrainThroughput(cuda, gcp));

        foreach (var (batch, bf16) in new[] { (1, false), (8, false), (1, true), (8, true) })
            yield return ($"SAM vit_b encoder b{batch} {(bf16 ? "bf16" : "fp32")}", () => EncoderThroughput(cuda, batch, bf16));
    }

    /// <summary>MA-SAM vit_b at 512², batch 2 stacks × 5 slices, bf16 autocast, AdamW: slices/s and peak memory.</summary>
    private static (bool, string) TrainThroughput(Device cuda, bool gradCheckpoint)
    {
        torch.cuda.empty_cache();
        using var model = Adapted(AdaptMethod.MaSam, 512, 9, 3);
        model.to(cuda);
        model.train();
        model.GradientCheckpointing = gradCheckpoint;
        var trainable = model.named_parameters().Where(p => p.Value.requires_grad).Select(p => p.Value).ToList();
        using var opt = new AdamW(trainable, lr: 1e-4);
        var loss = new SegmentationLoss(0.2, 0.8);
        var x = torch.rand([10, 3, 512, 512], device: cuda);
        Tensor? target = null;
        void Step()
        {
            using var scope = DisposeScope.Begin();
            opt.zero_grad();
            Tensor l;
            using (torch.autocast(DeviceType.CUDA, DType.BFloat16))
            {
                var o = model.forward(x);
                target ??= torch.randint(0, 9, [o.Logits.size(0), o.Logits.size(2), o.Logits.size(3)], device: cuda).DetachFromScope();
                l = loss.Forward(o.Logits.to(DType.Float32), target);
            }
            l.backward();
            opt.step();
        }
        for (int i = 0; i < 3; i++) Step();
        torch.cuda.synchronize();
        torch.cuda.reset_peak_memory_stats(cuda.Index);
        const int steps = 10;
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < steps; i++) Step();
        torch.cuda.synchronize();
        double sps = 10.0 * steps / sw.Elapsed.TotalSeconds;
        var peak = torch.cuda.memory_stats(cuda.Index).peakAllocated;
        target?.Dispose();
        return (true, $"{sps:F1} slices/s, peak {peak / (1024.0 * 1024 * 1024):F2} GiB");
    }

    /// <summary>SAM vit_b image encoder at 1024², no grad: images/s.</summary>
    private static (bool, string) EncoderThroughput(Device cuda, int batch, bool bf16)
    {
        torch.manual_seed(1);
        using var model = new SamModel(SamConfig.VitB);
        model.to(cuda);
        using var ng = torch.no_grad();
        var x = torch.randn([batch, 3, 1024, 1024], device: cuda);
        void Run()
        {
            using var scope = DisposeScope.Begin();
            using (bf16 ? torch.autocast(DeviceType.CUDA, DType.BFloat16) : null) model.image_encoder.forward(x);
        }
        for (int i = 0; i < 2; i++) Run();
        torch.cuda.synchronize();
        int reps = batch == 1 ? 20 : 5;
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < reps; i++) Run();
        torch.cuda.synchronize();
        return (true, $"{batch * reps / sw.Elapsed.TotalSeconds:F1} images/s");
    }
}
