/* multipart.h: a streaming multipart/form-data reader: parts arrive as callbacks, bytes as they are fed. */
#ifndef PROMPTD_STORAGE_MULTIPART_H
#define PROMPTD_STORAGE_MULTIPART_H

#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"

#define MULTIPART_HEADER_MAX 8192   /* bytes of one part's header block, line ends and blank line included */
#define MULTIPART_MAX_PARTS 32      /* parts per body */
#define MULTIPART_MAX_HEADERS 16    /* header lines per part */
#define MULTIPART_BOUNDARY_MAX 70   /* RFC 2046 */

enum multipart_status { MULTIPART_OK = 0, MULTIPART_ERROR = -1, MULTIPART_ABORTED = -2 };

/* Any member may be NULL (that event is then ignored). */
typedef struct multipart_cb {
    /* A part begins.  name: Content-Disposition's name= ("" allowed:
     * storage-js sends the file as name ""); filename: its filename= or
     * NULL; content_type: the part's Content-Type or NULL.  Strings are
     * valid until part_end returns.  false aborts. */
    bool (*part_begin)(void *ctx, const char *name, const char *filename, const char *content_type);
    /* Body bytes of the current part, in order, in pieces of any size
     * (never with the delimiter, never empty).  data points into the fed
     * buffer or into the reader; it is valid only during the call.  false
     * aborts. */
    bool (*part_data)(void *ctx, const char *data, size_t len);
    /* The current part ended (its delimiter was seen).  false aborts. */
    bool (*part_end)(void *ctx);
} multipart_cb_t;

typedef struct multipart multipart_t;

/* The boundary parameter of a Content-Type value ("multipart/form-data;
 * boundary=..."), quoted or not, case-insensitive type and parameter name;
 * NULL when the type is not multipart/form-data, the parameters are
 * malformed, or the boundary is missing, repeated, empty, over 70
 * characters or has characters RFC 2046 forbids (outside its bchars, or a
 * trailing space).  Arena-allocated; NULL content_type gives NULL. */
const char *multipart_boundary(arena_t *a, const char *content_type);

/* A reader for that boundary (without the leading "--"), calling cb with
 * ctx; NULL when the boundary would be refused by multipart_boundary.
 * Everything it allocates comes from a, once, here: about 2 *
 * MULTIPART_HEADER_MAX bytes, whatever the body's size.  cb is copied
 * (NULL: no callbacks). */
multipart_t *multipart_new(arena_t *a, const char *boundary, const multipart_cb_t *cb, void *ctx);

/* Feed the next len bytes of the body (any split, including 1 byte at a
 * time).  MULTIPART_OK, MULTIPART_ERROR (malformed: multipart_error says
 * why; the reader stays in error), MULTIPART_ABORTED (a callback returned
 * false; the reader stays aborted).  The delimiter is "\r\n--boundary" (or
 * "--boundary" at the very start); per RFC 2046 what follows it on its
 * line must be "--" (the close delimiter) or optional spaces and tabs and
 * CRLF (bare LF accepted), else the body is malformed. */
int multipart_feed(multipart_t *m, const char *data, size_t len);

/* End of the body: MULTIPART_OK only when the closing delimiter
 * ("--boundary--") was seen; otherwise MULTIPART_ERROR ("truncated"), or
 * the error or abort the reader is already in.  Bytes after the close
 * delimiter (epilogue) and before the first delimiter (preamble) are
 * ignored.  A body of only the close delimiter (no parts) is OK. */
int multipart_finish(multipart_t *m);

/* Why the reader failed: static text such as "part header too long";
 * NULL while it has not failed. */
const char *multipart_error(const multipart_t *m);

#endif
