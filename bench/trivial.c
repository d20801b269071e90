/* trivial.c: the smallest FastCGI responder, the transport limit the benchmark compares against. */
#include <fcgiapp.h>

#include <stdio.h>
#include <stdlib.h>

/* Answer every request with 200 application/json {"ok":true}; no parsing,
 * no allocation, no database: whatever this reaches is nginx + FastCGI. */
int
main(void)
{
    FCGX_Request req;

    if (FCGX_Init() != 0 || FCGX_InitRequest(&req, 0, 0) != 0) {
        fprintf(stderr, "trivial: FastCGI init failed\n");
        return EXIT_FAILURE;
    }
    while (FCGX_Accept_r(&req) >= 0) {
        FCGX_PutS("Status: 200 OK\r\n"
                  "Content-Type: application/json\r\n"
                  "Content-Length: 11\r\n"
                  "\r\n"
                  "{\"ok\":true}", req.out);
        FCGX_Finish_r(&req);
    }
    FCGX_Free(&req, 1);
    return EXIT_SUCCESS;
}
