using System.Runtime.InteropServices;

namespace SamAdapt.Torch.Serialization;

/// <summary>Materialises an <c>as_strided(storage, size, stride, offset)</c> view into a contiguous buffer.</summary>
internal static class StridedCopy
{
    /// <summary>True if <paramref name="stride"/> is the C-order stride of <paramref name="shape"/> (size-1 dims and empty tensors ignored).</summary>
    public static bool IsContiguous(IReadOnlyList<long> shape, IReadOnlyList<long> stride)
    {
        if (shape.Count != stride.Count) return false;
        if (shape.Contains(0)) return true;
        long expected = 1;
        for (int i = shape.Count - 1; i >= 0; i--)
        {
            if (shape[i] != 1 && stride[i] != expected) return false;
            expected *= shape[i];
        }
        return true;
    }

    /// <summary>One past the highest storage element the view touches (just <paramref name="offset"/> for an empty view).</summary>
    public static long Extent(IReadOnlyList<long> shape, IReadOnlyList<long> stride, long offset)
    {
        long last = offset;
        for (int i = 0; i < shape.Count; i++)
        {
            if (shape[i] == 0) return offset;
            last = checked(last + (shape[i] - 1) * stride[i]);
        }
        return last + 1;
    }

    /// <summary>
    /// Copies the view into <paramref name="dst"/> (numel × <paramref name="elemSize"/> bytes). The caller has checked
    /// that strides are non-negative and the view lies inside <paramref name="storage"/>.
    /// </summary>
    public static void Gather(ReadOnlySpan<byte> storage, int elemSize, long offset, long[] shape, long[] stride, Span<byte> dst)
    {
        if (HostTensor.NumelOf(shape) == 0) return;

        // Drop size-1 dims and merge dims that are contiguous with their inner neighbour.
        var dims = new List<(long Size, long Stride)>();
        for (int i = 0; i < shape.Length; i++)
        {
            if (shape[i] == 1) continue;
            if (dims.Count > 0 && dims[^1].Stride == shape[i] * stride[i])
                dims[^1] = (dims[^1].Size * shape[i], stride[i]);
            else
                dims.Add((shape[i], stride[i]));
        }
        if (dims.Count == 0) dims.Add((1, 1));

        int nd = dims.Count;
        long inner = dims[nd - 1].Size, innerStride = dims[nd - 1].Stride;
        long rows = HostTensor.NumelOf(shape) / inner;
        var idx = new long[nd - 1];
        long src = offset;
        long rowBytes = inner * elemSize;
        long dstPos = 0;
        for (long r = 0; r < rows; r++)
        {
            var d = dst.Slice(checked((int)dstPos), checked((int)rowBytes));
            if (innerStride == 1)
                storage.Slice(checked((int)(src * elemSize)), d.Length).CopyTo(d);
            else
                switch (elemSize)
                {
                    case 1: Row<byte>(storage, d, src, innerStride); break;
                    case 2: Row<ushort>(storage, d, src, innerStride); break;
                    case 4: Row<uint>(storage, d, src, innerStride); break;
                    case 8: Row<ulong>(storage, d, src, innerStride); break;
                    default: throw new NotSupportedException($"element size {elemSize}");
                }
            dstPos += rowBytes;
            for (int k = nd - 2; k >= 0; k--)
            {
                src += dims[k].Stride;
                if (++idx[k] < dims[k].Size) break;
                src -= dims[k].Stride * dims[k].Size;
                idx[k] = 0;
            }
        }
    }

    private static void Row<T>(ReadOnlySpan<byte> storage, Span<byte> dst, long start, long stride) where T : unmanaged
    {
        var s = MemoryMarshal.Cast<byte, T>(storage);
        var d = MemoryMarshal.Cast<byte, T>(dst);
        long j = start;
        for (int i = 0; i < d.Length; i++, j += stride) d[i] = s[(int)j];
    }
}
