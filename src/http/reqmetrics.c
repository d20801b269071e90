/* reqmetrics.c: one answered request in the process's metrics file (requests by route and status, duration and DB-time histograms). */
#include "http/reqmetrics.h"

#include <string.h>

#include "core/metrics.h"

/* The method as a bounded label: anything unusual is "other". */
static const char *metrics_method(const char *m)
{
    static const char *const known[] = {"GET", "HEAD", "POST", "PUT", "PATCH",
                                        "DELETE", "OPTIONS", NULL};

    for (int i = 0; m && known[i]; i++)
        if (strcmp(m, known[i]) == 0)
            return m;
    return "other";
}

void reqmetrics_record(const req_t *r, double seconds)
{
    const char *route = r->route ? r->route->pattern : "unmatched";
    strbuf_t lab;

    if (!metrics_file())
        return;
    /* each series' labels extend the previous one's: family, route, the rest */
    strbuf_init(&lab, r->arena, 192);
    strbuf_puts(&lab, "family=\"");
    metrics_label_escape(&lab, r->family);
    strbuf_putc(&lab, '"');
    metrics_observe("promptd_http_db_duration_seconds", lab.ptr, r->tx.ms / 1000.0);
    strbuf_puts(&lab, ",route=\"");
    metrics_label_escape(&lab, route);
    strbuf_putc(&lab, '"');
    metrics_observe("promptd_http_request_duration_seconds", lab.ptr, seconds);
    strbuf_puts(&lab, ",method=\"");
    strbuf_puts(&lab, metrics_method(r->method));
    strbuf_puts(&lab, "\",status=\"");
    strbuf_put_long(&lab, r->status, 1);
    strbuf_putc(&lab, '"');
    metrics_counter_add("promptd_http_requests_total", lab.ptr, 1);
}
