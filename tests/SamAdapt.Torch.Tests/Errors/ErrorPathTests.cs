using SamAdapt.Torch.Native;
using SamAdapt.Torch.NN;

namespace SamAdapt.Torch.Tests.Errors;

/// <summary>
/// Bad shapes, dtypes, devices and indices must surface as exceptions carrying libtorch's own message — never as a
/// crash of the process (an escaped C++ exception would abort the test host).
/// </summary>
public class ErrorPathTests
{
    private static TorchException Fails(Func<object> f, params string[] fragments)
    {
        var e = Assert.Throws<TorchException>(f);
        foreach (var s in fragments) Assert.Contains(s, e.Message);
        Assert.DoesNotContain("Exception raised from", e.Message); // no C++ backtrace noise in the message
        return e;
    }

    [Fact]
    public void WrongShapes()
    {
        using var scope = DisposeScope.Begin();
        Fails(() => torch.zeros(2, 3).matmul(torch.zeros(4, 5)), "cannot be multiplied", "2x3", "4x5");
        Fails(() => F.conv2d(torch.zeros(1, 3, 8, 8), torch.zeros(4, 2, 3, 3)), "expected input[1, 3, 8, 8] to have 2 channels");
        Fails(() => torch.zeros(2, 3).view(4, 2), "shape '[4, 2]' is invalid for input of size 6");
        Fails(() => torch.cat([torch.zeros(2, 3), torch.zeros(2, 4)]), "Sizes of tensors must match");
        Fails(() => torch.stack([torch.zeros(2), torch.zeros(3)]), "stack expects each tensor to be equal size");
        Fails(() => torch.zeros(2, 3) + torch.zeros(4), "must match the size");
        Fails(() => torch.zeros(3, 4).bmm(torch.zeros(3, 4)), "batch1 must be a 3D tensor");
        Fails(() => F.linear(torch.zeros(2, 3), torch.zeros(4, 5)), "cannot be multiplied");
        Fails(() => torch.zeros(2, 3).expand(3, 3), "expanded size");
        Fails(() => torch.zeros(2, 3).permute(0), "does not match the length of the desired ordering of dimensions");
    }

    [Fact]
    public void WrongDtypes()
    {
        using var scope = DisposeScope.Begin();
        var x = torch.zeros(3, 4);
        Fails(() => x.index(torch.tensor(new float[] { 0, 1 })), "tensors used as indices must be long");
        // a float target is read as class probabilities only with the input's shape; otherwise it must be class indices
        Fails(() => F.cross_entropy(torch.zeros(4, 5), torch.zeros(4)), "expected scalar type Long but found Float");
        Fails(() => F.cross_entropy(torch.zeros(4, 5), torch.zeros(4, 3)), "target");
        Fails(() => F.embedding(torch.tensor(new float[] { 0, 1 }), torch.zeros(3, 2)), "Expected tensor for argument #1 'indices' to have one of the following scalar types: Long, Int");
        Fails(() => torch.zeros([2], DType.Int64).add_(0.5), "result type Float can't be cast to the desired output type Long");
        Fails(() => torch.zeros(2).lerp(torch.zeros([2], DType.Float64), 0.5), "expected dtype float");
    }

    [Fact]
    public void WrongDeviceThrowsInsteadOfAborting()
    {
        using var scope = DisposeScope.Begin();
        if (torch.cuda.is_available())
        {
            // the GPU build: the same calls must work
            Assert.True(torch.zeros([2], device: Device.CUDA()).device.IsCuda);
            Assert.True(torch.ones(2).to(Device.CUDA()).device.IsCuda);
            Assert.True(Tensor.FromArray<float>([1f, 2f], [2], Device.CUDA()).device.IsCuda);
            return;
        }
        Fails(() => torch.zeros([2], device: Device.CUDA()));
        Fails(() => torch.ones(2).to(Device.CUDA()));
        Fails(() => torch.ones(2).cuda());
        Fails(() => Tensor.FromArray<float>([1f, 2f], [2], Device.CUDA()));
        Assert.Equal(0, torch.cuda.device_count());
        // the process is still healthy
        Assert.Equal(3.0, torch.ones(3).sum().item());
    }

    [Fact]
    public void OutOfRangeIndices()
    {
        using var scope = DisposeScope.Begin();
        var x = torch.arange(12).reshape(3, 4);
        Fails(() => x.select(0, 3), "index 3 out of range");
        Fails(() => x.select(2, 0), "Dimension out of range");
        Fails(() => x.index_select(1, torch.tensor(new long[] { 0, 4 })), "out of");
        Fails(() => x.index(torch.tensor(new long[] { 5 })), "index 5 is out of bounds for dimension 0 with size 3");
        Fails(() => x.gather(1, torch.tensor(new long[] { 7 }, 1, 1)), "out of bounds");
        Fails(() => x.narrow(1, 3, 2), "exceeds dimension size");
        Fails(() => F.embedding(torch.tensor(new long[] { 9 }), torch.zeros(3, 2)), "index out of range");
        Fails(() => F.one_hot(torch.tensor(new long[] { 5 }), 3), "Class values must be smaller than num_classes");
        Fails(() => torch.zeros(2, 2).item(), "one element");
        Fails(() => x.sum(5), "Dimension out of range");
    }

    [Fact]
    public void ManagedArgumentChecks()
    {
        using var scope = DisposeScope.Begin();
        var e1 = Assert.Throws<ArgumentException>(() => Tensor.FromArray<float>([1f, 2f, 3f], [2, 2]));
        Assert.Contains("holds 4 elements, data has 3", e1.Message);
        Assert.Throws<ArgumentException>(() => Tensor.FromArray<float>([1f], [-1]));
        Assert.Throws<ArgumentException>(() => Tensor.FromBytes(new byte[7], DType.Float32, [2]));
        var e2 = Assert.Throws<InvalidOperationException>(() => torch.ones(2).ToArray<double>());
        Assert.Contains("float32", e2.Message);
        Assert.Contains("float64", e2.Message);
        Assert.Throws<InvalidOperationException>(() => torch.ones([2], DType.Int64).ToArray<int>());
        Assert.Throws<NotSupportedException>(() => Tensor.DTypeOf<decimal>());
        Assert.Throws<ArgumentException>(() => F.pad(torch.ones(1, 4), [1]));
        Assert.Throws<ArgumentException>(() => F.interpolate(torch.ones(1, 1, 4, 4), [2]));
        Assert.Throws<ArgumentException>(() => F.interpolate(torch.ones(1, 1, 4, 4), [2, 2], InterpolationMode.Nearest, alignCorners: true));
        Assert.Throws<ArgumentException>(() => F.interpolate(torch.ones(1, 1, 4, 4), [2, 2], InterpolationMode.Trilinear));
        Assert.Throws<ArgumentException>(() => F.interpolate(torch.ones(1, 1, 4, 4), [2, 2], InterpolationMode.Nearest, antialias: true));
        Assert.Throws<ArgumentException>(() => F.grid_sample(torch.ones(1, 1, 4, 4), torch.zeros(1, 2, 2, 2), "area"));
        Assert.Throws<ArgumentOutOfRangeException>(() => F.dropout(torch.ones(2), 1.5, true));
        Assert.Throws<FormatException>(() => Device.Parse("tpu"));
        Assert.Equal(Device.CUDA(1), Device.Parse(" CUDA:1 "));
    }

    [Fact]
    public void UnknownOperatorAndBadArgumentLists()
    {
        var e = Assert.Throws<TorchException>(() => new Op("aten::definitely_not_an_op").Handle);
        Assert.Contains("aten::definitely_not_an_op", e.Message);
        Assert.Throws<TorchException>(() => new Op("aten::add", "NoSuchOverload").Handle);
        Assert.Contains("aten::add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1)", new Op("aten::add", "Tensor").Schema);

        using var scope = DisposeScope.Begin();
        var op = new Op("aten::neg");
        var ex = Assert.Throws<TorchException>(() =>
        {
            var a = new OpArgs(stackalloc SaValue[3], default);
            var t = torch.ones(1);
            a.Add(t); a.Add(t); a.Add(t);
            return op.Call(ref a);
        });
        Assert.Contains("3 arguments given, the schema takes 1", ex.Message);
        var ex2 = Assert.Throws<TorchException>(() =>
        {
            var a = new OpArgs(stackalloc SaValue[1], default);
            a.Add(torch.ones(1));
            return new Op("aten::add", "Tensor").Call(ref a);
        });
        Assert.Contains("argument 'other' has no default", ex2.Message);
        var ex3 = Assert.Throws<TorchException>(() =>
        {
            var a = new OpArgs(stackalloc SaValue[2], default);
            a.Add(torch.ones(1)); a.Add("not a tensor");
            return new Op("aten::add", "Tensor").Call(ref a);
        });
        Assert.NotEmpty(ex3.Message);
    }

    [Fact]
    public async Task ErrorsAreReportedPerThread()
    {
        // two threads fail differently at the same time; each must see its own message, and a later success must
        // not see a stale error
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        void Worker(bool shapes)
        {
            for (int i = 0; i < 30; i++)
            {
                using var s = DisposeScope.Begin();
                try
                {
                    if (shapes) torch.zeros(2, 3).matmul(torch.zeros(4, 5));
                    else torch.zeros(2, 3).view(7);
                    failures.Add("no exception");
                }
                catch (TorchException e)
                {
                    var expected = shapes ? "cannot be multiplied" : "is invalid for input of size 6";
                    if (!e.Message.Contains(expected)) failures.Add($"thread expected '{expected}', got '{e.Message}'");
                }
                if (torch.ones(2).sum().item() != 2) failures.Add("a later success returned a wrong value");
            }
        }
        var t1 = new Thread(() => Worker(true));
        var t2 = new Thread(() => Worker(false));
        t1.Start(); t2.Start();
        t1.Join(); t2.Join();
        Assert.Empty(failures);

        // on a thread-pool task too
        var msg = await Task.Run(() =>
        {
            using var s = DisposeScope.Begin();
            return Assert.Throws<TorchException>(() => torch.zeros(2).select(0, 5)).Message;
        });
        Assert.Contains("index 5 out of range", msg);
    }
}
