/* sniff.h: what a file is, from its bytes (libmagic, magic.c: promptd-media only), and whether a browser could run it (sniff.c). */
#ifndef PROMPTD_STORAGE_SNIFF_H
#define PROMPTD_STORAGE_SNIFF_H

#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"

#define SNIFF_BYTES 65536   /* how much of the start of a file sniff_mime wants (and reads at most) */
#define SNIFF_GENERIC "application/octet-stream"

/*
 * Types are compared by their essence: "type/subtype", case-insensitive,
 * parameters after ';' and surrounding blanks ignored.  A value that is not
 * type "/" subtype of token characters is malformed; each function says
 * what it answers for one.
 */

/* The MIME type libmagic (MAGIC_MIME_TYPE) finds in buf[0..min(n, SNIFF_BYTES)),
 * lowercased: "image/png", "text/html", "application/pdf" ...  Arena-allocated,
 * or a static string; valid until the arena is reset.  SNIFF_GENERIC when
 * unknown, n == 0 or buf NULL ("application/x-empty" too), and when libmagic
 * cannot be opened (logged once).  One magic_t per process, opened on first use
 * from the system database (magic_load(m, NULL)); not thread-safe. */
const char *sniff_mime(arena_t *a, const void *buf, size_t n);
/* Closes the process's magic_t; the next sniff_mime opens it again.
 * Idempotent, safe before any sniff_mime. */
void sniff_cleanup(void);

/* True for a type a browser would render as a document or run as script when
 * served from our origin: text/html, application/xhtml+xml, any +xml (so
 * image/svg+xml), text/xml, application/xml, text/xsl, every JavaScript MIME
 * type of the WHATWG list (text/javascript, application/javascript,
 * application/x-javascript, text/ecmascript, application/ecmascript, ...),
 * and multipart/x-mixed-replace.  Not active: text/css (navigated to, a
 * browser shows it as text; only a page of ours could apply it, and none
 * links stored objects), application/pdf (rendered by a sandboxed viewer),
 * application/json, images other than SVG.  NULL, empty or malformed: true
 * (what cannot be read is treated as the worst case). */
bool sniff_active(const char *mime);

/* True when mime matches one of allowed[0..n): exact ("image/png") or a
 * wildcard: "image/" then "*" (any image type), or "*" "/" "*" (any type;
 * written apart here only because a C comment cannot hold them together).
 * n == 0: anything is allowed, NULL included.  A NULL or malformed mime, or one
 * matching only malformed entries: false. */
bool sniff_allowed(const char *mime, const char *const *allowed, size_t n);

/* True when the type the client claimed is compatible with the one sniffed.
 * Both are first mapped through an alias table (image/jpg -> image/jpeg,
 * application/x-javascript -> text/javascript, text/xml -> application/xml,
 * application/x-zip-compressed -> application/zip ...); a NULL or malformed
 * sniffed type counts as SNIFF_GENERIC.  In order:
 *  - no claim (NULL or ""), or the claim application/octet-stream: true
 *    (the caller keeps the sniffed type, or serves bytes as bytes);
 *  - a malformed claim, or one with a wildcard: false;
 *  - the same essence: true;
 *  - both textual (any text type, JSON, +json, XML, +xml, JavaScript, YAML,
 *    TOML, NDJSON, SQL, shell): true -- libmagic tells text kinds apart by
 *    heuristics (JavaScript comes back as text/plain, Markdown as
 *    text/plain), so a text body fits any text claim; whether a claimed
 *    active type is then served as such is sniff_active's question;
 *  - containers: sniffed application/zip with a claimed zip-based format
 *    (+zip, OOXML, OpenDocument, JAR, APK) or the other way round, and
 *    sniffed OLE storage (application/x-ole-storage, application/cdfv2)
 *    with a claimed legacy Office type (application/msword,
 *    application/vnd.ms-...): true;
 *  - a signed claim -- an image type, application/pdf, application/zip,
 *    application/gzip, which libmagic knows by their first bytes -- on a
 *    body it did not call that: false;
 *  - sniffed text/plain (text of no kind libmagic knows): true for any
 *    other claim, since many text formats have no signature (m3u8, srt);
 *  - sniffed SNIFF_GENERIC (bytes of no kind libmagic knows): true unless
 *    the claim is active or textual (a body with no text signature is not
 *    HTML, and must not be served as such);
 *  - anything else, e.g. a claimed image/png on an HTML body, or image/jpeg
 *    on a PNG: false. */
bool sniff_claim_compatible(const char *claimed, const char *sniffed);

#endif
