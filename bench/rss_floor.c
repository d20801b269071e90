/* rss_floor.c: the memory floor of a worker of this shape, for bench/rss's baseline. */
/*
 * Links only the libraries every promptd worker must (libfcgi, libpq,
 * cJSON, OpenSSL's libcrypto), does once what every worker does with each
 * (FCGX_Init, a PostgreSQL connection from the environment's PG* settings
 * and one query, a JSON parse, an HMAC-SHA256 through EVP, as a session
 * token's check), then prints its VmRSS, RssAnon and RssFile in kB:
 * "rss_floor VmRSS RssAnon RssFile".  Exit 1 when a step fails.
 */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <fcgiapp.h>
#include <libpq-fe.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

/* The value of FIELD (e.g. "VmRSS:") in /proc/self/status, in kB; -1 if absent. */
static long status_kb(const char *field)
{
    char line[256];
    long kb = -1;
    FILE *f = fopen("/proc/self/status", "r");

    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, strlen(field)) == 0 &&
            sscanf(line + strlen(field), "%ld", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

int main(void)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    PGconn *conn;
    PGresult *res;
    cJSON *json;
    int ok;

    if (FCGX_Init() != 0) {
        fprintf(stderr, "rss_floor: FCGX_Init failed\n");
        return 1;
    }
    conn = PQconnectdb("");
    res = PQstatus(conn) == CONNECTION_OK ? PQexec(conn, "select 1") : NULL;
    ok = res && PQresultStatus(res) == PGRES_TUPLES_OK;
    if (!ok)
        fprintf(stderr, "rss_floor: PostgreSQL: %s", PQerrorMessage(conn));
    PQclear(res);
    json = cJSON_Parse("{\"sub\":\"00000000-0000-0000-0000-000000000000\",\"exp\":1}");
    ok = ok && json != NULL &&
         HMAC(EVP_sha256(), "key", 3, (const unsigned char *)"header.payload", 14,
              mac, &maclen) != NULL && maclen == 32;
    cJSON_Delete(json);
    if (ok)
        printf("rss_floor %ld %ld %ld\n", status_kb("VmRSS:"), status_kb("RssAnon:"),
               status_kb("RssFile:"));
    PQfinish(conn);
    return ok ? 0 : 1;
}
