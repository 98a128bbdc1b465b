/*  gate - who may connect: a ZAP handler (ZeroMQ RFC 27) with one keys directory per domain */
#include "gate.h"

#include "keys.h"
#include "log.h"
#include "util.h"

#include <string.h>
#include <sys/stat.h>

typedef struct {
    const char *domain;     // ZAP domain
    const char *class;      // what its keys are: GATE_CLASS_*
    char *dir;              // its certificates
    keys_dir_t *keys;       // loaded (NULL until first needed or while unreadable)
    int64_t next_reload_ms; // no reload for an unknown key before this
    struct timespec mtime;  // the directory's when loaded
    log_complain_t skipped; // files of the directory that are not certificates
} s_domain_t;

static bool s_changed(s_domain_t *d)
{
    struct stat st;
    if (stat(d->dir, &st) != 0)
        return true;
    bool changed = st.st_mtim.tv_sec != d->mtime.tv_sec || st.st_mtim.tv_nsec != d->mtime.tv_nsec;
    d->mtime = st.st_mtim;
    return changed;
}

/*  The name of an allowed key, or NULL. The directory is read again when it changed (a
 *  certificate added or removed: revoking a key takes effect at the next handshake) and, at
 *  most once a second, when the key is unknown. */
static const char *s_name(s_domain_t *d, const char *key)
{
    if (d->keys && s_changed(d)) {
        keys_dir_destroy(&d->keys);
        d->next_reload_ms = 0;
    }
    const char *name = d->keys ? keys_dir_name(d->keys, key) : NULL;
    if (name || clock_mono_ms() < d->next_reload_ms)
        return name;
    d->next_reload_ms = clock_mono_ms() + 1000;
    char err[256];
    keys_dir_t *fresh = keys_dir_load(d->dir, err, sizeof err);
    if (!fresh) {
        log_warn("gate", "could not read the %s certificates: %s", d->domain, err);
        return NULL;
    }
    keys_dir_destroy(&d->keys);
    d->keys = fresh;
    s_changed(d);
    const char *problem;
    size_t skipped = keys_dir_skipped(fresh, &problem);
    if (skipped)
        log_complain(&d->skipped, LOG_LEVEL_WARN, "gate",
                     "skipped %zu file(s) of the %s certificates that are not readable public "
                     "certificates (the others are in force): %s", skipped, d->domain, problem);
    else
        log_release(&d->skipped, "gate", "every file of the %s certificates is readable",
                    d->domain);
    return keys_dir_name(d->keys, key);
}

/*  The ZAP reply's metadata (ZMTP properties: name length, name, 4-byte value length, value). */
static void s_property(zchunk_t *out, const char *name, const char *value)
{
    size_t name_len = strlen(name), value_len = strlen(value);
    byte size[4] = {(byte) (value_len >> 24), (byte) (value_len >> 16), (byte) (value_len >> 8),
                    (byte) value_len};
    byte n = (byte) name_len;
    zchunk_extend(out, &n, 1);
    zchunk_extend(out, name, name_len);
    zchunk_extend(out, size, 4);
    zchunk_extend(out, value, value_len);
}

/*  One ZAP request: version, request id, domain, address, identity, mechanism, credentials.
 *  The first of the domain's directories holding the key lets it in; every message on the
 *  connection then carries the certificate's file name as User-Id, and as properties the key
 *  (GATE_KEY_PROPERTY), its class (GATE_CLASS_PROPERTY) and the person it names
 *  (GATE_PERSON_PROPERTY). Refused keys are logged with back-off and a count (refused): a burst
 *  of handshakes with random keys writes a line, not a line each. */
static void s_handle(zsock_t *handler, s_domain_t *domains, size_t n, log_complain_t *refused)
{
    zmsg_t *request = zmsg_recv(handler);
    if (!request)
        return;
    char *version = zmsg_popstr(request), *id = zmsg_popstr(request);
    char *domain = zmsg_popstr(request), *address = zmsg_popstr(request);
    char *identity = zmsg_popstr(request), *mechanism = zmsg_popstr(request);
    zframe_t *credential = zmsg_pop(request);
    const char *status = "400", *text = "refused", *user = "";
    char key[41] = "";
    zchunk_t *metadata = zchunk_new(NULL, 128);
    if (mechanism && strcmp(mechanism, "CURVE") == 0 && credential &&
        zframe_size(credential) == 32) {
        zmq_z85_encode(key, zframe_data(credential), 32);
        for (size_t i = 0; i < n; i++) {
            const char *name = domain && strcmp(domain, domains[i].domain) == 0
                                   ? s_name(&domains[i], key)
                                   : NULL;
            if (name) {
                status = "200", text = "OK", user = name; // the User-Id of the connection
                const char *person = keys_dir_person(domains[i].keys, key);
                s_property(metadata, GATE_KEY_PROPERTY, key);
                s_property(metadata, GATE_CLASS_PROPERTY, domains[i].class);
                s_property(metadata, GATE_PERSON_PROPERTY, person ? person : name);
                break;
            }
        }
        if (*status != '2') {
            char shown_address[80], shown_domain[40];
            log_complain(refused, LOG_LEVEL_WARN, "gate",
                         "refused key %s from %s on \"%s\": not among its certificates", key,
                         str_escape(address, shown_address, sizeof shown_address),
                         str_escape(domain, shown_domain, sizeof shown_domain));
        }
    }
    zmsg_t *reply = zmsg_new();
    zmsg_addstr(reply, "1.0");
    zmsg_addstr(reply, id ? id : "");
    zmsg_addstr(reply, status);
    zmsg_addstr(reply, text);
    zmsg_addstr(reply, user);
    zmsg_addmem(reply, zchunk_data(metadata), zchunk_size(metadata)); // empty when refused
    zmsg_send(&reply, handler);
    zchunk_destroy(&metadata);
    zframe_destroy(&credential);
    free(version), free(id), free(domain), free(address), free(identity), free(mechanism);
    zmsg_destroy(&request);
}

void gate_actor(zsock_t *pipe, void *args)
{
    const gate_config_t *config = args;
    // In order of precedence within a domain: a key in two directories gets the first's class.
    struct {
        const char *domain, *class, *dir;
    } table[] = {
        {GATE_SCHOOLS, GATE_CLASS_SCHOOL, config->schools},
        {GATE_READERS, GATE_CLASS_SUPERVISOR, config->supervisors},
        {GATE_READERS, GATE_CLASS_PROVINCE, config->province},
        {GATE_READERS, GATE_CLASS_READER, config->readers},
        {GATE_ALERTS, GATE_CLASS_SUPERVISOR, config->supervisors},
        {GATE_ALERTS, GATE_CLASS_READER, config->readers},
    };
    s_domain_t domains[sizeof table / sizeof *table];
    size_t n = 0;
    for (size_t i = 0; i < sizeof table / sizeof *table; i++)
        if (table[i].dir && *table[i].dir)
            domains[n++] = (s_domain_t){.domain = table[i].domain,
                                        .class = table[i].class,
                                        .dir = xstrdup(table[i].dir)};
    zsock_t *handler = zsock_new_rep("inproc://zeromq.zap.01");
    zsock_signal(pipe, handler ? 0 : 1);
    zpoller_t *poller = handler ? zpoller_new(pipe, handler, NULL) : NULL;
    log_complain_t refused = {0};
    while (poller) {
        zsock_t *which = zpoller_wait(poller, -1);
        if (which == handler) {
            s_handle(handler, domains, n, &refused);
            continue;
        }
        char *command = which == pipe ? zstr_recv(pipe) : NULL;
        bool done = !command || strcmp(command, "$TERM") == 0;
        free(command);
        if (done)
            break;
    }
    zpoller_destroy(&poller);
    zsock_destroy(&handler);
    for (size_t i = 0; i < n; i++) {
        keys_dir_destroy(&domains[i].keys);
        free(domains[i].dir);
    }
}
