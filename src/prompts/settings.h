/* settings.h: the prompts family's own settings (PROMPTD_RENDER_MAX_BYTES), read once at start. */
#ifndef PROMPTD_PROMPTS_SETTINGS_H
#define PROMPTD_PROMPTS_SETTINGS_H

#include <stdbool.h>

typedef struct prompts_settings {
    long render_max_bytes;   /* PROMPTD_RENDER_MAX_BYTES: largest text a prompt
                              * render may produce, default 1048576 (1 MiB),
                              * 1 .. 1073741824 */
} prompts_settings_t;

/* Read the settings from the environment into *out; false (reason on
 * stderr) when one is malformed or out of range. */
bool prompts_settings_load(prompts_settings_t *out);

#endif
