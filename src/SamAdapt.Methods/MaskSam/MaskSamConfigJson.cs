using System.Text.Json.Nodes;
using SamAdapt.Sam;
using SamAdapt.Sam.Adapters;

namespace SamAdapt.Methods.MaskSam;

/// <summary><see cref="MaskSamConfig"/> ↔ JSON (run folders and weight-file metadata); the SAM part is <see cref="SamConfigJson"/>.</summary>
public static class MaskSamConfigJson
{
    public static string ToJson(MaskSamConfig c) => new JsonObject
    {
        ["sam"] = JsonNode.Parse(SamConfigJson.ToJson(c.Sam)),
        ["frames"] = c.Frames,
        ["input_size"] = c.InputSize,
        ["num_classes"] = c.NumClasses,
        ["num_queries"] = c.NumQueries,
        ["generator_channels"] = new JsonArray(c.GeneratorChannels.Select(v => (JsonNode)v).ToArray()),
        ["generator_kernels"] = new JsonArray(c.GeneratorKernels.Select(k => (JsonNode)new JsonArray(k.Select(v => (JsonNode)v).ToArray())).ToArray()),
        ["convs_per_stage"] = c.ConvsPerStage,
        ["classifier_pool"] = c.ClassifierPool,
        ["stem_channels"] = c.StemChannels,
        ["final_conv_channels"] = c.FinalConvChannels,
        ["reference_window_adapters"] = c.ReferenceWindowAdapters,
        ["output_stride"] = c.OutputStride,
        ["pixel_head"] = c.PixelHead,
    }.ToJsonString();

    public static MaskSamConfig FromJson(string json)
    {
        var o = JsonNode.Parse(json)?.AsObject() ?? throw new InvalidDataException("MaskSAM configuration: not a JSON object");
        JsonNode Get(string k) => o[k] ?? throw new InvalidDataException($"MaskSAM configuration: missing '{k}'");
        int I(string k) => Get(k).GetValue<int>();
        var c = new MaskSamConfig
        {
            Sam = SamConfig.FromJson(Get("sam").ToJsonString()),
            Frames = I("frames"), InputSize = I("input_size"), NumClasses = I("num_classes"), NumQueries = I("num_queries"),
            GeneratorChannels = Get("generator_channels").AsArray().Select(v => v!.GetValue<int>()).ToArray(),
            GeneratorKernels = Get("generator_kernels").AsArray().Select(k => k!.AsArray().Select(v => v!.GetValue<int>()).ToArray()).ToArray(),
            ConvsPerStage = I("convs_per_stage"), ClassifierPool = I("classifier_pool"), StemChannels = I("stem_channels"),
            ReferenceWindowAdapters = Get("reference_window_adapters").GetValue<bool>(),
            FinalConvChannels = o["final_conv_channels"]?.GetValue<int>() ?? 64, // absent in runs written before the field existed
            OutputStride = o["output_stride"]?.GetValue<int>() ?? 1,              // likewise: full-resolution heads
            PixelHead = o["pixel_head"]?.GetValue<bool>() ?? false,               // likewise: no pixel head
        };
        c.Validate();
        return c;
    }
}
