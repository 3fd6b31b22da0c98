using SamAdapt.Torch;
using SamAdapt.Torch.NN;

namespace SamAdapt.Sam.Modeling;

/// <summary>Image to patch embedding: <c>proj</c> = Conv2d(3, E, k=patch, s=patch), then channels-last (B, H/p, W/p, E).</summary>
public sealed class PatchEmbed : UnaryModule
{
    public readonly Conv proj;

    public PatchEmbed(long patchSize, long inChans, long embedDim)
    {
        proj = register_module("proj", Conv.Conv2d(inChans, embedDim, patchSize, stride: patchSize));
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = DisposeScope.Begin();
        return proj.forward(x).permute(0, 2, 3, 1).MoveToOuterScope();
    }
}
