using SamAdapt.Methods.Msa;
using SamAdapt.Sam;
using SamAdapt.Torch;

namespace SamAdapt.Methods.Tests.Msa;

/// <summary>The paper's decoder adapters (an option): where they attach, that the hyper-prompting adapter's weights come from the prompt.</summary>
public class MsaDecoderAdapterTests
{
    private static SamConfig Tiny => MsaTestModels.Tiny;

    [Fact]
    public void Decoder_adapters_attach_to_every_two_way_block_and_change_the_output()
    {
        torch.manual_seed(3);
        using var plain = new MsaSam(Tiny, new MsaOptions());
        torch.manual_seed(3);
        using var adapted = new MsaSam(Tiny, new MsaOptions { DecoderAdapters = true, Activation = AdapterActivation.Relu });
        var keys = adapted.state_dict().Keys.ToList();
        foreach (var name in new[] { "HyP_Adapter.hyper.weight", "MLP_Adapter.D_fc1.weight", "Image_Adapter.D_fc2.bias" })
            for (int l = 0; l < Tiny.DecoderDepth; l++) Assert.Contains($"mask_decoder.transformer.layers.{l}.{name}", keys);
        Assert.DoesNotContain(plain.state_dict().Keys, k => k.StartsWith("mask_decoder.", StringComparison.Ordinal) && k.Contains("_Adapter.", StringComparison.Ordinal));
        Assert.True(adapted.Trains("mask_decoder.transformer.layers.0.HyP_Adapter.hyper.weight"));
        // same base weights (copied), so any difference comes from the adapters
        adapted.load_state_dict(plain.state_dict(), strict: false);
        using var _ = torch.no_grad();
        using var scope = DisposeScope.Begin();
        var emb = plain.EmbedImages(torch.rand([1, 3, 64, 64]));
        var box = Tensor.FromArray<float>([10, 12, 40, 50], [1, 4]);
        var a = plain.Decode(emb, null, null, box).LowResLogits;
        var b = adapted.Decode(emb, null, null, box).LowResLogits;
        Assert.True((a - b).abs().max().item() > 1e-4);
    }

    [Fact]
    public void The_hyper_prompting_weights_depend_on_the_prompt_tokens()
    {
        torch.manual_seed(4);
        using var hyp = new HyperPromptAdapter(16, 4, outputTokens: 5, AdapterActivation.Gelu);
        using var _ = torch.no_grad();
        using var scope = DisposeScope.Begin();
        var outputTokens = torch.randn([1, 5, 16]).expand(2, -1, -1);
        var prompts = torch.randn([2, 2, 16]);                       // two different prompts
        var x = torch.cat([outputTokens, prompts], 1);
        var y = hyp.forward(x);
        // the output tokens are equal in both rows; their adapted values differ because the weights come from each row's prompt
        Assert.True((y.select(0, 0).slice(0, 0, 5) - y.select(0, 1).slice(0, 0, 5)).abs().max().item() > 1e-5);
        var onlyOutputs = torch.randn([1, 5, 16]);
        Assert.Equal(0.0, (hyp.forward(onlyOutputs) - onlyOutputs).abs().max().item()); // no prompt tokens: identity
    }
}
