/* settings.c: the prompts family's own settings (PROMPTD_RENDER_MAX_BYTES, PROMPTD_BYNAME_CACHE_SECONDS), read once at start. */
#include "prompts/settings.h"

#include "core/config.h"

bool prompts_settings_load(prompts_settings_t *out)
{
    return config_env_int("PROMPTD_RENDER_MAX_BYTES", 1048576, 1, 1073741824,
                          &out->render_max_bytes) &&
           config_env_int("PROMPTD_BYNAME_CACHE_SECONDS", 0, 0, 60, &out->byname_cache_seconds);
}
