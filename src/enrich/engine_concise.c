/* engine_concise.c: the local engine's concise writer: hedges, filler, pleasantries and repeated sentences removed. */
#include <stdint.h>

#include "enrich/engine_int.h"

static uint64_t fnv1a(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;

    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
    return h;
}

/* concise: the prompt in its own order without lexicon_hedges, filler,
 * pleasantries and repeated sentences; every constraint stays. */
void engine_write_concise(eng_t *e, strbuf_t *sb)
{
    size_t nslots = 16;
    uint64_t *seen;
    int prev = -1;

    while (nslots < (size_t)e->nu * 2)
        nslots *= 2;
    seen = arena_zalloc(e->a, nslots * sizeof(*seen));
    for (int k = 0; k < e->nu; k++) {
        const unit_t *u = &e->u[k];
        const char *p = e->s + u->start;
        size_t n = u->end - u->start;

        if (u->role != R_MATERIAL && u->kind != U_CODE) {
            uint64_t h = fnv1a(p, n) | 1;
            size_t slot = (size_t)h & (nslots - 1);
            bool dup = false;
            while (seen[slot]) {
                if (seen[slot] == h) {
                    dup = true;
                    break;
                }
                slot = (slot + 1) & (nslots - 1);
            }
            if (dup || u->role == R_DROP)
                continue; /* an exact repeat: its bytes are already out */
            seen[slot] = h;
        }
        if (prev >= 0)
            engine_put_gap(sb, e->s, e->u[prev].end, u->start);
        prev = k;
        if (u->role == R_MATERIAL || u->kind != U_TEXT) {
            strbuf_append(sb, p, n);
            continue;
        }
        engine_put_clean(e, sb, u, true);
    }
    if (!sb->len) /* only pleasantries: keep the prompt as it was */
        strbuf_append(sb, e->s + e->u[0].start,
                      e->u[e->nu - 1].end - e->u[0].start);
}
