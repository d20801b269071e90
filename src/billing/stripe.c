/* stripe.c: the Stripe API client (form-encoded requests over libcurl, Idempotency-Key, pinned version, retries) and its settings. */
#include "billing/stripe.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/clock.h"
#include "core/config.h"
#include "core/json.h"
#include "crypto/hash.h"
#include "net/outbound.h"

static stripe_settings_t settings;
static bool settings_loaded;

bool stripe_settings_load(void)
{
    bool ok = true;
    const char *base = config_env("PROMPTD_STRIPE_API_BASE");

    settings.secret_key = config_secret("PROMPTD_STRIPE_SECRET_KEY", "stripe_secret_key");
    settings.webhook_secrets = config_secret("PROMPTD_STRIPE_WEBHOOK_SECRET",
                                             "stripe_webhook_secret");
    settings.api_base = base ? base : STRIPE_API_BASE;
    ok &= config_env_int("PROMPTD_STRIPE_WEBHOOK_TOLERANCE", STRIPE_TOLERANCE_DEFAULT,
                         1, 86400, &settings.tolerance_s);
    ok &= config_env_int("PROMPTD_BILLING_GRACE", STRIPE_GRACE_DEFAULT, 0,
                         366L * 86400, &settings.grace_s);
    settings_loaded = true;
    return ok;
}

const stripe_settings_t *stripe_settings(void)
{
    if (!settings_loaded)
        stripe_settings_load();
    return &settings;
}

/* RFC 3986 unreserved stay; brackets stay in keys (Stripe's nesting);
 * everything else is %XX. */
static char *form_escape(arena_t *a, const char *s, bool key)
{
    char *out = arena_alloc(a, strlen(s) * 3 + 1), *o = out;

    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || strchr("-._~", *p) || (key && (*p == '[' || *p == ']')))
            *o++ = (char)*p;
        else
            o += sprintf(o, "%%%02X", *p);
    }
    *o = '\0';
    return out;
}

void stripe_form_add(stripe_form_t *f, const char *key, const char *value)
{
    if (value == NULL)
        return;
    f->text = arena_printf(f->a, "%s%s%s=%s", f->text ? f->text : "",
                           f->text && *f->text ? "&" : "",
                           form_escape(f->a, key, true), form_escape(f->a, value, false));
}

static void curl_cleanup(void *p)
{
    curl_easy_cleanup(p);
}

static void slist_cleanup(void *p)
{
    curl_slist_free_all(p);
}

/* One attempt; fills out->status (0 on a transport failure), json, error. */
static void stripe_attempt(arena_t *a, const char *method, const char *url,
                           const char *form, struct curl_slist *h, stripe_reply_t *out)
{
    CURL *c = curl_easy_init();
    outbound_opts_t o = {.origin = OUTBOUND_OPERATOR_URL, .timeout_ms = 20000,
                         .connect_timeout_ms = 5000, .user_agent = "promptd-billing/1"};
    outbound_t *ob;
    const char *why = NULL;
    CURLcode rc;
    size_t len;
    const char *body;

    out->status = 0;
    out->json = NULL;
    if (c == NULL) {
        out->error = "curl_easy_init failed";
        return;
    }
    arena_cleanup_add(a, curl_cleanup, c);
    if ((ob = outbound_prepare(a, c, url, &o, &why)) == NULL) {
        out->error = why;
        return;
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, form ? form : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)(form ? strlen(form) : 0));
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    if ((rc = curl_easy_perform(c)) != CURLE_OK) {
        out->error = outbound_error(ob, rc);
        return;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    body = outbound_body(ob, &len);
    out->json = json_own(a, cJSON_ParseWithLength(body, len));
}

/* Stripe's error object {error: {type, code, message}} into out. */
static void stripe_error_read(stripe_reply_t *out)
{
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(out->json, "error");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(e, "type");

    out->error = cJSON_IsString(m) ? m->valuestring : "Stripe answered without an error message";
    out->error_code = cJSON_IsString(code) ? code->valuestring
                      : cJSON_IsString(type) ? type->valuestring : NULL;
}

bool stripe_call(arena_t *a, const char *method, const char *path,
                 const char *form, const char *idem_key, stripe_reply_t *out)
{
    const stripe_settings_t *s = stripe_settings();
    struct curl_slist *h = NULL;
    bool post = strcmp(method, "POST") == 0;
    const char *url;

    memset(out, 0, sizeof *out);
    if (s->secret_key == NULL) {
        out->error = "billing is not configured";
        return false;
    }
    url = arena_printf(a, "%s%s%s%s", s->api_base, path,
                       !post && form && *form ? "?" : "", !post && form ? form : "");
    h = curl_slist_append(h, arena_printf(a, "Authorization: Bearer %s", s->secret_key));
    h = curl_slist_append(h, "Stripe-Version: " STRIPE_API_VERSION);
    h = curl_slist_append(h, "Accept: application/json");
    h = curl_slist_append(h, "Expect:");
    if (post) {
        h = curl_slist_append(h, "Content-Type: application/x-www-form-urlencoded");
        h = curl_slist_append(h, arena_printf(a, "Idempotency-Key: %s", idem_key));
    }
    arena_cleanup_add(a, slist_cleanup, h);
    for (out->attempts = 1; ; out->attempts++) {
        stripe_attempt(a, method, url, post ? form : NULL, h, out);
        if (out->status != 0 && out->status != 409 && out->status != 429 && out->status < 500)
            break;   /* 409: the same key's first request is still running */
        if (out->attempts >= (out->status == 409 ? STRIPE_CONFLICT_ATTEMPTS : STRIPE_ATTEMPTS))
            break;
        clock_sleep_ms(clock_backoff_ms(200, 2000, out->attempts));
    }
    if (out->status >= 200 && out->status < 300 && cJSON_IsObject(out->json))
        return true;
    if (out->status != 0)
        stripe_error_read(out);
    return false;
}

bool stripe_subscription_cancel(arena_t *a, const char *id, const char **why)
{
    stripe_reply_t sr;
    char *path = arena_printf(a, "/v1/subscriptions/%s", id);

    if (*id == '\0' || strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                   "0123456789_") != strlen(id)) {
        *why = "not a Stripe subscription id";
        return false;
    }
    if (stripe_call(a, "DELETE", path, NULL, NULL, &sr) ||
        (sr.status == 404 && sr.error_code && strcmp(sr.error_code, "resource_missing") == 0))
        return true;
    *why = arena_printf(a, "status %ld after %d attempt(s): %s", sr.status, sr.attempts,
                        sr.error ? sr.error : "?");
    return false;
}

/* The next "key=value" item of a Stripe-Signature header: *k, *klen,
 * *v, *vlen; returns the rest, or NULL at the end. */
static const char *sig_item(const char *p, const char **k, size_t *klen,
                            const char **v, size_t *vlen)
{
    const char *end, *eq;

    p += strspn(p, " \t,");
    if (*p == '\0')
        return NULL;
    end = p + strcspn(p, ",");
    eq = memchr(p, '=', (size_t)(end - p));
    *k = p;
    *klen = eq ? (size_t)(eq - p) : (size_t)(end - p);
    *v = eq ? eq + 1 : end;
    *vlen = (size_t)(end - *v);
    return end;
}

/* Does hex (64 digits) equal HMAC-SHA256(secret, signed) where signed is
 * "t." + the body?  Constant time in the compare. */
static bool sig_match(const char *secret, size_t slen, const unsigned char *signed_,
                      size_t n, const char *hex)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char want[HASH_SHA256_HEX];

    if (HMAC(EVP_sha256(), secret, (int)slen, signed_, n, md, &mdlen) == NULL ||
        mdlen != HASH_SHA256_LEN)
        return false;
    hash_hex(md, mdlen, want);
    return CRYPTO_memcmp(want, hex, 2 * HASH_SHA256_LEN) == 0;
}

/* Any of the secrets (comma-separated) against any v1 of header. */
static bool sig_any(const char *header, const char *secrets, const char *t,
                    size_t tlen, const char *body, size_t len)
{
    const char *k, *v, *p, *sp = secrets;
    size_t klen, vlen, n = tlen + 1 + len;
    unsigned char *signed_ = malloc(n + 1);
    bool ok = false;

    if (signed_ == NULL)
        abort();
    memcpy(signed_, t, tlen);
    signed_[tlen] = '.';
    memcpy(signed_ + tlen + 1, body, len);

    while (*sp) {
        size_t slen;

        sp += strspn(sp, " \t,");
        slen = strcspn(sp, ",");
        while (slen > 0 && (sp[slen - 1] == ' ' || sp[slen - 1] == '\t'))
            slen--;
        for (p = header; slen > 0 && (p = sig_item(p, &k, &klen, &v, &vlen)) != NULL; )
            if (klen == 2 && memcmp(k, "v1", 2) == 0 && vlen == 2 * HASH_SHA256_LEN &&
                strspn(v, "0123456789abcdef") >= vlen)
                ok |= sig_match(sp, slen, signed_, n, v);
        sp += strcspn(sp, ",");
    }
    OPENSSL_cleanse(signed_, n);
    free(signed_);
    return ok;
}

bool stripe_signature_ok(const char *header, const char *body, size_t len,
                         const char *secrets, long tolerance_s, long long now,
                         const char **why)
{
    const char *k, *v, *p = header, *t = NULL;
    size_t klen, vlen, tlen = 0;
    long long ts = 0;

    while ((p = sig_item(p, &k, &klen, &v, &vlen)) != NULL)
        if (klen == 1 && *k == 't' && t == NULL) {
            t = v;
            tlen = vlen;
        }
    if (t == NULL || tlen == 0 || tlen > 12 || strspn(t, "0123456789") < tlen) {
        *why = "the Stripe-Signature header has no timestamp (t=)";
        return false;
    }
    for (size_t i = 0; i < tlen; i++)
        ts = ts * 10 + (t[i] - '0');
    if (!sig_any(header, secrets, t, tlen, body, len)) {
        *why = "no v1 signature matches the body";
        return false;
    }
    if (ts < now - tolerance_s || ts > now + tolerance_s) {
        *why = "the signature's timestamp is outside the tolerance";
        return false;
    }
    return true;
}
