/* prompts_settings.c: unit tests for the prompts family's settings: PROMPTD_RENDER_MAX_BYTES, PROMPTD_BYNAME_CACHE_SECONDS. */
#include <stdlib.h>

#include "prompts/settings.h"
#include "tap.h"

int main(void)
{
    static const char *const bad[] = {"1MiB", "0", "1073741825", NULL};
    prompts_settings_t s;

    unsetenv("PROMPTD_RENDER_MAX_BYTES");
    ok(prompts_settings_load(&s), "PROMPTD_RENDER_MAX_BYTES unset: loads");
    ok(s.render_max_bytes == 1048576, "... 1 MiB by default");
    for (const char *const *b = bad; *b != NULL; b++) {
        setenv("PROMPTD_RENDER_MAX_BYTES", *b, 1);
        ok(!prompts_settings_load(&s), "PROMPTD_RENDER_MAX_BYTES=%s is refused", *b);
    }
    setenv("PROMPTD_RENDER_MAX_BYTES", "1000", 1);
    ok(prompts_settings_load(&s), "PROMPTD_RENDER_MAX_BYTES=1000 loads");
    ok(s.render_max_bytes == 1000, "... as 1000");
    ok(s.byname_cache_seconds == 0, "PROMPTD_BYNAME_CACHE_SECONDS: 0 (no cache) by default");
    setenv("PROMPTD_BYNAME_CACHE_SECONDS", "61", 1);
    ok(!prompts_settings_load(&s), "PROMPTD_BYNAME_CACHE_SECONDS=61 is refused");
    setenv("PROMPTD_BYNAME_CACHE_SECONDS", "5", 1);
    ok(prompts_settings_load(&s) && s.byname_cache_seconds == 5, "PROMPTD_BYNAME_CACHE_SECONDS=5 loads");
    return done_testing();
}
