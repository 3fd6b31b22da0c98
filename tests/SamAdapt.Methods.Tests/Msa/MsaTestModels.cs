using SamAdapt.Sam;

namespace SamAdapt.Methods.Tests.Msa;

/// <summary>Model sizes shared by the MSA tests.</summary>
internal static class MsaTestModels
{
    /// <summary>A SAM small enough to build and run in milliseconds: 64² input, patch 16 (a 4×4 token grid), 2 encoder blocks of width
    /// 24 (block 1 global, block 0 windowed 2×2), prompt/decoder width 16.</summary>
    public static SamConfig Tiny => new()
    {
        ImageSize = 64, PatchSize = 16, EncoderEmbedDim = 24, EncoderDepth = 2, EncoderNumHeads = 2, GlobalAttnIndexes = [1], WindowSize = 2,
        PromptEmbedDim = 16, DecoderMlpDim = 32, DecoderNumHeads = 2, IouHeadHiddenDim = 16,
    };

    /// <summary>One 32×32×6 slab (<see cref="SyntheticSlab"/>): a bright disc (class 1) growing with the slice and a darker bar (class 2).</summary>
    public static string OneSlab(string dir) => new SyntheticSlab { Name = "Dataset011_MsaSlab" }.Write(dir);

    /// <summary>A from-scratch SAM configuration for 32² inputs (patch 4: an 8×8 token grid), written to <paramref name="dir"/>.</summary>
    public static string SmallConfig(string dir)
    {
        var path = System.IO.Path.Combine(dir, "small.json");
        File.WriteAllText(path, """
            {"img_size": 32, "patch": 4, "embed": 32, "depth": 2, "heads": 2, "global_idx": [1], "window": 4,
             "prompt_dim": 32, "dec_mlp": 64, "dec_heads": 4, "iou_hidden": 32}
            """);
        return path;
    }
}
