using SamAdapt.Imaging;
using SamAdapt.Imaging.Preprocessing;
using SamAdapt.Methods;
using SamAdapt.Sam.Contracts;
using SamAdapt.Torch;
using SamAdapt.Torch.NN;
using SamAdapt.Training.Data;

namespace SamAdapt.Inference;

/// <summary>A predicted volume: the label map on the input's grid and, when asked, per-class probabilities (X, Y, Z, K+1).</summary>
public sealed record VolumePrediction(Volume Labels, Volume? Probabilities);

/// <summary>
/// Slice-window inference of any semantic model (<see cref="ISemanticSegmenter"/>) over whole volumes (docs/methods.md, "Prediction"): a D-slice stack centred
/// on every slice (stride 1, edge slices replicated), in-plane resize to the model size, softmax, and every slice's
/// probabilities averaged over all the stacks that contain it; then bilinear resize back to the native plane, argmax,
/// and class indices mapped back to the dataset's label values. The output keeps the input's exact shape and affine.
/// </summary>
/// <param name="projection">The run's learned input projection when <see cref="SampleOptions.Input"/> is learned.</param>
/// <param name="mirrorSlices">Test-time augmentation (<c>predict --tta flip-slices</c>): every stack is also segmented with its slices in
/// reverse order, that output reversed back, and the two probability maps averaged (twice the forward passes).</param>
public sealed class VolumePredictor(ISemanticSegmenter model, SampleOptions preprocessing, IReadOnlyList<int> classValues, Device device, bool bf16 = false, int batchSize = 1,
    LearnedInputProjection? projection = null, bool mirrorSlices = false)
{
    private readonly int[] _values = Checked(classValues, preprocessing, batchSize, mirrorSlices); // first: before the pipeline is built
    private readonly SamplePipeline _pipeline = new(preprocessing, null);

    /// <summary>A predictor for a run's trained semantic model (<see cref="RunLoader"/>).</summary>
    public VolumePredictor(TrainedModel trained, Device device, bool bf16 = false, int batchSize = 1, bool mirrorSlices = false)
        : this(trained.Semantic ?? throw new ArgumentException($"method {trained.Method} has no semantic output; use a prompted predictor"),
            trained.Preprocessing ?? throw new ArgumentException($"method {trained.Method} recorded no preprocessing"), trained.ClassValues, device, bf16, batchSize,
            trained.InputProjection, mirrorSlices) { }

    /// <summary>The run's class values and sizes, checked once before anything is read or allocated.</summary>
    private static int[] Checked(IReadOnlyList<int> classValues, SampleOptions preprocessing, int batchSize, bool mirrorSlices)
    {
        if (mirrorSlices && preprocessing.Slices == 1)
            throw new ArgumentException("--tta flip-slices: the run segments single slices (slices 1 in its config.yaml), so there is no slice order to reverse");
        int[] values = [.. classValues];
        // label values must fit the int16 label map exactly (no wrap-around) and be one per model output
        if (values.Length < 2 || values[0] != 0 || values.Skip(1).Any(v => v is < 1 or > short.MaxValue) || values.Distinct().Count() != values.Length)
            throw new InvalidDataException($"run config field class_values: expected 0 then distinct label values 1..{short.MaxValue}, found [{string.Join(", ", values)}]");
        // sizes from the run's config.yaml and --batch: checked before anything is allocated
        if (preprocessing.Slices is < 1 or > 99 || preprocessing.Slices % 2 == 0)
            throw new InvalidDataException($"run config field slices: expected an odd number 1..99, found {preprocessing.Slices}");
        if (preprocessing.ImageSize is < 16 or > 8192)
            throw new InvalidDataException($"run config field image_size: expected 16..8192, found {preprocessing.ImageSize}");
        // the mirrored pass (--tta flip-slices) holds a reversed copy of the inputs and a second probability map at the same time
        int passes = mirrorSlices ? 2 : 1;
        SamAdapt.Common.ResourceLimits.Check(
            $"--batch {batchSize} × slices {preprocessing.Slices} × 3 × {preprocessing.ImageSize}² float32 inputs and probabilities"
            + (mirrorSlices ? ", twice for --tta flip-slices" : ""),
            (double)passes * batchSize * preprocessing.Slices * preprocessing.ImageSize * preprocessing.ImageSize * (3 + values.Length), 4 * 4);
        return values;
    }

    public int NumClasses => _values.Length;

    /// <summary>Softmax probabilities (B·D, K+1, S, S) of one batch of stacks.</summary>
    private Tensor Probabilities(Tensor x, int d, int k1)
    {
        Tensor logits;
        using (bf16 ? torch.autocast(device.Type, DType.BFloat16) : null)
            logits = model.ClassLogits(x, d);
        if (logits.shape[1] != k1)
            throw new InvalidDataException($"run config field class_values: expected {logits.shape[1]} classes (the model's outputs), found {k1}");
        return F.softmax(logits.to(DType.Float32), 1);
    }

    /// <summary>(B·D, ...) sample-major, slice-minor → the same with every sample's D slices in reverse order.</summary>
    private static Tensor Reversed(Tensor t, int b, int d) =>
        t.view([(long)b, d, .. t.shape[1..]]).flip(1).reshape(t.shape);

    /// <summary>Predicts one volume; <paramref name="progress"/> gets (stacks done, stacks total).</summary>
    public VolumePrediction Predict(Volume image, string id, bool probabilities = false, IProgress<(int Done, int Total)>? progress = null) =>
        Predict([image], id, probabilities, progress);

    /// <summary>Predicts one case given as its channel volumes (nnU-Net's <c>_XXXX</c> files, in order; a single volume for grey
    /// runs or when one file holds the channels). The output lies on the first channel's grid.</summary>
    public VolumePrediction Predict(IReadOnlyList<Volume> channels, string id, bool probabilities = false, IProgress<(int Done, int Total)>? progress = null)
    {
        var image = channels[0];
        var pv = _pipeline.Prepare(id, channels);
        int n = pv.SliceCount, d = preprocessing.Slices, s = preprocessing.ImageSize, k1 = _values.Length, plane = s * s;
        var acc = new float[n][];
        var count = new int[n];
        int stackLen = d * preprocessing.Input.ModelChannels * plane;
        model.PrepareForInference();
        for (int start = 0; start < n; start += batchSize)
        {
            int b = Math.Min(batchSize, n - start);
            var input = new float[(long)b * stackLen];
            Parallel.For(0, b, i => _pipeline.ModelInput(pv, start + i).CopyTo(input, (long)i * stackLen));
            float[] probs;
            using (DisposeScope.Begin())
            using (torch.inference_mode())
            {
                var x = SamplePipeline.ModelTensor(input, (long)b * d, s, preprocessing.Input, projection, device);
                var p = Probabilities(x, d, k1);
                if (mirrorSlices)                                                    // (B·D, C, S, S) with each stack's D reversed, and back
                    p = (p + Reversed(Probabilities(Reversed(x, b, d), d, k1), b, d)) * 0.5;
                probs = p.cpu().ToArray<float>();
            }
            for (int i = 0; i < b; i++)
            {
                var idx = SliceExtractor.StackIndices(start + i, d, n);
                for (int j = 0; j < d; j++)
                {
                    int slice = idx[j];
                    var a = acc[slice] ??= new float[k1 * plane];
                    var src = probs.AsSpan((i * d + j) * k1 * plane, k1 * plane);
                    for (int q = 0; q < a.Length; q++) a[q] += src[q];
                    count[slice]++;
                }
            }
            progress?.Report((start + b, n));
        }

        var shape = image.Shape.Length > 3 ? image.Shape[..3] : image.Shape;
        long voxels = (long)pv.Shape[0] * pv.Shape[1] * pv.Shape[2];
        bool wide = _values.Any(v => v > 255);
        var labels8 = wide ? null : new byte[voxels];
        var labels16 = wide ? new short[voxels] : null;
        var prob = probabilities ? new float[voxels * k1] : null;
        int rows = pv.Rows, cols = pv.Cols, nplane = rows * cols;
        Parallel.For(0, n, slice =>
        {
            var a = acc[slice];
            float inv = 1f / count[slice];
            for (int q = 0; q < a.Length; q++) a[q] *= inv;
            var native = (rows == s && cols == s) ? a : Resize2D.BilinearPlanes(a, k1, s, s, rows, cols);
            var p8 = new byte[nplane];
            var p16 = new short[nplane];
            for (int q = 0; q < nplane; q++)
            {
                int best = 0;
                float bv = native[q];
                for (int c = 1; c < k1; c++)
                {
                    float v = native[c * nplane + q];
                    if (v > bv) { bv = v; best = c; }
                }
                if (wide) p16[q] = (short)_values[best]; else p8[q] = (byte)_values[best];
            }
            if (wide) pv.InsertPlane<short>(labels16, slice, p16); else pv.InsertPlane<byte>(labels8, slice, p8);
            if (prob is not null)
                for (int c = 0; c < k1; c++)
                    pv.InsertPlane<float>(prob.AsSpan((int)(c * voxels), (int)voxels), slice, native.AsSpan(c * nplane, nplane));
            acc[slice] = null!;
        });
        var lv = image.With((int[])shape.Clone(), wide ? VoxelType.Int16 : VoxelType.UInt8, wide ? labels16! : labels8!, (double[])image.Affine.Clone(), keepScaling: false);
        lv.IntentCode = Volume.IntentLabel;
        lv.IntentName = "";
        lv.Description = "samadapt predict";
        Volume? pvol = null;
        if (prob is not null)
        {
            pvol = image.With([.. pv.Shape, k1], VoxelType.Float32, prob, (double[])image.Affine.Clone(), keepScaling: false);
            pvol.IntentCode = 0;
            pvol.Description = "samadapt class probabilities (background first)";
        }
        return new VolumePrediction(lv, pvol);
    }
}
