/* t/unit/storage_media.c: the storage family's media: type sniffing (libmagic), and image transforms and metadata stripping (libvips). */
/*
 * Reads its fixtures from t/unit/data/storage/ (README there).  Run as
 * `storage_media.test --write-fixtures DIR` it writes the image fixtures
 * into DIR instead of testing: the bytes libvips encodes plus the pieces
 * made by hand here (EXIF with GPS, a PNG signature before HTML).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <vips/vips.h>
#include <zlib.h>

#include "core/arena.h"
#include "storage/image.h"
#include "storage/media.h"
#include "storage/sniff.h"
#include "tap.h"

#ifndef STORAGE_MEDIA_DATA
#define STORAGE_MEDIA_DATA "t/unit/data/storage"
#endif

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_PIXELS (25L * 1000 * 1000)

static arena_t *arena;

static void bail(const char *what)
{
    printf("Bail out! %s: %s\n", what, vips_error_buffer());
    exit(255);
}

/* A fixture's bytes (malloc'd, the caller frees), or a bail-out. */
static void *slurp(const char *name, size_t *n)
{
    char path[512];
    FILE *f;
    char *buf;
    long len;

    snprintf(path, sizeof path, "%s/%s", STORAGE_MEDIA_DATA, name);
    if ((f = fopen(path, "rb")) == NULL || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0 || (buf = malloc((size_t)len + 1)) == NULL ||
        fread(buf, 1, (size_t)len, f) != (size_t)len)
        bail(path);
    fclose(f);
    *n = (size_t)len;
    return buf;
}

/* ---- images made here (fixtures and test inputs) ---------------------- */

/* A w x h sRGB image, the left half white and the right half black. */
static VipsImage *halves(int w, int h)
{
    VipsImage *black, *srgb, *img;

    if (vips_black(&black, w, h, "bands", 3, NULL) != 0 ||
        vips_copy(black, &srgb, "interpretation", VIPS_INTERPRETATION_sRGB, NULL) != 0 ||
        (img = vips_image_copy_memory(srgb)) == NULL ||
        vips_draw_rect1(img, 255, 0, 0, w / 2, h, "fill", TRUE, NULL) != 0)
        bail("halves");
    g_object_unref(black);
    g_object_unref(srgb);
    return img;
}

/* halves(w, h) encoded by the saver nickname ("pngsave_buffer" ...). */
static void *encode(int w, int h, const char *saver, size_t *n)
{
    VipsImage *img = halves(w, h);
    VipsBlob *blob = NULL;
    void *buf;

    if (vips_call(saver, img, &blob, NULL) != 0)
        bail(saver);
    buf = g_memdup2(VIPS_AREA(blob)->data, VIPS_AREA(blob)->length);
    *n = VIPS_AREA(blob)->length;
    vips_area_unref(VIPS_AREA(blob));
    g_object_unref(img);
    return buf;
}

/* A side x side JPEG of grey noise (what quality changes the size of). */
static void *noise_jpeg(int side, size_t *n)
{
    VipsImage *noise, *grey;
    void *buf;

    if (vips_gaussnoise(&noise, side, side, "mean", 128.0, "sigma", 40.0, NULL) != 0 ||
        vips_cast_uchar(noise, &grey, NULL) != 0 ||
        vips_jpegsave_buffer(grey, &buf, n, "Q", 95, NULL) != 0)
        bail("noise_jpeg");
    g_object_unref(noise);
    g_object_unref(grey);
    return buf;
}

/* Little-endian TIFF writing for the EXIF block. */
static void put16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, uint32_t v)
{
    put16(p, v & 0xffff);
    put16(p + 2, v >> 16);
}

/* One 12-byte IFD entry at p: tag, type (1 byte, 2 ascii, 3 short,
 * 4 long, 5 rational), count, and the value or its offset. */
static void entry(unsigned char *p, unsigned tag, unsigned type, uint32_t count, uint32_t value)
{
    put16(p, tag);
    put16(p + 2, type);
    put32(p + 4, count);
    if (type == 3 && count == 1)
        put16(p + 8, value);
    else
        put32(p + 8, value);
}

/* The APP1 segment of an EXIF block: IFD0 with Make "promptd",
 * Orientation 6 (rotate 90 clockwise to display) and a GPS IFD at
 * 48 51' 29.64" N, 2 17' 40.08" E.  Writes it to app1, returns its size. */
static size_t exif_app1(unsigned char app1[256])
{
    unsigned char *t = app1 + 10;   /* TIFF header after marker, length, "Exif\0\0" */
    static const uint32_t lat[6] = {48, 1, 51, 1, 2964, 100}, lon[6] = {2, 1, 17, 1, 4008, 100};

    memset(app1, 0, 256);
    memcpy(app1, "\xff\xe1\x00\x00" "Exif\0\0" "II*\0\x08\0\0\0", 18);
    put16(t + 8, 3);                                   /* IFD0 at 8: 3 entries */
    entry(t + 10, 0x010f, 2, 8, 50);                   /* Make -> 50 */
    entry(t + 22, 0x0112, 3, 1, 6);                    /* Orientation */
    entry(t + 34, 0x8825, 4, 1, 58);                   /* GPS IFD -> 58 */
    memcpy(t + 50, "promptd", 8);                      /* next IFD at 46: 0 */
    put16(t + 58, 5);                                  /* GPS IFD: 5 entries */
    entry(t + 60, 0x0000, 1, 4, 0x00000202);           /* GPSVersionID 2.2.0.0 */
    entry(t + 72, 0x0001, 2, 2, 'N');                  /* GPSLatitudeRef */
    entry(t + 84, 0x0002, 5, 3, 124);                  /* GPSLatitude -> 124 */
    entry(t + 96, 0x0003, 2, 2, 'E');                  /* GPSLongitudeRef */
    entry(t + 108, 0x0004, 5, 3, 148);                 /* GPSLongitude -> 148 */
    for (int i = 0; i < 6; i++) {                      /* next IFD at 120: 0 */
        put32(t + 124 + 4 * i, lat[i]);
        put32(t + 148 + 4 * i, lon[i]);
    }
    app1[2] = 0;
    app1[3] = 8 + 172;   /* the length counts itself, "Exif\0\0" and the TIFF data */
    return 2 + 8 + 172;
}

/* A 16 x 8 JPEG (left half white) carrying exif_app1 right after SOI. */
static void *gps_jpeg(size_t *n)
{
    unsigned char app1[256];
    size_t base_n, app1_n = exif_app1(app1);
    unsigned char *base = encode(16, 8, "jpegsave_buffer", &base_n), *out;

    if ((out = malloc(base_n + app1_n)) == NULL)
        bail("gps_jpeg");
    memcpy(out, base, 2);
    memcpy(out + 2, app1, app1_n);
    memcpy(out + 2 + app1_n, base + 2, base_n - 2);
    *n = base_n + app1_n;
    g_free(base);
    return out;
}

static const unsigned char png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

/* A PNG chunk of type and data[0..len) appended at p; its size. */
static size_t png_chunk(unsigned char *p, const char *type, const void *data, uint32_t len)
{
    uLong crc;

    p[0] = (unsigned char)(len >> 24);
    p[1] = (unsigned char)(len >> 16);
    p[2] = (unsigned char)(len >> 8);
    p[3] = (unsigned char)len;
    memcpy(p + 4, type, 4);
    if (len > 0)
        memcpy(p + 8, data, len);
    crc = crc32(crc32(0L, Z_NULL, 0), p + 4, 4 + len);
    p[8 + len] = (unsigned char)(crc >> 24);
    p[9 + len] = (unsigned char)(crc >> 16);
    p[10 + len] = (unsigned char)(crc >> 8);
    p[11 + len] = (unsigned char)crc;
    return 12 + len;
}

/* The PNG signature and a valid 1 x 1 IHDR, then an HTML page in place of
 * the image data. */
static void *png_then_html(size_t *n)
{
    static const unsigned char ihdr[13] = {0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0};
    static const char html[] = "<html><body><script>alert(document.domain)</script></body></html>\n";
    unsigned char *p = malloc(8 + 25 + sizeof html);

    if (p == NULL)
        bail("png_then_html");
    memcpy(p, png_signature, sizeof png_signature);
    png_chunk(p + 8, "IHDR", ihdr, sizeof ihdr);
    memcpy(p + 33, html, sizeof html - 1);
    *n = 33 + sizeof html - 1;
    return p;
}

/* A side x side PNG of 1-bit grey zeros, deflated as it goes: 400 million
 * pixels in about 49 KB for side 20000.  malloc'd. */
static unsigned char *bomb_png(uint32_t side, size_t *n)
{
    size_t row = 1 + (side + 7) / 8, cap = 1 << 20, len = 33;
    unsigned char *zero = calloc(1, row), *z = malloc(cap), *png = malloc(cap + 64);
    unsigned char ihdr[13] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0};
    z_stream s = {0};

    if (zero == NULL || z == NULL || png == NULL || deflateInit(&s, 9) != Z_OK)
        bail("bomb_png");
    s.next_out = z;
    s.avail_out = (uInt)cap;
    for (uint32_t y = 0; y < side; y++) {
        s.next_in = zero;
        s.avail_in = (uInt)row;
        if (deflate(&s, y + 1 == side ? Z_FINISH : Z_NO_FLUSH) == Z_STREAM_ERROR || s.avail_out == 0)
            bail("bomb_png: deflate");
    }
    for (int i = 0; i < 4; i++)
        ihdr[i] = ihdr[4 + i] = (unsigned char)(side >> (24 - 8 * i));
    memcpy(png, png_signature, sizeof png_signature);
    png_chunk(png + 8, "IHDR", ihdr, sizeof ihdr);
    len += png_chunk(png + len, "IDAT", z, (uint32_t)s.total_out);
    len += png_chunk(png + len, "IEND", NULL, 0);
    deflateEnd(&s);
    free(zero);
    free(z);
    *n = len;
    return png;
}

static void write_file(const char *dir, const char *name, const void *buf, size_t n)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    if ((f = fopen(path, "wb")) == NULL || fwrite(buf, 1, n, f) != n || fclose(f) != 0)
        bail(path);
    printf("wrote %s (%zu bytes)\n", path, n);
}

/* --write-fixtures DIR: the image fixtures the tests read. */
static int write_fixtures(const char *dir)
{
    static const struct { const char *name, *saver; } tiny[] = {
        {"tiny.png", "pngsave_buffer"}, {"tiny.jpg", "jpegsave_buffer"},
        {"tiny.gif", "gifsave_buffer"}, {"tiny.webp", "webpsave_buffer"},
    };
    void *buf;
    size_t n;

    for (size_t i = 0; i < COUNT(tiny); i++) {
        buf = encode(8, 8, tiny[i].saver, &n);
        write_file(dir, tiny[i].name, buf, n);
        g_free(buf);
    }
    buf = gps_jpeg(&n);
    write_file(dir, "gps.jpg", buf, n);
    free(buf);
    buf = png_then_html(&n);
    write_file(dir, "png-then-html.png", buf, n);
    free(buf);
    return 0;
}

/* ---- inspecting output ------------------------------------------------- */

/* buf[0..n) opened by libvips (all frames of an animation); bails when it
 * does not open. */
static VipsImage *open_image(const void *buf, size_t n, bool all_frames)
{
    VipsImage *img = all_frames
        ? vips_image_new_from_buffer(buf, n, "", "n", -1, NULL)
        : vips_image_new_from_buffer(buf, n, "", NULL);

    if (img == NULL)
        bail("open_image");
    return img;
}

/* How many of img's metadata fields are privacy-relevant: EXIF (the blob
 * or any parsed exif-* tag), XMP, IPTC, PNG text, an ICC profile, an
 * orientation other than 1. */
static int metadata_fields(VipsImage *img)
{
    gchar **fields = vips_image_get_fields(img);
    int found = 0;

    for (gchar **f = fields; *f != NULL; f++)
        found += strncmp(*f, "exif-", 5) == 0 || strcmp(*f, "xmp-data") == 0 ||
                 strcmp(*f, "iptc-data") == 0 || strncmp(*f, "png-comment-", 12) == 0 ||
                 strcmp(*f, VIPS_META_ICC_NAME) == 0;
    g_strfreev(fields);
    return found + (vips_image_get_orientation(img) > 1);
}

/* The band values of img at (x, y) into v[0..3) (bails on error). */
static void pixel(VipsImage *img, int x, int y, double v[3])
{
    double *vec = NULL;
    int nvec = 0;

    if (vips_getpoint(img, &vec, &nvec, x, y, NULL) != 0 || nvec < 1)
        bail("pixel");
    for (int i = 0; i < 3; i++)
        v[i] = vec[i < nvec ? i : 0];
    g_free(vec);
}

/* True when a and b hold the same pixels (size, bands, values). */
static bool same_pixels(VipsImage *a, VipsImage *b)
{
    size_t na = 0, nb = 0;
    void *pa = vips_image_write_to_memory(a, &na), *pb = vips_image_write_to_memory(b, &nb);
    bool same = pa != NULL && pb != NULL && na == nb && memcmp(pa, pb, na) == 0;

    g_free(pa);
    g_free(pb);
    return same;
}

static bool has_field(VipsImage *img, const char *name)
{
    return vips_image_get_typeof(img, name) != 0;
}

/* ---- sniffing ---------------------------------------------------------- */

#define BYTES(s) s, sizeof(s) - 1

static void test_sniff_files(void)
{
    static const struct { const char *file, *mime; } files[] = {
        {"tiny.png", "image/png"},          {"tiny.jpg", "image/jpeg"},
        {"tiny.gif", "image/gif"},          {"tiny.webp", "image/webp"},
        {"gps.jpg", "image/jpeg"},          {"doc.pdf", "application/pdf"},
        {"page.html", "text/html"},         {"icon.svg", "image/svg+xml"},
        {"archive.zip", "application/zip"},
        /* libmagic reads the signature and a valid IHDR: a PNG, whatever follows */
        {"png-then-html.png", "image/png"},
    };

    for (size_t i = 0; i < COUNT(files); i++) {
        size_t n;
        void *buf = slurp(files[i].file, &n);

        is_str(sniff_mime(arena, buf, n), files[i].mime, "sniff_mime: %s", files[i].file);
        free(buf);
    }
}

static void test_sniff_bytes(void)
{
    static const unsigned char ole_signature[8] = {0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1};
    static const struct { const char *what, *bytes; size_t n; const char *mime; } cases[] = {
        {"empty", BYTES(""), SNIFF_GENERIC},
        {"the PNG signature, then HTML where IHDR belongs",
         BYTES("\x89PNG\r\n\x1a\n<html><script>alert(1)</script></html>"), SNIFF_GENERIC},
        {"binary bytes before a script", BYTES("\0\1\2<script>alert(1)</script>"), SNIFF_GENERIC},
        {"JSON", BYTES("{\"a\": [1, 2, 3]}\n"), "application/json"},
        {"plain text", BYTES("hello, world\n"), "text/plain"},
        {"an HTML fragment (no document markers)", BYTES("<div>hi</div>\n"), "text/plain"},
    };
    unsigned char *big = malloc(SNIFF_BYTES + 4096);
    uint32_t x = 2463534242u;

    for (size_t i = 0; i < COUNT(cases); i++)
        is_str(sniff_mime(arena, cases[i].bytes, cases[i].n), cases[i].mime, "sniff_mime: %s",
               cases[i].what);
    is_str(sniff_mime(arena, NULL, 10), SNIFF_GENERIC, "sniff_mime: NULL bytes");
    if (big == NULL)
        bail("test_sniff_bytes");
    memset(big, 0, 512);
    memcpy(big, ole_signature, sizeof ole_signature);
    is_str(sniff_mime(arena, big, 512), "application/x-ole-storage",
           "sniff_mime: an OLE compound file header");
    for (size_t i = 0; i < 4096; i++) {   /* xorshift32: the same noise every run */
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        big[i] = (unsigned char)x;
    }
    is_str(sniff_mime(arena, big, 4096), SNIFF_GENERIC, "sniff_mime: 4096 random bytes");
    memset(big, 'a', SNIFF_BYTES);
    big[SNIFF_BYTES - 1] = '\n';
    memset(big + SNIFF_BYTES, 0, 4096);
    is_str(sniff_mime(arena, big, SNIFF_BYTES + 4096), "text/plain",
           "sniff_mime reads SNIFF_BYTES: text, then zeros it does not see");
    sniff_cleanup();
    sniff_cleanup();
    is_str(sniff_mime(arena, BYTES("%PDF-1.4\n")), "application/pdf",
           "sniff_mime opens libmagic again after sniff_cleanup (twice)");
    free(big);
}

static void test_sniff_active(void)
{
    static const struct { const char *mime; bool active; } cases[] = {
        {"text/html", true}, {"TEXT/HTML; charset=utf-8", true}, {" text/html ;x=1", true},
        {"application/xhtml+xml", true}, {"image/svg+xml", true}, {"text/xml", true},
        {"application/xml", true}, {"application/atom+xml", true}, {"text/xsl", true},
        {"text/javascript", true}, {"application/javascript", true},
        {"application/x-javascript", true}, {"text/ecmascript", true},
        {"application/ecmascript", true}, {"text/jscript", true},
        {"multipart/x-mixed-replace", true},
        {NULL, true}, {"", true}, {"html", true}, {"text/", true}, {"/html", true},
        {"text/html/x", true}, {"text /html", true},
        {"text/css", false}, {"application/pdf", false}, {"application/json", false},
        {"text/plain", false}, {"image/png", false}, {"image/jpeg", false},
        {"application/octet-stream", false}, {"text/csv", false},
        {"application/xml-dtd", false}, {"text/htmlx", false},
    };

    for (size_t i = 0; i < COUNT(cases); i++)
        is_int(sniff_active(cases[i].mime), cases[i].active, "sniff_active(%s%s%s)",
               cases[i].mime ? "\"" : "", cases[i].mime ? cases[i].mime : "NULL",
               cases[i].mime ? "\"" : "");
}

static void test_sniff_allowed(void)
{
    static const char *const images[] = {"image/*"}, *const png_pdf[] = {"image/png", "application/PDF"},
                             *const any[] = {"*/*"}, *const broken[] = {"image", "/*", "image/*/x"};
    static const struct {
        const char *mime;
        const char *const *allowed;
        size_t n;
        bool ok;
    } cases[] = {
        {"image/png", NULL, 0, true},         {NULL, NULL, 0, true},
        {"image/png", images, 1, true},       {"IMAGE/WebP; q=1", images, 1, true},
        {"image/svg+xml", images, 1, true},   {"text/plain", images, 1, false},
        {"imagex/png", images, 1, false},     {"image", images, 1, false},
        {"image/png", png_pdf, 2, true},      {"application/pdf", png_pdf, 2, true},
        {"image/jpeg", png_pdf, 2, false},    {"image/pngx", png_pdf, 2, false},
        {"text/html", any, 1, true},          {"x/y", any, 1, true},
        {NULL, images, 1, false},             {"", any, 1, false},
        {"image/*", images, 1, false},        {"image/png", broken, 3, false},
        {"image/png", NULL, 1, false},
    };

    for (size_t i = 0; i < COUNT(cases); i++)
        is_int(sniff_allowed(cases[i].mime, cases[i].allowed, cases[i].n), cases[i].ok,
               "sniff_allowed(%s) against list %zu of %zu", cases[i].mime ? cases[i].mime : "NULL",
               i, cases[i].n);
}

static void test_sniff_claims(void)
{
    static const struct { const char *claimed, *sniffed; bool ok; } cases[] = {
        {"image/png", "image/png", true},         {"Image/PNG; x=1", "image/png", true},
        {"image/jpg", "image/jpeg", true},        {"image/pjpeg", "image/jpeg", true},
        {"application/x-zip-compressed", "application/zip", true},
        {NULL, "text/html", true},                {"", "text/html", true},
        {"application/octet-stream", "text/html", true},
        /* a claimed image is an image of that kind, or refused */
        {"image/png", "text/html", false},        {"image/png", "image/jpeg", false},
        {"image/png", "text/plain", false},       {"image/png", SNIFF_GENERIC, false},
        {"text/html", "image/png", false},        {"application/pdf", SNIFF_GENERIC, false},
        {"application/pdf", "text/plain", false}, {"application/zip", "text/plain", false},
        /* text fits text claims: libmagic's text kinds are guesses */
        {"text/plain", "text/html", true},        {"text/html", "text/plain", true},
        {"text/javascript", "text/plain", true},  {"application/javascript", "text/x-c", true},
        {"application/json", "text/plain", true}, {"text/csv", "text/plain", true},
        {"text/markdown", "text/plain", true},    {"image/svg+xml", "text/plain", true},
        {"application/xml", "text/xml", true},    {"text/plain", "application/json", true},
        {"application/vnd.apple.mpegurl", "text/plain", true},
        /* bytes libmagic does not know: not text, so no text or active claim */
        {"text/html", SNIFF_GENERIC, false},      {"text/plain", SNIFF_GENERIC, false},
        {"image/svg+xml", SNIFF_GENERIC, false},  {"application/javascript", SNIFF_GENERIC, false},
        {"application/x-custom", SNIFF_GENERIC, true}, {"video/x-custom", SNIFF_GENERIC, true},
        {"text/html", NULL, false},               {"text/html", "garbage", false},
        /* containers */
        {"application/vnd.openxmlformats-officedocument.wordprocessingml.document",
         "application/zip", true},
        {"application/epub+zip", "application/zip", true},
        {"application/zip", "application/java-archive", true},
        {"application/msword", "application/cdfv2", true},
        {"application/vnd.ms-excel", "application/x-ole-storage", true},
        {"image/png", "application/zip", false},  {"application/zip", "application/pdf", false},
        /* malformed claims */
        {"png", "image/png", false},              {"image/*", "image/png", false},
        {"image/png/x", "image/png", false},
    };

    for (size_t i = 0; i < COUNT(cases); i++)
        is_int(sniff_claim_compatible(cases[i].claimed, cases[i].sniffed), cases[i].ok,
               "sniff_claim_compatible(%s, %s)", cases[i].claimed ? cases[i].claimed : "NULL",
               cases[i].sniffed ? cases[i].sniffed : "NULL");
}

/* What the storage layer sees for an upload: its sniffed type, and whether
 * the claim stands. */
static void test_sniff_uploads(void)
{
    size_t n;
    void *html = slurp("page.html", &n), *trick;
    const char *m = sniff_mime(arena, html, n);

    ok(!sniff_claim_compatible("image/png", m), "an HTML page claimed as image/png is refused");
    ok(sniff_active(m), "... and its sniffed type is active");
    free(html);
    trick = slurp("png-then-html.png", &n);
    m = sniff_mime(arena, trick, n);
    ok(sniff_claim_compatible("image/png", m),
       "a PNG header before HTML passes as image/png (and is served as an image)");
    ok(!sniff_claim_compatible("text/html", m), "... but not as text/html");
    free(trick);
}

/* ---- images ------------------------------------------------------------ */

static long maxrss_kb(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* First of the image tests, so that libvips's allocation high-water mark
 * is still its own: the bomb is refused from its header. */
static void test_bomb(void)
{
    size_t n, out_len = 1;
    unsigned char *bomb = bomb_png(20000, &n);
    image_transform_t t = {.width = 100, .height = 100};
    void *out = (void *)1;
    const char *mime = "x";
    long rss = maxrss_kb();

    ok(n < 64 * 1024, "a 20000 x 20000 PNG of zeros is %zu bytes", n);
    is_str(sniff_mime(arena, bomb, n), "image/png", "... which libmagic calls a PNG");
    is_int(image_transform(bomb, n, &t, MAX_PIXELS, &out, &out_len, &mime), IMAGE_ERR_TOO_LARGE,
           "image_transform refuses its 400 million pixels against 25 million");
    ok(out == NULL && out_len == 0 && mime == NULL, "... and returns no output");
    is_int(image_strip(bomb, n, MAX_PIXELS, &out, &out_len), IMAGE_ERR_TOO_LARGE,
           "image_strip refuses it too");
    t.width = t.height = 0;
    is_int(image_transform(bomb, n, &t, MAX_PIXELS, &out, &out_len, &mime), IMAGE_ERR_TOO_LARGE,
           "... also at its original size");
    ok(vips_tracked_get_mem_highwater() < 1024 * 1024,
       "libvips never held its pixels (high water %zu bytes)",
       (size_t)vips_tracked_get_mem_highwater());
    ok(maxrss_kb() - rss < 8 * 1024, "the process grew by %ld KB", maxrss_kb() - rss);
    free(bomb);
    /* the control: the meter does see pixels libvips decodes */
    bomb = bomb_png(4000, &n);
    t.width = t.height = 100;
    is_int(image_transform(bomb, n, &t, MAX_PIXELS, &out, &out_len, &mime), IMAGE_OK,
           "a 4000 x 4000 one (16 million pixels) is within the limit");
    ok(vips_tracked_get_mem_highwater() > 1024 * 1024,
       "... and decoding it shows in the high water (%zu bytes)",
       (size_t)vips_tracked_get_mem_highwater());
    image_free(out);
    free(bomb);
}

static void test_transform_sizes(void)
{
    static const struct {
        int w, h;
        enum image_resize resize;
        int out_w, out_h;
    } cases[] = {
        {50, 50, IMAGE_RESIZE_COVER, 50, 50},      {50, 50, IMAGE_RESIZE_CONTAIN, 50, 25},
        {50, 50, IMAGE_RESIZE_FILL, 50, 50},       {100, 20, IMAGE_RESIZE_COVER, 100, 20},
        {100, 20, IMAGE_RESIZE_CONTAIN, 40, 20},   {100, 20, IMAGE_RESIZE_FILL, 100, 20},
        {50, 0, IMAGE_RESIZE_COVER, 50, 25},       {0, 50, IMAGE_RESIZE_CONTAIN, 100, 50},
        {40, 0, IMAGE_RESIZE_FILL, 40, 20},        {0, 0, IMAGE_RESIZE_COVER, 200, 100},
        {300, 300, IMAGE_RESIZE_COVER, 300, 300},  {400, 400, IMAGE_RESIZE_CONTAIN, 400, 200},
        {100, 300, IMAGE_RESIZE_FILL, 100, 300},   {2500, 0, IMAGE_RESIZE_CONTAIN, 2500, 1250},
    };
    static const char *const names[] = {"cover", "contain", "fill"};
    size_t n;
    void *png = encode(200, 100, "pngsave_buffer", &n);

    for (size_t i = 0; i < COUNT(cases); i++) {
        image_transform_t t = {.width = cases[i].w, .height = cases[i].h, .resize = cases[i].resize};
        void *out;
        size_t len;
        const char *mime;
        VipsImage *img;

        if (!is_int(image_transform(png, n, &t, MAX_PIXELS, &out, &len, &mime), IMAGE_OK,
                    "200x100 %s %dx%d", names[t.resize], t.width, t.height))
            continue;
        img = open_image(out, len, false);
        ok(vips_image_get_width(img) == cases[i].out_w && vips_image_get_height(img) == cases[i].out_h,
           "... is %dx%d (got %dx%d)", cases[i].out_w, cases[i].out_h, vips_image_get_width(img),
           vips_image_get_height(img));
        g_object_unref(img);
        image_free(out);
    }
    g_free(png);
}

/* The output format: the input's (GIF becoming PNG) or WebP, as sniffed. */
static void test_transform_formats(void)
{
    static const struct { const char *saver, *origin; } kinds[] = {
        {"pngsave_buffer", "image/png"}, {"jpegsave_buffer", "image/jpeg"},
        {"webpsave_buffer", "image/webp"}, {"gifsave_buffer", "image/png"},
    };

    for (size_t i = 0; i < COUNT(kinds); i++) {
        size_t n, len;
        void *in = encode(64, 32, kinds[i].saver, &n), *out;
        const char *mime;
        image_transform_t t = {.width = 32, .height = 32, .format = IMAGE_FORMAT_ORIGIN};

        is_int(image_transform(in, n, &t, MAX_PIXELS, &out, &len, &mime), IMAGE_OK,
               "%s input, format origin", kinds[i].saver);
        is_str(mime, kinds[i].origin, "... gives %s", kinds[i].origin);
        is_str(sniff_mime(arena, out, len), kinds[i].origin, "... as sniffed");
        image_free(out);
        t.format = IMAGE_FORMAT_WEBP;
        is_int(image_transform(in, n, &t, MAX_PIXELS, &out, &len, &mime), IMAGE_OK,
               "%s input, format webp", kinds[i].saver);
        is_str(mime, "image/webp", "... gives image/webp");
        is_str(sniff_mime(arena, out, len), "image/webp", "... as sniffed");
        image_free(out);
        g_free(in);
    }
}

/* Bad arguments, and inputs that are not images this module reads. */
static void test_transform_refused(void)
{
    static const struct { image_transform_t t; int status; const char *what; } args[] = {
        {{.quality = 19}, IMAGE_ERR_BAD, "quality 19"},
        {{.quality = 20}, IMAGE_OK, "quality 20"},
        {{.quality = 100}, IMAGE_OK, "quality 100"},
        {{.quality = 101}, IMAGE_ERR_BAD, "quality 101"},
        {{.quality = -1}, IMAGE_ERR_BAD, "quality -1"},
        {{.width = 2500}, IMAGE_OK, "width 2500"},
        {{.width = 2501}, IMAGE_ERR_BAD, "width 2501"},
        {{.height = 2501}, IMAGE_ERR_BAD, "height 2501"},
        {{.width = -1}, IMAGE_ERR_BAD, "width -1"},
        {{.resize = (enum image_resize)7}, IMAGE_ERR_BAD, "an unknown resize"},
        {{.format = (enum image_format)7}, IMAGE_ERR_BAD, "an unknown format"},
    };
    static const struct { const char *file; int status; } files[] = {
        {"page.html", IMAGE_ERR_UNSUPPORTED}, {"icon.svg", IMAGE_ERR_UNSUPPORTED},
        {"doc.pdf", IMAGE_ERR_UNSUPPORTED},   {"archive.zip", IMAGE_ERR_UNSUPPORTED},
        {"png-then-html.png", IMAGE_ERR_BAD},
    };
    image_transform_t plain = {.width = 10};
    size_t n, len, tn;
    void *png = encode(20, 10, "pngsave_buffer", &n), *tiff = encode(20, 10, "tiffsave_buffer", &tn);
    void *out;
    const char *mime;

    for (size_t i = 0; i < COUNT(args); i++) {
        is_int(image_transform(png, n, &args[i].t, MAX_PIXELS, &out, &len, &mime), args[i].status,
               "image_transform: %s", args[i].what);
        image_free(out);
    }
    is_int(image_transform(png, n, NULL, MAX_PIXELS, &out, &len, &mime), IMAGE_ERR_BAD, "no transform");
    is_int(image_transform(png, n, &plain, 0, &out, &len, &mime), IMAGE_ERR_BAD, "max_pixels 0");
    is_int(image_transform(png, n, &plain, 200, &out, &len, &mime), IMAGE_OK,
           "max_pixels 200 takes a 20x10 image");
    image_free(out);
    is_int(image_transform(png, n, &plain, 199, &out, &len, &mime), IMAGE_ERR_TOO_LARGE,
           "max_pixels 199 does not");
    is_int(image_transform(png, 0, &plain, MAX_PIXELS, &out, &len, &mime), IMAGE_ERR_UNSUPPORTED,
           "no bytes");
    is_int(image_transform(tiff, tn, &plain, MAX_PIXELS, &out, &len, &mime), IMAGE_ERR_UNSUPPORTED,
           "a TIFF (libvips reads it, this module does not)");
    for (size_t i = 0; i < COUNT(files); i++) {
        void *in = slurp(files[i].file, &n);

        is_int(image_transform(in, n, &plain, MAX_PIXELS, &out, &len, &mime), files[i].status,
               "image_transform: %s", files[i].file);
        free(in);
    }
    g_free(png);
    g_free(tiff);
}

/* Beyond image_init's blocks libvips itself will not load other kinds. */
static void test_loaders_blocked(void)
{
    size_t n;
    void *svg = slurp("icon.svg", &n), *tiff;
    VipsImage *img = vips_image_new_from_buffer(svg, n, "", NULL);

    ok(img == NULL, "libvips refuses to load SVG after image_init");
    VIPS_UNREF(img);
    free(svg);
    tiff = encode(4, 4, "tiffsave_buffer", &n);
    img = vips_image_new_from_buffer(tiff, n, "", NULL);
    ok(img == NULL, "... and TIFF");
    VIPS_UNREF(img);
    g_free(tiff);
    vips_error_clear();
}

/* One side given on a tall image: the other follows, within the cap. */
static void test_transform_tall(void)
{
    size_t n, len;
    void *png = encode(10, 1000, "pngsave_buffer", &n), *out;
    const char *mime;
    image_transform_t t = {.width = 2000};
    VipsImage *img;

    if (is_int(image_transform(png, n, &t, MAX_PIXELS, &out, &len, &mime), IMAGE_OK,
               "10x1000 at width 2000")) {
        img = open_image(out, len, false);
        ok(vips_image_get_width(img) == 25 && vips_image_get_height(img) == IMAGE_MAX_SIDE,
           "... fits 2500 high instead: 25x2500 (got %dx%d)", vips_image_get_width(img),
           vips_image_get_height(img));
        g_object_unref(img);
        image_free(out);
    }
    g_free(png);
}

/* gps.jpg is stored 16x8, left half white, with orientation 6: displayed
 * 8x16, top half white. */
static void test_transform_orientation(void)
{
    size_t n, len;
    void *jpg = slurp("gps.jpg", &n), *out;
    const char *mime;
    image_transform_t t = {0};
    VipsImage *img;
    double top[3], bottom[3];

    if (is_int(image_transform(jpg, n, &t, MAX_PIXELS, &out, &len, &mime), IMAGE_OK,
               "gps.jpg at its original size")) {
        img = open_image(out, len, false);
        ok(vips_image_get_width(img) == 8 && vips_image_get_height(img) == 16,
           "... is upright: 8x16 (got %dx%d)", vips_image_get_width(img),
           vips_image_get_height(img));
        pixel(img, 4, 2, top);
        pixel(img, 4, 13, bottom);
        ok(top[0] > 200 && bottom[0] < 55, "... white above, black below (%.0f, %.0f)", top[0],
           bottom[0]);
        is_int(metadata_fields(img), 0, "... and carries no metadata (no GPS, no orientation)");
        g_object_unref(img);
        image_free(out);
    }
    t.height = 4;
    if (is_int(image_transform(jpg, n, &t, MAX_PIXELS, &out, &len, &mime), IMAGE_OK,
               "gps.jpg at height 4")) {
        img = open_image(out, len, false);
        ok(vips_image_get_width(img) == 2 && vips_image_get_height(img) == 4,
           "... the box applies to it upright: 2x4 (got %dx%d)", vips_image_get_width(img),
           vips_image_get_height(img));
        g_object_unref(img);
        image_free(out);
    }
    free(jpg);
}

static void test_transform_quality(void)
{
    size_t n, low_len = 0, high_len = 0, dflt_len = 0;
    void *jpg = noise_jpeg(256, &n), *low = NULL, *high = NULL, *dflt = NULL;
    const char *mime;
    image_transform_t t = {.width = 200, .format = IMAGE_FORMAT_WEBP, .quality = 20};

    image_transform(jpg, n, &t, MAX_PIXELS, &low, &low_len, &mime);
    t.quality = 100;
    image_transform(jpg, n, &t, MAX_PIXELS, &high, &high_len, &mime);
    t.quality = 0;
    image_transform(jpg, n, &t, MAX_PIXELS, &dflt, &dflt_len, &mime);
    ok(low_len > 0 && low_len < dflt_len && dflt_len < high_len,
       "webp at quality 20 < 0 (80) < 100 in bytes (%zu, %zu, %zu)", low_len, dflt_len, high_len);
    image_free(low);
    image_free(high);
    image_free(dflt);
    g_free(jpg);
}

/* ---- stripping --------------------------------------------------------- */

static void test_strip_jpeg(void)
{
    size_t n, len;
    void *jpg = slurp("gps.jpg", &n), *out;
    VipsImage *img = open_image(jpg, n, false);
    double top[3], bottom[3];

    ok(has_field(img, "exif-ifd3-GPSLatitude") && has_field(img, "exif-ifd3-GPSLongitude") &&
       has_field(img, "exif-ifd0-Make") && vips_image_get_orientation(img) == 6,
       "gps.jpg carries GPS position, Make and orientation 6");
    g_object_unref(img);
    if (!is_int(image_strip(jpg, n, MAX_PIXELS, &out, &len), IMAGE_OK, "image_strip(gps.jpg)")) {
        free(jpg);
        return;
    }
    is_str(sniff_mime(arena, out, len), "image/jpeg", "... is still a JPEG");
    img = open_image(out, len, false);
    ok(!has_field(img, VIPS_META_EXIF_NAME), "... with no exif-data field");
    is_int(metadata_fields(img), 0, "... nor any exif-* tag, XMP, IPTC, ICC or orientation");
    ok(vips_image_get_width(img) == 8 && vips_image_get_height(img) == 16,
       "... at its displayed size, upright: 8x16 (got %dx%d)", vips_image_get_width(img),
       vips_image_get_height(img));
    pixel(img, 4, 2, top);
    pixel(img, 4, 13, bottom);
    ok(top[0] > 200 && bottom[0] < 55, "... white above, black below (%.0f, %.0f)", top[0],
       bottom[0]);
    g_object_unref(img);
    image_free(out);
    free(jpg);
}

/* A PNG with text, XMP and EXIF, and a palette PNG: metadata gone,
 * pixels identical, the palette kept. */
static void test_strip_png(void)
{
    static const char xmp[] = "<x:xmpmeta xmlns:x='adobe:ns:meta/'>owner</x:xmpmeta>";
    VipsImage *src = halves(32, 16), *before, *after;
    void *png, *out;
    size_t n, len;

    if (vips_pngsave_buffer(src, &png, &n, NULL) != 0)
        bail("test_strip_png: plain");
    is_int(image_strip(png, n, MAX_PIXELS, &out, &len), IMAGE_ERR_UNSUPPORTED,
           "image_strip(PNG without metadata): kept as it is");
    ok(out == NULL, "... no copy made");
    g_free(png);
    vips_image_set_string(src, "png-comment-0-Author", "Jane Doe, 1 High Street");
    vips_image_set_blob_copy(src, VIPS_META_XMP_NAME, xmp, sizeof xmp - 1);
    if (vips_pngsave_buffer(src, &png, &n, NULL) != 0)
        bail("test_strip_png");
    before = open_image(png, n, false);
    ok(metadata_fields(before) >= 2, "the PNG carries text and XMP (%d fields)",
       metadata_fields(before));
    if (is_int(image_strip(png, n, MAX_PIXELS, &out, &len), IMAGE_OK, "image_strip(PNG)")) {
        after = open_image(out, len, false);
        is_int(metadata_fields(after), 0, "... drops them");
        ok(same_pixels(before, after), "... and keeps every pixel");
        g_object_unref(after);
        image_free(out);
    }
    g_object_unref(before);
    g_free(png);
    if (vips_pngsave_buffer(src, &png, &n, "palette", TRUE, "bitdepth", 2, NULL) != 0)
        bail("test_strip_png: palette");
    before = open_image(png, n, false);
    if (is_int(image_strip(png, n, MAX_PIXELS, &out, &len), IMAGE_OK, "image_strip(palette PNG)")) {
        after = open_image(out, len, false);
        ok(has_field(after, "palette-bit-depth"), "... keeps a palette");
        ok(same_pixels(before, after), "... and every pixel");
        g_object_unref(after);
        image_free(out);
    }
    is_int(image_strip(png, n, 32 * 16, &out, &len), IMAGE_OK, "max_pixels 512 takes 32x16");
    image_free(out);
    is_int(image_strip(png, n, 32 * 16 - 1, &out, &len), IMAGE_ERR_TOO_LARGE, "511 does not");
    g_object_unref(before);
    g_free(png);
    g_object_unref(src);
}

/* Lossless WebP stays lossless, lossy WebP stays WebP, an animation keeps
 * its frames. */
static void test_strip_webp(void)
{
    static const int delays[2] = {100, 200};
    VipsImage *src = halves(16, 32), *before, *after;
    void *webp, *out;
    size_t n, len;

    if (vips_webpsave_buffer(src, &webp, &n, "lossless", TRUE, NULL) != 0)
        bail("test_strip_webp");
    before = open_image(webp, n, false);
    if (is_int(image_strip(webp, n, MAX_PIXELS, &out, &len), IMAGE_OK, "image_strip(lossless WebP)")) {
        after = open_image(out, len, false);
        ok(same_pixels(before, after), "... stays lossless");
        g_object_unref(after);
        image_free(out);
    }
    g_object_unref(before);
    g_free(webp);
    /* two different frames: libwebp merges identical ones */
    if (vips_draw_rect1(src, 255, 0, 16, 16, 16, "fill", TRUE, NULL) != 0)
        bail("test_strip_webp: frame");
    vips_image_set_int(src, VIPS_META_PAGE_HEIGHT, 16);
    vips_image_set_array_int(src, "delay", delays, 2);
    if (vips_webpsave_buffer(src, &webp, &n, "Q", 75, NULL) != 0)
        bail("test_strip_webp: animated");
    if (is_int(image_strip(webp, n, MAX_PIXELS, &out, &len), IMAGE_OK, "image_strip(animated WebP)")) {
        is_str(sniff_mime(arena, out, len), "image/webp", "... is a WebP");
        after = open_image(out, len, true);
        is_int(vips_image_get_n_pages(after), 2, "... of two frames");
        is_int(vips_image_get_page_height(after), 16, "... 16 high each");
        g_object_unref(after);
        image_free(out);
    }
    is_int(image_strip(webp, n, 16 * 32 - 1, &out, &len), IMAGE_ERR_TOO_LARGE,
           "its pixels are counted over all frames");
    g_free(webp);
    g_object_unref(src);
}

/* A photo in Display P3: the profile goes, its colours are converted. */
static void test_strip_icc(void)
{
    static const double red[3] = {255, 0, 0};
    VipsImage *black, *srgb, *img, *p3;
    void *jpg, *out;
    size_t n, len;
    double v[3];

    if (vips_black(&black, 16, 16, "bands", 3, NULL) != 0 ||
        vips_copy(black, &srgb, "interpretation", VIPS_INTERPRETATION_sRGB, NULL) != 0 ||
        (img = vips_image_copy_memory(srgb)) == NULL ||
        vips_draw_rect(img, (double *)red, 3, 0, 0, 16, 16, "fill", TRUE, NULL) != 0 ||
        vips_icc_transform(img, &p3, "p3", "input_profile", "srgb", NULL) != 0 ||
        vips_jpegsave_buffer(p3, &jpg, &n, "Q", 95, NULL) != 0)
        bail("test_strip_icc");
    img = open_image(jpg, n, false);
    pixel(img, 8, 8, v);
    ok(has_field(img, VIPS_META_ICC_NAME) && v[0] < 245,
       "a P3 JPEG: its profile embedded, sRGB red stored as %.0f,%.0f,%.0f", v[0], v[1], v[2]);
    g_object_unref(img);
    if (is_int(image_strip(jpg, n, MAX_PIXELS, &out, &len), IMAGE_OK, "image_strip(P3 JPEG)")) {
        img = open_image(out, len, false);
        pixel(img, 8, 8, v);
        ok(!has_field(img, VIPS_META_ICC_NAME), "... drops the profile");
        ok(v[0] > 245 && v[1] < 12 && v[2] < 12, "... and stores sRGB red (%.0f,%.0f,%.0f)", v[0],
           v[1], v[2]);
        g_object_unref(img);
        image_free(out);
    }
    g_free(jpg);
    g_object_unref(p3);
    g_object_unref(srgb);
    g_object_unref(black);
}

/* An APNG: the PNG with an acTL chunk after IHDR. */
static void *apng(size_t *n)
{
    static const unsigned char actl[8] = {0, 0, 0, 1, 0, 0, 0, 0};
    size_t pn;
    unsigned char *png = encode(8, 8, "pngsave_buffer", &pn), *out = malloc(pn + 20);

    if (out == NULL)
        bail("apng");
    memcpy(out, png, 33);
    png_chunk(out + 33, "acTL", actl, sizeof actl);
    memcpy(out + 53, png + 33, pn - 33);
    *n = pn + 20;
    g_free(png);
    return out;
}

static void test_strip_refused(void)
{
    static const struct { const char *file; int status; } files[] = {
        {"tiny.gif", IMAGE_ERR_UNSUPPORTED}, {"page.html", IMAGE_ERR_UNSUPPORTED},
        {"icon.svg", IMAGE_ERR_UNSUPPORTED}, {"doc.pdf", IMAGE_ERR_UNSUPPORTED},
        {"png-then-html.png", IMAGE_ERR_BAD},
    };
    size_t n, len = 1;
    void *in, *out = (void *)1;

    for (size_t i = 0; i < COUNT(files); i++) {
        in = slurp(files[i].file, &n);
        is_int(image_strip(in, n, MAX_PIXELS, &out, &len), files[i].status, "image_strip(%s)",
               files[i].file);
        ok(out == NULL && len == 0, "... returns no output");
        free(in);
    }
    in = apng(&n);
    is_int(image_strip(in, n, MAX_PIXELS, &out, &len), IMAGE_ERR_UNSUPPORTED,
           "image_strip(an animated PNG): the caller keeps it");
    is_int(image_strip(in, n, 0, &out, &len), IMAGE_ERR_BAD, "max_pixels 0");
    is_int(image_strip(in, n, MAX_PIXELS, NULL, &len), IMAGE_ERR_BAD, "no out");
    free(in);
}

/* ---- parsing and life cycle -------------------------------------------- */

static void test_parse(void)
{
    static const struct { const char *s; bool ok; enum image_resize v; } resizes[] = {
        {"cover", true, IMAGE_RESIZE_COVER}, {"contain", true, IMAGE_RESIZE_CONTAIN},
        {"fill", true, IMAGE_RESIZE_FILL},   {"Cover", false, IMAGE_RESIZE_FILL},
        {"", false, IMAGE_RESIZE_FILL},      {"covers", false, IMAGE_RESIZE_FILL},
        {NULL, false, IMAGE_RESIZE_FILL},
    };
    static const struct { const char *s; bool ok; enum image_format v; } formats[] = {
        {"origin", true, IMAGE_FORMAT_ORIGIN}, {"webp", true, IMAGE_FORMAT_WEBP},
        {"WEBP", false, IMAGE_FORMAT_WEBP},   {"avif", false, IMAGE_FORMAT_WEBP},
        {"", false, IMAGE_FORMAT_WEBP},       {NULL, false, IMAGE_FORMAT_WEBP},
    };

    for (size_t i = 0; i < COUNT(resizes); i++) {
        enum image_resize v = IMAGE_RESIZE_FILL;

        ok(image_resize_parse(resizes[i].s, &v) == resizes[i].ok && v == resizes[i].v,
           "image_resize_parse(%s)", resizes[i].s ? resizes[i].s : "NULL");
    }
    for (size_t i = 0; i < COUNT(formats); i++) {
        enum image_format v = IMAGE_FORMAT_WEBP;

        ok(image_format_parse(formats[i].s, &v) == formats[i].ok && v == formats[i].v,
           "image_format_parse(%s)", formats[i].s ? formats[i].s : "NULL");
    }
}

static void test_cleanup(void)
{
    size_t n, len;
    void *png, *out = (void *)1;

    image_free(NULL);
    png = encode(8, 8, "pngsave_buffer", &n);
    image_cleanup();
    image_cleanup();
    is_int(image_init("again"), IMAGE_ERR_BAD, "image_init after image_cleanup (run twice) fails");
    is_int(image_strip(png, n, MAX_PIXELS, &out, &len), IMAGE_ERR_BAD,
           "... and so does image_strip, without touching libvips");
    ok(out == NULL, "... returning no output");
    g_free(png);
    sniff_cleanup();
}

int main(int argc, char **argv)
{
    if (image_init(argv[0]) != IMAGE_OK || image_init(NULL) != IMAGE_OK)
        bail("image_init");
    if (argc == 3 && strcmp(argv[1], "--write-fixtures") == 0)
        return write_fixtures(argv[2]);
    arena = arena_create(4096);
    test_bomb();
    test_sniff_files();
    test_sniff_bytes();
    test_sniff_active();
    test_sniff_allowed();
    test_sniff_claims();
    test_sniff_uploads();
    test_transform_sizes();
    test_transform_formats();
    test_transform_refused();
    test_loaders_blocked();
    test_transform_tall();
    test_transform_orientation();
    test_transform_quality();
    test_strip_jpeg();
    test_strip_png();
    test_strip_webp();
    test_strip_icc();
    test_strip_refused();
    test_parse();
    test_cleanup();
    arena_destroy(arena);
    return done_testing();
}
