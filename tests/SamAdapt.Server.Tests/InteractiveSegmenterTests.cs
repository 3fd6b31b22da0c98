using SamAdapt.Imaging;
using SamAdapt.Sam.Prediction;
using SamAdapt.Server.Models;
using SamAdapt.Server.Sessions;
using SamAdapt.Tests;
using SamAdapt.Torch;

namespace SamAdapt.Server.Tests;

/// <summary>The SAM interactive model: no tensor outlives a click, and an evicted embedding is released.</summary>
public class InteractiveSegmenterTests(ServerFixture fx) : IClassFixture<ServerFixture>
{
    [Fact]
    public void Clicks_DoNotAccumulateTensors_AndEvictedEmbeddingsAreReleased()
    {
        using var seg = SamInteractiveSegmenter.Load(fx.Checkpoint, "auto", SamPreset.Sam, Device.CPU);
        var v = new OpenVolume(VolumeIO.Read(Path.Combine(fx.DataRoot, ServerFixture.Nifti)), "v", null, null);
        var session = new Session("t", fx.Temp.Path);
        session.Open(v);
        int gen = session.Require().Generation;
        Assert.Null(session.CachedEmbedding(0, gen));
        var e = seg.Embed(v.GreySlice(0), 20, 24);
        session.CacheEmbedding(0, e, gen);
        var prompt = new SlicePrompt([(5.5, 6.5, 1)], null);
        var first = seg.Segment(e, prompt);
        long live = Tensor.LiveCount;
        for (int i = 0; i < 5; i++) Assert.Equal(first, seg.Segment(e, prompt));
        Assert.Equal(live, Tensor.LiveCount);
        // more slices than the cache holds: the oldest are disposed, the live count stays bounded
        for (int k = 0; k < Session.MaxCachedEmbeddings + 3; k++)
            session.CacheEmbedding(100 + k, seg.Embed(v.GreySlice(k % 9), 20, 24), gen);
        Assert.Null(session.CachedEmbedding(0, gen));
        Assert.True(Tensor.LiveCount <= live + Session.MaxCachedEmbeddings, $"{Tensor.LiveCount - live} tensors more than before");
        // an embedding made for a volume that has been replaced is not cached
        session.Open(v);
        var stale = seg.Embed(v.GreySlice(1), 20, 24);
        session.CacheEmbedding(1, stale, gen);
        Assert.Null(session.CachedEmbedding(1, session.Require().Generation));
        session.DropEmbeddings();
    }
}
