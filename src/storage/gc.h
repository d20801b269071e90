/* gc.h: the storage.gc job: blobs no object names (after a grace period), expired signed URLs and quota holds. */
#ifndef PROMPTD_STORAGE_GC_H
#define PROMPTD_STORAGE_GC_H

#include "jobs/registry.h"

/* storage.gc {batch?}: promptd.storage_gc in rounds until a round
 * removes less than a batch; result: {blobs, signed_urls, reservations}.
 * The grace is PROMPTD_STORAGE_GC_GRACE, or the payload's "grace" (s). */
int storage_gc_job(job_t *j);

extern const job_handler_t storage_job_handlers[];

#endif
