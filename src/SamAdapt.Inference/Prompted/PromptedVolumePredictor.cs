using SamAdapt.Imaging;
using SamAdapt.Imaging.Preprocessing;
using SamAdapt.Methods.Msa;
using SamAdapt.Torch;
using SamAdapt.Torch.NN;
using SamAdapt.Training.Data;

namespace SamAdapt.Inference.Prompted;

/// <summary>
/// Prompted segmentation of a volume with an MSA model (docs/methods/msa.md, "Prompted prediction"): every slice (axis k) that a class's
/// prompts touch is embedded in the D-slice stack centred on it (the depth branch sees its neighbours) and decoded with that class's
/// prompts on it, mapped from the slice's (i = x, j = y) pixel frame to the S×S model frame; the logits are resized back to the slice
/// (pixels outside a box prompt cleared, <see cref="ClipToBox"/>) and a voxel takes the class with the highest positive logit. Output: a label map on the input's exact grid and affine.
/// </summary>
/// <param name="projection">The run's learned input projection when <see cref="SampleOptions.Input"/> is learned.</param>
public sealed class PromptedVolumePredictor(MsaSam model, SampleOptions preprocessing, Device device, LearnedInputProjection? projection = null)
{
    private readonly SamplePipeline _pipeline = new(preprocessing, null);

    /// <summary>Clip a box prompt's mask to the box (<see cref="BoxClip"/>; the run's <c>clip_to_box</c>).</summary>
    public bool ClipToBox { get; init; } = true;

    public Volume Predict(Volume image, string id, IReadOnlyList<ClassPrompts> prompts) => Predict([image], id, prompts);

    /// <summary>
    /// One prompt's logits on its slice: the decoder's low-resolution logits (1, 1, h, w) up-sampled bilinearly to the S × S model frame,
    /// then resized to the slice's rows × cols; with <paramref name="clipTo"/>, the pixels outside that box cleared (<see cref="BoxClip"/>).
    /// </summary>
    internal static float[] SliceLogits(Tensor lowRes, int size, int rows, int cols, PromptBox? clipTo)
    {
        var up = F.interpolate(lowRes, [size, size], InterpolationMode.Bilinear, alignCorners: false).to(DType.Float32).cpu().ToArray<float>();
        var native = rows == size && cols == size ? up : Resize2D.BilinearPlanes(up, 1, size, size, rows, cols);
        if (clipTo is { } box) BoxClip.Apply(native, rows, cols, box);
        return native;
    }

    /// <summary>Predicts a case given as its channel volumes (in order); the output lies on the first one's grid.</summary>
    public Volume Predict(IReadOnlyList<Volume> channels, string id, IReadOnlyList<ClassPrompts> prompts)
    {
        var image = channels[0];
        var pv = _pipeline.Prepare(id, channels);
        if (pv.Axis != 2) throw new InvalidDataException($"prompted prediction runs along axis k; the run's slice axis is {pv.Axis}");
        int n = pv.SliceCount, d = preprocessing.Slices, s = preprocessing.ImageSize, rows = pv.Rows, cols = pv.Cols, plane = rows * cols;
        bool wide = prompts.Any(p => p.Value > 255);
        var best = new float[(long)plane * n];
        var label = new short[(long)plane * n];
        model.eval();
        for (int k = 0; k < n; k++)
        {
            var perClass = prompts.Select(p => (p.Value, Slice: ForSlice(p, k))).Where(x => x.Slice.Points.Count > 0 || x.Slice.Box is not null).ToList();
            if (perClass.Count == 0) continue;
            using var scope = DisposeScope.Begin();
            using var _ = torch.inference_mode();
            var x = SamplePipeline.ModelTensor(_pipeline.ModelInput(pv, k), d, s, preprocessing.Input, projection, device);
            var emb = model.EmbedCentres(x, d);
            foreach (var (value, sp) in perClass)
            {
                Tensor? coords = null, labels = null, box = null;
                if (sp.Points.Count > 0)
                {
                    var mapped = sp.Points.Select(p => PromptSimulator.ToModelFrame(p, rows, cols, s)).ToList();
                    coords = Tensor.FromArray<float>(mapped.SelectMany(c => new[] { c.X, c.Y }).ToArray(), [1, mapped.Count, 2], device);
                    labels = Tensor.FromArray<float>(mapped.Select(c => (float)c.Label).ToArray(), [1, mapped.Count], device);
                }
                if (sp.Box is { } b) box = Tensor.FromArray<float>(PromptSimulator.ToModelFrame(b, rows, cols, s).ToArray(), [1, 4], device);
                var native = SliceLogits(model.Decode(emb, coords, labels, box).LowResLogits, s, rows, cols, ClipToBox ? sp.Box : null);
                for (int q = 0; q < plane; q++)
                {
                    long at = (long)k * plane + q;
                    if (native[q] > 0 && (label[at] == 0 || native[q] > best[at])) { best[at] = native[q]; label[at] = (short)value; }
                }
            }
        }
        long voxels = (long)pv.Shape[0] * pv.Shape[1] * pv.Shape[2];
        var l8 = wide ? null : new byte[voxels];
        var l16 = wide ? new short[voxels] : null;
        for (int k = 0; k < n; k++)
        {
            var p = label.AsSpan((int)((long)k * plane), plane);
            if (wide) pv.InsertPlane<short>(l16, k, p);
            else pv.InsertPlane<byte>(l8, k, p.ToArray().Select(v => (byte)v).ToArray());
        }
        var shape = image.Shape.Length > 3 ? image.Shape[..3] : image.Shape;
        var lv = image.With((int[])shape.Clone(), wide ? VoxelType.Int16 : VoxelType.UInt8, wide ? l16! : l8!, (double[])image.Affine.Clone(), keepScaling: false);
        lv.IntentCode = Volume.IntentLabel;
        lv.IntentName = "";
        lv.Description = "samadapt predict --prompts";
        return lv;
    }

    /// <summary>A class's prompts on slice <paramref name="k"/> in the slice's pixel frame (x = i, y = j): points on it, the first box covering it.</summary>
    public static (List<Click> Points, PromptBox? Box) ForSlice(ClassPrompts p, int k)
    {
        var points = p.Points.Where(v => (int)Math.Round(v.K) == k).Select(v => new Click((float)v.I, (float)v.J, v.Label)).ToList();
        PromptBox? box = p.Boxes.Where(b => k >= Math.Round(b.K0) && k <= Math.Round(b.K1))
            .Select(b => (PromptBox?)new PromptBox((float)b.I0, (float)b.J0, (float)b.I1, (float)b.J1)).FirstOrDefault();
        return (points, box);
    }
}
