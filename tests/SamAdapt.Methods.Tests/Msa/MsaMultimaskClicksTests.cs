using SamAdapt.Methods.Msa;
using SamAdapt.Sam;
using SamAdapt.Sam.Contracts;
using SamAdapt.Torch;

namespace SamAdapt.Methods.Tests.Msa;

/// <summary>
/// <see cref="MsaOptions.MultimaskClicks"/>: a single click (no box, no mask prompt) is answered by the multimask output with the highest
/// predicted IoU; any other prompt by the first mask token as before. <see cref="MsaLoss.PerMask"/> is what <see cref="MsaLoss.Compute"/> averages.
/// </summary>
public class MsaMultimaskClicksTests
{
    private static SamConfig Tiny => MsaTestModels.Tiny;

    [Fact]
    public void A_single_click_takes_the_output_with_the_highest_predicted_iou()
    {
        torch.manual_seed(8);
        using var model = new MsaSam(Tiny, new MsaOptions { MultimaskClicks = true });
        using var _ = torch.no_grad();
        using var scope = DisposeScope.Begin();
        var emb = model.EmbedImages(torch.rand([4, 3, 64, 64]), 1);
        var coords = Tensor.FromArray<float>([10, 12, 30, 40, 50, 8, 20, 20], [4, 1, 2]);
        var labels = Tensor.FromArray<float>([1, 1, 1, 1], [4, 1]);
        var chosen = model.Decode(emb, coords, labels);
        var all = model.PredictMasks(emb, new PromptBatch(coords, labels), multimask: true);
        Assert.Equal(new long[] { 4, 1, 16, 16 }, chosen.LowResLogits.shape);
        var iou = all.IouPredictions.contiguous().ToArray<float>();
        for (int i = 0; i < 4; i++)
        {
            int best = Enumerable.Range(0, 3).MaxBy(j => iou[i * 3 + j]);
            var expected = all.LowResLogits.slice(0, i, i + 1).slice(1, best, best + 1);
            Assert.True((chosen.LowResLogits.slice(0, i, i + 1) - expected).abs().max().item() < 1e-6);
        }
        // two clicks, or a click with a box: the first mask token, as without the option
        var two = Tensor.FromArray<float>([10, 12, 30, 40, 50, 8, 20, 20], [2, 2, 2]);
        var twoLabels = Tensor.FromArray<float>([1, 0, 1, 1], [2, 2]);
        var e2 = emb.slice(0, 0, 2);
        var single = model.PredictMasks(e2, new PromptBatch(two, twoLabels), multimask: false).LowResLogits;
        Assert.True((model.Decode(e2, two, twoLabels).LowResLogits - single).abs().max().item() < 1e-6);
        var box = Tensor.FromArray<float>([5, 5, 40, 40, 10, 10, 50, 60], [2, 4]);
        var one = coords.slice(0, 0, 2);
        var oneLabels = labels.slice(0, 0, 2);
        var withBox = model.PredictMasks(e2, new PromptBatch(one, oneLabels, box), multimask: false).LowResLogits;
        Assert.True((model.Decode(e2, one, oneLabels, box).LowResLogits - withBox).abs().max().item() < 1e-6);
        Assert.False(model.IsMultimaskPrompt(one, box, null));
        Assert.True(model.IsMultimaskPrompt(one, null, null));
    }

    [Fact]
    public void Without_the_option_a_single_click_is_the_first_mask_token()
    {
        torch.manual_seed(8);
        using var model = new MsaSam(Tiny, new MsaOptions());
        using var _ = torch.no_grad();
        using var scope = DisposeScope.Begin();
        var emb = model.EmbedImages(torch.rand([1, 3, 64, 64]), 1);
        var coords = Tensor.FromArray<float>([10, 12], [1, 1, 2]);
        var labels = Tensor.FromArray<float>([1], [1, 1]);
        var first = model.PredictMasks(emb, new PromptBatch(coords, labels), multimask: false).LowResLogits;
        Assert.True((model.Decode(emb, coords, labels).LowResLogits - first).abs().max().item() < 1e-6);
        Assert.False(model.IsMultimaskPrompt(coords, null, null));
    }

    [Theory]
    [InlineData(MsaLossKind.DiceBce)]
    [InlineData(MsaLossKind.Bce)]
    [InlineData(MsaLossKind.Dice)]
    public void The_per_mask_losses_average_to_the_batch_loss(MsaLossKind kind)
    {
        torch.manual_seed(2);
        using var scope = DisposeScope.Begin();
        var logits = torch.randn([5, 1, 12, 12]) * 3.0;
        var target = torch.rand([5, 1, 12, 12]).gt(0.6).to(DType.Float32);
        var per = MsaLoss.PerMask(kind, logits, target);
        Assert.Equal(new long[] { 5 }, per.shape);
        Assert.Equal(MsaLoss.Compute(kind, logits, target).item(), per.mean().item(), 5);
        // each entry is the loss of that mask alone
        Assert.Equal(MsaLoss.Compute(kind, logits.slice(0, 2, 3), target.slice(0, 2, 3)).item(), per.slice(0, 2, 3).item(), 5);
    }
}
