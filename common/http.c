/*  http - a small HTTP server (libmicrohttpd) for metrics, the dashboard and its JSON */
#include "http.h"

#include "util.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

struct http_t {
    struct MHD_Daemon *daemon; // libmicrohttpd
    http_handler_fn *handler;  // the caller's
    void *arg;                 // its argument
    int port;                  // bound
};

static enum MHD_Result s_request(void *cls, struct MHD_Connection *connection, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_data_size,
                                 void **con_cls)
{
    (void) version, (void) upload_data, (void) con_cls;
    http_t *self = cls;
    http_answer_t answer = {.status = 404, .content_type = "text/plain; charset=utf-8"};
    if (strcmp(method, "GET") != 0 || *upload_data_size) {
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
    self->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL,
                                    NULL, s_request, self, MHD_OPTION_SOCK_ADDR, &addr,
                                    MHD_OPTION_CONNECTION_TIMEOUT, 30u,
                                    MHD_OPTION_CONNECTION_LIMIT, 64u, MHD_OPTION_END);
    if (!self->daemon) {
        errorf(err, errlen, "could not serve HTTP on \"%s\" (is the port in use?)", listen);
        free(self);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    self->port = info ? info->port : atoi(colon + 1);
    return self;
}

void http_destroy(http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    MHD_stop_daemon((*self_p)->daemon);
    free(*self_p);
    *self_p = NULL;
}

int http_port(http_t *self)
{
    return self->port;
}
