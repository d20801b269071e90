/* multipart.c: a streaming multipart/form-data reader (RFC 7578, RFC 2046): a delimiter matcher over the fed bytes, each part's headers in a fixed buffer. */
#include "storage/multipart.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

enum mp_state {
    MP_PREAMBLE,    /* before the first delimiter: bytes dropped */
    MP_BODY,        /* a part's body: bytes to part_data */
    MP_DELIM_LINE,  /* the rest of a delimiter's line */
    MP_HEADERS,     /* a part's header block */
    MP_EPILOGUE,    /* after the close delimiter: bytes dropped */
};

enum mp_line { LINE_START, LINE_DASH, LINE_PAD, LINE_CR };

struct multipart {
    multipart_cb_t cb;
    void *ctx;
    int status;                 /* MULTIPART_*; once not OK it stays */
    const char *why;            /* static text, set with the failure */
    enum mp_state state;
    enum mp_line line_state;    /* in MP_DELIM_LINE: what was seen */
    /* "\r\n--" boundary.  The lookahead held back from part_data is
     * always delim[0, matched), so it needs no buffer of its own. */
    char delim[MULTIPART_BOUNDARY_MAX + 5];
    size_t dlen;
    size_t matched;
    int nparts;
    /* The current part's headers. */
    size_t htotal;              /* bytes of its header block so far */
    int nheaders;
    size_t llen;
    char line[MULTIPART_HEADER_MAX + 1];    /* the line being read */
    /* name, filename and content type, each NUL-terminated: their sum
     * is below htotal (each needs at least "name=" or "Content-Type:"
     * around it), so MULTIPART_HEADER_MAX + 1 bytes always hold them. */
    char values[MULTIPART_HEADER_MAX + 1];
    size_t vlen;
    const char *name, *filename, *content_type;    /* into values, or NULL */
    bool disposition;           /* Content-Disposition: form-data seen */
};

enum param_result { PARAM_END, PARAM_NEXT, PARAM_BAD };

/* ---- Header values: tokens, quoted strings, "; attr=value" lists ---- */

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* Bytes of the token at p: RFC 7230 tchars, and bytes above 0x7f. */
static size_t token_len(const char *p)
{
    size_t n = 0;

    for (; (unsigned char)p[n] > 0x20 && p[n] != 0x7f; n++)
        if (strchr("\"(),/:;<=>?@[\\]{}", p[n]) != NULL)
            break;
    return n;
}

/* Appends c to out (outsz >= 1 bytes) unless full; counts it anyway. */
static void out_put(char *out, size_t outsz, size_t *n, char c)
{
    if (*n + 1 < outsz)
        out[*n] = c;
    (*n)++;
}

/* The quoted string at p (at its '"') decoded into out, NUL-terminated
 * and cut to outsz - 1 bytes, its full length in *vlen; past the closing
 * quote, or NULL when there is none.  A backslash escapes only '"' and
 * '\\' and is kept before anything else: browsers and undici send file
 * names with their backslashes as they are (and '"' as %22). */
static const char *quoted_value(const char *p, char *out, size_t outsz, size_t *vlen)
{
    size_t n = 0;

    for (p++; *p != '"'; p++) {
        if (*p == '\0')
            return NULL;
        if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
            p++;
        out_put(out, outsz, &n, *p);
    }
    out[n < outsz ? n : outsz - 1] = '\0';
    *vlen = n;
    return p + 1;
}

/* Like quoted_value for a token (at least one byte); NULL when empty. */
static const char *token_value(const char *p, char *out, size_t outsz, size_t *vlen)
{
    size_t n = token_len(p), i, got = 0;

    if (n == 0)
        return NULL;
    for (i = 0; i < n; i++)
        out_put(out, outsz, &got, p[i]);
    out[n < outsz ? n : outsz - 1] = '\0';
    *vlen = n;
    return p + n;
}

/* The next "; attr=value" of a header value at *pp (the value a token or
 * a quoted string; spaces and tabs around ';' and '=' allowed): the
 * attribute at *attr (*alen bytes, not terminated), the value decoded
 * into out as quoted_value does; *pp moves past it.  PARAM_END at the end
 * of the text (after a trailing ';' too), PARAM_BAD when malformed. */
static enum param_result param_next(const char **pp, const char **attr, size_t *alen,
                                    char *out, size_t outsz, size_t *vlen)
{
    const char *p = skip_ws(*pp);

    if (*p == '\0')
        return PARAM_END;
    if (*p != ';')
        return PARAM_BAD;
    p = skip_ws(p + 1);
    if (*p == '\0')
        return PARAM_END;
    *attr = p;
    if ((*alen = token_len(p)) == 0)
        return PARAM_BAD;
    p = skip_ws(p + *alen);
    if (*p != '=')
        return PARAM_BAD;
    p = skip_ws(p + 1);
    p = *p == '"' ? quoted_value(p, out, outsz, vlen) : token_value(p, out, outsz, vlen);
    if (p == NULL)
        return PARAM_BAD;
    *pp = p;
    return PARAM_NEXT;
}

static bool attr_is(const char *attr, size_t alen, const char *name)
{
    return alen == strlen(name) && strncasecmp(attr, name, alen) == 0;
}

/* RFC 2046: 1..70 bchars, the last not a space. */
static bool boundary_valid(const char *b)
{
    static const char bchars[] = "0123456789abcdefghijklmnopqrstuvwxyz"
                                 "ABCDEFGHIJKLMNOPQRSTUVWXYZ'()+_,-./:=? ";
    size_t n = strlen(b);

    return n >= 1 && n <= MULTIPART_BOUNDARY_MAX && strspn(b, bchars) == n &&
           b[n - 1] != ' ';
}

const char *multipart_boundary(arena_t *a, const char *content_type)
{
    static const char type[] = "multipart/form-data";
    char value[MULTIPART_BOUNDARY_MAX + 1], boundary[MULTIPART_BOUNDARY_MAX + 1];
    const char *p, *attr;
    size_t alen, vlen;
    enum param_result r;
    bool seen = false;

    if (content_type == NULL)
        return NULL;
    p = skip_ws(content_type);
    if (strncasecmp(p, type, sizeof type - 1) != 0 || token_len(p + sizeof type - 1) != 0)
        return NULL;
    p += sizeof type - 1;
    while ((r = param_next(&p, &attr, &alen, value, sizeof value, &vlen)) == PARAM_NEXT) {
        if (!attr_is(attr, alen, "boundary"))
            continue;
        if (seen || vlen > MULTIPART_BOUNDARY_MAX)
            return NULL;
        memcpy(boundary, value, vlen + 1);
        seen = true;
    }
    if (r == PARAM_BAD || !seen || !boundary_valid(boundary))
        return NULL;
    return arena_strdup(a, boundary);
}

/* ---- The reader ---- */

/* The body is malformed; returns false for the caller to pass on. */
static bool mp_fail(multipart_t *m, const char *why)
{
    if (m->status == MULTIPART_OK) {
        m->status = MULTIPART_ERROR;
        m->why = why;
    }
    return false;
}

/* A callback said no; returns false for the caller to pass on. */
static bool mp_abort(multipart_t *m)
{
    if (m->status == MULTIPART_OK) {
        m->status = MULTIPART_ABORTED;
        m->why = "aborted by a callback";
    }
    return false;
}

multipart_t *multipart_new(arena_t *a, const char *boundary, const multipart_cb_t *cb, void *ctx)
{
    multipart_t *m;

    if (boundary == NULL || !boundary_valid(boundary))
        return NULL;
    m = arena_zalloc(a, sizeof *m);
    if (cb != NULL)
        m->cb = *cb;
    m->ctx = ctx;
    m->status = MULTIPART_OK;
    m->state = MP_PREAMBLE;
    m->dlen = (size_t)snprintf(m->delim, sizeof m->delim, "\r\n--%s", boundary);
    /* The body's start counts as a line start: "--boundary" may open it. */
    m->matched = 2;
    return m;
}

/* n bytes of the current part to part_data (none in the preamble); false
 * once aborted. */
static bool emit(multipart_t *m, const char *p, size_t n)
{
    if (m->state != MP_BODY || n == 0 || m->cb.part_data == NULL)
        return true;
    return m->cb.part_data(m->ctx, p, n) || mp_abort(m);
}

static void delimiter_seen(multipart_t *m)
{
    bool in_part = m->state == MP_BODY;

    m->matched = 0;
    m->state = MP_DELIM_LINE;
    m->line_state = LINE_START;
    if (in_part && m->cb.part_end != NULL && !m->cb.part_end(m->ctx))
        mp_abort(m);
}

/* Preamble or body bytes of data, up to and including a delimiter: the
 * bytes consumed.  What precedes a delimiter or a partial match at the
 * end goes to part_data in one piece; of a partial match, carried bytes
 * came from earlier feeds (delim's prefix), the rest are data's last.  A
 * byte that breaks a match releases it as data and is looked at again:
 * delim has '\r' only first, so no other match can start inside it. */
static size_t scan_body(multipart_t *m, const char *data, size_t len)
{
    size_t i = 0, carried = m->matched;

    while (i < len) {
        if (m->matched == 0) {
            const char *cr = memchr(data + i, '\r', len - i);

            if (cr == NULL)
                break;
            i = (size_t)(cr - data) + 1;
            m->matched = 1;
        } else if (data[i] == m->delim[m->matched]) {
            i++;
            if (++m->matched == m->dlen) {
                if (emit(m, data, i - (m->dlen - carried)))
                    delimiter_seen(m);
                return i;
            }
        } else {
            if (carried > 0 && !emit(m, m->delim, carried))
                return len;
            carried = 0;
            m->matched = 0;
        }
    }
    emit(m, data, len - (m->matched - carried));
    return len;
}

/* A delimiter's line ended: the next part's headers follow. */
static bool part_new(multipart_t *m)
{
    if (m->nparts == MULTIPART_MAX_PARTS)
        return mp_fail(m, "too many parts");
    m->nparts++;
    m->state = MP_HEADERS;
    m->htotal = m->llen = m->vlen = 0;
    m->nheaders = 0;
    m->name = m->filename = m->content_type = NULL;
    m->disposition = false;
    return true;
}

/* The rest of a delimiter's line: "--" closes the body; optional spaces
 * and tabs then CRLF (or LF) start a part; anything else is malformed.
 * The bytes consumed. */
static size_t delim_line(multipart_t *m, const char *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = data[i];
        bool ok = true;

        if (m->line_state == LINE_DASH) {
            if ((ok = c == '-'))
                m->state = MP_EPILOGUE;
        } else if (m->line_state == LINE_CR) {
            if ((ok = c == '\n'))
                part_new(m);
        } else if (m->line_state == LINE_START && c == '-') {
            m->line_state = LINE_DASH;
        } else if (c == ' ' || c == '\t') {
            m->line_state = LINE_PAD;
        } else if (c == '\r') {
            m->line_state = LINE_CR;
        } else if (c == '\n') {
            part_new(m);
        } else {
            ok = false;
        }
        if (!ok) {
            mp_fail(m, "malformed delimiter line");
            return len;
        }
        if (m->state != MP_DELIM_LINE || m->status != MULTIPART_OK)
            return i + 1;
    }
    return len;
}

/* Content-Disposition's value p: "form-data" and its name= (required)
 * and filename= into the part's values; filename* and others ignored. */
static bool disposition(multipart_t *m, const char *p)
{
    const char *attr;
    size_t alen, vl, room;
    enum param_result r;
    char *out;

    if (m->disposition)
        return mp_fail(m, "repeated Content-Disposition");
    if (token_len(p) != 9 || strncasecmp(p, "form-data", 9) != 0)
        return mp_fail(m, "part is not form-data");
    p += 9;
    for (;;) {
        const char **slot = NULL;

        out = m->values + m->vlen;
        room = sizeof m->values - m->vlen;
        if ((r = param_next(&p, &attr, &alen, out, room, &vl)) != PARAM_NEXT)
            break;
        if (attr_is(attr, alen, "name"))
            slot = &m->name;
        else if (attr_is(attr, alen, "filename"))
            slot = &m->filename;
        if (slot == NULL)
            continue;
        if (*slot != NULL)
            return mp_fail(m, "repeated Content-Disposition parameter");
        if (vl >= room)
            return mp_fail(m, "part header too long");   /* cannot happen: see values */
        *slot = out;
        m->vlen += vl + 1;
    }
    if (r == PARAM_BAD)
        return mp_fail(m, "malformed Content-Disposition");
    if (m->name == NULL)
        return mp_fail(m, "Content-Disposition without name");
    m->disposition = true;
    return true;
}

static bool content_type(multipart_t *m, const char *p)
{
    size_t n = strlen(p);

    if (m->content_type != NULL)
        return mp_fail(m, "repeated Content-Type");
    if (n >= sizeof m->values - m->vlen)
        return mp_fail(m, "part header too long");   /* cannot happen: see values */
    memcpy(m->values + m->vlen, p, n + 1);
    m->content_type = m->values + m->vlen;
    m->vlen += n + 1;
    return true;
}

/* The headers ended: the part begins, if it said it is form-data. */
static bool part_begin(multipart_t *m)
{
    if (!m->disposition)
        return mp_fail(m, "part without Content-Disposition: form-data");
    m->state = MP_BODY;
    m->matched = 0;
    return m->cb.part_begin == NULL ||
           m->cb.part_begin(m->ctx, m->name, m->filename, m->content_type) || mp_abort(m);
}

/* One header line of n bytes, its line end removed and NUL-terminated
 * (line is mutable: the value's trailing blanks are cut in place). */
static bool header_line(multipart_t *m, char *line, size_t n)
{
    size_t nlen, i;
    char *value;

    if (n == 0)
        return part_begin(m);
    if (++m->nheaders > MULTIPART_MAX_HEADERS)
        return mp_fail(m, "too many part headers");
    for (i = 0; i < n; i++)
        if (((unsigned char)line[i] < 0x20 && line[i] != '\t') || line[i] == 0x7f)
            return mp_fail(m, "control character in part header");
    /* a line starting with a blank (obsolete folding) has no name either */
    nlen = token_len(line);
    if (nlen == 0 || line[nlen] != ':')
        return mp_fail(m, "malformed part header");
    value = (char *)skip_ws(line + nlen + 1);
    for (i = strlen(value); i > 0 && (value[i - 1] == ' ' || value[i - 1] == '\t'); i--)
        value[i - 1] = '\0';
    if (attr_is(line, nlen, "Content-Disposition"))
        return disposition(m, value);
    if (attr_is(line, nlen, "Content-Type"))
        return content_type(m, value);
    return true;
}

/* Header bytes of data, up to and including one line end: the bytes
 * consumed.  The block (line ends included) may take MULTIPART_HEADER_MAX
 * bytes, so line always has room. */
static size_t headers_feed(multipart_t *m, const char *data, size_t len)
{
    const char *nl = memchr(data, '\n', len);
    size_t n = nl != NULL ? (size_t)(nl - data) + 1 : len, ll;

    if (n > MULTIPART_HEADER_MAX - m->htotal) {
        mp_fail(m, "part header too long");
        return len;
    }
    memcpy(m->line + m->llen, data, n);
    m->llen += n;
    m->htotal += n;
    if (nl != NULL) {
        ll = m->llen - 1;
        if (ll > 0 && m->line[ll - 1] == '\r')
            ll--;
        m->line[ll] = '\0';
        m->llen = 0;
        header_line(m, m->line, ll);
    }
    return n;
}

int multipart_feed(multipart_t *m, const char *data, size_t len)
{
    size_t i = 0;

    while (m->status == MULTIPART_OK && i < len) {
        switch (m->state) {
        case MP_PREAMBLE:
        case MP_BODY:
            i += scan_body(m, data + i, len - i);
            break;
        case MP_DELIM_LINE:
            i += delim_line(m, data + i, len - i);
            break;
        case MP_HEADERS:
            i += headers_feed(m, data + i, len - i);
            break;
        case MP_EPILOGUE:
            i = len;
            break;
        }
    }
    return m->status;
}

int multipart_finish(multipart_t *m)
{
    if (m->status == MULTIPART_OK && m->state != MP_EPILOGUE)
        mp_fail(m, "truncated");
    return m->status;
}

const char *multipart_error(const multipart_t *m)
{
    return m->status == MULTIPART_OK ? NULL : m->why;
}
