using SamAdapt.Torch.NN;

namespace SamAdapt.Torch.Tests.Core;

/// <summary>Time per op: forward ops and backward nodes are counted while recording, nothing after Stop.</summary>
[Collection(SerialCollection.Name)]
public class OpProfilerTests
{
    [Fact]
    public void Counts_forward_ops_and_backward_nodes_only_while_recording()
    {
        using var scope = DisposeScope.Begin();
        var x = torch.rand([8, 16]).requires_grad_();
        OpProfiler.Start();
        for (int i = 0; i < 3; i++) F.gelu(x.transpose(0, 1)).sum().backward();
        OpProfiler.Stop();
        var rows = OpProfiler.Report();
        var gelu = rows.Single(r => r.Name == "aten::gelu");
        Assert.Equal(3, gelu.Calls);
        Assert.Equal(3, rows.Single(r => r.Name == "aten::gelu_backward").Calls);
        Assert.All(rows, r => Assert.True(r.SelfMs <= r.TotalMs + 1e-6 && r.SelfMs >= 0, $"{r.Name}: self {r.SelfMs} ms, total {r.TotalMs} ms"));
        var sum = rows.Single(r => r.Name == "aten::sum");

        F.gelu(x).sum().backward();   // not recorded
        Assert.Equal(3, OpProfiler.Report().Single(r => r.Name == "aten::gelu").Calls);
        Assert.Contains("aten::gelu", OpProfiler.Format(rows, top: 100, per: 3));
        Assert.True(sum.Calls >= 3);
    }
}
