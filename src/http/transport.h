/* transport.h: a worker's FastCGI connections, the listening socket and every kept-alive one polled at once. */
#ifndef PROMPTD_TRANSPORT_H
#define PROMPTD_TRANSPORT_H

#include <fcgiapp.h>

#define TRANSPORT_CONNS_DEFAULT 64   /* connections one worker holds */
#define TRANSPORT_CONNS_MAX 1024

typedef struct transport transport_t;

/*
 * nginx with `fastcgi_keep_conn on` keeps a connection to a worker open
 * between requests.  A worker that blocked in read() on one idle kept
 * connection would leave every new one waiting in the backlog (the stall
 * that kept keep-alive off); this loop instead poll()s the listening socket
 * and all its connections and serves whichever has a request.  Connections
 * nginx does not keep (no FCGI_KEEP_CONN) are closed after their request,
 * as before.  At most max_conns are held: a new connection then replaces
 * the least recently used idle kept one (a connection with no request
 * pending that has served one), or waits in the backlog while every held
 * one is busy.
 *
 * FCGX_Init() must have been called.  listen_fd is shared with the
 * family's other workers; it is made non-blocking (they all poll it, one
 * wins each accept).  labels ("family=\"prompts\"") name the counters
 * promptd_fcgi_connections_total and promptd_fcgi_evictions_total; the
 * caller keeps the string.  NULL (logged) on failure.
 */
transport_t *transport_open(int listen_fd, int max_conns, const char *labels);

/* Waits until a request's parameters have been read and returns it (the
 * caller reads the body from its in stream, answers on out, then calls
 * transport_finish).  After transport_stop(): serves the requests already
 * waiting on kept connections, then returns NULL. */
FCGX_Request *transport_accept(transport_t *t);

/* Ends fr: reads what the handler left of the body (a kept connection
 * must stand at the next request's first record), writes the end of the
 * request, closes the connection unless nginx keeps it. */
void transport_finish(transport_t *t, FCGX_Request *fr);

/* Async-signal-safe: wakes transport_accept for the shutdown. */
void transport_stop(void);

/* Closes every connection and frees t (NULL-safe). */
void transport_close(transport_t *t);

#endif
