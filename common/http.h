/*  http - a small HTTP server (libmicrohttpd) for metrics, the dashboard and its JSON
 *
 *  One internal thread answers GET requests through the caller's handler, with bounds on idle
 *  time and connections per client address, and a check of the Host header (see http.c). The handler runs in
 *  that thread, so whatever it reads must be safe to read from there (metrics_render, its own
 *  database connection).
 */
#ifndef EDU_HTTP_H
#define EDU_HTTP_H

#include <stdbool.h>
#include <stddef.h>

typedef struct http_t http_t;

/*  An answer: status, content type (a literal) and body (malloc'd, the server frees it). */
typedef struct {
    int status;
    const char *content_type;
    char *body;
    size_t size;
} http_answer_t;

/*  Called for each GET with the path (no query string). Fill answer; body may be NULL for an
 *  empty one. */
typedef void(http_handler_fn)(void *arg, const char *path, http_answer_t *answer);

/*  Listens on "ADDRESS:PORT" (e.g. 127.0.0.1:9101). Returns NULL with err. */
http_t *http_new(const char *listen, http_handler_fn *handler, void *arg, char *err,
                 size_t errlen);
void http_destroy(http_t **self_p);

/*  The port actually bound (useful with port 0). */
int http_port(http_t *self);

/*  Allows requests whose Host header is host (e.g. "edu.county.example" behind a proxy) beside
 *  the bound ADDRESS:PORT (and localhost:PORT on loopback), which are always allowed. A server
 *  bound to 0.0.0.0 answers any Host. Call before requests come. */
void http_allow_host(http_t *self, const char *host);

/*  Allows each Host header value of a list ("name:port, other:port"; NULL or empty: none). */
void http_allow_hosts(http_t *self, const char *hosts);

/*  True when "ADDRESS:PORT" binds a loopback address (127.x, localhost): only this machine
 *  reaches it. Anything else should be behind a proxy with authentication (docs/operations.md). */
bool http_is_loopback(const char *listen);

#endif
