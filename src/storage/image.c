/* image.c: image transforms and metadata stripping through libvips, confined to JPEG, PNG, WebP and GIF. */
#include "storage/image.h"

#include <stdint.h>
#include <string.h>

#include <vips/vips.h>

#include "core/log.h"

enum image_kind { IMAGE_KIND_NONE, IMAGE_KIND_JPEG, IMAGE_KIND_PNG, IMAGE_KIND_WEBP, IMAGE_KIND_GIF };

/* The kinds this module reads, by kind: their type, the buffer loader
 * libvips must pick for them, and the loader family left unblocked. */
static const struct {
    const char *mime;
    const char *loader;
    const char *family;
} image_kinds[] = {
    [IMAGE_KIND_JPEG] = {"image/jpeg", "VipsForeignLoadJpegBuffer", "VipsForeignLoadJpeg"},
    [IMAGE_KIND_PNG] = {"image/png", "VipsForeignLoadPngBuffer", "VipsForeignLoadPng"},
    [IMAGE_KIND_WEBP] = {"image/webp", "VipsForeignLoadWebpBuffer", "VipsForeignLoadWebp"},
    [IMAGE_KIND_GIF] = {"image/gif", "VipsForeignLoadNsgifBuffer", "VipsForeignLoadNsgif"},
};

/* libvips's life in this process: never started, running, or shut down
 * for good (it cannot start again). */
static enum { IMAGE_IDLE, IMAGE_RUNNING, IMAGE_DOWN } image_state;
static guint image_log_handler;   /* g_log handler id for the "VIPS" domain, 0 when none */

/* libvips's g_warning()s as log lines, not bare stderr text. */
static void image_glog(const gchar *domain, GLogLevelFlags level, const gchar *msg, gpointer data)
{
    log_msg(level & G_LOG_LEVEL_CRITICAL ? "error" : "warn", "libvips: %s", msg ? msg : "");
}

/* Log (for func) and clear libvips's error buffer. */
static void image_log_vips(const char *func)
{
    char *msg = vips_error_buffer_copy();
    size_t len = strlen(msg);

    while (len > 0 && msg[len - 1] == '\n')
        msg[--len] = '\0';
    log_warn("%s: libvips: %s", func, len > 0 ? msg : "failed (its warnings logged before)");
    g_free(msg);
}

int image_init(const char *argv0)
{
    if (image_state == IMAGE_RUNNING)
        return IMAGE_OK;
    if (image_state == IMAGE_DOWN) {
        log_error("%s: libvips was shut down in this process and cannot start again", __func__);
        return IMAGE_ERR_BAD;
    }
    if (VIPS_INIT(argv0 != NULL ? argv0 : "promptd") != 0) {
        image_log_vips(__func__);
        return IMAGE_ERR_BAD;
    }
    vips_cache_set_max(0);
    vips_concurrency_set(1);
    image_log_handler = g_log_set_handler("VIPS",
        G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE, image_glog, NULL);
    vips_block_untrusted_set(TRUE);
    vips_operation_block_set("VipsForeignLoad", TRUE);
    for (size_t k = IMAGE_KIND_JPEG; k <= IMAGE_KIND_GIF; k++)
        vips_operation_block_set(image_kinds[k].family, FALSE);
    image_state = IMAGE_RUNNING;
    return IMAGE_OK;
}

void image_cleanup(void)
{
    if (image_state != IMAGE_RUNNING)
        return;
    vips_shutdown();
    if (image_log_handler != 0)
        g_log_remove_handler("VIPS", image_log_handler);
    image_log_handler = 0;
    image_state = IMAGE_DOWN;
}

void image_free(void *p)
{
    g_free(p);
}

/* The kind of in[0..n) by its first bytes, confirmed by the loader libvips
 * picks for it (so bytes we accept are decoded by that loader and no
 * other); IMAGE_KIND_NONE for anything else. */
static enum image_kind image_kind_of(const void *in, size_t n)
{
    const unsigned char *p = in;
    enum image_kind kind = IMAGE_KIND_NONE;
    const char *loader;

    if (p == NULL || n < 12)
        return IMAGE_KIND_NONE;
    if (p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
        kind = IMAGE_KIND_JPEG;
    else if (memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0)
        kind = IMAGE_KIND_PNG;
    else if (memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0)
        kind = IMAGE_KIND_WEBP;
    else if (memcmp(p, "GIF87a", 6) == 0 || memcmp(p, "GIF89a", 6) == 0)
        kind = IMAGE_KIND_GIF;
    if (kind == IMAGE_KIND_NONE)
        return IMAGE_KIND_NONE;
    if ((loader = vips_foreign_find_load_buffer(in, n)) == NULL) {
        vips_error_clear();
        return IMAGE_KIND_NONE;
    }
    return strcmp(loader, image_kinds[kind].loader) == 0 ? kind : IMAGE_KIND_NONE;
}

/* in[0..n) opened for its header only (no pixel decoded yet), every frame
 * when all_frames (WebP, GIF), and refused when its width * height is
 * beyond max_pixels.  IMAGE_OK with *img (the caller unrefs) and *kind, or
 * a status with *img NULL. */
static int image_open(const void *in, size_t n, long max_pixels, VipsAccess access,
                      bool all_frames, enum image_kind *kind, VipsImage **img)
{
    *img = NULL;
    if ((*kind = image_kind_of(in, n)) == IMAGE_KIND_NONE)
        return IMAGE_ERR_UNSUPPORTED;
    if (all_frames && (*kind == IMAGE_KIND_WEBP || *kind == IMAGE_KIND_GIF))
        *img = vips_image_new_from_buffer(in, n, "", "access", access, "n", -1, NULL);
    else
        *img = vips_image_new_from_buffer(in, n, "", "access", access, NULL);
    if (*img == NULL) {
        image_log_vips(__func__);
        return IMAGE_ERR_BAD;
    }
    if ((long)vips_image_get_width(*img) * vips_image_get_height(*img) > max_pixels) {
        VIPS_UNREF(*img);
        return IMAGE_ERR_TOO_LARGE;
    }
    return IMAGE_OK;
}

/* img encoded as kind into a buffer the caller g_free()s, without metadata:
 * JPEG and WebP at quality q (WebP lossless instead when asked), PNG
 * lossless, as a palette of palette bits when palette > 0.  0 or -1. */
static int image_save(VipsImage *img, enum image_kind kind, int q, bool lossless, int palette,
                      void **out, size_t *len)
{
    switch (kind) {
    case IMAGE_KIND_JPEG:
        return vips_jpegsave_buffer(img, out, len, "Q", q, "strip", TRUE, NULL);
    case IMAGE_KIND_PNG:
        if (palette > 0)
            return vips_pngsave_buffer(img, out, len, "strip", TRUE, "palette", TRUE,
                                       "bitdepth", palette, NULL);
        return vips_pngsave_buffer(img, out, len, "strip", TRUE, NULL);
    case IMAGE_KIND_WEBP:
        return vips_webpsave_buffer(img, out, len, "Q", q, "lossless", (gboolean)lossless,
                                    "strip", TRUE, NULL);
    default:
        return -1;
    }
}

static const char *image_mime(enum image_kind kind)
{
    return image_kinds[kind].mime;
}

/* t checked: sides 0..IMAGE_MAX_SIDE, known enums, quality 20..100 or 0;
 * *q the quality to use. */
static bool image_check(const image_transform_t *t, long max_pixels, int *q)
{
    if (t == NULL || max_pixels <= 0)
        return false;
    if (t->width < 0 || t->width > IMAGE_MAX_SIDE || t->height < 0 || t->height > IMAGE_MAX_SIDE)
        return false;
    if ((unsigned)t->resize > IMAGE_RESIZE_FILL || (unsigned)t->format > IMAGE_FORMAT_WEBP)
        return false;
    *q = t->quality == 0 ? IMAGE_QUALITY_DEFAULT : t->quality;
    return *q >= IMAGE_QUALITY_MIN && *q <= IMAGE_QUALITY_MAX;
}

/* in[0..n) decoded (shrinking on load where the format allows), upright,
 * in sRGB and sized per t's box: *out, which the caller unrefs.  0 or -1. */
static int image_resize(const void *in, size_t n, const image_transform_t *t, VipsImage **out)
{
    void *buf = (void *)in;   /* libvips takes it non-const; it only reads */
    int w = t->width, h = t->height;

    if (w == 0 && h == 0)
        return vips_thumbnail_buffer(buf, n, out, VIPS_MAX_COORD, "height", VIPS_MAX_COORD,
                                     "size", VIPS_SIZE_DOWN, NULL);
    if (w == 0 || h == 0)
        return vips_thumbnail_buffer(buf, n, out, w != 0 ? w : IMAGE_MAX_SIDE,
                                     "height", h != 0 ? h : IMAGE_MAX_SIDE, NULL);
    switch (t->resize) {
    case IMAGE_RESIZE_CONTAIN:
        return vips_thumbnail_buffer(buf, n, out, w, "height", h, NULL);
    case IMAGE_RESIZE_FILL:
        return vips_thumbnail_buffer(buf, n, out, w, "height", h, "size", VIPS_SIZE_FORCE, NULL);
    default:
        return vips_thumbnail_buffer(buf, n, out, w, "height", h,
                                     "crop", VIPS_INTERESTING_CENTRE, NULL);
    }
}

int image_transform(const void *in, size_t n, const image_transform_t *t, long max_pixels,
                    void **out, size_t *out_len, const char **out_mime)
{
    VipsImage *head = NULL, *img = NULL;
    enum image_kind kind, to;
    int status, q;

    if (out == NULL || out_len == NULL || out_mime == NULL)
        return IMAGE_ERR_BAD;
    *out = NULL;
    *out_len = 0;
    *out_mime = NULL;
    if (!image_check(t, max_pixels, &q) || image_init(NULL) != IMAGE_OK)
        return IMAGE_ERR_BAD;
    status = image_open(in, n, max_pixels, VIPS_ACCESS_SEQUENTIAL, false, &kind, &head);
    if (status != IMAGE_OK)
        goto out;
    to = t->format == IMAGE_FORMAT_WEBP ? IMAGE_KIND_WEBP
         : kind == IMAGE_KIND_GIF      ? IMAGE_KIND_PNG
                                       : kind;
    status = IMAGE_ERR_BAD;
    if (image_resize(in, n, t, &img) != 0 || image_save(img, to, q, false, 0, out, out_len) != 0) {
        image_log_vips(__func__);
        goto out;
    }
    *out_mime = image_mime(to);
    status = IMAGE_OK;
out:
    VIPS_UNREF(img);
    VIPS_UNREF(head);
    return status;
}

static uint32_t image_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t image_le32(const unsigned char *p)
{
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* True when the PNG p[0..n) has an acTL chunk before its first IDAT (an APNG). */
static bool image_png_animated(const unsigned char *p, size_t n)
{
    for (size_t at = 8; at + 8 <= n; at += 12 + (size_t)image_be32(p + at)) {
        if (memcmp(p + at + 4, "acTL", 4) == 0)
            return true;
        if (memcmp(p + at + 4, "IDAT", 4) == 0)
            return false;
    }
    return false;
}

/* True when the WebP p[0..n) is a lossless still: a top-level VP8L chunk. */
static bool image_webp_lossless(const unsigned char *p, size_t n)
{
    for (size_t at = 12; at + 8 <= n;) {
        uint32_t len = image_le32(p + at + 4);

        if (memcmp(p + at, "VP8L", 4) == 0)
            return true;
        if (memcmp(p + at, "VP8 ", 4) == 0 || memcmp(p + at, "ANMF", 4) == 0)
            return false;
        at += 8 + (size_t)len + (len & 1);
    }
    return false;
}

/* head as displayed, in sRGB: a still rotated per its EXIF orientation (in
 * opened again for random access, which rotation needs) and an embedded
 * ICC profile applied.  0 with *out (the caller unrefs), or -1. */
/* Does the header carry anything stripping removes (EXIF, XMP, IPTC, PNG
 * text chunks)?  An image without any is kept byte for byte. */
static bool image_has_metadata(VipsImage *head)
{
    static const char *const prefixes[] = {"exif-", "xmp-data", "iptc-data", "png-comment-"};
    gchar **fields = vips_image_get_fields(head);
    bool found = false;

    for (int i = 0; fields && fields[i] && !found; i++)
        for (size_t k = 0; k < sizeof prefixes / sizeof prefixes[0] && !found; k++)
            found = strncmp(fields[i], prefixes[k], strlen(prefixes[k])) == 0;
    g_strfreev(fields);
    return found;
}

static int image_upright(const void *in, size_t n, VipsImage *head, VipsImage **out)
{
    VipsImage *whole = NULL, *rot = NULL;
    bool still = vips_image_get_page_height(head) == vips_image_get_height(head);
    int rc = -1;

    *out = NULL;
    if (still && vips_image_get_orientation(head) > 1) {
        whole = vips_image_new_from_buffer(in, n, "", "access", VIPS_ACCESS_RANDOM, NULL);
        if (whole == NULL || vips_autorot(whole, &rot, NULL) != 0)
            goto out;
    } else {
        rot = g_object_ref(head);
    }
    if (vips_image_get_typeof(rot, VIPS_META_ICC_NAME) == 0) {
        *out = g_object_ref(rot);
    } else if (vips_icc_transform(rot, out, "srgb", "embedded", TRUE, "depth",
                                  vips_image_get_format(rot) == VIPS_FORMAT_USHORT ? 16 : 8,
                                  NULL) != 0) {
        goto out;
    }
    rc = 0;
out:
    VIPS_UNREF(rot);
    VIPS_UNREF(whole);
    return rc;
}

int image_strip(const void *in, size_t n, long max_pixels, void **out, size_t *out_len)
{
    VipsImage *head = NULL, *img = NULL;
    enum image_kind kind;
    int status, palette = 0;

    if (out == NULL || out_len == NULL)
        return IMAGE_ERR_BAD;
    *out = NULL;
    *out_len = 0;
    if (max_pixels <= 0 || image_init(NULL) != IMAGE_OK)
        return IMAGE_ERR_BAD;
    status = image_open(in, n, max_pixels, VIPS_ACCESS_SEQUENTIAL, true, &kind, &head);
    if (status != IMAGE_OK)
        goto out;
    status = IMAGE_ERR_UNSUPPORTED;
    if (kind == IMAGE_KIND_GIF || (kind == IMAGE_KIND_PNG && image_png_animated(in, n)) ||
        !image_has_metadata(head))
        goto out;
    if (kind == IMAGE_KIND_PNG && vips_image_get_typeof(head, "palette-bit-depth") != 0 &&
        vips_image_get_int(head, "palette-bit-depth", &palette) != 0)
        palette = 0;
    status = IMAGE_ERR_BAD;
    if (image_upright(in, n, head, &img) != 0 ||
        image_save(img, kind, IMAGE_STRIP_QUALITY,
                   kind == IMAGE_KIND_WEBP && image_webp_lossless(in, n), palette, out,
                   out_len) != 0) {
        image_log_vips(__func__);
        goto out;
    }
    status = IMAGE_OK;
out:
    VIPS_UNREF(img);
    VIPS_UNREF(head);
    return status;
}
