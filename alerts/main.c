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
#include "cli.h"
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
            "usage: edu-alerts -c FILE [--check] [--format json|text] COMMAND [ARGS]\n"
            "\n"
            "A supervisor's (督学) window on the county's red and yellow warnings (红黄绿三色预警)\n"
            "and what follows them: cases (整改事项), 督办, 销号 (docs/cases.md).\n"
            "\n"
            "Reading (a reader's or a supervisor's key):\n"
            "  watch              print every alert as it comes: the alert object as one JSON\n"
            "                     line (alert_id, county, kind, subject, subject_name, indicator,\n"
            "                     indicator_name, period, level, previous_level, value, target,\n"
            "                     raised_at, message), or the Chinese message with --format text\n"
            "  current            print what is yellow or red now, one line each, and exit\n"
            "  cases [--state S] [--school CODE] [--overdue] [--summary]\n"
            "                     the cases, red first (S: open, acknowledged, assigned, resolved,\n"
            "                     closed); --summary: opened, closed on time, escalated, median\n"
            "                     days to close, per school and for the county (评估)\n"
            "  silences           the silences, active first\n"
            "\n"
            "Acting (a supervisor's key; the certificate's name is recorded as the actor):\n"
            "  ack ID [--note T]  the case has been seen (确认)\n"
            "  assign ID --to NAME --due YYYY-MM-DD [--plan T]\n"
            "                     a responsible person (责任人), a plan (整改措施) and a due date\n"
            "  note ID TEXT       a note on the case\n"
            "  close ID --note T  销号: refused while the warning is still yellow or red\n"
            "  silence --match k=v[,k=v...] --until TIME --comment T\n"
            "                     hold alerts back from people until TIME (ISO 8601, or 2d, 12h);\n"
            "                     keys kind, school, indicator, period, level; cases go on\n"
            "  unsilence ID       lift a silence: what still fires is delivered then\n"
            "  approve PERIOD [--note T] [--checked ID ...]\n"
            "                     审核: lock the year's figures for the province; refused while a\n"
            "                     data_quality warning (核查) of the year is unresolved, unless its\n"
            "                     verification case is closed, or noted and named in --checked\n"
            "  unlock PERIOD --reason T\n"
            "                     unlock an approved year (recorded as a late change)\n"
            "\n"
            "Cases and silences print Chinese text by default, JSON lines with --format json.\n"
            "\n"
            "  -c, --config FILE  configuration (INI; see below)\n"
            "      --check        check FILE, then exit\n"
            "  -f, --format F     json or text (watch, current: json; the others: text)\n"
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

/*  Which keys an endpoint of the aggregator lets in, as the supervisor and the operator say it. */
typedef struct {
    const char *zh; // "读者（readers）"
    const char *en; // "readers ([curve] readers)"
    const char *what_zh; // "预警（alerts）端口"
} s_door_t;

static const s_door_t s_alerts_door = {"读者（readers）", "the county's readers ([curve] readers)",
                                       "预警（alerts）端口"};
static const s_door_t s_query_door = {
    "只读、督学或省级（readers、supervisors、province）",
    "the county's readers, supervisors or province ([curve] readers, supervisors, province)",
    "查询（query）端口"};

/*  Says why no handshake with `at` succeeded, in Chinese for the supervisor and in English. */
static void s_link_explain(const s_config_t *config, const s_link_t *link, const char *at,
                           const s_door_t *door)
{
    const char *secret = config->curve_secret;
    // the public half of a CZMQ pair is the secret's name without "_secret"
    int public_len = (int) strlen(secret) - (str_ends_with(secret, "_secret") ? 7 : 0);
    if (link->refused)
        fprintf(stderr,
                "edu-alerts: 县里的汇聚服务拒绝了本机的密钥：它不在县里登记的%s密钥中。"
                "请把本机的公钥文件 %.*s 交给县教育局登记。\n"
                "edu-alerts: the aggregator at \"%s\" refused this key (ZAP status %d): it is not "
                "among %s\n",
                door->zh, public_len, secret, at, link->refused, door->en);
    else if (link->connected && link->failed)
        fprintf(stderr,
                "edu-alerts: 已连上 \"%s\"，但加密握手失败：多半是 [curve] server 不是该县汇聚服务"
                "的公钥，或这个地址不是县里的%s。\n"
                "edu-alerts: connected to \"%s\" but the handshake failed: probably the wrong "
                "server key ([curve] server = %s), CURVE on one side only, or not the aggregator's "
                "endpoint\n",
                at, door->what_zh, at,
                config->curve_enabled ? config->curve_server : "none, CURVE is off");
    else if (link->connected)
        fprintf(stderr,
                "edu-alerts: 已连上 \"%s\"，但 %ld 毫秒内没有完成握手：多半是 [curve] server "
                "不是该县汇聚服务的公钥，或这个地址不是县里的%s。\n"
                "edu-alerts: connected to \"%s\" but no handshake within %ld ms: probably the "
                "wrong server key ([curve] server = %s), or not the aggregator's endpoint\n",
                at, config->timeout_ms, door->what_zh, at, config->timeout_ms,
                config->curve_enabled ? config->curve_server : "none, CURVE is off");
    else
        fprintf(stderr,
                "edu-alerts: %ld 毫秒内连不上 \"%s\"：地址或端口不对，或县里的汇聚服务没有运行。\n"
                "edu-alerts: could not connect to \"%s\" within %ld ms: wrong address, or the "
                "aggregator is not running\n",
                config->timeout_ms, at, at, config->timeout_ms);
}

/*  A socket monitor on sock's connections and handshakes (read it with s_link_event), or NULL
 *  after saying why on stderr. Stop it with zmq_socket_monitor(sock, NULL, 0) before
 *  destroying it. */
static zsock_t *s_monitor(zsock_t *sock)
{
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "inproc://alerts-monitor-%p", (void *) sock);
    zsock_t *monitor = NULL;
    if (zmq_socket_monitor(zsock_resolve(sock), endpoint,
                           ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED |
                               ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) != 0 ||
        !(monitor = zsock_new_pair(endpoint)))
        fprintf(stderr, "edu-alerts: could not watch the connection: %s\n",
                zmq_strerror(zmq_errno()));
    return monitor;
}

/*  Prints every alert as it comes. A socket monitor watches the handshakes: when none has
 *  succeeded within timeout_ms, or the county refuses the key at any time, it says why and
 *  returns 1, rather than waiting in silence. */
static int s_watch(const s_config_t *config, bool text)
{
    char err[512];
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
    if (!(monitor = s_monitor(sub)))
        goto cleanup;
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
                s_link_explain(config, &link, config->endpoint, &s_alerts_door);
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
            s_link_explain(config, &link, config->endpoint, &s_alerts_door);
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

/*  Sends one request of frames to the aggregator's query endpoint and prints the answer on
 *  stdout, or the refusal on stderr. Returns 0 when the answer was ok. */
static int s_ask(const s_config_t *config, const char *const *frames, size_t n)
{
    char err[512];
    s_link_t link = {0};
    zsock_t *dealer = zsock_new(ZMQ_DEALER), *monitor = NULL;
    zpoller_t *poller = NULL;
    zmsg_t *reply = NULL;
    zsock_set_linger(dealer, 0);
    int rc = 1;
    if (s_secure(dealer, config, err, sizeof err) != 0) {
        fprintf(stderr, "edu-alerts: %s\n", err);
        goto cleanup;
    }
    if (!(monitor = s_monitor(dealer)))
        goto cleanup;
    if (zsock_connect(dealer, "%s", config->query) != 0) {
        fprintf(stderr, "edu-alerts: cannot connect to \"%s\"\n", config->query);
        goto cleanup;
    }
    zmsg_t *request = zmsg_new();
    for (size_t i = 0; i < n; i++)
        zmsg_addstr(request, frames[i] ? frames[i] : "");
    zmsg_send(&request, dealer);
    // the answer, or the monitor telling that the county refused the key (said at once)
    poller = zpoller_new(dealer, monitor, NULL);
    int64_t deadline = zclock_mono() + config->timeout_ms;
    while (!reply && !zsys_interrupted) {
        int64_t wait = deadline - zclock_mono();
        void *which = wait > 0 ? zpoller_wait(poller, (int) wait) : NULL;
        if (which == monitor) {
            s_link_event(monitor, &link, config->query);
            if (link.refused || (!link.ever && link.failed)) {
                s_link_explain(config, &link, config->query, &s_query_door);
                goto cleanup;
            }
        } else if (which == dealer) {
            reply = zmsg_recv(dealer);
        } else {
            break; // the deadline, or interrupted
        }
    }
    if (!reply && !link.ever) {
        s_link_explain(config, &link, config->query, &s_query_door);
        goto cleanup;
    }
    if (!reply) {
        fprintf(stderr,
                "edu-alerts: 县里 %s 在 %ld 毫秒内没有回答：聚合服务可能正忙，请稍后再试。"
                "（no answer from \"%s\" within %ld ms）\n",
                config->query, config->timeout_ms, config->query, config->timeout_ms);
        goto cleanup;
    }
    char *status = zmsg_popstr(reply), *body = zmsg_popstr(reply);
    if (status && strcmp(status, QUERY_OK) == 0) {
        if (body && *body)
            printf("%s%s", body, body[strlen(body) - 1] == '\n' ? "" : "\n");
        rc = 0;
    } else {
        fprintf(stderr, "edu-alerts: %s\n", body ? body : "malformed answer");
    }
    free(status), free(body);
cleanup:
    zmsg_destroy(&reply);
    zpoller_destroy(&poller);
    if (monitor)
        zmq_socket_monitor(zsock_resolve(dealer), NULL, 0);
    zsock_destroy(&monitor);
    zsock_destroy(&dealer);
    return rc;
}

static int s_current(const s_config_t *config, bool text)
{
    const char *frames[] = {text ? QUERY_CURRENT_TEXT : QUERY_CURRENT};
    return s_ask(config, frames, 1);
}

//  What the command line gives the case commands.
typedef struct {
    const char *state, *school, *note, *to, *due, *plan, *match, *until, *comment, *reason;
    char checked[512]; // --checked ids, comma-separated (repeatable)
    bool overdue, summary;
} s_opts_t;

/*  The request of a case command with its positional arguments args[0..nargs). Returns the
 *  number of frames, or -1 with a usage message printed. */
static int s_case_request(const char *command, char **args, int nargs, s_opts_t *o,
                          bool text, const char *frames[7])
{
    // approve PERIOD --checked 12 15: the ids after the first are positional to getopt
    while (strcmp(command, "approve") == 0 && nargs > 1 &&
           strspn(args[nargs - 1], "0123456789,") == strlen(args[nargs - 1])) {
        size_t used = strlen(o->checked);
        if (used + strlen(args[nargs - 1]) + 2 > sizeof o->checked)
            break;
        snprintf(o->checked + used, sizeof o->checked - used, "%s%s", used ? "," : "",
                 args[nargs - 1]);
        nargs--;
    }
    struct {
        const char *command;
        int nargs; // positional arguments
    } shapes[] = {{"cases", 0},   {"ack", 1},      {"assign", 1},    {"note", 2},
                  {"close", 1},   {"silence", 0},  {"unsilence", 1}, {"silences", 0},
                  {"approve", 1}, {"unlock", 1}};
    int want = -1;
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        if (strcmp(command, shapes[i].command) == 0)
            want = shapes[i].nargs;
    if (want != nargs) {
        fprintf(stderr, "edu-alerts: %s takes %d argument(s) (try --help)\n", command, want);
        return -1;
    }
    const char *fmt = text ? "text" : "json";
    if (strcmp(command, "cases") == 0) {
        frames[0] = QUERY_CASES, frames[1] = fmt, frames[2] = o->state ? o->state : "";
        frames[3] = o->school ? o->school : "", frames[4] = o->overdue ? "1" : "0";
        frames[5] = o->summary ? "1" : "0";
        return 6;
    }
    if (strcmp(command, "ack") == 0) {
        frames[0] = QUERY_ACK, frames[1] = args[0], frames[2] = o->note ? o->note : "";
        return 3;
    }
    if (strcmp(command, "assign") == 0) {
        if (!o->to || !o->due) {
            fprintf(stderr, "edu-alerts: assign ID --to NAME --due YYYY-MM-DD [--plan TEXT]\n");
            return -1;
        }
        frames[0] = QUERY_ASSIGN, frames[1] = args[0], frames[2] = o->to, frames[3] = o->due;
        frames[4] = o->plan ? o->plan : "";
        return 5;
    }
    if (strcmp(command, "note") == 0) {
        frames[0] = QUERY_NOTE, frames[1] = args[0], frames[2] = args[1];
        return 3;
    }
    if (strcmp(command, "close") == 0) {
        if (!o->note) {
            fprintf(stderr, "edu-alerts: close ID --note TEXT (销号 needs a note)\n");
            return -1;
        }
        frames[0] = QUERY_CLOSE, frames[1] = args[0], frames[2] = o->note;
        return 3;
    }
    if (strcmp(command, "silence") == 0) {
        if (!o->match || !o->until || !o->comment) {
            fprintf(stderr, "edu-alerts: silence --match k=v[,k=v...] --until TIME --comment TEXT\n");
            return -1;
        }
        frames[0] = QUERY_SILENCE, frames[1] = o->match, frames[2] = o->until;
        frames[3] = o->comment;
        return 4;
    }
    if (strcmp(command, "unsilence") == 0) {
        frames[0] = QUERY_UNSILENCE, frames[1] = args[0];
        return 2;
    }
    if (strcmp(command, "approve") == 0) {
        frames[0] = QUERY_APPROVE, frames[1] = args[0], frames[2] = o->note ? o->note : "";
        frames[3] = o->checked;
        return 4;
    }
    if (strcmp(command, "unlock") == 0) {
        if (!o->reason) {
            fprintf(stderr, "edu-alerts: unlock PERIOD --reason TEXT\n");
            return -1;
        }
        frames[0] = QUERY_UNLOCK, frames[1] = args[0], frames[2] = o->reason;
        return 3;
    }
    frames[0] = QUERY_SILENCES, frames[1] = fmt;
    return 2;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {CLI_OPTIONS,
                                            {"format", required_argument, NULL, 'f'},
                                            {"state", required_argument, NULL, 1},
                                            {"school", required_argument, NULL, 2},
                                            {"overdue", no_argument, NULL, 3},
                                            {"summary", no_argument, NULL, 4},
                                            {"note", required_argument, NULL, 5},
                                            {"to", required_argument, NULL, 6},
                                            {"due", required_argument, NULL, 7},
                                            {"plan", required_argument, NULL, 8},
                                            {"match", required_argument, NULL, 9},
                                            {"until", required_argument, NULL, 10},
                                            {"comment", required_argument, NULL, 11},
                                            {"reason", required_argument, NULL, 12},
                                            {"checked", required_argument, NULL, 13},
                                            {NULL, 0, NULL, 0}};
    cli_t cli = {.program = "edu-alerts", .keys = s_keys, .usage = s_usage};
    const char *format = NULL;
    s_opts_t o = {0};
    int c, status;
    while ((c = getopt_long(argc, argv, CLI_SHORT "f:", options, NULL)) != -1) {
        switch (c) {
        case 'f': format = optarg; break;
        case 1: o.state = optarg; break;
        case 2: o.school = optarg; break;
        case 3: o.overdue = true; break;
        case 4: o.summary = true; break;
        case 5: o.note = optarg; break;
        case 6: o.to = optarg; break;
        case 7: o.due = optarg; break;
        case 8: o.plan = optarg; break;
        case 9: o.match = optarg; break;
        case 10: o.until = optarg; break;
        case 11: o.comment = optarg; break;
        case 12: o.reason = optarg; break;
        case 13: {
            size_t used = strlen(o.checked);
            if (used + strlen(optarg) + 2 > sizeof o.checked) {
                fprintf(stderr, "edu-alerts: too many --checked cases\n");
                return 2;
            }
            snprintf(o.checked + used, sizeof o.checked - used, "%s%s", used ? "," : "", optarg);
            break;
        }
        default:
            if (cli_option(&cli, c, optarg, &status) < 0)
                return status;
        }
    }
    const char *path = cli.path;
    bool check = cli.check;
    static const char *commands[] = {"watch",    "current", "cases",    "ack",
                                     "assign",   "note",    "close",    "silence",
                                     "unsilence", "silences", "approve", "unlock"};
    const char *command = optind < argc ? argv[optind] : NULL;
    bool known = false, for_people = false;
    for (size_t i = 0; command && i < sizeof commands / sizeof *commands; i++)
        if (strcmp(command, commands[i]) == 0)
            known = true, for_people = i >= 2; // the case commands answer a person by default
    if (!path || (!check && !known) || (command && !known) ||
        (format && strcmp(format, "json") != 0 && strcmp(format, "text") != 0)) {
        fprintf(stderr, "usage: edu-alerts -c FILE [--format json|text] COMMAND ... "
                        "(try --help)\n");
        return 2;
    }
    bool text = format ? strcmp(format, "text") == 0 : for_people;
    const char *frames[7];
    int n = 0;
    if (command && for_people &&
        (n = s_case_request(command, argv + optind + 1, argc - optind - 1, &o, text, frames)) < 0)
        return 2;
    if (command && !for_people && optind < argc - 1) {
        fprintf(stderr, "edu-alerts: %s takes no argument (try --help)\n", command);
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
        rc = s_watch(&config, text);
    else if (strcmp(command, "current") == 0)
        rc = s_current(&config, text);
    else
        rc = s_ask(&config, frames, (size_t) n);
    config_free(s_keys, &config);
    return rc == 0 ? 0 : 1;
}
