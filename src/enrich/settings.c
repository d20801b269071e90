/* settings.c: the enrichment configuration (PROMPTD_ENRICH_*, provider URLs, keys, prices). */
#include "enrich/settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "enrich/engine.h"

static enrich_settings_t settings_current;
static int settings_state;   /* 0 unread, 1 good, -1 bad */

/* Built-in prices (USD per 1M tokens in/out); PROMPTD_ENRICH_PRICES entries
 * are consulted first. */
static const price_t settings_default_prices[] = {
    {"gpt-4o-mini", 0.15, 0.60},
    {"gpt-4o", 2.50, 10.00},
    {"gpt-4.1-mini", 0.40, 1.60},
    {"gpt-4.1", 2.00, 8.00},
    {"claude-3-5-haiku", 0.80, 4.00},
    {"claude-3-5-sonnet", 3.00, 15.00},
    {"claude-3-7-sonnet", 3.00, 15.00},
    {"claude-sonnet-4", 3.00, 15.00},
};

static const char *settings_env(const char *name)
{
    const char *v = getenv(name);

    return v != NULL && *v != '\0' ? v : NULL;
}

const char *settings_chain_parse(const char *spec, chain_t *out)
{
    const char *p = spec;

    memset(out, 0, sizeof(*out));
    while (*p) {
        size_t n = strcspn(p, ","), kn;
        const char *colon = memchr(p, ':', n);
        chain_link_t *l;

        while (n > 0 && (*p == ' ' || *p == '\t'))
            p++, n--;
        if (n == 0)
            return "an empty provider entry";
        if (out->n == SETTINGS_MAX_CHAIN)
            return "too many providers";
        l = &out->links[out->n];
        kn = colon ? (size_t)(colon - p) : n;
        while (kn > 0 && p[kn - 1] == ' ')
            kn--;
        if (kn == 5 && strncmp(p, "local", 5) == 0) {
            l->kind = PROVIDER_LOCAL;
            strcpy(l->name, "local");
            strcpy(l->model, ENGINE_VERSION);
        } else if (kn == 6 && strncmp(p, "openai", 6) == 0) {
            l->kind = PROVIDER_OPENAI;
            strcpy(l->name, "openai");
            strcpy(l->model, "gpt-4o-mini");
        } else if (kn == 9 && strncmp(p, "anthropic", 9) == 0) {
            l->kind = PROVIDER_ANTHROPIC;
            strcpy(l->name, "anthropic");
            strcpy(l->model, "claude-3-5-haiku-latest");
        } else {
            return "an unknown provider (one of local, openai, anthropic)";
        }
        if (colon) {
            size_t mn = n - kn - 1;
            const char *m = colon + 1;

            while (mn > 0 && *m == ' ')
                m++, mn--;
            while (mn > 0 && m[mn - 1] == ' ')
                mn--;
            if (mn == 0 || mn >= sizeof(l->model) || l->kind == PROVIDER_LOCAL)
                return "a bad model name";
            for (size_t i = 0; i < mn; i++)
                if (m[i] <= ' ' || m[i] == '"' || m[i] == '\\' || (unsigned char)m[i] >= 0x7f)
                    return "a bad model name";
            memcpy(l->model, m, mn);
            l->model[mn] = '\0';
        }
        for (int i = 0; i < out->n; i++)
            if (strcmp(out->links[i].name, l->name) == 0 &&
                strcmp(out->links[i].model, l->model) == 0)
                return "a provider listed twice";
        out->n++;
        p += strcspn(p, ",");
        if (*p == ',') {
            p++;
            if (*p == '\0')
                return "an empty provider entry";
        }
    }
    return out->n ? NULL : "no provider";
}

/* "model=in/out,..." */
static bool settings_prices_parse(enrich_settings_t *s, const char *spec)
{
    const char *p = spec;

    while (*p) {
        size_t n = strcspn(p, ",");
        const char *eq = memchr(p, '=', n);
        price_t *pr;
        char num[64], *end, *slash;

        if (eq == NULL || eq == p || (size_t)(eq - p) >= sizeof(pr->model) ||
            s->nprices == SETTINGS_MAX_PRICES || n - (size_t)(eq - p) - 1 >= sizeof(num))
            return false;
        pr = &s->prices[s->nprices];
        memcpy(pr->model, p, (size_t)(eq - p));
        pr->model[eq - p] = '\0';
        memcpy(num, eq + 1, n - (size_t)(eq - p) - 1);
        num[n - (size_t)(eq - p) - 1] = '\0';
        if ((slash = strchr(num, '/')) == NULL)
            return false;
        *slash = '\0';
        pr->in_per_m = strtod(num, &end);
        if (end == num || *end || pr->in_per_m < 0)
            return false;
        pr->out_per_m = strtod(slash + 1, &end);
        if (end == slash + 1 || *end || pr->out_per_m < 0)
            return false;
        s->nprices++;
        p += n;
        if (*p == ',')
            p++;
    }
    return true;
}

bool settings_model_offered(const char *model)
{
    const enrich_settings_t *s = enrich_settings();
    size_t n = strlen(model);

    if (s == NULL || s->models == NULL)
        return true;
    for (int i = 0; i < s->chain.n; i++)
        if (strcmp(s->chain.links[i].model, model) == 0)
            return true;
    for (const char *p = s->models; *p; p += *p == ',') {
        size_t len = strcspn(p, ",");

        if (len == n && memcmp(p, model, n) == 0)
            return true;
        p += len;
    }
    return false;
}

const price_t *settings_price(const char *model)
{
    const enrich_settings_t *s = enrich_settings();
    const price_t *best = NULL;
    size_t best_len = 0;

    for (int pass = 0; pass < 2 && best == NULL; pass++) {
        const price_t *tab = pass == 0 && s ? s->prices : settings_default_prices;
        int n = pass == 0 ? (s ? s->nprices : 0)
                          : (int)(sizeof(settings_default_prices) / sizeof(price_t));

        for (int i = 0; i < n; i++) {
            size_t l = strlen(tab[i].model);

            if (strncmp(model, tab[i].model, l) == 0 && l > best_len &&
                (model[l] == '\0' || model[l] == '-' || pass == 0)) {
                best = &tab[i];
                best_len = l;
            }
        }
    }
    return best;
}

static char *settings_strip_slash(const char *v)
{
    char *s = strdup(v);
    size_t n;

    if (s == NULL)
        abort();
    n = strlen(s);
    while (n > 0 && s[n - 1] == '/')
        s[--n] = '\0';
    return s;
}

const enrich_settings_t *enrich_settings(void)
{
    enrich_settings_t *s = &settings_current;
    const char *v, *why;

    if (settings_state)
        return settings_state > 0 ? s : NULL;
    settings_state = -1;
    v = settings_env("PROMPTD_ENRICH_PROVIDERS");
    if ((why = settings_chain_parse(v ? v : "local", &s->chain)) != NULL) {
        fprintf(stderr, "promptd: PROMPTD_ENRICH_PROVIDERS has %s\n", why);
        return NULL;
    }
    v = settings_env("PROMPTD_OPENAI_BASE_URL");
    s->openai_base_url = settings_strip_slash(v ? v : "https://api.openai.com/v1");
    s->openai_api_key = config_secret("PROMPTD_OPENAI_API_KEY", "openai_api_key");
    v = settings_env("PROMPTD_ANTHROPIC_BASE_URL");
    s->anthropic_base_url = settings_strip_slash(v ? v : "https://api.anthropic.com");
    s->anthropic_api_key = config_secret("PROMPTD_ANTHROPIC_API_KEY", "anthropic_api_key");
    if (!config_env_int("PROMPTD_ENRICH_TIMEOUT_MS", 20000, 0, 600000, &s->timeout_ms) ||
        !config_env_int("PROMPTD_ENRICH_CONNECT_TIMEOUT_MS", 3000, 0, 60000,
                       &s->connect_timeout_ms) ||
        !config_env_int("PROMPTD_ENRICH_RETRIES", 3, 0, 10, &s->retries) ||
        !config_env_int("PROMPTD_ENRICH_BACKOFF_MS", 200, 0, 60000, &s->backoff_ms) ||
        !config_env_int("PROMPTD_ENRICH_BACKOFF_MAX_MS", 5000, 0, 120000, &s->backoff_max_ms) ||
        !config_env_int("PROMPTD_ENRICH_BREAKER_THRESHOLD", 5, 0, 1000, &s->breaker_threshold) ||
        !config_env_int("PROMPTD_ENRICH_BREAKER_COOLDOWN", 30, 0, 86400, &s->breaker_cooldown_s) ||
        !config_env_int("PROMPTD_ENRICH_CACHE_TTL", 86400, 0, 31536000, &s->cache_ttl_s) ||
        !config_env_int("PROMPTD_ENRICH_MAX_TOKENS", 2048, 0, 200000, &s->max_tokens) ||
        !config_env_int("PROMPTD_ENRICH_DEADLINE_MS", 30000, 100, 3600000, &s->deadline_ms) ||
        !config_env_int("PROMPTD_ENRICH_HEDGE_MS", 0, 0, 600000, &s->hedge_ms) ||
        !config_env_int("PROMPTD_ENRICH_IMAGES_MAX", 4, 0, SETTINGS_MAX_IMAGES, &s->images_max) ||
        !config_env_int("PROMPTD_ENRICH_IMAGE_MAX_BYTES", 5242880, 1024, 104857600,
                        &s->image_max_bytes) ||
        !config_env_int("PROMPTD_ENRICH_IMAGES_MAX_BYTES", 20971520, 1024, 268435456,
                        &s->images_max_bytes))
        return NULL;
    if (s->timeout_ms < 100)
        s->timeout_ms = 100;
    if (s->breaker_threshold < 1)
        s->breaker_threshold = 1;
    s->models = settings_env("PROMPTD_ENRICH_MODELS");
    v = settings_env("PROMPTD_ENRICH_PRICES");
    if (v && !settings_prices_parse(s, v)) {
        fprintf(stderr, "promptd: PROMPTD_ENRICH_PRICES must be "
                "\"model=in/out,...\" (USD per 1M tokens)\n");
        return NULL;
    }
    settings_state = 1;
    return s;
}
