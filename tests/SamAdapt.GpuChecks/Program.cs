using System.Diagnostics;
using SamAdapt.Torch;
using SamAdapt.Torch.NN;

// CUDA checks: same results on CUDA as on CPU, autograd on CUDA, bf16 autocast, memory released after a scope,
// and a few throughput numbers. Prints a table; exits 1 if any check failed, 3 if no CUDA device is visible.
//   SamAdapt.GpuChecks           the checks below on cuda:0
//   SamAdapt.GpuChecks nccl      one rank of the 2-GPU NCCL check (NcclCheck; started by tests/gpu/gpu-check.sh)
if (args.Length > 0 && args[0] == "nccl") return SamAdapt.GpuChecks.NcclCheck.Run();
var results = new List<(string Name, bool Ok, string Detail)>();

Console.WriteLine(RuntimeInfo.Describe());
if (!torch.cuda.is_available())
{
    Console.WriteLine("no CUDA device visible to libtorch: nothing to check");
    return 3;
}
var cuda = Device.CUDA(0);
torch.set_tf32(matmul: false, cudnn: false); // exact fp32 for the CPU comparisons
torch.manual_seed(1234);

void Check(string name, Func<(bool ok, string detail)> body)
{
    try
    {
        using var scope = DisposeScope.Begin();
        var (ok, detail) = body();
        results.Add((name, ok, detail));
    }
    catch (Exception e)
    {
        results.Add((name, false, $"{e.GetType().Name}: {e.Message.Split('\n')[0]}"));
    }
}

static double RelErr(Tensor a, Tensor b)
{
    var x = a.cpu().to(DType.Float64);
    var y = b.cpu().to(DType.Float64);
    return (x - y).norm().item() / Math.Max(y.norm().item(), 1e-30);
}

// Same op on CPU and CUDA, compared by relative error.
void Parity(string name, Func<Device, Tensor[], Tensor> op, params long[][] shapes)
{
    Check($"cuda==cpu {name}", () =>
    {
        var inputs = shapes.Select(s => torch.randn(s)).ToArray();
        var cpu = op(Device.CPU, inputs);
        var gpu = op(cuda, inputs.Select(t => t.to(cuda)).ToArray());
        var err = RelErr(gpu, cpu);
        return (err <= 1e-4 && gpu.device.IsCuda, $"rel err {err:E2}");
    });
}

Parity("matmul", (d, x) => x[0].matmul(x[1]), [256, 512], [512, 128]);
Parity("conv2d", (d, x) => F.conv2d(x[0], x[1], null, [1, 1], [1, 1]), [2, 16, 32, 32], [32, 16, 3, 3]);
Parity("conv3d (3,1,1)", (d, x) => F.conv3d(x[0], x[1], null, [1, 1, 1], [1, 0, 0]), [2, 8, 5, 16, 16], [8, 8, 3, 1, 1]);
Parity("conv_transpose2d", (d, x) => F.conv_transpose2d(x[0], x[1], null, [2, 2]), [1, 32, 16, 16], [32, 16, 2, 2]);
Parity("layer_norm", (d, x) => F.layer_norm(x[0], [64], null, null, 1e-6), [8, 100, 64]);
Parity("gelu", (d, x) => F.gelu(x[0]), [4096]);
Parity("softmax", (d, x) => F.softmax(x[0], -1), [16, 196, 196]);
Parity("interpolate bilinear", (d, x) => F.interpolate(x[0], [256, 256], InterpolationMode.Bilinear, false), [1, 3, 64, 64]);
Parity("attention (composite)", (d, x) => F.scaled_dot_product_attention(x[0], x[1], x[2], forceComposite: true), [2, 4, 64, 32], [2, 4, 64, 32], [2, 4, 64, 32]);
Parity("attention (fused/auto)", (d, x) => F.scaled_dot_product_attention(x[0], x[1], x[2]), [2, 4, 64, 32], [2, 4, 64, 32], [2, 4, 64, 32]);

Check("autograd on cuda == cpu", () =>
{
    var w = torch.randn(64, 32);
    var x = torch.randn(16, 32);
    Tensor Grad(Device d)
    {
        var wd = w.to(d).requires_grad_();
        var loss = F.gelu(x.to(d).matmul(wd.t())).pow(2).mean();
        loss.backward();
        return wd.grad!;
    }
    var err = RelErr(Grad(cuda), Grad(Device.CPU));
    return (err <= 1e-4, $"grad rel err {err:E2}");
});

Check("bf16 autocast", () =>
{
    var lin = new Linear(256, 256);
    lin.to(cuda);
    var x = torch.randn([32, 256], device: cuda);
    Tensor y32 = lin.forward(x);
    Tensor y16;
    using (torch.autocast(DeviceType.CUDA, DType.BFloat16)) y16 = lin.forward(x);
    bool restored = !torch.is_autocast_enabled(DeviceType.CUDA);
    var err = RelErr(y16.to(DType.Float32), y32);
    lin.Dispose();
    return (y16.dtype == DType.BFloat16 && restored && err < 2e-2, $"dtype {y16.dtype.TorchName()}, rel err vs fp32 {err:E2}, restored={restored}");
});

Check("memory released after scope", () =>
{
    torch.cuda.synchronize();
    var before = torch.cuda.memory_stats().allocated;
    using (DisposeScope.Begin())
    {
        for (int i = 0; i < 10; i++) _ = torch.randn([1024, 1024], device: cuda).matmul(torch.randn([1024, 1024], device: cuda));
    }
    torch.cuda.synchronize();
    var after = torch.cuda.memory_stats().allocated;
    return (after == before, $"allocated before {before} B, after {after} B");
});

Check("device error is an exception", () =>
{
    try
    {
        _ = torch.zeros(3).matmul(torch.zeros([3], device: cuda));
        return (false, "mixing devices did not throw");
    }
    catch (TorchException e) { return (true, e.Message.Split('\n')[0][..Math.Min(60, e.Message.Length)]); }
});

// throughput
double MatmulTflops(DType dt, int n)
{
    using var scope = DisposeScope.Begin();
    using var ng = torch.no_grad();
    var a = torch.randn([n, n], dt, cuda);
    var b = torch.randn([n, n], dt, cuda);
    for (int i = 0; i < 3; i++) _ = a.matmul(b);
    torch.cuda.synchronize();
    var sw = Stopwatch.StartNew();
    const int reps = 10;
    for (int i = 0; i < reps; i++) _ = a.matmul(b);
    torch.cuda.synchronize();
    return 2.0 * n * n * n * reps / sw.Elapsed.TotalSeconds / 1e12;
}

Check("matmul 8192^3 bf16", () => (true, $"{MatmulTflops(DType.BFloat16, 8192):F0} TFLOP/s"));
Check("matmul 4096^3 fp32", () => (true, $"{MatmulTflops(DType.Float32, 4096):F1} TFLOP/s (TF32 off)"));

foreach (var (name, body) in SamAdapt.GpuChecks.ModelChecks.All(cuda)) Check(name, body);

Console.WriteLine();
Console.WriteLine($"{"check",-40} {"result",-6} detail");
foreach (var (name, ok, detail) in results) Console.WriteLine($"{name,-40} {(ok ? "ok" : "FAIL"),-6} {detail}");
int failed = results.Count(r => !r.Ok);
Console.WriteLine($"{results.Count - failed} passed, {failed} failed");
return failed == 0 ? 0 : 1;
