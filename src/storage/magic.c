/* magic.c: what a file is, from its first bytes, by libmagic (promptd-media's; a worker asks it through storage/media.h). */
#include "storage/sniff.h"

#include <errno.h>
#include <string.h>

#include <magic.h>

#include "core/log.h"

static magic_t sniff_cookie;   /* the process's one libmagic handle; NULL until first use */
static bool sniff_failed;      /* opening failed (logged); not retried until sniff_cleanup */

static bool sniff_open(void)
{
    const char *why;

    if (sniff_cookie != NULL)
        return true;
    if (sniff_failed)
        return false;
    if ((sniff_cookie = magic_open(MAGIC_MIME_TYPE)) == NULL) {
        log_error("%s: magic_open: %s", __func__, strerror(errno));
    } else if (magic_load(sniff_cookie, NULL) != 0) {
        why = magic_error(sniff_cookie);
        log_error("%s: magic_load: %s", __func__, why ? why : "unknown error");
        magic_close(sniff_cookie);
        sniff_cookie = NULL;
    }
    sniff_failed = sniff_cookie == NULL;
    return !sniff_failed;
}

const char *sniff_mime(arena_t *a, const void *buf, size_t n)
{
    const char *m, *why;
    char *copy;

    if (buf == NULL || n == 0 || !sniff_open())
        return SNIFF_GENERIC;
    m = magic_buffer(sniff_cookie, buf, n < SNIFF_BYTES ? n : SNIFF_BYTES);
    if (m == NULL) {
        why = magic_error(sniff_cookie);
        log_warn("%s: magic_buffer: %s", __func__, why ? why : "unknown error");
        return SNIFF_GENERIC;
    }
    if (strchr(m, '/') == NULL || strcmp(m, "application/x-empty") == 0)
        return SNIFF_GENERIC;
    copy = arena_strdup(a, m);
    for (char *p = copy; *p != '\0'; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return copy;
}

void sniff_cleanup(void)
{
    if (sniff_cookie != NULL)
        magic_close(sniff_cookie);
    sniff_cookie = NULL;
    sniff_failed = false;
}
