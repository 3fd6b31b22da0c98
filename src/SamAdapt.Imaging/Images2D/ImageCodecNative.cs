using SamAdapt.Common;
using System.Runtime.InteropServices;

namespace SamAdapt.Imaging.Images2D;

/// <summary>P/Invoke surface of libsamadapt_image.so (native/image/samadapt_image.c). Every call returns 0 or an error
/// code with a thread-local message (<see cref="LastError"/>); buffers it returns are freed with <see cref="Free"/>.</summary>
internal static unsafe class ImageCodecNative
{
    private static int _registered;

    /// <summary>Installs SamAdapt's native-library resolver for this assembly (once).</summary>
    public static void EnsureLoaded()
    {
        if (Interlocked.Exchange(ref _registered, 1) != 0) return;
        try
        {
            NativeLibraryLoader.RegisterResolver(typeof(ImageCodecNative).Assembly);
        }
        catch (InvalidOperationException)
        {
            // another SamAdapt.Imaging component registered the same resolver first
        }
    }

    [DllImport(NativeLibraryLoader.ImageCodec, EntryPoint = "sa_image_last_error")]
    private static extern IntPtr LastErrorPtr();

    [DllImport(NativeLibraryLoader.ImageCodec, EntryPoint = "sa_image_free")]
    public static extern void Free(void* p);

    [DllImport(NativeLibraryLoader.ImageCodec, EntryPoint = "sa_image_info")]
    public static extern int Info(byte* buf, int len, int* w, int* h, int* channels, int* bits);

    [DllImport(NativeLibraryLoader.ImageCodec, EntryPoint = "sa_image_decode")]
    public static extern int Decode(byte* buf, int len, int* w, int* h, int* channels, int* bits, void** pixels);

    [DllImport(NativeLibraryLoader.ImageCodec, EntryPoint = "sa_image_encode_png")]
    public static extern int EncodePng(void* pixels, int w, int h, int channels, int bits, byte** output, int* outputLength);

    [DllImport(NativeLibraryLoader.ImageCodec, EntryPoint = "sa_image_encode_jpeg")]
    public static extern int EncodeJpeg(byte* pixels, int w, int h, int channels, int quality, byte** output, int* outputLength);

    public static string LastError => Marshal.PtrToStringUTF8(LastErrorPtr()) is { Length: > 0 } s ? s : "unknown error";
}
