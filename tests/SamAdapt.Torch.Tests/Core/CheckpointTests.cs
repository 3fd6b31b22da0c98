using SamAdapt.Torch.NN;

namespace SamAdapt.Torch.Tests.Core;

/// <summary>Gradient checkpointing through the native bridge: the output joins the graph and gradients equal the plain run's.</summary>
public class CheckpointTests
{
    [Fact]
    public void Checkpointed_function_gives_parameter_and_input_gradients_like_the_plain_call()
    {
        using var lin = new Linear(4, 3);
        using var scope = DisposeScope.Begin();
        var x = torch.randn(5, 4);
        Tensor Fn(Tensor t) => F.gelu(lin.forward(t)).square();

        // frozen input, trainable parameters inside the function (the adapter case)
        var y = Checkpoint.Run(Fn, x);
        Assert.True(y.requires_grad);
        y.sum().backward();
        var gCkpt = lin.weight.grad!.clone();
        lin.zero_grad();
        Fn(x).sum().backward();
        Assert.True(torch.allclose(gCkpt, lin.weight.grad!, 1e-6, 1e-7));

        // an input that requires grad gets its gradient too
        lin.zero_grad();
        var xi = x.clone().requires_grad_();
        Checkpoint.Run(Fn, xi).sum().backward();
        var gx = xi.grad!.clone();
        var xj = x.clone().requires_grad_();
        Fn(xj).sum().backward();
        Assert.True(torch.allclose(gx, xj.grad!, 1e-6, 1e-7));
    }
}
