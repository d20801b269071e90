/* media.h: what a worker asks of promptd-media (sniff, strip, transform) over its socket, and the wire format both ends speak. */
#ifndef PROMPTD_STORAGE_MEDIA_H
#define PROMPTD_STORAGE_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "storage/image.h"

/*
 * libmagic and libvips -- the code that parses untrusted bytes, and ~25 MiB
 * of mapped libraries -- run only in promptd-media (src/cmd/promptd-media.c),
 * a pool of processes with no database, no secrets and no network, behind a
 * Unix socket (PROMPTD_MEDIA_SOCKET).  A storage worker links neither: it
 * opens one connection per question, sends one request, reads one answer.
 *
 * The wire format, all integers big-endian:
 *   request  = "PDM1" op:u8 resize:u8 format:u8 0:u8 width:u32 height:u32
 *              quality:u32 max_pixels:u64 len:u32   (MEDIA_REQ_BYTES)
 *              then len bytes of input
 *   answer   = "PDM1" status:i32 mime_len:u32 len:u32   (MEDIA_ANS_BYTES)
 *              then mime_len bytes of type, then len bytes of output
 * status is an enum image_status (0 = IMAGE_OK) or MEDIA_ERR_REFUSED; the
 * type is the sniffed one (op sniff) or the output's (op transform).
 */
#define MEDIA_MAGIC 0x50444d31u   /* "PDM1" */
#define MEDIA_REQ_BYTES 32
#define MEDIA_ANS_BYTES 16
#define MEDIA_MIME_MAX 255             /* the longest type an answer carries */
#define MEDIA_OUT_MAX (256u << 20)     /* the largest output a client accepts */

enum media_op { MEDIA_OP_SNIFF = 1, MEDIA_OP_STRIP = 2, MEDIA_OP_TRANSFORM = 3 };

/* Failures of the service itself, beside enum image_status. */
enum media_status {
    MEDIA_ERR_UNAVAILABLE = -10, /* no answer: nothing listens, or none within the timeout */
    MEDIA_ERR_FAILED = -11,      /* the connection dropped after the request was sent
                                  * (the process serving it died: the input may be why) */
    MEDIA_ERR_REFUSED = -12,     /* the service refused the request (malformed, over its caps) */
};

typedef struct media_req {
    int op;                      /* enum media_op */
    image_transform_t t;         /* MEDIA_OP_TRANSFORM */
    long long max_pixels;        /* strip and transform */
    uint32_t len;                /* input bytes that follow */
} media_req_t;

typedef struct media_ans {
    int status;
    uint32_t mime_len, len;
} media_ans_t;

void media_req_pack(const media_req_t *q, unsigned char out[MEDIA_REQ_BYTES]);
/* false when in is not a request (magic, op, resize or format unknown). */
bool media_req_unpack(const unsigned char in[MEDIA_REQ_BYTES], media_req_t *q);
void media_ans_pack(const media_ans_t *a, unsigned char out[MEDIA_ANS_BYTES]);
/* false when in is not an answer (magic; mime_len over MEDIA_MIME_MAX). */
bool media_ans_unpack(const unsigned char in[MEDIA_ANS_BYTES], media_ans_t *a);

/* Read or write exactly n bytes on fd, retrying short transfers and EINTR;
 * the socket's SO_RCVTIMEO/SO_SNDTIMEO bound each wait.  0 when done, 1
 * when reading met end of file before the first byte, -1 otherwise
 * (errno set; EAGAIN on a timeout, 0 on end of file inside the bytes).
 * Writes never raise SIGPIPE. */
int media_read_full(int fd, void *buf, size_t n);
int media_write_full(int fd, const void *buf, size_t n);

/* Set both socket timeouts of fd to ms milliseconds.  false on failure. */
bool media_set_timeouts(int fd, long ms);

/* The client.  Each call connects to PROMPTD_MEDIA_SOCKET (default
 * <var>/run/media.sock), waiting at most PROMPTD_MEDIA_TIMEOUT_MS (30000)
 * for each step; outputs are allocated in a and live until it is reset.
 * Besides the image statuses each may answer MEDIA_ERR_UNAVAILABLE,
 * MEDIA_ERR_FAILED or MEDIA_ERR_REFUSED (each logged). */

/* sniff_mime (storage/sniff.h) of buf[0..min(n, SNIFF_BYTES)), asked of
 * the service: IMAGE_OK with *mime set (SNIFF_GENERIC for n == 0, without
 * asking), or a media error with *mime NULL. */
int media_sniff(arena_t *a, const void *buf, size_t n, const char **mime);
/* image_strip of in[0..n), asked of the service; *out, *out_len as it. */
int media_strip(arena_t *a, const void *in, size_t n, long max_pixels, void **out,
                size_t *out_len);
/* image_transform of in[0..n) per t, asked of the service; *out, *out_len,
 * *out_mime as it. */
int media_transform(arena_t *a, const void *in, size_t n, const image_transform_t *t,
                    long max_pixels, void **out, size_t *out_len, const char **out_mime);

/* Parse query values (exact, lowercase): "cover"/"contain"/"fill" and
 * "origin"/"webp"; false, *out untouched, when unknown or NULL. */
bool image_resize_parse(const char *s, enum image_resize *out);
bool image_format_parse(const char *s, enum image_format *out);

#endif
