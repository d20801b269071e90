/* cron.c (fuzz): cron expressions of any text, and the slots around a time. */
#include <time.h>

#include "jobs/cron.h"
#include "fuzz.h"

/* The first 4 bytes pick the reference time (1970..2106); the rest is the
 * expression. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    time_t t = 1773145696;   /* 2026-03-10 12:28:16 UTC */
    const char *why = NULL;
    char *expr;
    cron_t c;

    if (size >= 4) {
        t = (time_t)((uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 |
                     (uint32_t)data[2] << 8 | data[3]);
        data += 4;
        size -= 4;
    }
    expr = fuzz_cstr(data, size);
    if (!cron_parse(expr, &c, &why)) {
        FUZZ_ASSERT(why != NULL);
    } else {
        time_t prev = cron_prev(&c, t), next = cron_next(&c, t);

        /* prev is the latest matching minute <= t, next the earliest > t:
         * each matches itself and nothing lies between them. */
        if (prev != -1) {
            FUZZ_ASSERT(prev <= t && prev % 60 == 0);
            FUZZ_ASSERT(cron_prev(&c, prev) == prev);
        }
        if (next != -1) {
            FUZZ_ASSERT(next > t && next % 60 == 0);
            FUZZ_ASSERT(cron_prev(&c, next) == next);
        }
        /* Searches stop after 8 years: "0 0 2 2 sun" may wait 11. */
        if (prev != -1 && next != -1 && next - prev <= 8L * 365 * 86400)
            FUZZ_ASSERT(cron_next(&c, prev) == next);
    }
    free(expr);
    return 0;
}
