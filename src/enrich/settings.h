/* settings.h: the enrichment configuration (PROMPTD_ENRICH_*, provider URLs, keys, prices). */
#ifndef PROMPTD_ENRICH_SETTINGS_H
#define PROMPTD_ENRICH_SETTINGS_H

#include <stdbool.h>

#define SETTINGS_MAX_CHAIN 8
#define SETTINGS_MAX_PRICES 32
#define SETTINGS_MAX_IMAGES 16   /* PROMPTD_ENRICH_IMAGES_MAX at most */

enum provider_kind { PROVIDER_LOCAL, PROVIDER_OPENAI, PROVIDER_ANTHROPIC };

/* One link of a provider chain: "openai:gpt-4o-mini", "anthropic", "local". */
typedef struct chain_link {
    enum provider_kind kind;
    char name[16];     /* "openai", "anthropic", "local" */
    char model[128];   /* the model (default per kind); "local-1" style for local */
} chain_link_t;

typedef struct chain {
    int n;
    chain_link_t links[SETTINGS_MAX_CHAIN];
} chain_t;

typedef struct price {
    char model[128];
    double in_per_m;   /* USD per 1M input tokens */
    double out_per_m;  /* USD per 1M output tokens */
} price_t;

/* Process-wide; strings are static.  Loaded once from the environment. */
typedef struct enrich_settings {
    chain_t chain;                 /* PROMPTD_ENRICH_PROVIDERS, default "local" */
    const char *openai_base_url;   /* PROMPTD_OPENAI_BASE_URL, default https://api.openai.com/v1 */
    const char *openai_api_key;    /* PROMPTD_OPENAI_API_KEY, <secrets>/openai_api_key or NULL */
    const char *anthropic_base_url;/* PROMPTD_ANTHROPIC_BASE_URL, default https://api.anthropic.com */
    const char *anthropic_api_key; /* PROMPTD_ANTHROPIC_API_KEY, <secrets>/anthropic_api_key or NULL */
    long timeout_ms;               /* PROMPTD_ENRICH_TIMEOUT_MS per attempt, 20000 */
    long connect_timeout_ms;       /* PROMPTD_ENRICH_CONNECT_TIMEOUT_MS, 3000 */
    long retries;                  /* PROMPTD_ENRICH_RETRIES after the first try, 3 */
    long backoff_ms;               /* PROMPTD_ENRICH_BACKOFF_MS base, 200 */
    long backoff_max_ms;           /* PROMPTD_ENRICH_BACKOFF_MAX_MS cap (also Retry-After's), 5000 */
    long breaker_threshold;        /* PROMPTD_ENRICH_BREAKER_THRESHOLD failures, 5 */
    long breaker_cooldown_s;       /* PROMPTD_ENRICH_BREAKER_COOLDOWN seconds, 30 */
    long cache_ttl_s;              /* PROMPTD_ENRICH_CACHE_TTL seconds, 86400; 0 disables */
    long max_tokens;               /* PROMPTD_ENRICH_MAX_TOKENS asked of providers, 2048 */
    long deadline_ms;              /* PROMPTD_ENRICH_DEADLINE_MS for a whole run, 30000 */
    long hedge_ms;                 /* PROMPTD_ENRICH_HEDGE_MS of provider silence before the
                                    * next provider starts too, 0 (off) */
    const char *models;            /* PROMPTD_ENRICH_MODELS "m1,m2": the only remote models a
                                    * request's providers may name (NULL: any) */
    long images_max;               /* PROMPTD_ENRICH_IMAGES_MAX images one request may send
                                    * with its prompt, 4 (0 refuses images) */
    long image_max_bytes;          /* PROMPTD_ENRICH_IMAGE_MAX_BYTES of one image, 5242880 */
    long images_max_bytes;         /* PROMPTD_ENRICH_IMAGES_MAX_BYTES of a request's images
                                    * together, 20971520 */
    int nprices;                   /* PROMPTD_ENRICH_PRICES over the defaults */
    price_t prices[SETTINGS_MAX_PRICES];
} enrich_settings_t;

/* Parse once; NULL (reason on stderr) when the configuration is unusable. */
const enrich_settings_t *enrich_settings(void);

/* Parse a chain spec "kind[:model],..." into out.  Returns NULL, or a short
 * static reason for the first bad entry (unknown provider, too many). */
const char *settings_chain_parse(const char *spec, chain_t *out);

/* True when a request may name model: PROMPTD_ENRICH_MODELS is unset, lists
 * it, or the configured chain uses it. */
bool settings_model_offered(const char *model);

/* The price of model (exact, else the longest configured prefix), or NULL. */
const price_t *settings_price(const char *model);

#endif
