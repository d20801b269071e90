/* settings.c: the share family's own settings (unlock-cookie key, view log), read once per process. */
#include "share/settings.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/config.h"

static share_settings_t settings_current;
static int settings_loaded;

/* PROMPTD_SHARE_VIEW_LOG, else <var>/log/share-views.log (the var directory
 * of the configuration, or PROMPTD_VAR_DIR / "." without one). */
static const char *settings_view_log(void)
{
    static char buf[4096];
    const char *e = getenv("PROMPTD_SHARE_VIEW_LOG");
    const config_t *cfg;

    if (e && *e)
        return e;
    if ((cfg = config_load(false)) != NULL)
        snprintf(buf, sizeof buf, "%s/log/share-views.log", cfg->var_dir);
    else
        snprintf(buf, sizeof buf, "%s/log/share-views.log",
                 getenv("PROMPTD_VAR_DIR") ? getenv("PROMPTD_VAR_DIR") : ".");
    return buf;
}

const share_settings_t *share_settings(void)
{
    if (!settings_loaded) {
        settings_current.cookie_key = config_secret("PROMPTD_SHARE_COOKIE_KEY",
                                                    "share_cookie_key");
        settings_current.view_log = settings_view_log();
        settings_loaded = 1;
    }
    return &settings_current;
}
