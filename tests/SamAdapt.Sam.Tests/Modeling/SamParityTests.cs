using SamAdapt.Sam.Modeling;
using SamAdapt.Torch;
using Xunit.Abstractions;
using static SamAdapt.Sam.Tests.Modeling.SamTinyFixture;

namespace SamAdapt.Sam.Tests.Modeling;

/// <summary>
/// The C# model against the reference SamPredictor outputs of the sam-tiny fixture: encoder embeddings, and for every prompt
/// case the low-res logits, IoU predictions and full-size mask logits. Acceptance: ‖a − b‖/‖b‖ ≤ 1e-4 per output.
/// </summary>
public class SamParityTests(ITestOutputHelper output)
{
    private const double Bound = 1e-4;

    public static TheoryData<string> Checkpoints => new() { "checkpoint.pth", "checkpoint.safetensors" };

    private void AssertClose(string what, Tensor actual, float[] expected, long[] expectedShape)
    {
        Assert.Equal(expectedShape, actual.shape);
        var a = actual.contiguous().ToArray<float>();
        double rel = RelativeError(a, expected), max = MaxAbs(a, expected);
        output.WriteLine($"{what}: rel {rel:E2}, max |Δ| {max:E2}");
        Assert.True(rel <= Bound, $"{what}: relative error {rel:E3} exceeds {Bound:E0} (max |Δ| {max:E3})");
    }

    [Theory]
    [MemberData(nameof(Checkpoints))]
    public void Image_encoder_matches_reference_embeddings(string checkpoint)
    {
        using var model = SamTinyFixture.Load(Path(checkpoint));
        using var scope = DisposeScope.Begin();
        using var _ = torch.no_grad();
        var input = Tensor(Npy("input_tensor.npy"));
        var expected = Npy("image_embeddings.npy");
        var emb = model.image_encoder.forward(input);
        AssertClose("image_embeddings", emb, expected.AsFloat32(), expected.Shape);
    }

    [Fact]
    public void Preprocess_reproduces_the_reference_input_tensor()
    {
        using var model = new SamModel(Config);
        using var scope = DisposeScope.Begin();
        var resized = Npy("resized_image.npy"); // (h, w, 3) uint8
        var hwc = Torch.Tensor.FromArray<byte>(resized.AsSpan<byte>(), resized.Shape);
        var chw = hwc.permute(2, 0, 1).contiguous().unsqueeze(0);
        var x = model.Preprocess(chw);
        var expected = Npy("input_tensor.npy");
        Assert.Equal(expected.Shape, x.shape);
        Assert.Equal(expected.AsFloat32(), x.ToArray<float>());
    }

    [Theory]
    [MemberData(nameof(Checkpoints))]
    public void Prompt_cases_match_reference_outputs(string checkpoint)
    {
        using var model = SamTinyFixture.Load(Path(checkpoint));
        using var scope = DisposeScope.Begin();
        using var _ = torch.no_grad();
        var embeddings = Tensor(Npy("image_embeddings.npy"));
        var original = OriginalSize;
        var transform = new ResizeLongestSide(model.ImageSize);
        var inputSize = transform.GetPreprocessShape(original.H, original.W);
        var imagePe = model.prompt_encoder.get_dense_pe();
        int n = 0;
        foreach (var (name, multimask) in Cases())
        {
            using var caseScope = DisposeScope.Begin();
            string dir = Path(name);
            (Tensor, Tensor)? points = null;
            Tensor? box = null, mask = null;
            if (File.Exists(System.IO.Path.Combine(dir, "point_coords.npy")))
            {
                var coords = Npy(name, "point_coords.npy");
                var labels = Npy(name, "point_labels.npy").AsInt64();
                var c = transform.ApplyCoordsFloat32(coords.AsFloat32(), original.H, original.W);
                points = (Torch.Tensor.FromArray<float>(c, [1, coords.Shape[0], 2]),
                    Torch.Tensor.FromArray<int>(labels.Select(l => (int)l).ToArray(), [1, labels.Length]));
            }
            if (File.Exists(System.IO.Path.Combine(dir, "box.npy")))
            {
                var b = transform.ApplyBoxesFloat32(Npy(name, "box.npy").AsFloat32(), original.H, original.W);
                box = Torch.Tensor.FromArray<float>(b, [1, 4]);
            }
            if (File.Exists(System.IO.Path.Combine(dir, "mask_input.npy")))
                mask = Tensor(Npy(name, "mask_input.npy")).unsqueeze(0);

            var (sparse, dense) = model.prompt_encoder.forward(points, box, mask);
            var (lowRes, iou) = model.mask_decoder.forward(embeddings, imagePe, sparse, dense, multimask);
            var masks = SamPostprocess.MasksToOriginal(lowRes, inputSize, original, model.ImageSize);

            var expLow = Npy(name, "low_res_logits.npy");
            var expIou = Npy(name, "iou_predictions.npy");
            var expMasks = Npy(name, "masks_logits.npy");
            AssertClose($"{checkpoint} {name} low_res_logits", lowRes.squeeze(0), expLow.AsFloat32(), expLow.Shape);
            AssertClose($"{checkpoint} {name} iou_predictions", iou.squeeze(0), expIou.AsFloat32(), expIou.Shape);
            AssertClose($"{checkpoint} {name} masks_logits", masks.squeeze(0), expMasks.AsFloat32(), expMasks.Shape);
            n++;
        }
        Assert.Equal(5, n);
    }
}
