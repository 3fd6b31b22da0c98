namespace SamAdapt.Torch.Serialization;

/// <summary>
/// How a tensor was laid out in a <c>.pth</c> file: a strided view of a storage record (<c>data/&lt;key&gt;</c>).
/// Several tensors may share one storage; the loader materialises each view into a contiguous <see cref="HostTensor"/>.
/// </summary>
/// <param name="StorageKey">The storage key (the record is <c>&lt;prefix&gt;/data/&lt;key&gt;</c>).</param>
/// <param name="StorageType">The pickled storage class name, e.g. <c>FloatStorage</c>.</param>
/// <param name="Location">The device tag saved with the storage (<c>cpu</c>, <c>cuda:0</c>); ignored when loading.</param>
/// <param name="StorageNumel">Number of elements in the whole storage.</param>
/// <param name="StorageOffset">Offset of the tensor's first element in the storage, in elements.</param>
/// <param name="Stride">Strides of the view, in elements.</param>
public sealed record TensorStorageInfo(
    string StorageKey, string StorageType, string Location, long StorageNumel, long StorageOffset, long[] Stride)
{
    /// <summary>Whether the view had the standard C-order strides for its shape (size-1 dimensions ignored).</summary>
    public bool IsContiguous(IReadOnlyList<long> shape) => StridedCopy.IsContiguous(shape, Stride);
}
