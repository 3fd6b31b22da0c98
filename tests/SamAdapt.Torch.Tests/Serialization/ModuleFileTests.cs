using SamAdapt.Tests;
using SamAdapt.Torch.NN;
using SamAdapt.Torch.Serialization;

namespace SamAdapt.Torch.Tests.Serialization;

public class ModuleFileTests
{
    private sealed class Net : Module
    {
        public readonly Linear fc;
        public readonly Sequential body;

        public Net(long hidden)
        {
            register_buffer("scale", torch.full([1], 2.0));
            fc = register_module("fc", new Linear(4, hidden));
            body = register_module("body", new Sequential(new ReLU(), new Linear(hidden, 3)));
        }
    }

    [Theory]
    [InlineData("net.pth")]
    [InlineData("net.safetensors")]
    public void SaveThenLoadRestoresEveryTensorExactly(string name)
    {
        using var dir = TestPaths.NewTempDir();
        using var scope = DisposeScope.Begin();
        using var a = new Net(8);
        using var b = new Net(8);
        a.save(dir.File(name));
        Assert.False(torch.equal(a.fc.weight, b.fc.weight));
        var result = b.load(dir.File(name));
        Assert.True(result.IsExact);
        foreach (var (k, v) in a.state_dict()) Assert.True(torch.equal(v, b.state_dict()[k]), k);
        Assert.Equal(new[] { "scale", "fc.weight", "fc.bias", "body.1.weight", "body.1.bias" }, a.state_dict().Keys);
    }

    [Fact]
    public void LoadingIntoADifferentShapeNamesTheKeyAndBothShapes()
    {
        using var dir = TestPaths.NewTempDir();
        using var scope = DisposeScope.Begin();
        using var a = new Net(8);
        using var b = new Net(5);
        a.save(dir.File("a.safetensors"));
        var e = Assert.Throws<InvalidDataException>(() => b.load(dir.File("a.safetensors")));
        Assert.Contains("a.safetensors", e.Message);
        Assert.Contains("fc.weight (checkpoint [8,4], model [5,4])", e.Message);
    }

    [Fact]
    public void FixturePthAndSafetensorsLoadToIdenticalTensors()
    {
        using var scope = DisposeScope.Begin();
        var pth = StateDictFile.Load(TestPaths.Fixture("sam-tiny", "checkpoint.pth"));
        var st = StateDictFile.Load(TestPaths.Fixture("sam-tiny", "checkpoint.safetensors"));
        Assert.Equal(st.Keys.OrderBy(k => k), pth.Keys.OrderBy(k => k));
        foreach (var (k, v) in st) Assert.True(torch.equal(v, pth[k]), k);
        var pos = pth["image_encoder.pos_embed"];
        Assert.Equal(new long[] { 1, 8, 8, 48 }, pos.shape);
    }
}
