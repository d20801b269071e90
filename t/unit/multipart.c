/* t/unit/multipart.c: the streaming multipart/form-data reader: undici's body, binary data, every split, limits, malformed bodies, aborts. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "storage/multipart.h"
#include "tap.h"

/* storage-js's uploads go through undici's FormData. */
#define B "----formdata-undici-0123456789"
#define B_BUT_LAST "----formdata-undici-012345678"
#define D "--" B
#define DA "--AaB03x"
#define CD "Content-Disposition: form-data; name=\"a\"\r\n"
#define LIT(s) s, sizeof(s) - 1

/* Bytes of a PNG's start, with CR, LF, NUL and "--" in them. */
#define PNG "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\r\n--\r\n-\r\n---"

static const char undici_body[] =
    D "\r\nContent-Disposition: form-data; name=\"cacheControl\"\r\n\r\n3600\r\n"
    D "\r\nContent-Disposition: form-data; name=\"\"; filename=\"blob\"\r\n"
    "Content-Type: image/png\r\n\r\n" PNG "\r\n"
    D "--\r\n";
static const char undici_want[] = "<cacheControl|-|->3600</><|blob|image/png>" PNG "</>";

/* Data that starts like the delimiter again and again without being it. */
#define NEAR                                                               \
    "--" B " at the part's start is data\r" "\n" "\r\n-" "\r\n--"          \
    "\r\n---" "\r\n--" B_BUT_LAST "x" "\r\n--" B_BUT_LAST "\r-"            \
    "\0" "\n--" B "\r\n" "x--" B "--" "\r\r\n\r\n" "\0\xff" "\r\n"

static const char near_body[] =
    "preamble " D " not at a line start\r\n" D "\r\n"
    "Content-Disposition: form-data; name=\"bin\"; filename=\"x.bin\"\r\n"
    "Content-Type: application/octet-stream\r\n\r\n" NEAR "\r\n" D "--";
static const char near_want[] = "<bin|x.bin|application/octet-stream>" NEAR "</>";

/* What the callbacks saw: "<name|filename|type>" per part (NULL as "-"),
 * the data, "</>" per end; bad counts broken promises (data outside a
 * part, empty pieces, names changed before part_end, events after an
 * abort). */
typedef struct rec {
    char *buf;
    size_t len, cap;
    bool count_only;            /* only count data bytes */
    size_t data_bytes;
    int begins, ends, events;
    int abort_on;               /* the event (1-based) that returns false */
    int bad;
    bool open;
    const char *name;           /* as given to part_begin */
    char name_copy[256];
} rec_t;

static void rec_put(rec_t *r, const char *p, size_t n)
{
    if (r->count_only)
        return;
    if (r->len + n > r->cap) {
        r->cap = 2 * (r->len + n) + 64;
        if ((r->buf = realloc(r->buf, r->cap)) == NULL)
            abort();
    }
    memcpy(r->buf + r->len, p, n);
    r->len += n;
}

static void rec_puts(rec_t *r, const char *s)
{
    rec_put(r, s, strlen(s));
}

static bool rec_event(rec_t *r)
{
    if (r->abort_on != 0 && r->events >= r->abort_on)
        r->bad++;
    return ++r->events != r->abort_on;
}

static bool on_begin(void *ctx, const char *name, const char *filename, const char *type)
{
    rec_t *r = ctx;

    r->bad += r->open || name == NULL;
    r->open = true;
    r->begins++;
    r->name = name;
    snprintf(r->name_copy, sizeof r->name_copy, "%s", name ? name : "");
    rec_puts(r, "<");
    rec_puts(r, name ? name : "(null)");
    rec_puts(r, "|");
    rec_puts(r, filename ? filename : "-");
    rec_puts(r, "|");
    rec_puts(r, type ? type : "-");
    rec_puts(r, ">");
    return rec_event(r);
}

static bool on_data(void *ctx, const char *data, size_t len)
{
    rec_t *r = ctx;

    r->bad += !r->open || len == 0;
    r->data_bytes += len;
    rec_put(r, data, len);
    return rec_event(r);
}

static bool on_end(void *ctx)
{
    rec_t *r = ctx;

    r->bad += !r->open || strcmp(r->name, r->name_copy) != 0;
    r->open = false;
    r->ends++;
    rec_puts(r, "</>");
    return rec_event(r);
}

static const multipart_cb_t rec_cb = {on_begin, on_data, on_end};

static void rec_reset(rec_t *r)
{
    free(r->buf);
    memset(r, 0, sizeof *r);
}

/* A reader for boundary fed body: first bytes (if any), then the rest in
 * pieces of chunk bytes (0: at once), then finished.  The first status
 * that is not OK, else finish's; *why gets multipart_error's text. */
static int run(const char *boundary, const char *body, size_t len, size_t first,
               size_t chunk, rec_t *r, const char **why)
{
    arena_t *a = arena_create(4096);
    multipart_t *m = multipart_new(a, boundary, &rec_cb, r);
    int st = MULTIPART_OK;
    size_t off = 0;

    if (m == NULL) {
        arena_destroy(a);
        *why = "multipart_new refused the boundary";
        return MULTIPART_ERROR;
    }
    if (first > 0 && first <= len) {
        st = multipart_feed(m, body, first);
        off = first;
    }
    while (st == MULTIPART_OK && off < len) {
        size_t n = chunk != 0 && chunk < len - off ? chunk : len - off;

        st = multipart_feed(m, body + off, n);
        off += n;
    }
    if (st == MULTIPART_OK)
        st = multipart_finish(m);
    *why = multipart_error(m);
    arena_destroy(a);
    return st;
}

/* Printable form of n bytes, for diagnostics (static buffer). */
static const char *esc(const char *p, size_t n)
{
    static char out[4096];
    size_t o = 0;

    for (size_t i = 0; i < n && o + 5 < sizeof out; i++) {
        unsigned char c = (unsigned char)p[i];

        o += (size_t)(c >= 0x20 && c < 0x7f && c != '\\'
                          ? snprintf(out + o, sizeof out - o, "%c", c)
                          : snprintf(out + o, sizeof out - o, "\\x%02x", c));
    }
    out[o] = '\0';
    return out;
}

static bool rec_is(const rec_t *r, const char *want, size_t wlen)
{
    return r->len == wlen && (wlen == 0 || memcmp(r->buf, want, wlen) == 0) && r->bad == 0;
}

/* body whole, byte at a time, and in two pieces at every split point:
 * OK each time with the callbacks seeing want. */
static void check_splits(const char *boundary, const char *body, size_t len,
                         const char *want, size_t wlen, const char *what)
{
    rec_t r = {0};
    const char *why;
    int st, bad_at = -1;

    st = run(boundary, body, len, 0, 0, &r, &why);
    is_int(st, MULTIPART_OK, "%s: whole body OK (%s)", what, why ? why : "");
    if (!ok(rec_is(&r, want, wlen), "%s: callbacks see the parts", what))
        diag("got: %s", esc(r.buf, r.len));
    rec_reset(&r);
    st = run(boundary, body, len, 0, 1, &r, &why);
    ok(st == MULTIPART_OK && rec_is(&r, want, wlen), "%s: byte at a time", what);
    rec_reset(&r);
    for (size_t k = 0; k <= len && bad_at < 0; k++) {
        st = run(boundary, body, len, k, 0, &r, &why);
        if (st != MULTIPART_OK || !rec_is(&r, want, wlen))
            bad_at = (int)k;
        rec_reset(&r);
    }
    if (!ok(bad_at < 0, "%s: two pieces, every split point (%zu)", what, len + 1))
        diag("first failing split at %d", bad_at);
}

static void test_boundary(void)
{
    static const struct { const char *ct, *want; } cases[] = {
        {"multipart/form-data; boundary=" B, B},
        {"Multipart/Form-Data; BOUNDARY=AaB03x", "AaB03x"},
        {"multipart/form-data;boundary=\"a b:c/d?e=f\"", "a b:c/d?e=f"},
        {"multipart/form-data; charset=utf-8; boundary=\"x\"", "x"},
        {"  multipart/form-data ; boundary = x ;", "x"},
        {"multipart/form-data; name=\"q\\\"t\"; boundary=y", "y"},
        {"multipart/form-data; boundary=\"" "0123456789012345678901234567890123456789"
         "012345678901234567890123456789" "\"",
         "0123456789012345678901234567890123456789012345678901234567890123456789"},
        {"multipart/form-data; boundary=" "0123456789012345678901234567890123456789"
         "0123456789012345678901234567890", NULL},
        {"multipart/mixed; boundary=x", NULL},
        {"application/json", NULL},
        {"multipart/form-datax; boundary=x", NULL},
        {"multipart/form-data", NULL},
        {"multipart/form-data; charset=utf-8", NULL},
        {"multipart/form-data; boundary=", NULL},
        {"multipart/form-data; boundary=\"\"", NULL},
        {"multipart/form-data; boundary=\"abc", NULL},
        {"multipart/form-data; boundary=\"ab \"", NULL},
        {"multipart/form-data; boundary=\"a\\\\b\"", NULL},
        {"multipart/form-data; boundary=\"a\tb\"", NULL},
        {"multipart/form-data; boundary=\"a\xc3\xa9\"", NULL},
        {"multipart/form-data; boundary=abc def", NULL},
        {"multipart/form-data; boundary=a; boundary=a", NULL},
        {"multipart/form-data boundary=a", NULL},
        {"multipart/form-data; =a", NULL},
        {"", NULL},
    };
    arena_t *a = arena_create(4096);

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        is_str(multipart_boundary(a, cases[i].ct), cases[i].want, "boundary of '%s'",
               esc(cases[i].ct, strlen(cases[i].ct)));
    is_str(multipart_boundary(a, NULL), NULL, "boundary of NULL");
    ok(multipart_new(a, "", &rec_cb, NULL) == NULL &&
       multipart_new(a, NULL, &rec_cb, NULL) == NULL &&
       multipart_new(a, "a\r\nb", &rec_cb, NULL) == NULL,
       "multipart_new refuses an empty, NULL or CRLF boundary");
    arena_destroy(a);
}

static void test_bodies(void)
{
    static const char long_b[] =
        "0123456789012345678901234567890123456789012345678901234567890123456789";
    static const char long_body[] =
        "--0123456789012345678901234567890123456789012345678901234567890123456789\r\n"
        CD "\r\nv\r\n--01234567890123456789012345678901234567890123456789"
        "0123456789012345678\r\n"
        "--0123456789012345678901234567890123456789012345678901234567890123456789--";
    static const char empty_body[] =
        DA "\r\n" CD "\r\n\r\n" DA "\r\nContent-Disposition: form-data; name=\"f\"; "
        "filename=\"\"\r\n\r\n\r\n" DA "--";
    static const char pad_body[] =
        "preamble\r\n" DA " \t\r\n" CD "\r\nv\r\n" DA "\n"
        "Content-Disposition: form-data; name=\"b\"\n\nw\r\n" DA "--\r\n"
        "epilogue\r\n" DA "\r\n" DA "X and anything";

    check_splits(B, LIT(undici_body), LIT(undici_want), "undici FormData");
    check_splits(B, LIT(near_body), LIT(near_want), "binary near misses");
    check_splits(long_b, LIT(long_body),
                 LIT("<a|-|->v\r\n--01234567890123456789012345678901234567890123456789"
                     "0123456789012345678</>"),
                 "70-character boundary");
    check_splits("AaB03x", LIT(empty_body), LIT("<a|-|-></><f||-></>"), "empty parts");
    check_splits("AaB03x", LIT(pad_body), LIT("<a|-|->v</><b|-|->w</>"),
                 "preamble, padding, bare LFs, epilogue");
    check_splits("AaB03x", LIT(DA "--\r\n"), LIT(""), "no parts");
}

/* Formatted text into buf; its length. */
static size_t __attribute__((format(printf, 3, 4)))
fmt(char *buf, size_t size, const char *f, ...)
{
    va_list ap;
    int n;

    va_start(ap, f);
    n = vsnprintf(buf, size, f, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= size)
        abort();
    return (size_t)n;
}

/* One part whose header block is total bytes (a padding header added). */
static size_t header_body(char *buf, size_t size, size_t total)
{
    size_t pad = total - (sizeof CD - 1) - (sizeof "X-Pad: \r\n\r\n" - 1);

    return fmt(buf, size, DA "\r\n" CD "X-Pad: %0*d\r\n\r\nv\r\n" DA "--", (int)pad, 0);
}

/* n parts, each of lines header lines. */
static size_t parts_body(char *buf, size_t size, int n, int lines)
{
    size_t len = 0;

    for (int i = 0; i < n; i++) {
        len += fmt(buf + len, size - len, DA "\r\nContent-Disposition: form-data; name=\"p%d\"\r\n", i);
        for (int h = 1; h < lines; h++)
            len += fmt(buf + len, size - len, "X-H%d: %d\r\n", h, h);
        len += fmt(buf + len, size - len, "\r\n%d\r\n", i);
    }
    return len + fmt(buf + len, size - len, DA "--");
}

static void test_limits(void)
{
    static char buf[65536];
    rec_t r = {0};
    const char *why;
    size_t len;
    int st;

    len = header_body(buf, sizeof buf, MULTIPART_HEADER_MAX);
    is_int(run("AaB03x", buf, len, 0, 0, &r, &why), MULTIPART_OK, "8 KiB of part headers");
    rec_reset(&r);
    is_int(run("AaB03x", buf, len, 0, 1, &r, &why), MULTIPART_OK, "8 KiB of part headers, byte at a time");
    rec_reset(&r);
    len = header_body(buf, sizeof buf, MULTIPART_HEADER_MAX + 1);
    st = run("AaB03x", buf, len, 0, 0, &r, &why);
    ok(st == MULTIPART_ERROR && r.begins == 0, "8 KiB + 1 of part headers: error");
    is_str(why, "part header too long", "... part header too long");
    rec_reset(&r);
    run("AaB03x", buf, len, 0, 7, &r, &why);
    is_str(why, "part header too long", "... also in pieces of 7 bytes");
    rec_reset(&r);
    /* one endless header line */
    memset(buf, 'x', sizeof buf);
    memcpy(buf, DA "\r\nX-A: ", sizeof DA + 6);
    run("AaB03x", buf, sizeof buf, 0, 1000, &r, &why);
    is_str(why, "part header too long", "a header line without end");
    rec_reset(&r);

    len = parts_body(buf, sizeof buf, 1, MULTIPART_MAX_HEADERS);
    is_int(run("AaB03x", buf, len, 0, 0, &r, &why), MULTIPART_OK, "16 header lines");
    rec_reset(&r);
    len = parts_body(buf, sizeof buf, 1, MULTIPART_MAX_HEADERS + 1);
    st = run("AaB03x", buf, len, 0, 0, &r, &why);
    ok(st == MULTIPART_ERROR && r.begins == 0, "17 header lines: error");
    is_str(why, "too many part headers", "... too many part headers");
    rec_reset(&r);

    len = parts_body(buf, sizeof buf, MULTIPART_MAX_PARTS, 1);
    st = run("AaB03x", buf, len, 0, 0, &r, &why);
    ok(st == MULTIPART_OK && r.begins == 32 && r.ends == 32, "32 parts");
    rec_reset(&r);
    len = parts_body(buf, sizeof buf, MULTIPART_MAX_PARTS + 1, 1);
    st = run("AaB03x", buf, len, 0, 3, &r, &why);
    ok(st == MULTIPART_ERROR && r.begins == 32 && r.ends == 32, "33 parts: error after the 32nd");
    is_str(why, "too many parts", "... too many parts");
    rec_reset(&r);
}

static void test_headers(void)
{
    static const struct { const char *headers, *want; } cases[] = {
        {"content-disposition: FORM-DATA; NAME=field; FileName=\"a \\\"q\\\" b.txt\"\r\n"
         "content-type:  text/plain ; charset=utf-8 \t\r\n",
         "<field|a \"q\" b.txt|text/plain ; charset=utf-8>"},
        {"Content-Disposition: form-data; name=\"x\"; filename*=UTF-8''%e2%82%ac.txt; "
         "filename=\"euro.txt\"\r\n", "<x|euro.txt|->"},
        {"Content-Disposition: form-data; name=\"up\"; filename=\"C:\\dir\\f.txt\"\r\n",
         "<up|C:\\dir\\f.txt|->"},
        {"Content-Disposition: form-data; name=\"up\"; filename=\"a\\\\b\"\r\n", "<up|a\\b|->"},
        {"Content-Disposition:form-data;name=caf\xc3\xa9;\r\n", "<caf\xc3\xa9|-|->"},
        {"Content-Disposition: form-data ; name = \"a;b=c\" ; size=3\n"
         "Content-Transfer-Encoding: binary\n"
         "Content-Type:\r\n", "<a;b=c|-|>"},
    };
    char body[1024];
    rec_t r = {0};
    const char *why;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len = fmt(body, sizeof body, DA "\r\n%s\r\nv\r\n" DA "--", cases[i].headers);
        char want[512];
        size_t wlen = fmt(want, sizeof want, "%sv</>", cases[i].want);
        int st = run("AaB03x", body, len, 0, 0, &r, &why);

        if (!ok(st == MULTIPART_OK && rec_is(&r, want, wlen), "headers: %s",
                esc(cases[i].want, strlen(cases[i].want))))
            diag("status %d (%s), got %s", st, why ? why : "", esc(r.buf, r.len));
        rec_reset(&r);
    }
}

static void test_malformed(void)
{
    static const struct { const char *body; size_t len; const char *why; } cases[] = {
        {LIT(DA "\r\nContent-Type: text/plain\r\n\r\nx\r\n" DA "--"),
         "part without Content-Disposition: form-data"},
        {LIT(DA "\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\n"), "part is not form-data"},
        {LIT(DA "\r\nContent-Disposition: form-data-x; name=\"a\"\r\n\r\n"), "part is not form-data"},
        {LIT(DA "\r\nContent-Disposition: form-data; filename=\"f\"\r\n\r\n"),
         "Content-Disposition without name"},
        {LIT(DA "\r\nContent-Disposition: form-data; name=\"a\r\n\r\n"), "malformed Content-Disposition"},
        {LIT(DA "\r\nContent-Disposition: form-data; name=a b\r\n\r\n"), "malformed Content-Disposition"},
        {LIT(DA "\r\nContent-Disposition: form-data name=a\r\n\r\n"), "malformed Content-Disposition"},
        {LIT(DA "\r\nContent-Disposition: form-data; name=\r\n\r\n"), "malformed Content-Disposition"},
        {LIT(DA "\r\nContent-Disposition: form-data; name=a; NAME=b\r\n\r\n"),
         "repeated Content-Disposition parameter"},
        {LIT(DA "\r\n" CD CD "\r\n"), "repeated Content-Disposition"},
        {LIT(DA "\r\n" CD "Content-Type: a\r\ncontent-type: b\r\n\r\n"), "repeated Content-Type"},
        {LIT(DA "\r\n" CD "NoColonHere\r\n\r\n"), "malformed part header"},
        {LIT(DA "\r\n" CD "X-A : a\r\n\r\n"), "malformed part header"},
        {LIT(DA "\r\n" CD " folded\r\n\r\n"), "malformed part header"},
        {LIT(DA "\r\n" CD "X-A: a\0b\r\n\r\n"), "control character in part header"},
        {LIT(DA "\r\n" CD "X-A: a\rb\r\n\r\n"), "control character in part header"},
        {LIT(DA "X\r\n"), "malformed delimiter line"},
        {LIT(DA "-X"), "malformed delimiter line"},
        {LIT(DA " \tX\r\n"), "malformed delimiter line"},
        {LIT(DA "\rX"), "malformed delimiter line"},
        {LIT(DA "\r\n" CD "\r\nv\r\n" DA "x\r\n"), "malformed delimiter line"},
        {LIT(""), "truncated"},
        {LIT("only a preamble\r\n"), "truncated"},
        {LIT(DA), "truncated"},
        {LIT(DA "-"), "truncated"},
        {LIT(DA "\r\n" CD "\r\nv\r\n" DA), "truncated"},
        {LIT(DA "\r\n" CD "\r\nv\r\n" DA "\r\n"), "truncated"},
        {LIT(DA "\r\n" CD "\r\nv\r\n" "--AaB03"), "truncated"},
    };
    rec_t r = {0};
    const char *why;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int st = run("AaB03x", cases[i].body, cases[i].len, 0, 0, &r, &why);

        if (!ok(st == MULTIPART_ERROR && why != NULL && strcmp(why, cases[i].why) == 0 && r.bad == 0,
                "malformed: %s: %s", cases[i].why, esc(cases[i].body, cases[i].len)))
            diag("status %d, why %s", st, why ? why : "NULL");
        rec_reset(&r);
    }
}

/* Every prefix of undici's body short of its close delimiter is truncated;
 * with it (the final CRLF is epilogue) the body is whole. */
static void test_truncated(void)
{
    size_t close_end = sizeof undici_body - 1 - 2, bad = 0;
    rec_t r = {0};
    const char *why;

    for (size_t n = 0; n <= sizeof undici_body - 1; n++) {
        int st = run(B, undici_body, n, 0, 0, &r, &why);
        int want = n >= close_end ? MULTIPART_OK : MULTIPART_ERROR;

        if (st != want || (st != MULTIPART_OK && strcmp(why, "truncated") != 0) || r.bad)
            bad++;
        rec_reset(&r);
    }
    is_int(bad, 0, "each prefix of undici's body: truncated until the close delimiter");
}

static void test_abort(void)
{
    static const char *const what[] = {"part_begin", "part_data", "part_end", "second part_begin"};
    rec_t r = {0};
    const char *why;

    for (int ev = 1; ev <= 4; ev++) {
        int st;

        r.abort_on = ev;
        st = run(B, LIT(undici_body), 0, 0, &r, &why);
        ok(st == MULTIPART_ABORTED && r.events == ev && r.bad == 0,
           "%s returning false aborts, and nothing more is called", what[ev - 1]);
        rec_reset(&r);
    }
    r.abort_on = 2;
    is_int(run(B, LIT(undici_body), 0, 1, &r, &why), MULTIPART_ABORTED,
           "abort in part_data, byte at a time");
    is_str(why, "aborted by a callback", "... multipart_error says so");
    rec_reset(&r);
}

/* The reader stays in error or aborted: later feeds and finish say so. */
static void test_sticky(void)
{
    arena_t *a = arena_create(4096);
    rec_t r = {0};
    multipart_t *m = multipart_new(a, "AaB03x", &rec_cb, &r);

    is_str(multipart_error(m), NULL, "no error before any failure");
    is_int(multipart_feed(m, LIT(DA "X")), MULTIPART_ERROR, "malformed feed");
    is_int(multipart_feed(m, LIT("\r\n" CD "\r\nv\r\n" DA "--")), MULTIPART_ERROR,
           "a later good feed stays in error");
    is_int(multipart_finish(m), MULTIPART_ERROR, "finish stays in error");
    is_str(multipart_error(m), "malformed delimiter line", "the first reason is kept");
    is_int(r.begins, 0, "no part began after the error");
    rec_reset(&r);

    r.abort_on = 1;
    m = multipart_new(a, B, &rec_cb, &r);
    multipart_feed(m, LIT(undici_body));
    is_int(multipart_finish(m), MULTIPART_ABORTED, "finish after an abort: aborted");
    rec_reset(&r);

    m = multipart_new(a, "AaB03x", NULL, NULL);
    is_int(multipart_feed(m, LIT(DA "\r\n" CD "\r\nv\r\n" DA "--")), MULTIPART_OK,
           "no callbacks at all");
    ok(multipart_finish(m) == MULTIPART_OK && multipart_finish(m) == MULTIPART_OK,
       "finish twice: OK twice");
    arena_destroy(a);
}

/* A 50 MB upload in 64 KiB reads: every byte arrives, the arena does not
 * grow past what multipart_new took. */
static void test_memory(void)
{
    static char chunk[65536];
    static const char head[] = D "\r\nContent-Disposition: form-data; name=\"\"; "
                               "filename=\"big\"\r\n\r\n";
    static const char tail[] = "\r\n" D "--\r\n";
    arena_t *a = arena_create(4096);
    rec_t r = {.count_only = true};
    unsigned int x = 12345;
    size_t before, after_new, total = 0;
    multipart_t *m;
    int st;

    for (size_t i = 0; i < sizeof chunk; i++) {
        x = x * 1103515245u + 12345u;
        chunk[i] = (char)(i % 61 == 0 ? '\r' : i % 67 == 0 ? '\n' : (x >> 16) & 0xff);
    }
    before = arena_used(a);
    m = multipart_new(a, B, &rec_cb, &r);
    after_new = arena_used(a);
    st = multipart_feed(m, LIT(head));
    for (int i = 0; i < 800 && st == MULTIPART_OK; i++, total += sizeof chunk)
        st = multipart_feed(m, chunk, sizeof chunk);
    if (st == MULTIPART_OK)
        st = multipart_feed(m, LIT(tail));
    if (st == MULTIPART_OK)
        st = multipart_finish(m);
    is_int(st, MULTIPART_OK, "a 50 MB part");
    ok(r.data_bytes == total && r.ends == 1 && r.bad == 0, "every one of its %zu bytes delivered",
       total);
    ok(after_new - before < 3 * MULTIPART_HEADER_MAX, "the reader takes %zu bytes",
       after_new - before);
    is_int(arena_used(a), after_new, "and nothing more while reading");
    arena_destroy(a);
}

int main(void)
{
    test_boundary();
    test_bodies();
    test_headers();
    test_limits();
    test_malformed();
    test_truncated();
    test_abort();
    test_sticky();
    test_memory();
    return done_testing();
}
