/* settings.c: the storage settings (PROMPTD_STORAGE_*), shared by the storage family, the share pages and the storage.gc job. */
#include "storage/settings.h"

#include <stdio.h>
#include <string.h>

#include "core/config.h"

static bool env_size(const char *name, long dflt, long min, long max, long long *out)
{
    long v;
    bool ok = config_env_int(name, dflt, min, max, &v);

    *out = v;
    return ok;
}

static bool settings_load(storage_settings_t *s)
{
    const char *strip = config_env("PROMPTD_STORAGE_STRIP_METADATA");

    if (strip && strcmp(strip, "0") != 0 && strcmp(strip, "1") != 0) {
        fprintf(stderr, "PROMPTD_STORAGE_STRIP_METADATA: must be 0 or 1\n");
        return false;
    }
    s->strip_metadata = strip == NULL || strcmp(strip, "1") == 0;
    return env_size("PROMPTD_STORAGE_MAX_FILE", 52428800L, 1, 5368709120L, &s->max_file) &&
           env_size("PROMPTD_STORAGE_STRIP_MAX", 16777216L, 65536, 268435456L, &s->strip_max) &&
           env_size("PROMPTD_STORAGE_TRANSFORM_MAX_BYTES", 20971520L, 65536, 268435456L,
                    &s->transform_max) &&
           config_env_int("PROMPTD_STORAGE_MAX_PIXELS", 40000000L, 10000, 1000000000L,
                          &s->max_pixels) &&
           config_env_int("PROMPTD_STORAGE_SIGNED_URL_MAX", 31536000L, 1, 315360000L,
                          &s->signed_max_s) &&
           config_env_int("PROMPTD_STORAGE_UPLOAD_URL_TTL", 7200L, 60, 604800L,
                          &s->upload_url_s) &&
           config_env_int("PROMPTD_STORAGE_GC_GRACE", 3600L, 0, 2592000L, &s->gc_grace_s);
}

const storage_settings_t *storage_settings(void)
{
    static storage_settings_t s;
    static int state;   /* 0 unread, 1 good, -1 bad */

    if (state == 0)
        state = settings_load(&s) ? 1 : -1;
    return state > 0 ? &s : NULL;
}

const char *storage_signing_key(void)
{
    return config_secret("PROMPTD_STORAGE_SIGNING_KEY", "storage_signing_key");
}
