using System.Collections.Concurrent;
using SamAdapt.Imaging.Datasets;
using SamAdapt.Training.Augmentation;

namespace SamAdapt.Training.Data;

/// <summary>
/// The training-sample source of <c>samadapt train</c>: a dataset's labelled cases, split by case into training and
/// validation, prepared once and <b>cached in memory</b> (image as float32 — or float16 with
/// <see cref="CachePrecision.Float16"/> — plus one byte per voxel of class indices; e.g. 24 BTCV CT volumes of
/// 512×512×~150 take about 4.7 GB in float32, the Decathlon MRI tasks far less). Sampling is addressable: sample
/// <c>position</c> of <c>epoch</c> depends only on (seed, epoch, position), so a trainer resumes mid-epoch by asking
/// for <see cref="GetBatch"/>(epoch, batchIndex) and gets exactly the batch the uninterrupted run would have seen.
/// <para>An epoch visits every training slice once, in an order shuffled per epoch (Fisher–Yates with a generator
/// seeded from (seed, epoch)). With <see cref="SampleOptions.ForegroundProbability"/> p &gt; 0 (nnU-Net uses 1/3), each
/// position is, with probability p, replaced by a stack of the same case centred on foreground: a foreground class
/// present in the case drawn uniformly, then a slice containing it drawn uniformly (cases without foreground keep
/// the shuffled slice), so small structures are seen as often as large ones. Each sample is augmented with its own generator seeded from
/// (seed, epoch, position).</para>
/// </summary>
public sealed class TrainingData
{
    private readonly ConcurrentDictionary<int, int[]> _orders = new();
    private readonly (int Case, int Slice)[] _index;

    public TrainingData(SamplePipeline pipeline, DatasetSplit split, IReadOnlyList<PreparedVolume> train, IReadOnlyList<PreparedVolume> validation)
    {
        if (pipeline.Classes is null) throw new ArgumentException("training needs a class mapping");
        if (train.Count == 0) throw new ArgumentException("no training volume");
        Pipeline = pipeline;
        Split = split;
        TrainVolumes = train;
        ValidationVolumes = validation;
        _index = train.SelectMany((v, c) => Enumerable.Range(0, v.SliceCount).Select(s => (c, s))).ToArray();
        if (pipeline.Options.Input.Kind == InputMappingKind.Learned) Projection = new LearnedInputProjection(pipeline.Options.Input.Channels);
    }

    /// <summary>The learned C → 3 input projection when <see cref="SampleOptions.Input"/> is learned (null otherwise): batches
    /// carry it, so <see cref="TrainingBatch.ImageTensor"/> gives SAM's 3 channels; the training task trains and saves it.</summary>
    public LearnedInputProjection? Projection { get; }

    public SamplePipeline Pipeline { get; }
    public SampleOptions Options => Pipeline.Options;
    public ClassMapping Classes => Pipeline.Classes!;
    public DatasetSplit Split { get; }
    public IReadOnlyList<PreparedVolume> TrainVolumes { get; }
    public IReadOnlyList<PreparedVolume> ValidationVolumes { get; }

    /// <summary>Training positions per epoch: one per slice of every training volume.</summary>
    public long SamplesPerEpoch => _index.Length;

    /// <summary>Batches per epoch: ⌊N / B⌋ with <see cref="SampleOptions.DropLast"/>, else ⌈N / B⌉; at least 1.</summary>
    public int BatchesPerEpoch
    {
        get
        {
            long n = _index.Length, b = Options.BatchSize;
            return (int)Math.Max(1, Options.DropLast ? n / b : (n + b - 1) / b);
        }
    }

    public long MemoryBytes => TrainVolumes.Concat(ValidationVolumes).Sum(v => v.MemoryBytes);

    /// <summary>
    /// Loads a dataset: its labelled training cases, split per <paramref name="validationCases"/> /
    /// <paramref name="validationFraction"/> (<see cref="DatasetSplit.Create"/>), classes from
    /// <paramref name="classes"/> or all labels of dataset.json. <paramref name="progress"/> gets each case id as it is loaded.
    /// </summary>
    public static TrainingData Load(SegmentationDataset dataset, SampleOptions options, ClassMapping? classes = null,
        IReadOnlyCollection<string>? validationCases = null, double validationFraction = 0, IProgress<string>? progress = null,
        CancellationToken cancellation = default)
    {
        options.Validate();
        classes ??= ClassMapping.FromDataset(dataset);
        var cases = dataset.TrainingCases.Where(c => c.LabelPath is not null).ToList();
        if (cases.Count == 0) throw new InvalidDataException($"{dataset.Root}: no labelled training case");
        var pipeline = new SamplePipeline(options, classes);
        var byId = cases.ToDictionary(c => c.Id, StringComparer.Ordinal);
        if (validationCases is { Count: > 0 })
        {
            var unknown = validationCases.Where(v => !byId.ContainsKey(v)).ToList();
            if (unknown.Count > 0) DatasetSplit.Create(cases.Select(c => c.Id), validationCases, 0, options.Seed); // throws, naming them
        }
        // every labelled case is loaded (training and validation alike), so the split can see which classes each holds
        var ids = cases.Select(c => c.Id).Order(StringComparer.Ordinal).ToList();
        var loaded = new PreparedVolume[ids.Count];
        var po = new ParallelOptions { MaxDegreeOfParallelism = options.MaxParallelism, CancellationToken = cancellation };
        Parallel.For(0, ids.Count, po, i =>
        {
            var c = byId[ids[i]];
            // the label map, or an image folder's per-class binary masks composed into one
            var label = DatasetLabelReader.Read(c);
            if (!options.Input.IsGrey)
            {
                // every channel: nnU-Net's _XXXX files in order, or the channels of the one (4-D, RGB) image
                loaded[i] = pipeline.Prepare(c.Id, c.ImagePaths.Select(SamplePipeline.ReadVolume).ToList(), label);
                progress?.Report(c.Id);
                return;
            }
            var imagePath = c.ImagePaths.Count == 1 ? c.ImagePaths[0]
                : options.Channel < c.ImagePaths.Count ? c.ImagePaths[options.Channel]
                : throw new InvalidDataException($"{c.Id}: channel {options.Channel} requested, the dataset has {c.ImagePaths.Count}");
            // nnU-Net keeps one channel per file: the pipeline then reads channel 0 of that file
            var p = c.ImagePaths.Count == 1 ? pipeline : new SamplePipeline(options with { Channel = 0 }, classes);
            loaded[i] = p.Prepare(c.Id, SamplePipeline.ReadVolume(imagePath), label);
            progress?.Report(c.Id);
        });
        var caseClasses = loaded.ToDictionary(v => v.Id, v => (IReadOnlyCollection<int>)v.ClassSlices.Keys.ToList(), StringComparer.Ordinal);
        var split = DatasetSplit.Create(ids, validationCases, validationFraction, options.Seed, caseClasses);
        var vol = loaded.ToDictionary(v => v.Id, StringComparer.Ordinal);
        return new TrainingData(pipeline, split, split.TrainCases.Select(id => vol[id]).ToList(), split.ValidationCases.Select(id => vol[id]).ToList());
    }

    /// <summary>The shuffled order of epoch <paramref name="epoch"/> (positions → index into the slice table).</summary>
    private int[] Order(int epoch) => _orders.GetOrAdd(epoch, e =>
    {
        if (_orders.Count > 4) foreach (var k in _orders.Keys.Where(k => Math.Abs(k - e) > 2)) _orders.TryRemove(k, out _);
        var order = Enumerable.Range(0, _index.Length).ToArray();
        var rng = SampleRandom.Create(Options.Seed, e, 0, SampleRandom.ShuffleStream);
        for (int i = order.Length - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    });

    /// <summary>The (training volume index, centre slice) at <paramref name="position"/> of <paramref name="epoch"/>
    /// (positions beyond one epoch wrap around).</summary>
    public (int Volume, int Slice) SampleAt(int epoch, long position)
    {
        if (position < 0) throw new ArgumentOutOfRangeException(nameof(position));
        var (c, s) = _index[Order(epoch)[position % _index.Length]];
        if (Options.ForegroundProbability > 0)
        {
            // nnU-Net's foreground oversampling: a class present in the case drawn uniformly, then one of its slices,
            // so small structures are centred as often as large ones
            var rng = SampleRandom.Create(Options.Seed, epoch, position, SampleRandom.SamplingStream);
            var byClass = TrainVolumes[c].ClassSlices;
            if (rng.NextDouble() < Options.ForegroundProbability && byClass.Count > 0)
            {
                var slices = byClass.OrderBy(kv => kv.Key).ElementAt(rng.Next(byClass.Count)).Value;
                s = slices[rng.Next(slices.Count)];
            }
        }
        return (c, s);
    }

    /// <summary>The augmented, model-size stack at <paramref name="position"/> of <paramref name="epoch"/>.</summary>
    public StackSample GetSample(int epoch, long position)
    {
        var (c, s) = SampleAt(epoch, position);
        var stack = Pipeline.ModelStack(TrainVolumes[c], s);
        return Options.Augmentation.IsEmpty ? stack : Options.Augmentation.Apply(stack, Options.Seed, epoch, position);
    }

    /// <summary>Batch <paramref name="batchIndex"/> (0 ≤ index &lt; <see cref="BatchesPerEpoch"/>) of an epoch: positions
    /// [index·B, (index + 1)·B). Samples are built in parallel; the result does not depend on scheduling.</summary>
    public TrainingBatch GetBatch(int epoch, int batchIndex)
    {
        if (batchIndex < 0 || batchIndex >= BatchesPerEpoch)
            throw new ArgumentOutOfRangeException(nameof(batchIndex), batchIndex, $"an epoch has {BatchesPerEpoch} batch(es)");
        int b = Options.BatchSize;
        long first = (long)batchIndex * b;
        // without DropLast the last batch may be short
        int count = Options.DropLast || first + b <= _index.Length || _index.Length < b ? b : (int)(_index.Length - first);
        var stacks = new StackSample[count];
        var refs = new SampleRef[count];
        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = Options.MaxParallelism }, i =>
        {
            stacks[i] = GetSample(epoch, first + i);
            refs[i] = new SampleRef(stacks[i].CaseId, stacks[i].CenterSlice, first + i);
        });
        return TrainingBatch.FromSamples(stacks, refs, Options.Input, Projection);
    }

    /// <summary>Global iteration t → (epoch, batch index): epoch = t / BatchesPerEpoch.</summary>
    public (int Epoch, int Batch) Locate(long iteration) => ((int)(iteration / BatchesPerEpoch), (int)(iteration % BatchesPerEpoch));

    /// <summary>The batch of global iteration <paramref name="iteration"/> (see <see cref="Locate"/>).</summary>
    public TrainingBatch GetBatchForIteration(long iteration)
    {
        var (e, b) = Locate(iteration);
        return GetBatch(e, b);
    }

    /// <summary>The batches of an epoch from <paramref name="startBatch"/> on, built ahead on a worker thread
    /// (<paramref name="prefetch"/> batches in flight; 0 = build on the caller's thread).</summary>
    public IEnumerable<TrainingBatch> Batches(int epoch, int startBatch = 0, int prefetch = 2, CancellationToken cancellation = default)
    {
        int n = BatchesPerEpoch;
        if (prefetch <= 0)
        {
            for (int i = startBatch; i < n; i++)
            {
                cancellation.ThrowIfCancellationRequested();
                yield return GetBatch(epoch, i);
            }
            yield break;
        }
        var queue = new Queue<Task<TrainingBatch>>();
        int next = startBatch;
        try
        {
            while (next < n && queue.Count < prefetch) { int k = next++; queue.Enqueue(Task.Run(() => GetBatch(epoch, k), cancellation)); }
            while (queue.Count > 0)
            {
                var batch = queue.Dequeue().GetAwaiter().GetResult();
                if (next < n) { int k = next++; queue.Enqueue(Task.Run(() => GetBatch(epoch, k), cancellation)); }
                yield return batch;
            }
        }
        finally
        {
            foreach (var t in queue) try { t.Wait(); } catch (AggregateException) { } catch (OperationCanceledException) { }
        }
    }

    /// <summary>Validation slices (volume index, centre slice) in volume then slice order.</summary>
    public IEnumerable<(int Volume, int Slice)> ValidationSlices() =>
        ValidationVolumes.SelectMany((v, c) => Enumerable.Range(0, v.SliceCount).Select(s => (c, s)));

    /// <summary>Unaugmented validation batches of up to <paramref name="batchSize"/> stacks covering every slice of
    /// every validation volume once (the last batch may be short).</summary>
    public IEnumerable<TrainingBatch> ValidationBatches(int batchSize)
    {
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize));
        var all = ValidationSlices().ToList();
        for (int i = 0; i < all.Count; i += batchSize)
        {
            var part = all.Skip(i).Take(batchSize).ToList();
            var stacks = new StackSample[part.Count];
            Parallel.For(0, part.Count, new ParallelOptions { MaxDegreeOfParallelism = Options.MaxParallelism },
                j => stacks[j] = Pipeline.ModelStack(ValidationVolumes[part[j].Volume], part[j].Slice));
            yield return TrainingBatch.FromSamples(stacks, part.Select((p, j) => new SampleRef(ValidationVolumes[p.Volume].Id, p.Slice, i + j)).ToList(),
                Options.Input, Projection);
        }
    }
}
