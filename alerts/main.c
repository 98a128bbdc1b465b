/*  edu-alerts - a supervisor's (督学) window on the county's alerts
 *
 *  `watch` subscribes to the aggregator's `alerts` PUB socket (CURVE; the supervisor's key must
 *  be among the aggregator's `readers`) and prints every alert as it comes: the alert object as
 *  one JSON line, or with --format text the Chinese sentence for a person at a terminal.
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
    {"alerts", "endpoint", CONFIG_STRING, "tcp://127.0.0.1:5556", 0, 0,
     offsetof(s_config_t, endpoint), "the aggregator's alerts endpoint", config_check_connect},
    S_KEY("alerts", "subscribe", CONFIG_STRING, "", 0, 0, subscribe,
          "topic prefix <county>.<level>.<kind>, e.g. 430405.red; empty = everything"),
    {"alerts", "query", CONFIG_STRING, "tcp://127.0.0.1:5557", 0, 0, offsetof(s_config_t, query),
     "the aggregator's query endpoint, for `current`", config_check_connect},
    S_KEY("alerts", "timeout_ms", CONFIG_INT, "10000", 100, 600000, timeout_ms,
          "how long `current` waits for the aggregator"),
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

static int s_watch(const s_config_t *config, bool text)
{
    char err[512];
    zsock_t *sub = zsock_new(ZMQ_SUB);
    zsock_set_linger(sub, 0);
    zsock_set_heartbeat_ivl(sub, 10000);
    zsock_set_heartbeat_timeout(sub, 30000);
    if (s_secure(sub, config, err, sizeof err) != 0) {
        fprintf(stderr, "edu-alerts: %s\n", err);
        zsock_destroy(&sub);
        return 1;
    }
    zsock_set_subscribe(sub, config->subscribe);
    if (zsock_connect(sub, "%s", config->endpoint) != 0) {
        fprintf(stderr, "edu-alerts: cannot connect to \"%s\"\n", config->endpoint);
        zsock_destroy(&sub);
        return 1;
    }
    log_info("alerts", "watching %s for \"%s\"", config->endpoint, config->subscribe);
    while (!zsys_interrupted) {
        zmsg_t *msg = zmsg_recv(sub);
        if (!msg)
            break;
        char *topic = zmsg_popstr(msg), *body = zmsg_popstr(msg), *message = zmsg_popstr(msg);
        if (body)
            printf("%s\n", text && message ? message : body);
        fflush(stdout);
        free(topic), free(body), free(message);
        zmsg_destroy(&msg);
    }
    zsock_destroy(&sub);
    return 0;
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
        char inner[512], where[512];
        bool server_bad = false;
        rc = keys_check_client(config.curve_secret, config.curve_server, &server_bad, inner,
                               sizeof inner);
        if (rc != 0)
            snprintf(
                err, sizeof err, "%s: %s",
                config_where(path, "curve", server_bad ? "server" : "secret", where, sizeof where),
                inner);
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
