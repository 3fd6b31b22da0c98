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
}
