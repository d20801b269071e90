/* sniff.c: whether a type a file was given or found to have fits what was claimed and allowed, and whether a browser could run it. */
#include "storage/sniff.h"

#include <stdio.h>
#include <string.h>

#define ESSENCE_MAX 256   /* RFC 6838: type and subtype of up to 127 characters each */
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* The JavaScript MIME types of the WHATWG MIME Sniffing standard. */
static const char *const sniff_js[] = {
    "application/ecmascript", "application/javascript", "application/x-ecmascript",
    "application/x-javascript", "text/ecmascript", "text/javascript",
    "text/javascript1.0", "text/javascript1.1", "text/javascript1.2",
    "text/javascript1.3", "text/javascript1.4", "text/javascript1.5",
    "text/jscript", "text/livescript", "text/x-ecmascript", "text/x-javascript",
};

/* Active beyond the JavaScript types and any +xml. */
static const char *const sniff_active_types[] = {
    "text/html", "text/xml", "application/xml", "text/xsl", "multipart/x-mixed-replace",
};

/* Textual beyond any text type, +json and +xml. */
static const char *const sniff_textual_types[] = {
    "application/json", "application/xml", "application/x-ndjson", "application/yaml",
    "application/x-yaml", "application/toml", "application/sql", "application/x-sh",
    "application/x-shellscript", "application/graphql",
};

/* Other names clients (or libmagic) use -> the one compared; JavaScript
 * types all become text/javascript apart from this table. */
static const struct { const char *alias, *canonical; } sniff_aliases[] = {
    {"image/jpg", "image/jpeg"},       {"image/pjpeg", "image/jpeg"},
    {"image/x-png", "image/png"},      {"image/x-ms-bmp", "image/bmp"},
    {"image/x-bmp", "image/bmp"},      {"image/x-icon", "image/vnd.microsoft.icon"},
    {"text/xml", "application/xml"},   {"application/x-pdf", "application/pdf"},
    {"application/x-zip-compressed", "application/zip"},
    {"application/x-zip", "application/zip"},
    {"application/x-gzip", "application/gzip"},
    {"audio/mp3", "audio/mpeg"},       {"audio/x-wav", "audio/wav"},
    {"audio/wave", "audio/wav"},       {"audio/x-flac", "audio/flac"},
};

static bool sniff_in(const char *e, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(e, list[i]) == 0)
            return true;
    return false;
}

static bool sniff_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);

    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static bool sniff_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* The essence of mime into out, lowercased ("type/subtype", no parameters
 * or blanks), and *sub at its subtype.  False when mime is NULL or not
 * type "/" subtype of RFC 9110 token characters. */
static bool sniff_essence(const char *mime, char out[ESSENCE_MAX], const char **sub)
{
    const char *p = mime;
    size_t i = 0, slash = 0;

    if (p == NULL)
        return false;
    while (*p == ' ' || *p == '\t')
        p++;
    for (; *p != '\0' && *p != ';' && *p != ' ' && *p != '\t'; p++) {
        unsigned char c = (unsigned char)*p;

        if (c == '/' && slash == 0 && i > 0)
            slash = i;
        else if (!sniff_tchar(c))
            return false;
        if (i + 1 >= ESSENCE_MAX)
            return false;
        out[i++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    while (*p == ' ' || *p == '\t')
        p++;
    if ((*p != '\0' && *p != ';') || slash == 0 || slash + 1 == i)
        return false;
    out[i] = '\0';
    *sub = out + slash + 1;
    return true;
}

/* e, an essence, renamed in place to its canonical name; its subtype. */
static const char *sniff_canonical(char e[ESSENCE_MAX])
{
    if (sniff_in(e, sniff_js, COUNT(sniff_js)))
        snprintf(e, ESSENCE_MAX, "%s", "text/javascript");
    for (size_t i = 0; i < COUNT(sniff_aliases); i++)
        if (strcmp(e, sniff_aliases[i].alias) == 0) {
            snprintf(e, ESSENCE_MAX, "%s", sniff_aliases[i].canonical);
            break;
        }
    return strchr(e, '/') + 1;
}

bool sniff_active(const char *mime)
{
    char e[ESSENCE_MAX];
    const char *sub;

    if (!sniff_essence(mime, e, &sub))
        return true;
    return sniff_in(e, sniff_active_types, COUNT(sniff_active_types)) ||
           sniff_in(e, sniff_js, COUNT(sniff_js)) || sniff_suffix(sub, "+xml");
}

bool sniff_allowed(const char *mime, const char *const *allowed, size_t n)
{
    char e[ESSENCE_MAX], p[ESSENCE_MAX];
    const char *sub, *psub;

    if (n == 0)
        return true;
    if (allowed == NULL || !sniff_essence(mime, e, &sub) || strchr(e, '*') != NULL)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!sniff_essence(allowed[i], p, &psub))
            continue;
        if (strcmp(p, e) == 0 || strcmp(p, "*/*") == 0)
            return true;
        if (strcmp(psub, "*") == 0 && psub - p == sub - e &&
            memcmp(p, e, (size_t)(sub - e)) == 0)
            return true;
    }
    return false;
}

static bool sniff_textual(const char *e, const char *sub)
{
    return strncmp(e, "text/", 5) == 0 || sniff_suffix(sub, "+json") ||
           sniff_suffix(sub, "+xml") ||
           sniff_in(e, sniff_textual_types, COUNT(sniff_textual_types));
}

/* Types libmagic knows by their first bytes: a body it did not call one is not one. */
static bool sniff_signed(const char *e)
{
    return strncmp(e, "image/", 6) == 0 || strcmp(e, "application/pdf") == 0 ||
           strcmp(e, "application/zip") == 0 || strcmp(e, "application/gzip") == 0;
}

static bool sniff_zip_based(const char *e, const char *sub)
{
    return sniff_suffix(sub, "+zip") ||
           strncmp(e, "application/vnd.openxmlformats-officedocument.", 46) == 0 ||
           strncmp(e, "application/vnd.oasis.opendocument.", 35) == 0 ||
           strcmp(e, "application/java-archive") == 0 ||
           strcmp(e, "application/vnd.android.package-archive") == 0;
}

/* The container rules: zip and its formats, OLE storage and legacy Office. */
static bool sniff_container(const char *c, const char *csub, const char *s, const char *ssub)
{
    if (strcmp(s, "application/zip") == 0)
        return sniff_zip_based(c, csub);
    if (strcmp(c, "application/zip") == 0)
        return sniff_zip_based(s, ssub);
    if (strcmp(s, "application/x-ole-storage") == 0 || strcmp(s, "application/cdfv2") == 0)
        return strcmp(c, "application/msword") == 0 ||
               strncmp(c, "application/vnd.ms-", 19) == 0;
    return false;
}

bool sniff_claim_compatible(const char *claimed, const char *sniffed)
{
    char c[ESSENCE_MAX], s[ESSENCE_MAX];
    const char *csub, *ssub;

    if (claimed == NULL || *claimed == '\0')
        return true;
    if (!sniff_essence(claimed, c, &csub) || strchr(c, '*') != NULL)
        return false;
    if (strcmp(c, SNIFF_GENERIC) == 0)
        return true;
    if (!sniff_essence(sniffed, s, &ssub))
        sniff_essence(SNIFF_GENERIC, s, &ssub);
    csub = sniff_canonical(c);
    ssub = sniff_canonical(s);
    if (strcmp(c, s) == 0 || (sniff_textual(c, csub) && sniff_textual(s, ssub)) ||
        sniff_container(c, csub, s, ssub))
        return true;
    if (strcmp(s, "text/plain") == 0)
        return !sniff_signed(c);
    if (strcmp(s, SNIFF_GENERIC) == 0)
        return !sniff_signed(c) && !sniff_active(c) && !sniff_textual(c, csub);
    return false;
}
