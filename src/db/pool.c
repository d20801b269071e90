/* pool.c: a fixed set of PostgreSQL connections lent to threads under one mutex, opened lazily, rolled back and checked on return. */
#include "db/pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"

struct db_pool {
    pthread_mutex_t mu;
    pthread_cond_t freed;      /* a connection was given back */
    char *conninfo;
    const char *const *setup;
    int size;
    int nfree;                 /* slots in free[] */
    int open;                  /* connections open (lent or free) */
    PGconn **free;             /* idle slots: a connection or NULL (not open) */
};

db_pool_t *db_pool_create(const char *conninfo, int size, const char *const *setup)
{
    db_pool_t *p = calloc(1, sizeof *p);

    if (p == NULL || size < 1)
        goto fail;
    p->free = calloc((size_t)size, sizeof(PGconn *));
    p->conninfo = conninfo ? strdup(conninfo) : NULL;
    if (p->free == NULL || (conninfo && p->conninfo == NULL))
        goto fail;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->freed, NULL);
    p->setup = setup;
    p->size = p->nfree = size;
    return p;
fail:
    if (p) {
        free(p->free);
        free(p->conninfo);
    }
    free(p);
    return NULL;
}

void db_pool_destroy(db_pool_t *p)
{
    if (p == NULL)
        return;
    for (int i = 0; i < p->nfree; i++)
        if (p->free[i])
            PQfinish(p->free[i]);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->freed);
    free(p->free);
    free(p->conninfo);
    free(p);
}

/* A new connection with the setup statements run, or NULL. */
static PGconn *pool_connect(db_pool_t *p)
{
    PGconn *c = PQconnectdb(p->conninfo ? p->conninfo : "");

    if (PQstatus(c) != CONNECTION_OK) {
        log_warn("%s: %s", __func__, PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    for (const char *const *s = p->setup; s && *s; s++) {
        PGresult *r = PQexec(c, *s);
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;

        if (!ok)
            log_error("%s: %s: %s", __func__, *s, PQerrorMessage(c));
        PQclear(r);
        if (!ok) {
            PQfinish(c);
            return NULL;
        }
    }
    return c;
}

PGconn *db_pool_get(db_pool_t *p, long wait_ms, const char **why)
{
    struct timespec until;
    PGconn *c;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += wait_ms / 1000;
    until.tv_nsec += (wait_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->mu);
    while (p->nfree == 0)
        if (pthread_cond_timedwait(&p->freed, &p->mu, &until) != 0 && p->nfree == 0) {
            pthread_mutex_unlock(&p->mu);
            *why = "every database connection is busy";
            return NULL;
        }
    c = p->free[--p->nfree];
    if (c && PQstatus(c) != CONNECTION_OK) {
        PQfinish(c);
        c = NULL;
        p->open--;
    }
    if (c == NULL)
        p->open++;             /* counted while connecting: the slot is taken */
    pthread_mutex_unlock(&p->mu);
    if (c == NULL && (c = pool_connect(p)) == NULL) {
        pthread_mutex_lock(&p->mu);
        p->open--;
        p->free[p->nfree++] = NULL;
        pthread_cond_signal(&p->freed);
        pthread_mutex_unlock(&p->mu);
        *why = "the database is unreachable";
    }
    return c;
}

void db_pool_put(db_pool_t *p, PGconn *c)
{
    if (c && PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) != PQTRANS_IDLE)
        PQclear(PQexec(c, "ROLLBACK"));
    if (c && (PQstatus(c) != CONNECTION_OK || PQtransactionStatus(c) != PQTRANS_IDLE)) {
        PQfinish(c);
        c = NULL;
    }
    pthread_mutex_lock(&p->mu);
    if (c == NULL)
        p->open--;
    p->free[p->nfree++] = c;
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->mu);
}

void db_pool_counts(db_pool_t *p, int *open, int *lent)
{
    pthread_mutex_lock(&p->mu);
    *open = p->open;
    *lent = p->size - p->nfree;
    pthread_mutex_unlock(&p->mu);
}
