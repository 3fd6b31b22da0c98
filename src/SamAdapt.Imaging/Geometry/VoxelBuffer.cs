using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SamAdapt.Imaging;

/// <summary>Byte-level access to the typed voxel arrays of <see cref="Volume"/> (all are arrays of unmanaged primitives).</summary>
internal static class VoxelBuffer
{
    /// <summary>The array reinterpreted as a span of <typeparamref name="T"/> (sizeof(T) must divide the array's byte length).</summary>
    public static Span<T> As<T>(Array a) where T : unmanaged
    {
        long bytes = ByteLength(a);
        ref byte start = ref MemoryMarshal.GetArrayDataReference(a);
        return MemoryMarshal.CreateSpan(ref Unsafe.As<byte, T>(ref start), checked((int)(bytes / Unsafe.SizeOf<T>())));
    }

    public static long ByteLength(Array a) => a.LongLength * ElementSize(a);

    public static int ElementSize(Array a)
    {
        var t = a.GetType().GetElementType();
        return t == typeof(byte) || t == typeof(sbyte) ? 1
            : t == typeof(short) || t == typeof(ushort) ? 2
            : t == typeof(int) || t == typeof(uint) || t == typeof(float) ? 4
            : t == typeof(long) || t == typeof(ulong) || t == typeof(double) ? 8
            : throw new ArgumentException($"unsupported voxel array {a.GetType().Name}");
    }

    /// <summary>Fills the array's bytes from the stream; returns how many bytes were obtained before the stream ended.</summary>
    public static long ReadInto(Stream s, Array a)
    {
        int es = ElementSize(a);
        long total = ByteLength(a), got = 0;
        const int chunkElems = 1 << 24;
        long n = a.LongLength;
        for (long e = 0; e < n; e += chunkElems)
        {
            int m = (int)Math.Min(chunkElems, n - e);
            Span<byte> dst = ByteSlice(a, e * es, (long)m * es);
            int r = s.ReadAtLeast(dst, dst.Length, throwOnEndOfStream: false);
            got += r;
            if (r < dst.Length) return got;
        }
        return Math.Min(got, total);
    }

    public static void WriteFrom(Stream s, Array a)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("NIfTI writing assumes a little-endian host");
        int es = ElementSize(a);
        const int chunkElems = 1 << 24;
        long n = a.LongLength;
        for (long e = 0; e < n; e += chunkElems)
        {
            int m = (int)Math.Min(chunkElems, n - e);
            s.Write(ByteSlice(a, e * es, (long)m * es));
        }
    }

    private static Span<byte> ByteSlice(Array a, long offset, long length)
    {
        ref byte start = ref MemoryMarshal.GetArrayDataReference(a);
        return MemoryMarshal.CreateSpan(ref Unsafe.AddByteOffset(ref start, (nint)offset), checked((int)length));
    }

    /// <summary>Reverses the byte order of every element (no-op for 1-byte elements).</summary>
    public static void SwapBytes(Array a)
    {
        switch (ElementSize(a))
        {
            case 2: { var s = As<ushort>(a); BinaryPrimitives.ReverseEndianness(s, s); break; }
            case 4: { var s = As<uint>(a); BinaryPrimitives.ReverseEndianness(s, s); break; }
            case 8: { var s = As<ulong>(a); BinaryPrimitives.ReverseEndianness(s, s); break; }
        }
    }
}
