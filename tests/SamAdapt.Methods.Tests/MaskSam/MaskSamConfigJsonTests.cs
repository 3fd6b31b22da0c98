using System.Text.Json.Nodes;
using SamAdapt.Methods.MaskSam;

namespace SamAdapt.Methods.Tests.MaskSam;

/// <summary>The final_conv width travels through the run folder's JSON; runs written before the field existed read as the reference's 64.</summary>
public class MaskSamConfigJsonTests
{
    [Fact]
    public void Final_conv_width_round_trips_and_defaults_to_64_when_absent()
    {
        var c = MaskSamMethod.TinyPreset(96, 3, 9) with { FinalConvChannels = 24 };
        var json = MaskSamConfigJson.ToJson(c);
        Assert.Equal(24, MaskSamConfigJson.FromJson(json).FinalConvChannels);
        var old = JsonNode.Parse(json)!.AsObject();
        old.Remove("final_conv_channels");
        Assert.Equal(64, MaskSamConfigJson.FromJson(old.ToJsonString()).FinalConvChannels);
        using var model = new MaskSamModel(c);
        Assert.Equal([24L, 24, 1, 2, 2], model.state_dict()["final_conv.1.weight"].shape);
    }
}
