using SamAdapt.Methods.MaskSam;
using SamAdapt.Sam;
using SamAdapt.Torch;
using SamAdapt.Torch.Serialization;
using Xunit.Abstractions;
using static SamAdapt.Methods.Tests.MaskSam.MaskSamTinyFixture;

namespace SamAdapt.Methods.Tests.MaskSam;

/// <summary>The reduced reference MaskSAM loaded from masksam-tiny and run once on its input (shared by the parity tests).</summary>
public sealed class MaskSamTinyRun : IDisposable
{
    public MaskSamModel Model { get; }
    public MaskSamForward Out { get; }

    public MaskSamTinyRun()
    {
        Model = LoadModel();
        using var _ = torch.no_grad();
        Out = Model.forward(Tensor("input"));
    }

    public static MaskSamConfig Config()
    {
        var c = Json("config.json");
        int I(string n) => c.GetProperty(n).GetInt32();
        int[] Is(string n) => c.GetProperty(n).EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.Equal(1, I("C"));
        Assert.Equal(I("H"), I("W"));
        var sam = new SamConfig
        {
            ImageSize = I("img_size"), PatchSize = I("patch"), EncoderEmbedDim = I("embed"), EncoderDepth = I("depth"), EncoderNumHeads = I("heads"),
            GlobalAttnIndexes = Is("global_idx"), WindowSize = I("window"), PromptEmbedDim = I("prompt_dim"), MaskInChans = I("mask_in_chans"),
            DecoderMlpDim = I("dec_mlp"), DecoderNumHeads = I("dec_heads"), IouHeadHiddenDim = I("iou_hidden"),
        };
        var plan = c.GetProperty("plan_arch_kwargs");
        return new MaskSamConfig
        {
            Sam = sam, Frames = I("T"), InputSize = I("H"), NumClasses = I("num_classes"), NumQueries = I("num_queries"),
            GeneratorChannels = Is("pg_channels"), ClassifierPool = I("cls_pool"), ReferenceWindowAdapters = true,
            GeneratorKernels = plan.GetProperty("kernel_sizes").EnumerateArray().Select(k => k.EnumerateArray().Select(e => e.GetInt32()).ToArray()).ToArray(),
            ConvsPerStage = plan.GetProperty("n_conv_per_stage").EnumerateArray().First().GetInt32(),
        };
    }

    public static MaskSamModel LoadModel()
    {
        var model = new MaskSamModel(Config());
        using var scope = DisposeScope.Begin();
        var host = SafeTensors.Load(Path("state_dict.safetensors")).Tensors;
        var renamed = MaskSamReferenceKeys.Rename(host);
        model.load_state_dict(renamed.ToDictionary(kv => kv.Key, kv => kv.Value.ToTensor()), strict: true);
        model.eval();
        return model;
    }

    public void Dispose() => Model.Dispose();
}

/// <summary>Every forward head and the intermediates of masksam-tiny's forward/ against the C# model (reference window adapters), ‖a − b‖/‖b‖ ≤ 1e-4.</summary>
public class MaskSamForwardParityTests(MaskSamTinyRun run, ITestOutputHelper output) : IClassFixture<MaskSamTinyRun>
{
    private void Close(string name, Tensor t) => AssertClose(name, t, "forward/" + name, output.WriteLine);

    [Fact]
    public void StemAndEncoderLevels()
    {
        Close("stem_out", run.Out.Stem);
        var names = new[] { "enc_block1", "enc_block3", "enc_block5", "enc_block7", "enc_neck" };
        for (int i = 0; i < names.Length; i++) Close(names[i], run.Out.EncoderLevels[i]);
    }

    [Fact]
    public void PromptGeneratorHeads()
    {
        Close("pg_stage0", run.Out.Generator.Stages[0]);
        Close("pg_stage1", run.Out.Generator.Stages[1]);
        Close("bbox_head", run.Out.Generator.BoxHead);
        Close("cls_head", run.Out.Generator.ClassHead);
        Close("aux_class_tokens", run.Out.AuxClassTokens);
        Close("pred_aux_masks", run.Out.Predictions.AuxMasks);
        Close("bbox_from_masks", run.Out.MaskBoxes);
        Close("pred_aux_bboxes", run.Out.Predictions.AuxBoxes);
    }

    [Fact]
    public void PromptsAndEmbeddings()
    {
        Assert.Equal(Npy("forward/box_prompt").AsFloat32(), run.Out.BoxPrompt.ToArray<float>());
        Assert.Equal(Npy("forward/mask_prompt").AsInt64(), run.Out.MaskPrompt.to(DType.Int64).ToArray<long>());
        Close("sparse_embeddings", run.Out.Sparse);
        Close("dense_embeddings", run.Out.Dense);
        Close("dense_pe", run.Out.DensePe);
    }

    [Fact]
    public void DecoderHeadsAndSemanticOutput()
    {
        Close("low_res_masks", run.Out.LowResMasks);
        Close("pred_logits", run.Out.Predictions.Logits);
        Close("pred_masks", run.Out.Predictions.Masks);
        using var sem = run.Out.Semantic(run.Model.Config.Frames);
        Close("semseg", sem);
        using var arg = sem.argmax(1);
        var expected = Npy("forward/semseg_argmax").AsInt64();
        var actual = arg.ToArray<long>();
        int differ = expected.Zip(actual).Count(p => p.First != p.Second);
        output.WriteLine($"argmax differs at {differ} of {expected.Length} voxels");
        Assert.True(differ <= expected.Length / 10000, $"{differ} argmax voxels differ");
    }

    [Fact]
    public void SemanticOutputIsTheEinsumDefinition()
    {
        var p = run.Out.Predictions;
        using var sem = MaskSamModel.Semantic(p.Logits, p.Masks, run.Model.Config.Frames);
        var logits = p.Logits.ToArray<float>();
        var masks = p.Masks.ToArray<float>();
        var s = sem.ToArray<float>();
        long n = p.Logits.size(0), q = p.Logits.size(1), k1 = p.Logits.size(2), h = p.Masks.size(2), w = p.Masks.size(3);
        int t = run.Model.Config.Frames;
        var rng = new Random(3);
        for (int trial = 0; trial < 50; trial++)
        {
            long ni = rng.Next((int)n), c = rng.Next((int)k1 - 1), y = rng.Next((int)h), x = rng.Next((int)w);
            double sum = 0;
            for (long qi = 0; qi < q; qi++)
            {
                var row = Enumerable.Range(0, (int)k1).Select(j => (double)logits[(ni * q + qi) * k1 + j]).ToArray();
                double mx = row.Max(), z = row.Sum(v => Math.Exp(v - mx));
                sum += Math.Exp(row[c] - mx) / z / (1 + Math.Exp(-masks[((ni * q + qi) * h + y) * w + x]));
            }
            long bi = ni / t, ti = ni % t;
            Assert.Equal(sum, s[(((bi * (k1 - 1) + c) * t + ti) * h + y) * w + x], 4);
        }
    }

    [Fact]
    public void FreezingFollowsTheReference()
    {
        var keys = Json("manifest.json").GetProperty("state_dict").GetProperty("keys").EnumerateArray()
            .Where(k => k.GetProperty("kind").GetString() == "parameter").ToArray();
        var ours = run.Model.named_parameters().ToDictionary(p => p.Name, p => p.Value.requires_grad);
        foreach (var k in keys)
        {
            var name = MaskSamReferenceKeys.FromReference(k.GetProperty("name").GetString()!);
            Assert.Equal(k.GetProperty("trainable").GetBoolean(), ours[name]);
        }
        Assert.Equal(Json("manifest.json").GetProperty("state_dict").GetProperty("trainable_numel").GetInt64(),
            run.Model.named_parameters().Where(p => p.Value.requires_grad).Sum(p => p.Value.numel()));
    }
}
