/* image.h: image transforms and metadata stripping through libvips, confined to JPEG, PNG, WebP and GIF. */
#ifndef PROMPTD_STORAGE_IMAGE_H
#define PROMPTD_STORAGE_IMAGE_H

#include <stdbool.h>
#include <stddef.h>

enum image_resize { IMAGE_RESIZE_COVER, IMAGE_RESIZE_CONTAIN, IMAGE_RESIZE_FILL };
enum image_format { IMAGE_FORMAT_ORIGIN, IMAGE_FORMAT_WEBP };

typedef struct image_transform {
    int width, height;          /* 0: not given (keep aspect from the other); both 0: original size */
    enum image_resize resize;   /* with both given -- cover (default): fill the box, crop the centre;
                                 * contain: fit inside it; fill: stretch to it */
    int quality;                /* 20..100, 0 = 80; JPEG and WebP output only */
    enum image_format format;   /* origin: the input's (jpeg, png, webp; gif -> png); webp */
} image_transform_t;

#define IMAGE_MAX_SIDE 2500      /* output width/height cap (Supabase caps at 2500) */
#define IMAGE_QUALITY_DEFAULT 80
#define IMAGE_QUALITY_MIN 20
#define IMAGE_QUALITY_MAX 100
#define IMAGE_STRIP_QUALITY 90   /* JPEG and lossy WebP re-encoded by image_strip */

enum image_status {
    IMAGE_OK = 0,
    IMAGE_ERR_UNSUPPORTED = -1,  /* not JPEG, PNG, WebP or GIF (or, for strip, a kind it
                                  * keeps, or an image with no metadata to remove) */
    IMAGE_ERR_TOO_LARGE = -2,    /* width * height (all frames) beyond max_pixels */
    IMAGE_ERR_BAD = -3           /* bad arguments, or a supported kind whose bytes do not decode */
};

/* Start libvips once per process: VIPS_INIT(argv0, NULL: "promptd"),
 * vips_cache_set_max(0), vips_concurrency_set(1), its warnings into the
 * log, and every loader blocked process-wide but the four this module
 * reads (ImageMagick, SVG, PDF, TIFF ... cannot be reached from stored
 * bytes).  IMAGE_OK, or IMAGE_ERR_BAD when libvips does not start (logged).
 * Idempotent; image_transform and image_strip call it themselves.  Not
 * thread-safe: a threaded program calls it before starting its threads
 * (libvips itself is thread-safe after).  After image_cleanup it fails:
 * libvips cannot start again in the same process. */
int image_init(const char *argv0);
/* Shut libvips down (vips_shutdown).  Idempotent; safe before image_init. */
void image_cleanup(void);

/* Transform in[0..n) (jpeg, png, webp, gif: their first frame; anything
 * else -> IMAGE_ERR_UNSUPPORTED) per t.  The input's width * height is read
 * from its header BEFORE decoding; beyond max_pixels -> IMAGE_ERR_TOO_LARGE.
 * A width or height below 0 or over IMAGE_MAX_SIDE, quality outside
 * 20..100 (0 aside), max_pixels <= 0 or a NULL t or out -> IMAGE_ERR_BAD.
 * The box applies to the image as displayed (EXIF orientation applied);
 * with one side given the other follows the aspect ratio, capped at
 * IMAGE_MAX_SIDE (the image then fits 2500 on that side instead); smaller
 * images are enlarged to the box.  Colour is converted to sRGB; no metadata
 * reaches the output.  On IMAGE_OK *out is a buffer the caller frees with
 * image_free, *out_len its size, *out_mime its static type ("image/webp",
 * "image/jpeg", "image/png"); otherwise they are NULL, 0, NULL. */
int image_transform(const void *in, size_t n, const image_transform_t *t, long max_pixels,
                    void **out, size_t *out_len, const char **out_mime);

/* The same image without EXIF/XMP/IPTC/GPS metadata, PNG text chunks or an
 * ICC profile (orientation applied first so it still displays upright; an
 * embedded profile converted to sRGB first so the colours stay right),
 * re-encoded in its own format: JPEG at IMAGE_STRIP_QUALITY, PNG lossless
 * (a palette PNG keeps its palette), WebP lossless when it was (simple
 * lossless files), else at IMAGE_STRIP_QUALITY; an animated WebP keeps its
 * frames (not rotated).  IMAGE_ERR_UNSUPPORTED for kinds it does not strip
 * -- anything but JPEG, PNG and WebP, and animated PNG -- for which the
 * caller keeps the original; IMAGE_ERR_TOO_LARGE beyond max_pixels (all
 * frames counted; checked first, for every kind it reads, GIF included);
 * IMAGE_ERR_BAD as image_transform.  *out and *out_len as image_transform. */
int image_strip(const void *in, size_t n, long max_pixels, void **out, size_t *out_len);

/* Free a buffer image_transform or image_strip returned.  NULL-safe. */
void image_free(void *p);

#endif
