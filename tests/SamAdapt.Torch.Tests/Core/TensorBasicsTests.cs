using SamAdapt.Torch;

namespace SamAdapt.Torch.Tests.Core;

public class TensorBasicsTests
{
    [Fact]
    public void HostRoundTripKeepsValuesShapeAndDtype()
    {
        using var scope = DisposeScope.Begin();
        var x = Tensor.FromArray<float>(new float[] { 1, 2, 3, 4, 5, 6 }, [2, 3]);
        Assert.Equal(new long[] { 2, 3 }, x.shape);
        Assert.Equal(DType.Float32, x.dtype);
        Assert.Equal(Device.CPU, x.device);
        Assert.Equal(new float[] { 1, 2, 3, 4, 5, 6 }, x.ToArray<float>());
        var t = x.t();
        Assert.False(t.is_contiguous());
        Assert.Equal(new float[] { 1, 4, 2, 5, 3, 6 }, t.ToArray<float>());
    }

    [Fact]
    public void ArithmeticMatchesHandComputation()
    {
        using var scope = DisposeScope.Begin();
        var a = torch.tensor(new float[] { 1, 2, 3, 4 }, 2, 2);
        var b = torch.tensor(new float[] { 10, 20, 30, 40 }, 2, 2);
        Assert.Equal(new float[] { 11, 22, 33, 44 }, (a + b).ToArray<float>());
        Assert.Equal(new float[] { 70, 100, 150, 220 }, a.matmul(b).ToArray<float>());
        Assert.Equal(new float[] { 2.5f, 5, 7.5f, 10 }, (a * 5 / 2).ToArray<float>());
        Assert.Equal(10.0, a.sum().item());
        Assert.Equal(new long[] { 1, 1 }, a.argmax(1).ToArray<long>());
    }

    [Fact]
    public void ShapeErrorBecomesTorchExceptionWithLibtorchMessage()
    {
        using var scope = DisposeScope.Begin();
        var a = torch.zeros(2, 3);
        var b = torch.zeros(4, 5);
        var e = Assert.Throws<TorchException>(() => a.matmul(b));
        Assert.Contains("cannot be multiplied", e.Message);
    }
}

public class RngStateTests
{
    [Fact]
    public void RestoringTheGeneratorStateReplaysTheSameRandomNumbers()
    {
        using var scope = DisposeScope.Begin();
        torch.manual_seed(7);
        _ = torch.rand(10);
        var state = torch.get_rng_state();
        var first = torch.randn(1000).ToArray<float>();
        var other = torch.randn(1000).ToArray<float>();
        torch.set_rng_state(state);
        var replay = torch.randn(1000).ToArray<float>();
        Assert.Equal(first, replay);
        Assert.NotEqual(first, other);
        Assert.Equal(DType.UInt8, state.dtype);
    }

    [Fact]
    public void CudaGeneratorStateExistsExactlyWhenCudaDoes()
    {
        using var scope = DisposeScope.Begin();
        if (torch.cuda.is_available())
            Assert.Equal(DType.UInt8, torch.get_rng_state(Device.CUDA(0)).dtype);
        else
            Assert.Contains("generator", Assert.Throws<TorchException>(() => torch.get_rng_state(Device.CUDA(0))).Message);
    }
}
