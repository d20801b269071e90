/* settings.h: the share family's own settings (unlock-cookie key, view log), read once per process. */
#ifndef PROMPTD_SHARE_SETTINGS_H
#define PROMPTD_SHARE_SETTINGS_H

/* Process-wide; strings are static. */
typedef struct share_settings {
    const char *cookie_key;  /* PROMPTD_SHARE_COOKIE_KEY or <secrets>/share_cookie_key:
                              * signs unlock cookies; NULL when neither exists */
    const char *view_log;    /* PROMPTD_SHARE_VIEW_LOG, default <var>/log/share-views.log:
                              * the nginx view log the share.views job ingests */
} share_settings_t;

/* The settings, read from the environment and the secrets directory on the
 * first call (a program calls it at start); never NULL. */
const share_settings_t *share_settings(void);

#endif
