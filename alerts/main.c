/*  edu-alerts - a supervisor's (督学) window on the county's alerts
 *
 *  `watch` subscribes to the aggregator's `alerts` PUB socket (CURVE; the supervisor's key must
 *  be among the aggregator's `readers`) and prints every alert as it comes: the alert object as
 *  one JSON line, or with --format text the Chinese sentence for a person at a terminal. A
 *  socket monitor watches its handshakes, so a key the county refuses, a wrong server key or a
 *  wrong address is said at once (or within timeout_ms) instead of waited on in silence.
 *  `current` asks the aggregator's `query` endpoint what is yellow or red now, so a subscriber
 *  that connects late never has to replay history.
 */
#include "config.h"
#include "keys.h"
#include "log.h"
#include "query.h"
#include "util.h"

#include <czmq.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    char *endpoint;     // the aggregator's alerts PUB
    char *subscribe;    // topic prefix
    char *query;        // the aggregator's query endpoint
    long timeout_ms;    // how long `current` waits for an answer
    bool curve_enabled; // CURVE on
    char *curve_secret; // this supervisor's secret certificate
    char *curve_server; // the aggregator's public certificate
} s_config_t;

#define S_KEY(sec, k, t, def, lo, hi, field, desc)                                                 \
    {sec, k, t, def, lo, hi, offsetof(s_config_t, field), desc, NULL}

static const config_key_t s_keys[] = {
    S_KEY("alerts", "endpoint", CONFIG_STRING, "tcp://127.0.0.1:5556", 0, 0, endpoint,
          "the aggregator's alerts endpoint"),
    S_KEY("alerts", "subscribe", CONFIG_STRING, "", 0, 0, subscribe,
          "topic prefix <county>.<level>.<kind>, e.g. 430405.red; empty = everything"),
    S_KEY("alerts", "query", CONFIG_STRING, "tcp://127.0.0.1:5557", 0, 0, query,
          "the aggregator's query endpoint, for `current`"),
    S_KEY("alerts", "timeout_ms", CONFIG_INT, "10000", 100, 600000, timeout_ms,
          "how long `current` waits for the aggregator's answer, and `watch` for its first "
          "handshake (then it says why there was none and exits 1)"),
    S_KEY("curve", "enabled", CONFIG_BOOL, "true", 0, 0, curve_enabled, "CURVE encryption"),
    S_KEY("curve", "secret", CONFIG_STRING, "/etc/edu/keys/supervisor_secret", 0, 0, curve_secret,
          "this supervisor's secret certificate (its public half is among the readers)"),
    S_KEY("curve", "server", CONFIG_STRING, "/etc/edu/keys/aggregator", 0, 0, curve_server,
          "the aggregator's public certificate"),
    {NULL, NULL, 0, NULL, 0, 0, 0, NULL, NULL},
};

static void s_usage(FILE *f)
{
    fprintf(f,
            "usage: edu-alerts -c FILE [--check] [--format json|text] watch|current\n"
            "\n"
            "A supervisor's (督学) window on the county's red and yellow warnings (红黄绿三色预警).\n"
            "\n"
            "  watch              print every alert as it comes: the alert object as one JSON\n"
            "                     line (alert_id, county, kind, subject, subject_name, indicator,\n"
            "                     indicator_name, period, level, previous_level, value, target,\n"
            "                     raised_at, message), or the Chinese message with --format text\n"
            "  current            print what is yellow or red now, one line each, and exit\n"
            "\n"
            "  -c, --config FILE  configuration (INI; see below)\n"
            "      --check        check FILE, then exit\n"
            "  -f, --format F     json (default) or text\n"
            "  -v, --verbose      log debug lines\n"
            "  -h, --help         this text\n"
            "  -V, --version      print the version\n"
            "      --example      print the configuration file, every key at its default\n"
            "\n"
            "Configuration, every key at its default:\n\n");
    config_print_example(f, s_keys);
}

static int s_secure(zsock_t *sock, const s_config_t *config, char *err, size_t errlen)
{
    if (!config->curve_enabled)
        return 0;
    return keys_curve_client(sock, config->curve_secret, config->curve_server, err, errlen);
}

/*  What the socket monitor has told of the link to the aggregator. */
typedef struct {
    bool connected;  // a TCP connection was made
    bool handshaken; // a handshake succeeded (and the link has not dropped since)
    bool ever;       // a handshake succeeded once
    int refused;     // the ZAP status of a refused key (0: none)
    bool failed;     // a handshake failed for another reason
} s_link_t;

/*  Reads one monitor event: [event id (16 bits), value (32 bits)][endpoint]. */
static void s_link_event(zsock_t *monitor, s_link_t *link, const char *endpoint)
{
    zmsg_t *msg = zmsg_recv(monitor);
    zframe_t *frame = msg ? zmsg_first(msg) : NULL;
    if (frame && zframe_size(frame) == 6) {
        uint16_t event;
        uint32_t value;
        memcpy(&event, zframe_data(frame), sizeof event);
        memcpy(&value, zframe_data(frame) + 2, sizeof value);
        if (event == ZMQ_EVENT_CONNECTED)
            link->connected = true;
        else if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
            if (link->ever && !link->handshaken)
                log_info("alerts", "connected to \"%s\" again", endpoint);
            link->handshaken = link->ever = true;
        } else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
            link->refused = value ? (int) value : 400;
        else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
                 event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
            link->failed = true;
        else if (event == ZMQ_EVENT_DISCONNECTED && link->handshaken) {
            log_warn("alerts", "lost the connection to \"%s\"; reconnecting", endpoint);
            link->handshaken = false;
        }
    }
    zmsg_destroy(&msg);
}

/*  Says why no handshake succeeded, in Chinese for the supervisor and in English. */
static void s_link_explain(const s_config_t *config, const s_link_t *link)
{
    const char *at = config->endpoint, *secret = config->curve_secret;
    // the public half of a CZMQ pair is the secret's name without "_secret"
    int public_len = (int) strlen(secret) - (str_ends_with(secret, "_secret") ? 7 : 0);
    if (link->refused)
        fprintf(stderr,
                "edu-alerts: 县里的汇聚服务拒绝了本机的密钥：它不在县里的读者（readers）名单中。"
                "请把本机的公钥文件 %.*s 交给县教育局，放进其 [curve] readers 目录。\n"
                "edu-alerts: the aggregator at \"%s\" refused this key (ZAP status %d): it is not "
                "among the county's readers ([curve] readers)\n",
                public_len, secret, at, link->refused);
    else if (link->connected && link->failed)
        fprintf(stderr,
                "edu-alerts: 已连上 \"%s\"，但加密握手失败：多半是 [curve] server 不是该县汇聚服务"
                "的公钥，或这个地址不是县里的预警（alerts）端口。\n"
                "edu-alerts: connected to \"%s\" but the handshake failed: probably the wrong "
                "server key ([curve] server = %s), CURVE on one side only, or not the aggregator's "
                "alerts endpoint\n",
                at, at, config->curve_enabled ? config->curve_server : "none, CURVE is off");
    else if (link->connected)
        fprintf(stderr,
                "edu-alerts: 已连上 \"%s\"，但 %ld 毫秒内没有完成握手：多半是 [curve] server "
                "不是该县汇聚服务的公钥，或这个地址不是县里的预警（alerts）端口。\n"
                "edu-alerts: connected to \"%s\" but no handshake within %ld ms: probably the "
                "wrong server key ([curve] server = %s), or not the aggregator's alerts endpoint\n",
                at, config->timeout_ms, at, config->timeout_ms,
                config->curve_enabled ? config->curve_server : "none, CURVE is off");
    else
        fprintf(stderr,
                "edu-alerts: %ld 毫秒内连不上 \"%s\"：地址或端口不对，或县里的汇聚服务没有运行。\n"
                "edu-alerts: could not connect to \"%s\" within %ld ms: wrong address, or the "
                "aggregator is not running\n",
                config->timeout_ms, at, at, config->timeout_ms);
}

/*  Prints every alert as it comes. A socket monitor watches the handshakes: when none has
 *  succeeded within timeout_ms, or the county refuses the key at any time, it says why and
 *  returns 1, rather than waiting in silence. */
static int s_watch(const s_config_t *config, bool text)
{
    char err[512], monitor_endpoint[64];
    int rc = 1;
    s_link_t link = {0};
    zsock_t *sub = zsock_new(ZMQ_SUB), *monitor = NULL;
    zpoller_t *poller = NULL;
    zsock_set_linger(sub, 0);
    zsock_set_heartbeat_ivl(sub, 10000);
    zsock_set_heartbeat_timeout(sub, 30000);
    if (s_secure(sub, config, err, sizeof err) != 0) {
        fprintf(stderr, "edu-alerts: %s\n", err);
        goto cleanup;
    }
    zsock_set_subscribe(sub, config->subscribe);
    snprintf(monitor_endpoint, sizeof monitor_endpoint, "inproc://alerts-watch-%p", (void *) sub);
    if (zmq_socket_monitor(zsock_resolve(sub), monitor_endpoint,
                           ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED |
                               ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) != 0 ||
        !(monitor = zsock_new_pair(monitor_endpoint))) {
        fprintf(stderr, "edu-alerts: could not watch the connection: %s\n",
                zmq_strerror(zmq_errno()));
        goto cleanup;
    }
    if (zsock_connect(sub, "%s", config->endpoint) != 0) {
        fprintf(stderr, "edu-alerts: cannot connect to \"%s\"\n", config->endpoint);
        goto cleanup;
    }
    log_info("alerts", "watching %s for \"%s\"", config->endpoint, config->subscribe);
    poller = zpoller_new(sub, monitor, NULL);
    int64_t deadline = zclock_mono() + config->timeout_ms;
    rc = 0;
    while (!zsys_interrupted) {
        int64_t wait = link.ever ? -1 : deadline - zclock_mono();
        void *which = wait < 0 && !link.ever ? NULL : zpoller_wait(poller, (int) wait);
        if (which == monitor) {
            s_link_event(monitor, &link, config->endpoint);
            if (link.refused || (!link.ever && link.failed)) { // said at once
                s_link_explain(config, &link);
                rc = 1;
                break;
            }
            continue;
        }
        if (which == sub) {
            zmsg_t *msg = zmsg_recv(sub);
            if (!msg)
                break;
            char *topic = zmsg_popstr(msg), *body = zmsg_popstr(msg), *message = zmsg_popstr(msg);
            if (body)
                printf("%s\n", text && message ? message : body);
            fflush(stdout);
            free(topic), free(body), free(message);
            zmsg_destroy(&msg);
            continue;
        }
        if (zpoller_terminated(poller))
            break;
        if (!link.ever) { // the deadline passed without a handshake
            s_link_explain(config, &link);
            rc = 1;
            break;
        }
    }
cleanup:
    zpoller_destroy(&poller);
    if (monitor)
        zmq_socket_monitor(zsock_resolve(sub), NULL, 0);
    zsock_destroy(&monitor);
    zsock_destroy(&sub);
    return rc;
}

static int s_current(const s_config_t *config, bool text)
{
    char err[512];
    zsock_t *dealer = zsock_new(ZMQ_DEALER);
    zsock_set_linger(dealer, 0);
    zsock_set_rcvtimeo(dealer, (int) config->timeout_ms);
    int rc = 1;
    if (s_secure(dealer, config, err, sizeof err) != 0) {
        fprintf(stderr, "edu-alerts: %s\n", err);
        goto cleanup;
    }
    if (zsock_connect(dealer, "%s", config->query) != 0) {
        fprintf(stderr, "edu-alerts: cannot connect to \"%s\"\n", config->query);
        goto cleanup;
    }
    zstr_send(dealer, text ? QUERY_CURRENT_TEXT : QUERY_CURRENT);
    zmsg_t *reply = zmsg_recv(dealer);
    if (!reply) {
        fprintf(stderr,
                "edu-alerts: no answer from \"%s\" within %ld ms (is the aggregator running, and "
                "is this key among its readers?)\n",
                config->query, config->timeout_ms);
        goto cleanup;
    }
    char *status = zmsg_popstr(reply), *body = zmsg_popstr(reply);
    if (status && strcmp(status, QUERY_OK) == 0) {
        if (body && *body)
            printf("%s\n", body);
        rc = 0;
    } else {
        fprintf(stderr, "edu-alerts: %s\n", body ? body : "malformed answer");
    }
    free(status), free(body);
    zmsg_destroy(&reply);
cleanup:
    zsock_destroy(&dealer);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {{"config", required_argument, NULL, 'c'},
                                            {"check", no_argument, NULL, 'k'},
                                            {"format", required_argument, NULL, 'f'},
                                            {"verbose", no_argument, NULL, 'v'},
                                            {"help", no_argument, NULL, 'h'},
                                            {"version", no_argument, NULL, 'V'},
                                            {"example", no_argument, NULL, 'E'},
                                            {NULL, 0, NULL, 0}};
    const char *path = NULL, *format = "json";
    bool check = false;
    int c;
    while ((c = getopt_long(argc, argv, "c:f:vhV", options, NULL)) != -1) {
        switch (c) {
        case 'c': path = optarg; break;
        case 'k': check = true; break;
        case 'f': format = optarg; break;
        case 'v': log_set_level(LOG_LEVEL_DEBUG); break;
        case 'h': s_usage(stdout); return 0;
        case 'V': printf("edu-alerts %s\n", EDU_VERSION); return 0;
        case 'E': config_print_example(stdout, s_keys); return 0;
        default: fprintf(stderr, "try: edu-alerts --help\n"); return 2;
        }
    }
    const char *command = optind < argc ? argv[optind] : NULL;
    bool known = command && (strcmp(command, "watch") == 0 || strcmp(command, "current") == 0);
    if (!path || optind < argc - 1 || (!check && !known) || (command && !known) ||
        (strcmp(format, "json") != 0 && strcmp(format, "text") != 0)) {
        fprintf(stderr, "usage: edu-alerts -c FILE [--format json|text] watch|current "
                        "(try --help)\n");
        return 2;
    }
    s_config_t config = {0};
    char err[1024];
    int rc = config_load(path, s_keys, &config, NULL, NULL, err, sizeof err);
    if (rc == 0 && config.curve_enabled) {
        zcert_t *secret = keys_load_secret(config.curve_secret, err, sizeof err);
        zcert_t *server = secret ? keys_load_public(config.curve_server, err, sizeof err) : NULL;
        rc = secret && server ? 0 : -1;
        zcert_destroy(&secret);
        zcert_destroy(&server);
    }
    if (rc != 0)
        fprintf(stderr, "edu-alerts: %s\n", err);
    else if (check)
        printf("%s: ok\n", path);
    else if (strcmp(command, "watch") == 0)
        rc = s_watch(&config, strcmp(format, "text") == 0);
    else
        rc = s_current(&config, strcmp(format, "text") == 0);
    config_free(s_keys, &config);
    return rc == 0 ? 0 : 1;
}
