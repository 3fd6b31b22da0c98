using SamAdapt.Methods.Semantic;
using SamAdapt.Sam.Adapters;

namespace SamAdapt.Methods.MaSam;

/// <summary>
/// MA-SAM (docs/methods.md, "ma-sam"): FacT on q/v of every encoder block (rank 32, scale 1, dropout 0.1), two 3D adapters per
/// block (bottleneck 384) mixing neighbouring slices, the progressive ×16 multi-class decoder; the base image encoder is frozen,
/// adapters, prompt encoder and decoder are trained. The tiny preset uses rank 8 and bottleneck 32.
/// </summary>
public sealed class MaSamMethod : SemanticSamMethod, IImportableMethod
{
    public override string Name => "ma-sam";
    public override IReadOnlyList<string> Aliases => ["masam", "ma_sam"];
    public override string Description => "MA-SAM: FacT on q/v + 3D adapters in every encoder block, progressive multi-class decoder (frozen SAM encoder)";

    public override AdapterConfig Adapters(int numClasses, int slices, bool tinyPreset, int? rank = null, int? bottleneck = null)
    {
        var c = tinyPreset ? SamPresets.TinyAdapters(AdaptMethod.MaSam, numClasses, slices)
                           : new AdapterConfig { Method = AdaptMethod.MaSam, NumClasses = numClasses, Slices = slices };
        if (rank is { } r) c = c with { FactRank = r };
        if (bottleneck is { } b) c = c with { AdapterBottleneck = b };
        return c;
    }

    /// <summary>A model saved by the reference MA-SAM code (<see cref="MaSamImport"/>).</summary>
    public ImportResult Import(ImportSettings s, TextWriter? log = null)
    {
        var r = MaSamImport.Import(s, log);
        return new ImportResult(r.RunDir, r.ClassNames);
    }
}
