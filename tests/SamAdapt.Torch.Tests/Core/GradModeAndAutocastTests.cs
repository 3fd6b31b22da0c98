using SamAdapt.Torch.NN;

namespace SamAdapt.Torch.Tests.Core;

/// <summary>no_grad / enable_grad / inference_mode / autocast: thread-local modes that must be restored on dispose.</summary>
public class GradModeAndAutocastTests
{
    [Fact]
    public void NoGradDisablesRecordingAndRestoresThePreviousState()
    {
        using var scope = DisposeScope.Begin();
        var x = torch.ones([2], requiresGrad: true);
        Assert.True(torch.is_grad_enabled());
        Tensor y;
        using (torch.no_grad())
        {
            Assert.False(torch.is_grad_enabled());
            y = x * 2;
            Assert.False(y.requires_grad);
            using (torch.enable_grad())
            {
                Assert.True(torch.is_grad_enabled());
                Assert.True((x * 2).requires_grad);
            }
            Assert.False(torch.is_grad_enabled());
            var nested = torch.no_grad();
            nested.Dispose();
            nested.Dispose(); // idempotent: must not flip the state twice
            Assert.False(torch.is_grad_enabled());
        }
        Assert.True(torch.is_grad_enabled());
        Assert.True((x * 2).requires_grad);
        Assert.Throws<TorchException>(() => y.sum().backward());

        // per thread: another thread's no_grad does not affect this one
        using (torch.no_grad())
        {
            bool other = false;
            var t = new Thread(() => other = torch.is_grad_enabled());
            t.Start(); t.Join();
            Assert.True(other);
        }
    }

    [Fact]
    public void InferenceMode()
    {
        using var scope = DisposeScope.Begin();
        var x = torch.ones([3], requiresGrad: true);
        Tensor y;
        using (torch.inference_mode())
        {
            Assert.False(torch.is_grad_enabled());
            y = x * 3;
            Assert.False(y.requires_grad);
            Assert.Equal(new float[] { 3, 3, 3 }, y.ToArray<float>());
        }
        Assert.True(torch.is_grad_enabled());
        // inference tensors can be read but not saved for backward outside inference mode
        Assert.Equal(9.0, y.sum().item());
        var e = Assert.Throws<TorchException>(() => (y * x).sum().backward());
        Assert.Contains("Inference tensors cannot be saved for backward", e.Message);
        Assert.True((x * x).requires_grad);
    }

    [Fact]
    public void AutocastCpuBFloat16()
    {
        using var scope = DisposeScope.Begin();
        var x = Data.RandF([4, 8], 1);
        var w = Data.RandF([3, 8], 2);
        Assert.False(torch.is_autocast_enabled(DeviceType.CPU));
        var cpuDtype = torch.get_autocast_dtype(DeviceType.CPU);
        var cudaDtype = torch.get_autocast_dtype(DeviceType.CUDA);
        using (torch.autocast(DeviceType.CPU, DType.BFloat16))
        {
            Assert.True(torch.is_autocast_enabled(DeviceType.CPU));
            Assert.False(torch.is_autocast_enabled(DeviceType.CUDA));
            var y = F.linear(x, w);
            Assert.Equal(DType.BFloat16, y.dtype);
            Assert.Equal(DType.BFloat16, x.matmul(w.t()).dtype);
            Assert.Equal(DType.BFloat16, F.conv2d(x.view(1, 1, 4, 8), w.view(1, 1, 3, 8)).dtype);
            // close to the float32 result (bf16 has ~3 significant digits)
            Assert.True(torch.allclose(y.to(DType.Float32), x.matmul(w.t()).to(DType.Float32), rtol: 0.05, atol: 0.05));
            // elementwise ops are left alone
            Assert.Equal(DType.Float32, (x + 1).dtype);

            // nesting: disabling inside is restored
            // a dtype libtorch refuses (1.13's CPU autocast is bfloat16-only) must leave the current state alone
            try
            {
                using (torch.autocast(DeviceType.CPU, DType.Float16))
                    Assert.Equal(DType.Float16, F.linear(x, w).dtype); // libtorch 2.x supports it
            }
            catch (TorchException e)
            {
                Assert.Contains("Bfloat16", e.Message);
            }
            Assert.True(torch.is_autocast_enabled(DeviceType.CPU));
            Assert.Equal(DType.BFloat16, torch.get_autocast_dtype(DeviceType.CPU));

            using (torch.autocast(DeviceType.CPU, DType.BFloat16, enabled: false))
            {
                Assert.False(torch.is_autocast_enabled(DeviceType.CPU));
                Assert.Equal(DType.Float32, F.linear(x, w).dtype);
            }
            Assert.True(torch.is_autocast_enabled(DeviceType.CPU));
            Assert.Equal(DType.BFloat16, torch.get_autocast_dtype(DeviceType.CPU));
            Assert.Equal(DType.BFloat16, F.linear(x, w).dtype);
        }
        Assert.False(torch.is_autocast_enabled(DeviceType.CPU));
        Assert.Equal(cpuDtype, torch.get_autocast_dtype(DeviceType.CPU));
        Assert.Equal(cudaDtype, torch.get_autocast_dtype(DeviceType.CUDA));
        Assert.Equal(DType.Float32, F.linear(x, w).dtype);

        // gradients flow back to float32 leaves through the bf16 ops
        var p = Data.RandF([3, 8], 3).requires_grad_();
        using (torch.autocast(DeviceType.CPU))
            F.linear(x, p).to(DType.Float32).sum().backward();
        Assert.Equal(DType.Float32, p.grad!.dtype);
        Assert.True(torch.allclose(p.grad!, x.sum(0, keepdim: true).expand(3, 8), rtol: 0.02, atol: 0.02));
    }
}
