/*  http - a small HTTP server (libmicrohttpd) for metrics, the dashboard and its JSON
 *
 *  Bounds, so that a slow or hostile client cannot make it unreachable (64 connections that
 *  each sent a header line every 10 s once did): an idle connection is closed after
 *  S_IDLE_S seconds; one address may hold S_PER_ADDRESS connections and all together
 *  S_CONNECTIONS; a request whose Host header names neither the bound address nor one the
 *  configuration allows is refused (a web page elsewhere cannot reach it by DNS rebinding).
 */
#include "http.h"

#include "log.h"
#include "util.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define S_IDLE_S 10         // an idle connection is closed after this many seconds
#define S_PER_ADDRESS 8     // connections one client address may hold
#define S_CONNECTIONS 256   // connections in all
#define S_MAX_HOSTS 16      // Host header values allowed

struct http_t {
    struct MHD_Daemon *daemon;      // libmicrohttpd
    http_handler_fn *handler;       // the caller's
    void *arg;                      // its argument
    int port;                       // bound
    bool any_host;                  // bound to every address: any Host header goes
    char *hosts[S_MAX_HOSTS];       // Host header values allowed (ADDRESS:PORT, localhost:PORT)
    size_t host_count;              // how many
    log_complain_t trouble;         // libmicrohttpd's complaints, with back-off
};

/*  libmicrohttpd's own messages ("Server reached connection limit"), into the log with
 *  back-off: a client that opens connection after connection must not flood it. */
__attribute__((format(printf, 2, 0)))
static void s_complain(void *arg, const char *fmt, va_list ap)
{
    http_t *self = arg;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    log_complain(&self->trouble, LOG_LEVEL_WARN, "http", "%s", line);
}

static bool s_host_allowed(const http_t *self, const char *host)
{
    if (self->any_host)
        return true;
    for (size_t i = 0; host && i < self->host_count; i++)
        if (strcasecmp(host, self->hosts[i]) == 0)
            return true;
    return false;
}

static enum MHD_Result s_request(void *cls, struct MHD_Connection *connection, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_data_size,
                                 void **con_cls)
{
    (void) version, (void) upload_data, (void) con_cls;
    http_t *self = cls;
    http_answer_t answer = {.status = 404, .content_type = "text/plain; charset=utf-8"};
    const char *host = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "Host");
    if (!s_host_allowed(self, host)) {
        answer.status = 421; // Misdirected Request
        answer.body = xstrdup("this server does not answer for that host name\n");
        answer.size = strlen(answer.body);
    } else if (strcmp(method, "GET") != 0 || *upload_data_size) {
        answer.status = 405;
    } else {
        self->handler(self->arg, url, &answer);
    }
    if (!answer.body) {
        const char *text = answer.status == 404 ? "not found\n" : answer.status == 405
                                                                      ? "only GET\n"
                                                                      : "";
        answer.body = xstrdup(text);
        answer.size = strlen(text);
    }
    struct MHD_Response *response =
        MHD_create_response_from_buffer(answer.size, answer.body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(response, "Content-Type", answer.content_type);
    MHD_add_response_header(response, "Cache-Control", "no-store");
    enum MHD_Result rc = MHD_queue_response(connection, (unsigned) answer.status, response);
    MHD_destroy_response(response);
    return rc;
}

http_t *http_new(const char *listen, http_handler_fn *handler, void *arg, char *err,
                 size_t errlen)
{
    const char *colon = strrchr(listen, ':');
    char host[64] = "";
    if (!colon || (size_t) (colon - listen) >= sizeof host) {
        errorf(err, errlen, "http = \"%s\" is not ADDRESS:PORT", listen);
        return NULL;
    }
    memcpy(host, listen, (size_t) (colon - listen));
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t) atoi(colon + 1))};
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        errorf(err, errlen, "http = \"%s\": \"%s\" is not an IPv4 address", listen, host);
        return NULL;
    }
    http_t *self = xcalloc(1, sizeof *self);
    self->handler = handler;
    self->arg = arg;
    self->any_host = addr.sin_addr.s_addr == htonl(INADDR_ANY);
    self->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG, 0, NULL, NULL,
        s_request, self, MHD_OPTION_EXTERNAL_LOGGER, s_complain, self, MHD_OPTION_SOCK_ADDR,
        &addr, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) S_IDLE_S, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned) S_CONNECTIONS, MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned) S_PER_ADDRESS,
        MHD_OPTION_END);
    if (!self->daemon) {
        errorf(err, errlen, "could not serve HTTP on \"%s\" (is the port in use?)", listen);
        free(self);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    self->port = info ? info->port : atoi(colon + 1);
    char name[96];
    snprintf(name, sizeof name, "%s:%d", host, self->port);
    http_allow_host(self, name);
    if (http_is_loopback(listen)) {
        snprintf(name, sizeof name, "localhost:%d", self->port);
        http_allow_host(self, name);
    }
    return self;
}

void http_destroy(http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    MHD_stop_daemon((*self_p)->daemon);
    for (size_t i = 0; i < (*self_p)->host_count; i++)
        free((*self_p)->hosts[i]);
    free(*self_p);
    *self_p = NULL;
}

void http_allow_host(http_t *self, const char *host)
{
    if (self->host_count < S_MAX_HOSTS)
        self->hosts[self->host_count++] = xstrdup(host);
}

void http_allow_hosts(http_t *self, const char *hosts)
{
    for (const char *h = hosts; h && *h;) {
        h += strspn(h, " ,");
        size_t n = strcspn(h, " ,");
        if (n) {
            char *one = xstrndup(h, n);
            http_allow_host(self, one);
            free(one);
        }
        h += n;
    }
}

bool http_is_loopback(const char *listen)
{
    return strncmp(listen, "127.", 4) == 0 || strncmp(listen, "localhost:", 10) == 0;
}

int http_port(http_t *self)
{
    return self->port;
}
