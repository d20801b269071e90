/* settings.h: the storage settings (PROMPTD_STORAGE_*), shared by the storage family, the share pages and the storage.gc job. */
#ifndef PROMPTD_STORAGE_SETTINGS_H
#define PROMPTD_STORAGE_SETTINGS_H

#include <stdbool.h>

/* The size of a stored chunk: what a worker holds of a file at a time. */
#define STORAGE_CHUNK_BYTES (1024 * 1024)

typedef struct storage_settings {
    long long max_file;      /* PROMPTD_STORAGE_MAX_FILE (52428800 = 50 MiB): any
                              * one object, whatever its bucket allows */
    bool strip_metadata;     /* PROMPTD_STORAGE_STRIP_METADATA (1): EXIF/XMP/GPS
                              * removed from JPEG, PNG and WebP uploads */
    long long strip_max;     /* PROMPTD_STORAGE_STRIP_MAX (16777216): the largest
                              * image stripped (held whole to re-encode); a larger
                              * one is refused (413) while stripping is on */
    long long transform_max; /* PROMPTD_STORAGE_TRANSFORM_MAX_BYTES (20971520): the
                              * largest source image a transform reads */
    long max_pixels;         /* PROMPTD_STORAGE_MAX_PIXELS (40000000): decoded
                              * pixels of an image stripped or transformed */
    long signed_max_s;       /* PROMPTD_STORAGE_SIGNED_URL_MAX (31536000): the
                              * longest expiresIn of a signed URL */
    long upload_url_s;       /* PROMPTD_STORAGE_UPLOAD_URL_TTL (7200): how long a
                              * signed upload URL works */
    long gc_grace_s;         /* PROMPTD_STORAGE_GC_GRACE (3600): how long a blob no
                              * object names is kept before storage.gc drops it */
} storage_settings_t;

/* PROMPTD_STORAGE_SIGNING_KEY or <secrets>/storage_signing_key, which
 * signs URL tokens; NULL when neither exists.  After config_load. */
const char *storage_signing_key(void);

/* The settings, read from the environment on the first call.  NULL, the
 * reason on stderr naming the variable, when a value is malformed. */
const storage_settings_t *storage_settings(void);

#endif
