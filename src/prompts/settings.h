/* settings.h: the prompts family's own settings (PROMPTD_RENDER_MAX_BYTES, PROMPTD_BYNAME_CACHE_SECONDS), read once at start. */
#ifndef PROMPTD_PROMPTS_SETTINGS_H
#define PROMPTD_PROMPTS_SETTINGS_H

#include <stdbool.h>

typedef struct prompts_settings {
    long render_max_bytes;   /* PROMPTD_RENDER_MAX_BYTES: largest text a prompt
                              * render may produce, default 1048576 (1 MiB),
                              * 1 .. 1073741824 */
    long byname_cache_seconds;   /* PROMPTD_BYNAME_CACHE_SECONDS: how long
                                  * nginx may keep a fetch by name for the
                                  * same credential and URL, default 0
                                  * (no cache) .. 60 */
} prompts_settings_t;

/* Read the settings from the environment into *out; false (reason on
 * stderr) when one is malformed or out of range. */
bool prompts_settings_load(prompts_settings_t *out);

#endif
