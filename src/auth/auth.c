/* auth.c: who is calling: a verified Bearer JWT, or anon. */
#include "auth/auth.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "auth/jwt.h"
#include "core/json.h"
#include "core/response.h"

static const char *const allowed_roles[] = {"authenticated", NULL};

static struct {
    const unsigned char *secret;
    size_t secret_len;
    const char *audience;
} auth;

void auth_init(const config_t *cfg)
{
    auth.secret = (const unsigned char *)cfg->jwt_secret;
    auth.secret_len = cfg->jwt_secret ? strlen(cfg->jwt_secret) : 0;
    auth.audience = cfg->jwt_audience;
}

void auth_anon(req_t *r)
{
    r->user_id = NULL;
    r->role = "anon";
    r->claims = "{\"role\":\"anon\"}";
}

bool auth_require(req_t *r)
{
    const char *h = req_header(r, "Authorization");
    jwt_verify_opts_t o = {
        .secret = auth.secret,
        .secret_len = auth.secret_len,
        .audience = auth.audience,
        .roles = allowed_roles,
    };
    enum jwt_error e;
    cJSON *claims = NULL, *role;

    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0 || h[7] == '\0') {
        resp_unauthorized(r, false, "A Bearer token is required.");
        return false;
    }
    if (auth.secret_len == 0) {
        r->log_detail = "no JWT secret configured";
        resp_unauthorized(r, true, "The token cannot be verified.");
        return false;
    }
    e = jwt_verify(h + 7, &o, &claims);
    if (e != JWT_OK) {
        r->log_detail = jwt_strerror(e);
        resp_unauthorized(r, true, arena_printf(r->arena,
                          "The token is invalid: %s.", jwt_strerror(e)));
        return false;
    }
    json_own(r->arena, claims);
    r->user_id = arena_strdup(r->arena,
        cJSON_GetObjectItemCaseSensitive(claims, "sub")->valuestring);
    for (char *p = (char *)r->user_id; *p; p++)
        *p = (char)tolower((unsigned char)*p);   /* as PostgreSQL prints it */
    role = cJSON_GetObjectItemCaseSensitive(claims, "role");
    r->role = cJSON_IsString(role) ? arena_strdup(r->arena, role->valuestring)
                                   : "authenticated";
    r->claims = json_print(r->arena, claims);
    return true;
}
