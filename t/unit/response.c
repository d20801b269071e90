/* response.c: unit tests for the status lines' reason phrases (http_reason). */
#include <string.h>

#include "http/response.h"
#include "tap.h"

int main(void)
{
    /* every status the workers send (handlers, dispatcher, problem titles) */
    static const struct { int status; const char *reason; } sent[] = {
        {200, "OK"}, {201, "Created"}, {202, "Accepted"}, {204, "No Content"},
        {303, "See Other"}, {304, "Not Modified"}, {400, "Bad Request"},
        {401, "Unauthorized"}, {403, "Forbidden"}, {404, "Not Found"},
        {405, "Method Not Allowed"}, {406, "Not Acceptable"}, {409, "Conflict"},
        {410, "Gone"}, {412, "Precondition Failed"}, {413, "Content Too Large"},
        {415, "Unsupported Media Type"}, {422, "Unprocessable Content"},
        {428, "Precondition Required"}, {429, "Too Many Requests"},
        {500, "Internal Server Error"}, {502, "Bad Gateway"},
        {503, "Service Unavailable"}, {504, "Gateway Timeout"},
    };
    /* and every other registered code, should a later handler send it */
    static const int registered[] = {
        100, 101, 103, 203, 205, 206, 207, 208, 226, 300, 301, 302, 305, 307, 308,
        402, 407, 408, 411, 414, 416, 417, 421, 423, 424, 425, 426, 431, 451, 501,
        505, 506, 507, 508, 511,
    };

    for (size_t i = 0; i < sizeof sent / sizeof sent[0]; i++)
        is_str(http_reason(sent[i].status), sent[i].reason, "%d %s", sent[i].status,
               sent[i].reason);
    for (size_t i = 0; i < sizeof registered / sizeof registered[0]; i++)
        ok(strcmp(http_reason(registered[i]), "Unknown") != 0, "%d %s", registered[i],
           http_reason(registered[i]));
    is_str(http_reason(299), "Unknown", "an unregistered code: Unknown");
    is_str(http_reason(0), "Unknown", "0: Unknown");
    return done_testing();
}
