using SamAdapt.Sam.Modeling;
using SamAdapt.Torch;
using static SamAdapt.Sam.Tests.Modeling.SamTinyFixture;

namespace SamAdapt.Sam.Tests.Modeling;

public class SamModulesTests
{
    [Theory]
    [InlineData(8, 8, 3)]
    [InlineData(64, 64, 14)]
    [InlineData(5, 7, 4)]
    [InlineData(6, 6, 3)]
    public void Window_partition_round_trips_and_pads_with_zeros(int h, int w, int ws)
    {
        using var scope = DisposeScope.Begin();
        var x = torch.randn(2, h, w, 5);
        var (windows, padded) = Block.WindowPartition(x, ws);
        int hp = (h + ws - 1) / ws * ws, wp = (w + ws - 1) / ws * ws;
        Assert.Equal((hp, wp), padded);
        Assert.Equal(new long[] { 2L * (hp / ws) * (wp / ws), ws, ws, 5 }, windows.shape);
        Assert.True(torch.equal(x, Block.WindowUnpartition(windows, ws, padded, (h, w))));
        // total mass preserved: padding is zeros (summed in float64: a float32 sum of ~10⁵ values depends on the reduction order)
        Assert.Equal(x.abs().to(DType.Float64).sum().item(), windows.abs().to(DType.Float64).sum().item(), 6);
    }

    [Fact]
    public void Relative_position_indices_follow_i_minus_j()
    {
        using var scope = DisposeScope.Begin();
        var table = torch.arange(0, 9, 1, DType.Float32).unsqueeze(1); // (2·5 − 1, 1), value = index
        var r = RelativePosition.GetRelPos(5, 5, table).squeeze(2).ToArray<float>();
        for (int i = 0; i < 5; i++)
            for (int j = 0; j < 5; j++)
                Assert.Equal(i - j + 4, r[i * 5 + j]);
        // a table of another length is linearly resampled first
        var other = RelativePosition.GetRelPos(3, 3, table);
        Assert.Equal(new long[] { 3, 3, 1 }, other.shape);
    }

    [Fact]
    public void Dense_pe_and_prompt_encodings_have_the_documented_layout()
    {
        using var model = SamTinyFixture.Load(SafeTensorsPath);
        using var scope = DisposeScope.Begin();
        using var _ = torch.no_grad();
        var pe = model.prompt_encoder.get_dense_pe();
        Assert.Equal(new long[] { 1, 32, 8, 8 }, pe.shape);
        // sin² + cos² = 1 for every frequency
        var s = pe.slice(1, 0, 16);
        var c = pe.slice(1, 16, 32);
        Assert.True(torch.allclose(s * s + c * c, torch.ones(1, 16, 8, 8), 1e-5, 1e-5));

        // labels −1 → exactly not_a_point_embed; padding point appended only without a box
        var coords = torch.tensor(new float[] { 10, 20, 30, 40 }, 1, 2, 2);
        var labels = torch.tensor(new[] { 1, -1 }, 1, 2);
        var (sparse, dense) = model.prompt_encoder.forward((coords, labels), null, null);
        Assert.Equal(new long[] { 1, 3, 32 }, sparse.shape);
        Assert.True(torch.equal(sparse.select(1, 1), model.prompt_encoder.not_a_point_embed.weight));
        Assert.True(torch.equal(sparse.select(1, 2), model.prompt_encoder.not_a_point_embed.weight));
        Assert.True(torch.equal(dense, model.prompt_encoder.no_mask_embed.weight.reshape(1, 32, 1, 1).expand(1, 32, 8, 8)));
        var (withBox, _) = model.prompt_encoder.forward((coords, labels), torch.tensor(new float[] { 1, 2, 50, 60 }, 1, 4), null);
        Assert.Equal(new long[] { 1, 4, 32 }, withBox.shape);
        var (boxOnly, _) = model.prompt_encoder.forward(null, torch.tensor(new float[] { 1, 2, 50, 60 }, 1, 1, 4), null);
        Assert.Equal(new long[] { 1, 2, 32 }, boxOnly.shape);
        Assert.True(torch.equal(boxOnly, withBox.slice(1, 2, 4)));
        var (none, noneDense) = model.prompt_encoder.forward(null, null, null);
        Assert.Equal(new long[] { 1, 0, 32 }, none.shape);
        Assert.Equal(new long[] { 1, 32, 8, 8 }, noneDense.shape);
    }

    [Fact]
    public void Decoder_batches_prompts_per_image_and_supports_medsam_pairing()
    {
        using var model = SamTinyFixture.Load(SafeTensorsPath);
        using var scope = DisposeScope.Begin();
        using var _ = torch.no_grad();
        var emb = Tensor(Npy("image_embeddings.npy"));
        var emb2 = emb.flip(3).contiguous();
        var pe = model.prompt_encoder.get_dense_pe();
        var boxes = torch.tensor(new float[] { 10, 20, 70, 80, 30, 5, 120, 60 }, 2, 4);

        (Tensor, Tensor) Single(Tensor e, Tensor box)
        {
            var (sp, de) = model.prompt_encoder.forward(null, box, null);
            return model.mask_decoder.forward(e, pe, sp, de, false);
        }

        // upstream: one image, two prompts → repeat_interleave
        var (sparse, dense) = model.prompt_encoder.forward(null, boxes, null);
        var (masks, iou) = model.mask_decoder.forward(emb, pe, sparse, dense, false);
        Assert.Equal(new long[] { 2, 1, 32, 32 }, masks.shape);
        for (int i = 0; i < 2; i++)
        {
            var (m1, i1) = Single(emb, boxes.slice(0, i, i + 1));
            Assert.True(torch.allclose(masks.slice(0, i, i + 1), m1, 1e-5, 1e-6));
            Assert.True(torch.allclose(iou.slice(0, i, i + 1), i1, 1e-5, 1e-6));
        }

        // MedSAM: two images, one box each
        var both = torch.cat([emb, emb2], 0);
        Assert.ThrowsAny<Exception>(() => model.mask_decoder.forward(both, pe, sparse, dense, false)); // upstream repeats → 4 vs 2
        model.mask_decoder.BatchMode = ImageBatchMode.SkipRepeatWhenBatchesMatch;
        var (mm, mi) = model.mask_decoder.forward(both, pe, sparse, dense, false);
        model.mask_decoder.BatchMode = ImageBatchMode.RepeatInterleave;
        var (m2, i2) = Single(emb2, boxes.slice(0, 1, 2));
        Assert.True(torch.allclose(mm.slice(0, 1, 2), m2, 1e-5, 1e-6));
        Assert.True(torch.allclose(mi.slice(0, 1, 2), i2, 1e-5, 1e-6));

        // multimask selects tokens 1..3
        var (all, allIou) = model.mask_decoder.PredictMasks(emb, pe, sparse, dense);
        var (multi, multiIou) = model.mask_decoder.forward(emb, pe, sparse, dense, true);
        Assert.True(torch.equal(all.slice(1, 1, 4), multi));
        Assert.True(torch.equal(allIou.slice(1, 1, 4), multiIou));
        Assert.True(torch.equal(all.slice(1, 0, 1), masks));
    }

    [Fact]
    public void Forward_passes_leave_only_their_results_in_the_callers_scope_and_dispose_frees_parameters()
    {
        var model = SamTinyFixture.Load(SafeTensorsPath);
        Assert.False(model.training);
        using (var scope = DisposeScope.Begin())
        using (torch.no_grad())
        {
            var x = torch.randn(1, 3, 128, 128);
            var emb = model.image_encoder.forward(x);
            Assert.Equal(2, scope.Count);
            var pe = model.prompt_encoder.get_dense_pe();
            var (sparse, dense) = model.prompt_encoder.forward(null, torch.tensor(new float[] { 1, 2, 50, 60 }, 1, 4), null);
            Assert.Equal(6, scope.Count);
            var (masks, iou) = model.mask_decoder.forward(emb, pe, sparse, dense, true);
            Assert.Equal(8, scope.Count);
            var full = SamPostprocess.MasksToOriginal(masks, (85, 128), (100, 150), 128);
            Assert.Equal(new long[] { 1, 3, 100, 150 }, full.shape);
            Assert.Equal(9, scope.Count);
        }
        var parameters = model.parameters().ToList();
        model.Dispose();
        Assert.All(parameters, p => Assert.True(p.IsDisposed));
    }
}
