/*
 * samadapt_image: PNG/JPEG/BMP decoding and PNG/JPEG encoding for SamAdapt, built on stb_image / stb_image_write.
 *
 * Contract (every exported function):
 *   - never aborts or crashes on bad input: it returns a non-zero status and leaves a message that
 *     sa_image_last_error() returns (thread-local, valid until the next call on the same thread);
 *   - works on memory buffers only (the managed side reads and writes files, so file-system errors carry the path);
 *   - buffers it returns are released with sa_image_free().
 * Pixels are interleaved (channel fastest), rows top to bottom, columns left to right; 16-bit samples are in native
 * byte order in memory (the PNG encoder writes them big-endian as the PNG spec requires).
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Asserts in stb guard programming errors, not input; they must never abort the host process. */
#define STBI_ASSERT(x) ((void)0)
#define STBIW_ASSERT(x) ((void)0)
/* Reject absurd headers before allocating (a corrupt width/height must not trigger a multi-GB allocation). */
#define STBI_MAX_DIMENSIONS (1 << 16)
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_NO_STDIO
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#include "stb_image.h"

#define STBI_WRITE_NO_STDIO
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include "stb_image_write.h"

#define SA_API __attribute__((visibility("default")))

enum
{
    SA_OK = 0,
    SA_EINVAL = 1,   /* bad argument */
    SA_EDECODE = 2,  /* the codec rejected the data */
    SA_ENOMEM = 3,   /* allocation failed / image too large */
    SA_EENCODE = 4,  /* the encoder failed */
};

static __thread char g_error[512];

static int fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_error, sizeof g_error, fmt, ap);
    va_end(ap);
    return code;
}

SA_API const char *sa_image_last_error(void) { return g_error; }

SA_API void sa_image_free(void *p) { free(p); }

SA_API int sa_image_version(void) { return 1; }

static const char *reason(void)
{
    const char *r = stbi_failure_reason();
    return r ? r : "unknown error";
}

/* Width, height, channel count and bits per sample of an encoded image without decoding the pixels. */
SA_API int sa_image_info(const unsigned char *buf, int len, int *w, int *h, int *channels, int *bits)
{
    g_error[0] = 0;
    if (!buf || len <= 0 || !w || !h || !channels || !bits) return fail(SA_EINVAL, "invalid argument (empty buffer or null pointer)");
    if (!stbi_info_from_memory(buf, len, w, h, channels)) return fail(SA_EDECODE, "%s", reason());
    *bits = stbi_is_16_bit_from_memory(buf, len) ? 16 : 8;
    return SA_OK;
}

/*
 * Decodes an encoded image to interleaved samples in the file's own channel count (palette PNGs expand to RGB/RGBA).
 * 16-bit PNGs decode to 16-bit samples (*bits = 16, uint16 in native order); everything else to 8-bit.
 */
SA_API int sa_image_decode(const unsigned char *buf, int len, int *w, int *h, int *channels, int *bits, void **pixels)
{
    g_error[0] = 0;
    if (!buf || len <= 0 || !w || !h || !channels || !bits || !pixels) return fail(SA_EINVAL, "invalid argument (empty buffer or null pointer)");
    *pixels = NULL;
    int is16 = stbi_is_16_bit_from_memory(buf, len);
    void *data = is16 ? (void *)stbi_load_16_from_memory(buf, len, w, h, channels, 0)
                      : (void *)stbi_load_from_memory(buf, len, w, h, channels, 0);
    if (!data) return fail(SA_EDECODE, "%s", reason());
    if (*w <= 0 || *h <= 0 || *channels < 1 || *channels > 4)
    {
        stbi_image_free(data);
        return fail(SA_EDECODE, "decoder returned an invalid image (%d x %d, %d channels)", *w, *h, *channels);
    }
    *bits = is16 ? 16 : 8;
    *pixels = data;
    return SA_OK;
}

typedef struct
{
    unsigned char *data;
    size_t len, cap;
    int failed;
} membuf;

static void membuf_write(void *context, void *data, int size)
{
    membuf *m = (membuf *)context;
    if (m->failed || size <= 0) return;
    if (m->len + (size_t)size > m->cap)
    {
        size_t cap = m->cap ? m->cap * 2 : 4096;
        while (cap < m->len + (size_t)size) cap *= 2;
        unsigned char *p = (unsigned char *)realloc(m->data, cap);
        if (!p) { m->failed = 1; return; }
        m->data = p;
        m->cap = cap;
    }
    memcpy(m->data + m->len, data, (size_t)size);
    m->len += (size_t)size;
}

static int check_image_args(const void *pixels, int w, int h, int channels, int bytes_per_sample, unsigned char **out, int *out_len)
{
    if (!pixels || !out || !out_len) return fail(SA_EINVAL, "invalid argument (null pointer)");
    if (w <= 0 || h <= 0) return fail(SA_EINVAL, "invalid image size %d x %d", w, h);
    if (channels < 1 || channels > 4) return fail(SA_EINVAL, "channels must be 1..4, got %d", channels);
    if ((long long)w * h * channels * bytes_per_sample + (long long)h > INT_MAX / 2)
        return fail(SA_ENOMEM, "image too large to encode (%d x %d x %d)", w, h, channels);
    return SA_OK;
}

static int finish(membuf *m, unsigned char **out, int *out_len, const char *what)
{
    if (m->failed || m->len == 0 || m->len > INT_MAX)
    {
        free(m->data);
        return fail(m->failed ? SA_ENOMEM : SA_EENCODE, "%s encoder failed%s", what, m->failed ? " (out of memory)" : "");
    }
    *out = m->data;
    *out_len = (int)m->len;
    return SA_OK;
}

static void put32(unsigned char *p, unsigned int v)
{
    p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16); p[2] = (unsigned char)(v >> 8); p[3] = (unsigned char)v;
}

static void write_chunk(membuf *m, const char *type, const unsigned char *data, unsigned int len)
{
    unsigned char head[8];
    put32(head, len);
    memcpy(head + 4, type, 4);
    membuf_write(m, head, 8);
    /* CRC covers type + data */
    unsigned char *tmp = (unsigned char *)malloc((size_t)len + 4);
    if (!tmp) { m->failed = 1; return; }
    memcpy(tmp, type, 4);
    if (len) memcpy(tmp + 4, data, len);
    unsigned char crc[4];
    put32(crc, stbiw__crc32(tmp, (int)len + 4));
    free(tmp);
    if (len) membuf_write(m, (void *)data, (int)len);
    membuf_write(m, crc, 4);
}

/* 16-bit PNG (stb_image_write only writes 8-bit): rows with the Sub filter, zlib from stb_image_write. */
static int encode_png16(const unsigned short *pixels, int w, int h, int channels, unsigned char **out, int *out_len)
{
    static const unsigned char color_type[5] = { 0, 0, 4, 2, 6 };
    size_t row = (size_t)w * channels * 2;
    size_t raw_len = (row + 1) * (size_t)h;
    unsigned char *raw = (unsigned char *)malloc(raw_len);
    if (!raw) return fail(SA_ENOMEM, "out of memory");
    int bpp = channels * 2;
    unsigned char *be = (unsigned char *)malloc(row);
    if (!be) { free(raw); return fail(SA_ENOMEM, "out of memory"); }
    for (int y = 0; y < h; y++)
    {
        const unsigned short *src = pixels + (size_t)y * w * channels;
        for (size_t i = 0; i < (size_t)w * channels; i++)
        {
            be[2 * i] = (unsigned char)(src[i] >> 8);
            be[2 * i + 1] = (unsigned char)(src[i] & 0xff);
        }
        unsigned char *dst = raw + (size_t)y * (row + 1);
        dst[0] = 1; /* Sub */
        for (size_t i = 0; i < row; i++)
            dst[1 + i] = (unsigned char)(be[i] - (i >= (size_t)bpp ? be[i - bpp] : 0));
    }
    free(be);
    int zlen = 0;
    unsigned char *z = stbi_zlib_compress(raw, (int)raw_len, &zlen, 8);
    free(raw);
    if (!z) return fail(SA_EENCODE, "zlib compression failed");

    membuf m = { 0 };
    static const unsigned char sig[8] = { 137, 80, 78, 71, 13, 10, 26, 10 };
    membuf_write(&m, (void *)sig, 8);
    unsigned char ihdr[13];
    put32(ihdr, (unsigned int)w);
    put32(ihdr + 4, (unsigned int)h);
    ihdr[8] = 16;
    ihdr[9] = color_type[channels];
    ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;
    write_chunk(&m, "IHDR", ihdr, 13);
    write_chunk(&m, "IDAT", z, (unsigned int)zlen);
    free(z);
    write_chunk(&m, "IEND", NULL, 0);
    return finish(&m, out, out_len, "PNG");
}

/* PNG encode of interleaved 8-bit (bits = 8, unsigned char*) or 16-bit (bits = 16, native uint16*) samples. */
SA_API int sa_image_encode_png(const void *pixels, int w, int h, int channels, int bits, unsigned char **out, int *out_len)
{
    g_error[0] = 0;
    if (bits != 8 && bits != 16) return fail(SA_EINVAL, "PNG bit depth must be 8 or 16, got %d", bits);
    int rc = check_image_args(pixels, w, h, channels, bits / 8, out, out_len);
    if (rc) return rc;
    *out = NULL;
    *out_len = 0;
    if (bits == 16) return encode_png16((const unsigned short *)pixels, w, h, channels, out, out_len);
    membuf m = { 0 };
    if (!stbi_write_png_to_func(membuf_write, &m, w, h, channels, pixels, w * channels))
    {
        free(m.data);
        return fail(SA_EENCODE, "PNG encoder failed");
    }
    return finish(&m, out, out_len, "PNG");
}

/* Baseline JPEG encode of interleaved 8-bit samples (1 = grey, 3 = RGB; 2/4 drop alpha), quality 1..100. */
SA_API int sa_image_encode_jpeg(const unsigned char *pixels, int w, int h, int channels, int quality, unsigned char **out, int *out_len)
{
    g_error[0] = 0;
    int rc = check_image_args(pixels, w, h, channels, 1, out, out_len);
    if (rc) return rc;
    if (quality < 1 || quality > 100) return fail(SA_EINVAL, "JPEG quality must be 1..100, got %d", quality);
    *out = NULL;
    *out_len = 0;
    membuf m = { 0 };
    if (!stbi_write_jpg_to_func(membuf_write, &m, w, h, channels, pixels, quality))
    {
        free(m.data);
        return fail(SA_EENCODE, "JPEG encoder failed");
    }
    return finish(&m, out, out_len, "JPEG");
}
