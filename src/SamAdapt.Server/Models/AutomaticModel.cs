using SamAdapt.Imaging;
using SamAdapt.Imaging.Dicom.Seg;
using SamAdapt.Inference;
using SamAdapt.Torch;

namespace SamAdapt.Server.Models;

/// <summary>One label class of a model, as the page's legend shows it.</summary>
public sealed record LabelClass(int Value, string Name, string Color);

/// <summary>A run folder's semantic model (MA-SAM, LoRA, full, …) loaded once, for automatic prediction of whole volumes.</summary>
public sealed class AutomaticModel : IDisposable
{
    private readonly LoadedRun _run;
    private readonly VolumePredictor _predictor;

    public AutomaticModel(string runDir, Device device)
    {
        _run = RunLoader.Load(runDir, RunWeights.Best, device);
        _predictor = new VolumePredictor(_run.Model, device);
        Name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(runDir)));
        var values = _run.Model.ClassValues;
        if (values.Any(v => v is < 0 or > 255))
            throw new ArgumentException($"--run {runDir}: label values {string.Join(", ", values)}; the viewer edits label maps of values 0..255");
        Classes = values.Select((v, i) => new LabelClass(v, i < _run.Model.ClassNames.Count ? _run.Model.ClassNames[i] : $"class {i}", SegmentPalette.Hex(i)))
            .Skip(1).ToList();
        Gate = new ModelGate(Name);
    }

    public string Name { get; }
    public string Method => _run.Model.Method;
    public IReadOnlyList<LabelClass> Classes { get; }
    public ModelGate Gate { get; }

    /// <summary>The label map (one byte per voxel, the input's grid) predicted for <paramref name="image"/>.</summary>
    public byte[] Predict(Volume image, IProgress<(int Done, int Total)> progress)
    {
        var labels = _predictor.Predict(image, Name, probabilities: false, progress).Labels;
        var r = new byte[labels.VoxelCount];
        for (long i = 0; i < r.Length; i++) r[i] = (byte)labels.Get(i);
        return r;
    }

    public void Dispose() => _run.Dispose();
}
