/* metrics_cost.c: CPU time of one request's metrics (reqmetrics_record, as a worker calls it) in a fresh metrics file, for make bench-metrics. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/arena.h"
#include "core/metrics.h"
#include "http/reqmetrics.h"
#include "http/request.h"

static double cpu_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* usage: metrics_cost DIR [REQUESTS]
 * Prints "metrics_us_per_request=X series=N": the CPU microseconds one
 * GET /api/v1/prompts/{id} answered 200 spends in reqmetrics_record, over
 * REQUESTS (default 1,000,000) calls with the arena reset per request as
 * the accept loop does, and the series this made in DIR's new file. */
int main(int argc, char **argv)
{
    static const route_t route = {"GET", "/api/v1/prompts/{id}", NULL, 0, 1, NULL};
    long n = argc > 2 ? strtol(argv[2], NULL, 10) : 1000000;
    req_t r = {0};
    double t0;

    if (argc < 2 || n <= 0) {
        fprintf(stderr, "usage: %s DIR [REQUESTS]\n", argv[0]);
        return 2;
    }
    if (!metrics_init(argv[1]) || (r.arena = arena_create(4096)) == NULL)
        return 1;
    r.family = "prompts";
    r.route = &route;
    r.method = "GET";
    r.status = 200;
    r.tx.ms = 0.35;
    t0 = cpu_now();
    for (long i = 0; i < n; i++) {
        reqmetrics_record(&r, 0.0004 + (double)(i % 7) * 0.001);
        arena_reset(r.arena);
    }
    printf("metrics_us_per_request=%.3f requests=%ld\n", (cpu_now() - t0) * 1e6 / (double)n, n);
    arena_destroy(r.arena);
    metrics_close();
    return 0;
}
