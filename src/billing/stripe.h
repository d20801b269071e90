/* stripe.h: the Stripe API client (form-encoded requests over libcurl, Idempotency-Key, pinned version, retries) and its settings. */
#ifndef PROMPTD_BILLING_STRIPE_H
#define PROMPTD_BILLING_STRIPE_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "core/arena.h"

#define STRIPE_API_VERSION "2024-06-20"         /* Stripe-Version on every call */
#define STRIPE_API_BASE "https://api.stripe.com" /* PROMPTD_STRIPE_API_BASE's default */
#define STRIPE_ATTEMPTS 3                        /* network errors, 429, 5xx */
#define STRIPE_CONFLICT_ATTEMPTS 5               /* 409: the key in flight (>= 1.5 s) */
#define STRIPE_TOLERANCE_DEFAULT 300             /* webhook timestamp tolerance, s */
#define STRIPE_GRACE_DEFAULT 604800              /* past_due grace, s (7 days) */

/* The settings, read once at start (stripe_settings_load): the secret key
 * (PROMPTD_STRIPE_SECRET_KEY or the secret file stripe_secret_key), the
 * webhook secrets (PROMPTD_STRIPE_WEBHOOK_SECRET or stripe_webhook_secret,
 * comma-separated), the API base, the webhook tolerance
 * (PROMPTD_STRIPE_WEBHOOK_TOLERANCE) and the grace (PROMPTD_BILLING_GRACE).
 * Strings are static; NULL when not configured. */
typedef struct stripe_settings {
    const char *secret_key;
    const char *webhook_secrets;
    const char *api_base;
    long tolerance_s;
    long grace_s;
} stripe_settings_t;

/* The settings, loaded on first use (after config_load: the secrets
 * directory is the process's). */
const stripe_settings_t *stripe_settings(void);
/* (Re)load them; false (message on stderr, the default kept) when a
 * number is malformed or out of range. */
bool stripe_settings_load(void);

/* A form body being built: "a=1&b%5Bc%5D=2", in the arena. */
typedef struct stripe_form {
    arena_t *a;
    char *text;
} stripe_form_t;

/* Append key=value, both percent-encoded as Stripe's form API reads them
 * (keys keep their brackets: "metadata[promptd_user_id]").  value NULL
 * adds nothing. */
void stripe_form_add(stripe_form_t *f, const char *key, const char *value);

/* One call's outcome.  status 0: no HTTP answer (error says why). */
typedef struct stripe_reply {
    long status;
    cJSON *json;               /* the parsed body (arena-owned), or NULL */
    const char *error;         /* Stripe's error.message, or the transport's */
    const char *error_code;    /* Stripe's error.code / error.type, or NULL */
    int attempts;
} stripe_reply_t;

/* method path (e.g. "POST", "/v1/customers") with form (POST: the body;
 * GET: the query; may be NULL) under the secret key.  A POST carries
 * Idempotency-Key idem_key (required for POST, same on every retry).
 * Retries network errors, 429 and 5xx up to STRIPE_ATTEMPTS, and 409 (the
 * same key's first request still in flight) up to STRIPE_CONFLICT_ATTEMPTS,
 * with equal jitter backoff.  Call it with no
 * database transaction open: a retried call can take seconds.  True when
 * Stripe answered 2xx with a JSON object. */
bool stripe_call(arena_t *a, const char *method, const char *path,
                 const char *form, const char *idem_key, stripe_reply_t *out);

/* Cancel subscription id now (DELETE /v1/subscriptions/{id}).  True when
 * Stripe canceled it or no longer has it (resource_missing); false with
 * *why (arena or static) otherwise, e.g. billing not configured. */
bool stripe_subscription_cancel(arena_t *a, const char *id, const char **why);

/* Webhook signature (Stripe-Signature: t=...,v1=...[,v1=...][,v0=...]):
 * HMAC-SHA256 of "t." + the raw body under any of the comma-separated
 * secrets must equal any v1 (constant time); v0 and unknown keys are
 * ignored; |now - t| must be within tolerance_s.  False with *why
 * (static) otherwise. */
bool stripe_signature_ok(const char *header, const char *body, size_t len,
                         const char *secrets, long tolerance_s, long long now,
                         const char **why);

#endif
